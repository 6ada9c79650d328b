package webhookriver_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// pitReceiver is a receiver on 127.0.0.1 that verifies each request and
// counts the verified ones.
func pitReceiver(t *testing.T, secret string) (url string, got func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		n++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// SQLite has one writer and the queue wants one connection: while the
// host holds a transaction on it, Emit (which stores in a transaction of
// its own) waits for the connection. It is bounded by Emit's ctx: the
// delivery is given up and reported, not hung and not lost silently.
// EmitTx, in the host's transaction, is the way.
func TestSQLiteEmitWhileHostHoldsTheConnection(t *testing.T) {
	const secret = "secret_123"
	url, got := pitReceiver(t, secret)
	db := openSQLite(t, sqlitePath(t))
	driver := riversqlite.New(db)
	migrate(t, driver)
	q, err := webhookriver.New(driver, fast)
	require.NoError(t, err)
	var failures []webhook.Failure
	var mu sync.Mutex
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "orders", URL: url, Secret: secret}},
		Queue:     q,
		OnFailure: func(f webhook.Failure) { mu.Lock(); failures = append(failures, f); mu.Unlock() },
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	ctx := context.Background()

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	_, err = tx.ExecContext(ctx, `CREATE TABLE orders (id INTEGER PRIMARY KEY)`)
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	err = e.Emit(short, pitOrder(1))
	cancel()
	require.Error(t, err, "Emit cannot store while the host holds SQLite's one connection")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "Emit is bounded by its ctx")
	mu.Lock()
	require.Len(t, failures, 1, "the delivery is given up and reported")
	assert.ErrorIs(t, failures[0].Err, context.DeadlineExceeded)
	mu.Unlock()

	// In the host's transaction, it works.
	require.NoError(t, q.EmitTx(ctx, tx, pitOrder(2)))
	require.NoError(t, tx.Commit())
	require.Eventually(t, func() bool { return got() == 1 }, 15*time.Second, 20*time.Millisecond)

	// The failure is in the logs, from memory: it never reached the
	// database.
	failed, err := e.Logs(ctx, webhook.LogQuery{Status: webhook.StatusFailed})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	assert.Contains(t, failed[0].ErrorMessage, "deadline exceeded")
}

// pitOrder is the creation of an order.
func pitOrder(id int) webhook.Event {
	ev := webhook.Create(map[string]any{"id": id})
	ev.Model = "store.Order"
	return ev
}

func TestStartRefusesRetriesBeyondRiver(t *testing.T) {
	driver := sqliteDriver(t, sqlitePath(t))
	q, err := webhookriver.New(driver, fast)
	require.NoError(t, err)
	_, err = webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "orders", URL: "http://127.0.0.1:1/", Secret: "secret_123",
			Retry: &webhook.RetryConfig{MaxRetries: 6000}}},
		Queue: q,
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `endpoint "orders": retry.max_retries`)
}

func TestNewRefusesBadConfig(t *testing.T) {
	driver := sqliteDriver(t, sqlitePath(t))
	cases := []struct {
		cfg  webhookriver.Config
		want string
	}{
		{webhookriver.Config{Workers: -1}, "workers: -1 is out of range"},
		{webhookriver.Config{FetchCooldown: time.Microsecond}, "fetch_cooldown: 1µs is below"},
		{webhookriver.Config{FetchPollInterval: -time.Second}, "fetch_poll_interval: -1s is negative"},
		{webhookriver.Config{FailedRetention: -time.Hour, DeliveredRetention: -time.Hour}, "delivered_retention: -1h0m0s is negative"},
	}
	for _, c := range cases {
		_, err := webhookriver.New(driver, c.cfg)
		require.Error(t, err, "%+v", c.cfg)
		assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
		assert.Contains(t, err.Error(), c.want)
	}
	_, err := webhookriver.New(driver, webhookriver.Config{FailedRetention: -1, DeliveredRetention: -1})
	require.Error(t, err)
	assert.Equal(t, 2, strings.Count(err.Error(), "is negative"), "every bad field is named: %v", err)

	_, err = webhookriver.New(riversqlite.New(nil), webhookriver.Config{})
	assert.ErrorIs(t, err, webhook.ErrInvalidConfig, "a driver without a pool")
}

// Several processes migrating at once: each must succeed.
func TestMigrateConcurrently(t *testing.T) {
	const n = 4
	t.Run("sqlite", func(t *testing.T) {
		path := sqlitePath(t)
		dbs := make([]*sql.DB, n)
		for i := range dbs {
			dbs[i] = openSQLite(t, path)
		}
		migrateAll(t, n, func(ctx context.Context, i int) error {
			return webhookriver.Migrate(ctx, riversqlite.New(dbs[i]))
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL := postgresURL(t)
		drivers := make([]func(context.Context) error, n)
		for i := range drivers {
			d := pgxDriverUnmigrated(t, dbURL)
			drivers[i] = func(ctx context.Context) error { return webhookriver.Migrate(ctx, d) }
		}
		migrateAll(t, n, func(ctx context.Context, i int) error { return drivers[i](ctx) })
	})
}

func migrateAll(t *testing.T, n int, migrate func(ctx context.Context, i int) error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = migrate(ctx, i) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	// And again: idempotent.
	require.NoError(t, migrate(ctx, 0))
}
