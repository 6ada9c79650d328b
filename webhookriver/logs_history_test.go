package webhookriver_test

// The durable queue's delivery logs: the history of the attempts (kept
// in the job, across attempts, bounded), the next attempt's time while
// retrying, and the selections by event, endpoints and tenant.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// A delivery answered 503 twice, then 200: its log keeps the three
// attempts, in order, each with its status code; while it waits for a
// retry, the log says when.
func TestDurableLogHistory(t *testing.T) {
	e2eEachDB(t, e2eTestLogHistory[pgx.Tx], e2eTestLogHistory[*sql.Tx])
}

func e2eTestLogHistory[TTx any](t *testing.T, db *e2eDB[TTx]) {
	ctx := e2eCtx(t)
	rc := e2eNewReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	ep := e2eEndpoint("orders", rc.URL)
	ep.Retry = &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 400 * time.Millisecond, BackoffFactor: 1, NoJitter: true}
	inst := e2eStart(t, db.open(t), webhook.Config{Endpoints: []webhook.Endpoint{ep}})

	ev := e2eEvent("history", 1)
	require.NoError(t, inst.e.Emit(ctx, ev))

	// While it waits for its third attempt.
	var retrying webhook.DeliveryLog
	require.Eventually(t, func() bool {
		logs, err := inst.e.Logs(ctx, webhook.LogQuery{EventID: ev.ID, Status: webhook.StatusRetrying})
		if err != nil || len(logs) != 1 {
			return false
		}
		retrying = logs[0]
		return retrying.Attempts == 2
	}, e2eWait, e2eTick, "a retrying log after two attempts")
	require.Len(t, retrying.History, 2)
	for i, a := range retrying.History {
		assert.Equal(t, i+1, a.Attempt)
		assert.Equal(t, http.StatusServiceUnavailable, a.StatusCode)
		assert.Contains(t, a.Error, "503")
	}
	require.NotNil(t, retrying.NextAttemptAt, "retrying: the next attempt's time")
	assert.True(t, retrying.NextAttemptAt.After(retrying.History[1].At),
		"next attempt at %v, after the second at %v", *retrying.NextAttemptAt, retrying.History[1].At)
	assert.WithinDuration(t, retrying.History[1].At, *retrying.NextAttemptAt, 10*time.Second)
	byID, err := inst.e.Log(ctx, retrying.ID)
	require.NoError(t, err)
	if byID.Attempts == 2 { // the third may have been made since
		assert.Len(t, byID.History, 2)
		assert.NotNil(t, byID.NextAttemptAt)
	}

	delivered := inst.waitLog(t, ctx, ev.ID, webhook.StatusDelivered)
	fromGet, err := inst.e.Log(ctx, delivered.ID)
	require.NoError(t, err)
	for name, l := range map[string]webhook.DeliveryLog{"Logs": delivered, "Log": fromGet} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, 3, l.Attempts)
			assert.Equal(t, http.StatusOK, l.StatusCode)
			assert.Nil(t, l.NextAttemptAt, "delivered: no next attempt")
			require.Len(t, l.History, 3)
			codes := make([]int, len(l.History))
			for i, a := range l.History {
				codes[i] = a.StatusCode
				assert.Equal(t, i+1, a.Attempt)
				assert.Positive(t, a.Duration)
				if i > 0 {
					assert.True(t, a.At.After(l.History[i-1].At), "attempt %d at %v, after %v", i+1, a.At, l.History[i-1].At)
				}
			}
			assert.Equal(t, []int{503, 503, 200}, codes)
			assert.Empty(t, l.History[2].Error)
			assert.Equal(t, retrying.History[0], l.History[0], "an attempt's record does not change")
			reqs := rc.all()
			require.Len(t, reqs, 3)
			for i, r := range reqs {
				assert.WithinDuration(t, r.at, l.History[i].At, 5*time.Second)
			}
		})
	}
}

// The history a job keeps is bounded: the oldest records go past the
// last 100.
func TestDurableLogHistoryIsBounded(t *testing.T) {
	e2eEachDB(t, e2eTestLogHistoryBounded[pgx.Tx], e2eTestLogHistoryBounded[*sql.Tx])
}

func e2eTestLogHistoryBounded[TTx any](t *testing.T, db *e2eDB[TTx]) {
	const bound = 100
	ctx := e2eCtx(t)
	rc := e2eNewReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	ep := e2eEndpoint("orders", rc.URL)
	ep.Retry = &webhook.RetryConfig{MaxRetries: 1, RetryDelay: 2 * time.Second, NoJitter: true}
	h := db.open(t)
	inst := e2eStart(t, h, webhook.Config{Endpoints: []webhook.Endpoint{ep}})
	ev := e2eEvent("bounded", 1)
	require.NoError(t, inst.e.Emit(ctx, ev))
	l := inst.waitLog(t, ctx, ev.ID, webhook.StatusRetrying)
	require.Len(t, l.History, 1)

	// As if the job had made a full history of attempts already: bound
	// records, numbered from 1001.
	full := make([]webhook.AttemptRecord, bound)
	for i := range full {
		full[i] = webhook.AttemptRecord{Attempt: 1001 + i, At: l.History[0].At, Duration: time.Millisecond, StatusCode: 599, Error: "made up"}
	}
	b, err := json.Marshal(full)
	require.NoError(t, err)
	query := fmt.Sprintf(`UPDATE river_job SET metadata = jsonb_set(metadata, '{output,history}', '%s'::jsonb)
		WHERE kind = 'webhook_delivery' AND state IN ('available', 'retryable')`, b)
	if db.sqlite {
		query = fmt.Sprintf(`UPDATE river_job SET metadata = jsonb_set(metadata, '$.output.history', json('%s'))
		WHERE kind = 'webhook_delivery' AND state IN ('available', 'retryable')`, b)
	}
	require.NoError(t, h.exec(ctx, query))
	n, err := h.count(ctx, `SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery' AND state IN ('available', 'retryable')`)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the history was replaced while the job waited for its retry")

	done := inst.waitLog(t, ctx, ev.ID, webhook.StatusDelivered)
	assert.Equal(t, 2, done.Attempts)
	require.Len(t, done.History, bound, "the last %d attempts", bound)
	assert.Equal(t, 1002, done.History[0].Attempt, "the oldest went")
	assert.Equal(t, 1001+bound-1, done.History[bound-2].Attempt)
	last := done.History[bound-1]
	assert.Equal(t, 2, last.Attempt)
	assert.Equal(t, http.StatusOK, last.StatusCode)
}

// LogQuery.EventID, Endpoints and Tenant select in the database (and in
// the memory kept for deliveries that never reached it); Unresolved
// leaves out a failure whose redelivery was delivered.
func TestDurableLogsByEventTenantUnresolved(t *testing.T) {
	e2eEachDB(t, e2eTestLogsSelect[pgx.Tx], e2eTestLogsSelect[*sql.Tx])
}

func e2eTestLogsSelect[TTx any](t *testing.T, db *e2eDB[TTx]) {
	ctx := e2eCtx(t)
	rc, up := e2eSwitchReceiver(t, http.StatusInternalServerError)
	eps := []webhook.Endpoint{
		e2eEndpoint("acme-1", rc.URL),
		e2eEndpoint("globex-1", rc.URL),
		e2eEndpoint("everyone", rc.URL),
	}
	eps[0].Tenant, eps[1].Tenant = "acme", "globex"
	for i := range eps {
		eps[i].Retry = &webhook.RetryConfig{MaxRetries: 0}
	}
	inst := e2eStart(t, db.open(t), webhook.Config{Endpoints: eps})

	var evs []webhook.Event
	for i, tenant := range []string{"acme", "acme", "globex"} {
		ev := e2eEvent("select", i)
		ev.Tenant = tenant
		require.NoError(t, inst.e.Emit(ctx, ev))
		evs = append(evs, ev)
	}
	logs := func(q webhook.LogQuery) []webhook.DeliveryLog {
		t.Helper()
		got, err := inst.e.Logs(ctx, q)
		require.NoError(t, err)
		return got
	}
	// Each event to its tenant's endpoint and to everyone.
	require.Eventually(t, func() bool { return len(logs(webhook.LogQuery{Status: webhook.StatusFailed})) == 6 }, e2eWait, e2eTick)

	type key struct{ endpoint, event string }
	keys := func(ls []webhook.DeliveryLog) []key {
		out := make([]key, len(ls))
		for i, l := range ls {
			out[i] = key{l.EndpointName, l.EventID}
		}
		return out
	}
	cases := []struct {
		name string
		q    webhook.LogQuery
		want []key // in any order
	}{
		{"event", webhook.LogQuery{EventID: evs[0].ID}, []key{{"acme-1", evs[0].ID}, {"everyone", evs[0].ID}}},
		{"event and endpoint", webhook.LogQuery{EventID: evs[0].ID, Endpoint: "everyone"}, []key{{"everyone", evs[0].ID}}},
		{"event and tenant", webhook.LogQuery{EventID: evs[0].ID, Tenant: "acme"}, []key{{"acme-1", evs[0].ID}}},
		{"event of another tenant", webhook.LogQuery{EventID: evs[2].ID, Tenant: "acme"}, nil},
		{"unknown event", webhook.LogQuery{EventID: "evt_nope"}, nil},
		{"tenant", webhook.LogQuery{Tenant: "acme"}, []key{{"acme-1", evs[0].ID}, {"acme-1", evs[1].ID}}},
		{"other tenant", webhook.LogQuery{Tenant: "globex"}, []key{{"globex-1", evs[2].ID}}},
		{"tenant and its endpoint", webhook.LogQuery{Tenant: "acme", Endpoint: "acme-1"}, []key{{"acme-1", evs[0].ID}, {"acme-1", evs[1].ID}}},
		{"tenant and another endpoint", webhook.LogQuery{Tenant: "acme", Endpoint: "globex-1"}, nil},
		{"tenant without endpoints", webhook.LogQuery{Tenant: "nobody"}, nil},
		{"endpoints", webhook.LogQuery{Endpoints: []string{"acme-1", "globex-1"}}, []key{{"acme-1", evs[0].ID}, {"acme-1", evs[1].ID}, {"globex-1", evs[2].ID}}},
		{"endpoints and one of them", webhook.LogQuery{Endpoints: []string{"acme-1", "globex-1"}, Endpoint: "globex-1"}, []key{{"globex-1", evs[2].ID}}},
		{"endpoints and another", webhook.LogQuery{Endpoints: []string{"acme-1"}, Endpoint: "everyone"}, nil},
		{"no endpoints", webhook.LogQuery{Endpoints: []string{}}, nil},
		{"unknown endpoints", webhook.LogQuery{Endpoints: []string{"nope"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := logs(c.q)
			assert.ElementsMatch(t, c.want, keys(got))
			for i := 1; i < len(got); i++ {
				assert.False(t, got[i].CreatedAt.After(got[i-1].CreatedAt), "newest first")
			}
		})
	}
	// A page of one: the newest of the event's.
	page := logs(webhook.LogQuery{EventID: evs[0].ID, Limit: 1})
	require.Len(t, page, 1)
	assert.Equal(t, evs[0].ID, page[0].EventID)

	// Redelivered and delivered: no longer unresolved.
	acme := logs(webhook.LogQuery{Tenant: "acme", EventID: evs[0].ID})
	require.Len(t, acme, 1)
	first := acme[0]
	unresolved := logs(webhook.LogQuery{Unresolved: true})
	assert.Len(t, unresolved, 6, "nothing redelivered yet")
	up.Store(true)
	again, err := inst.e.Redeliver(ctx, first.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return len(logs(webhook.LogQuery{EventID: evs[0].ID, Status: webhook.StatusDelivered})) == 1
	}, e2eWait, e2eTick)
	orig, err := inst.e.Log(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, again, orig.RedeliveredAs)
	assert.Equal(t, webhook.StatusFailed, orig.Status)
	require.Len(t, orig.History, 1, "the original's history stays")
	assert.Equal(t, http.StatusInternalServerError, orig.History[0].StatusCode)

	unresolved = logs(webhook.LogQuery{Unresolved: true})
	assert.Len(t, unresolved, 6, "five failures and the redelivery")
	for _, l := range unresolved {
		assert.NotEqual(t, first.ID, l.ID, "resolved by its redelivery")
	}
	acmeOpen := logs(webhook.LogQuery{Tenant: "acme", Unresolved: true})
	ids := make([]string, len(acmeOpen))
	for i, l := range acmeOpen {
		ids[i] = l.ID
	}
	other := logs(webhook.LogQuery{Tenant: "acme", EventID: evs[1].ID})
	require.Len(t, other, 1)
	assert.ElementsMatch(t, []string{again, other[0].ID}, ids)
	failedOpen := logs(webhook.LogQuery{Tenant: "acme", Status: webhook.StatusFailed, Unresolved: true})
	require.Len(t, failedOpen, 1)
	assert.Equal(t, other[0].ID, failedOpen[0].ID)

	// A log kept in memory (its delivery never reached the database) is
	// selected the same way.
	lost := webhook.DeliveryLog{ID: "dlv_lost_1", EndpointName: "acme-1", EventID: "evt_lost", EventType: webhook.Created,
		Status: webhook.StatusFailed, ErrorMessage: "never stored", CreatedAt: time.Now().UTC(),
		History: []webhook.AttemptRecord{{Attempt: 1, At: time.Now().UTC(), StatusCode: 502, Error: "bad gateway"}}}
	require.NoError(t, inst.q.LogStore().Record(ctx, lost))
	got := logs(webhook.LogQuery{EventID: "evt_lost"})
	require.Len(t, got, 1)
	assert.Equal(t, lost.ID, got[0].ID)
	assert.Len(t, got[0].History, 1)
	assert.Len(t, logs(webhook.LogQuery{EventID: "evt_lost", Tenant: "globex"}), 0)
	assert.Len(t, logs(webhook.LogQuery{EventID: "evt_lost", Tenant: "acme"}), 1)
	assert.Len(t, logs(webhook.LogQuery{Endpoints: []string{"globex-1"}, Status: webhook.StatusFailed}), 1)
}
