package webhook_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// TestAttemptHistory: a delivery's log keeps every attempt (time, status,
// duration, error), and the next attempt's time while it is retrying, on
// the memory store and on a store of the caller's own (which is given the
// attempt just made, and adds it).
func TestAttemptHistory(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"memory", "own"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= 2 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			defer srv.Close()
			cfg := webhook.Config{
				Endpoints: []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: "history-secret-1"}},
				Retry:     &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 300 * time.Millisecond, NoJitter: true, BackoffFactor: 1},
				Logger:    slog.New(slog.DiscardHandler),
			}
			if store == "own" {
				cfg.LogStore = &appendingStore{MemoryLogStore: webhook.NewMemoryLogStore(100)}
			}
			e, err := webhook.New(cfg)
			require.NoError(t, err)
			ctx := context.Background()
			require.NoError(t, e.Emit(ctx, orderEvent(1)))

			// While it waits for its third attempt.
			var retrying webhook.DeliveryLog
			require.Eventually(t, func() bool {
				logs, err := e.Logs(ctx, webhook.LogQuery{})
				require.NoError(t, err)
				retrying = logs[0]
				return len(logs) == 1 && retrying.Attempts == 2
			}, 5*time.Second, 5*time.Millisecond)
			assert.Equal(t, webhook.StatusRetrying, retrying.Status)
			require.Len(t, retrying.History, 2)
			require.NotNil(t, retrying.NextAttemptAt)
			assert.True(t, retrying.NextAttemptAt.After(retrying.History[1].At))

			require.Eventually(t, func() bool {
				logs, err := e.Logs(ctx, webhook.LogQuery{Status: webhook.StatusDelivered})
				require.NoError(t, err)
				return len(logs) == 1
			}, 5*time.Second, 5*time.Millisecond)
			logs, err := e.Logs(ctx, webhook.LogQuery{})
			require.NoError(t, err)
			l := logs[0]
			assert.Nil(t, l.NextAttemptAt)
			require.Len(t, l.History, 3)
			for i, a := range l.History {
				assert.Equal(t, i+1, a.Attempt)
				assert.Positive(t, a.Duration)
				if i > 0 {
					assert.True(t, a.At.After(l.History[i-1].At), "attempt %d at %v, after %v", i+1, a.At, l.History[i-1].At)
				}
			}
			assert.Equal(t, []int{503, 503, 200}, []int{l.History[0].StatusCode, l.History[1].StatusCode, l.History[2].StatusCode})
			assert.Contains(t, l.History[0].Error, "503")
			assert.Empty(t, l.History[2].Error)
			require.NoError(t, e.Close(ctx))
		})
	}
}

// appendingStore is a LogStore of the caller's own: it keeps a log's
// history by adding what Record is given, as the contract asks.
type appendingStore struct {
	*webhook.MemoryLogStore
}

// TestRedeliverOnce: a log sent again links to its redelivery; a second
// Redeliver is refused unless asked for (RedeliverAgain); Unresolved
// leaves out the failures whose redelivery was delivered; EventID and
// Tenant select logs.
func TestRedeliverOnce(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "acme-1", URL: srv.URL, Secret: "redeliver-secret", Tenant: "acme"},
			{Name: "globex-1", URL: srv.URL, Secret: "redeliver-secret", Tenant: "globex"},
		},
		Retry:  &webhook.RetryConfig{MaxRetries: 0},
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ctx := context.Background()
	for i, tenant := range []string{"acme", "acme", "globex"} {
		ev := orderEvent(i)
		ev.Tenant = tenant
		require.NoError(t, e.Emit(ctx, ev))
	}
	failedLogs := func(q webhook.LogQuery) []webhook.DeliveryLog {
		q.Status = webhook.StatusFailed
		logs, err := e.Logs(ctx, q)
		require.NoError(t, err)
		return logs
	}
	require.Eventually(t, func() bool { return len(failedLogs(webhook.LogQuery{})) == 3 }, 5*time.Second, 5*time.Millisecond)
	acme := failedLogs(webhook.LogQuery{Tenant: "acme"})
	require.Len(t, acme, 2)
	for _, l := range acme {
		assert.Equal(t, "acme-1", l.EndpointName)
	}
	byEvent := failedLogs(webhook.LogQuery{EventID: acme[0].EventID})
	require.Len(t, byEvent, 1)
	assert.Equal(t, acme[0].ID, byEvent[0].ID)
	assert.Empty(t, failedLogs(webhook.LogQuery{Tenant: "nobody"}))

	up.Store(true)
	again, err := e.Redeliver(ctx, acme[0].ID)
	require.NoError(t, err)
	_, err = e.Redeliver(ctx, acme[0].ID)
	require.ErrorIs(t, err, webhook.ErrAlreadyRedelivered)
	assert.Contains(t, err.Error(), again)
	require.Eventually(t, func() bool {
		l, err := e.Logs(ctx, webhook.LogQuery{EventID: acme[0].EventID, Status: webhook.StatusDelivered})
		return err == nil && len(l) == 1
	}, 5*time.Second, 5*time.Millisecond)
	orig := failedLogs(webhook.LogQuery{EventID: acme[0].EventID})
	require.Len(t, orig, 1)
	assert.Equal(t, again, orig[0].RedeliveredAs)
	byID, err := e.Log(ctx, again)
	require.NoError(t, err)
	assert.Equal(t, acme[0].EventID, byID.EventID, "the redelivery has the event's id")
	_, err = e.Log(ctx, "dlv_nope")
	require.ErrorIs(t, err, webhook.ErrLogNotFound)

	unresolved := failedLogs(webhook.LogQuery{Unresolved: true})
	require.Len(t, unresolved, 2, "the failure delivered since is resolved")
	for _, l := range unresolved {
		assert.NotEqual(t, acme[0].ID, l.ID)
	}

	third, err := e.RedeliverAgain(ctx, acme[0].ID)
	require.NoError(t, err)
	assert.NotEqual(t, again, third)
	orig = failedLogs(webhook.LogQuery{EventID: acme[0].EventID})
	assert.Equal(t, third, orig[0].RedeliveredAs, "the log links to its newest redelivery")
	require.NoError(t, e.Close(ctx))
}

// TestRedeliverRefusals: Redeliver refuses, with an error to branch on,
// the log of a delivery still under way and one whose body was never
// built, and sends nothing.
func TestRedeliverRefusals(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	logs := webhook.NewMemoryLogStore(0)
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "ep", URL: srv.URL, Secret: "redeliver-secret"}},
		LogStore:  logs,
		Logger:    slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ctx := context.Background()
	defer e.Close(ctx)
	body := []byte(`{"id":"evt_1"}`)
	for _, tc := range []struct {
		log  webhook.DeliveryLog
		want error
	}{
		{webhook.DeliveryLog{ID: "dlv_pending", Status: webhook.StatusPending, Payload: body}, webhook.ErrNotFinished},
		{webhook.DeliveryLog{ID: "dlv_retrying", Status: webhook.StatusRetrying, Payload: body, Attempts: 1}, webhook.ErrNotFinished},
		{webhook.DeliveryLog{ID: "dlv_unshaped", Status: webhook.StatusFailed}, webhook.ErrNoPayload},
	} {
		tc.log.EndpointName, tc.log.EventID, tc.log.EventType = "ep", "evt_1", webhook.Created
		require.NoError(t, logs.Record(ctx, tc.log))
		_, err := e.Redeliver(ctx, tc.log.ID)
		assert.ErrorIs(t, err, tc.want, tc.log.ID)
		assert.ErrorContains(t, err, tc.log.ID)
	}
	assert.Zero(t, hits.Load(), "nothing sent")
}
