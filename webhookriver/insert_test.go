package webhookriver_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// An event's deliveries to three endpoints are stored by one insert, in
// one transaction: PostgreSQL's now() is the transaction's start, so
// their rows share created_at, and their ids follow each other. Insert-
// only, so that nothing runs them meanwhile.
func TestEmitStoresAnEventInOneInsert(t *testing.T) {
	driver := pgxDriver(t, postgresURL(t))
	q, err := webhookriver.New(driver, webhookriver.Config{InsertOnly: true})
	require.NoError(t, err)
	var eps []webhook.Endpoint
	for _, name := range []string{"a", "b", "c"} {
		eps = append(eps, webhook.Endpoint{Name: name, URL: "http://127.0.0.1:1/" + name, Secret: "secret_123"})
	}
	e, err := webhook.New(webhook.Config{Endpoints: eps, Queue: q})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	ctx := context.Background()

	for i := range 2 {
		require.NoError(t, e.Emit(ctx, pitOrder(i)))
	}
	res, err := q.Client().JobList(ctx, river.NewJobListParams().Kinds("webhook_delivery").First(10))
	require.NoError(t, err)
	require.Len(t, res.Jobs, 6)
	for ev := range 2 {
		jobs := res.Jobs[3*ev : 3*ev+3]
		for i, job := range jobs[1:] {
			assert.Equal(t, jobs[0].CreatedAt, job.CreatedAt, "event %d: one transaction", ev)
			assert.Equal(t, jobs[0].ID+int64(i+1), job.ID, "event %d: one insert", ev)
		}
		assert.ElementsMatch(t, []string{"webhook_a", "webhook_b", "webhook_c"},
			[]string{jobs[0].Queue, jobs[1].Queue, jobs[2].Queue}, "a River queue per endpoint")
	}
	assert.NotEqual(t, res.Jobs[0].CreatedAt, res.Jobs[3].CreatedAt, "two events, two transactions")

	// Insert-only: nothing was attempted, and the logs say pending.
	logs, err := e.Logs(ctx, webhook.LogQuery{Status: webhook.StatusPending})
	require.NoError(t, err)
	assert.Len(t, logs, 6)
	st, err := e.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 6, st.Queued)
	assert.Equal(t, 2, st.Endpoints["b"].Queued)
}
