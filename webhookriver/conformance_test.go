package webhookriver_test

import (
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/queuetest"
	"github.com/hookrail/webhook/webhookriver"
)

// runConformance runs the queue suite on queues that open(t) makes: each
// case gets new storage, and Reopen opens a new queue on a closed one's.
func runConformance[TTx any](t *testing.T, heldDelay time.Duration, open func(t *testing.T) func(t *testing.T) riverdriver.Driver[TTx]) {
	var mu sync.Mutex
	reopen := map[webhook.Queue]func(t *testing.T) riverdriver.Driver[TTx]{}
	newQueue := func(t *testing.T, driver func(t *testing.T) riverdriver.Driver[TTx]) webhook.Queue {
		q, err := webhookriver.New(driver(t), fast)
		require.NoError(t, err)
		mu.Lock()
		reopen[q] = driver
		mu.Unlock()
		return q
	}
	queuetest.RunWithOptions(t, func(t *testing.T) webhook.Queue {
		return newQueue(t, open(t))
	}, queuetest.Options{
		Durable:   true,
		HeldDelay: heldDelay,
		Reopen: func(t *testing.T, closed webhook.Queue) webhook.Queue {
			mu.Lock()
			driver := reopen[closed]
			mu.Unlock()
			require.NotNil(t, driver, "Reopen of a queue the suite did not make")
			return newQueue(t, driver)
		},
	})
}

// SQLite's one connection serializes every fetch and write: on a loaded
// machine, a fetch may wait a second or more.
func TestConformanceSQLite(t *testing.T) {
	runConformance(t, 6*time.Second, func(t *testing.T) func(t *testing.T) riverdriver.Driver[*sql.Tx] {
		path := sqlitePath(t)
		return func(t *testing.T) riverdriver.Driver[*sql.Tx] { return sqliteDriver(t, path) }
	})
}

func TestConformancePgx(t *testing.T) {
	runConformance(t, 0, func(t *testing.T) func(t *testing.T) riverdriver.Driver[pgx.Tx] {
		dbURL := postgresURL(t)
		return func(t *testing.T) riverdriver.Driver[pgx.Tx] { return pgxDriver(t, dbURL) }
	})
}

func TestConformanceDatabaseSQL(t *testing.T) {
	runConformance(t, 0, func(t *testing.T) func(t *testing.T) riverdriver.Driver[*sql.Tx] {
		dbURL := postgresURL(t)
		return func(t *testing.T) riverdriver.Driver[*sql.Tx] { return sqlDriver(t, dbURL) }
	})
}
