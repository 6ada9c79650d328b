package webhookriver_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// The queue in a schema of its own, on the host's pool, whose search path
// is the host's: EmitTx in the host's transaction stores into the queue's
// schema, and a River client of the host's own, on its own tables, is
// left alone. The endpoints added at runtime are stored in the queue's
// schema.
func TestSchemaOfItsOwn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hostURL := postgresURL(t) // the host's schema is its search path
	pool, err := pgxpool.New(ctx, hostURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	queueSchema := "webhookriver_q_" + randomHex(4)
	_, err = pool.Exec(ctx, "CREATE SCHEMA "+queueSchema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA "+queueSchema+" CASCADE") })

	driver := riverpgxv5.New(pool)
	require.NoError(t, webhookriver.MigrateSchema(ctx, driver, queueSchema))
	require.NoError(t, webhookriver.MigrateSchema(ctx, driver, queueSchema), "idempotent")
	// The host's own River, in its own tables.
	require.NoError(t, webhookriver.Migrate(ctx, driver))

	const secret = "secret_123"
	url, got := pitReceiver(t, secret)
	cfg := fast
	cfg.Schema = queueSchema
	q, err := webhookriver.New(driver, cfg)
	require.NoError(t, err)
	e, err := webhook.New(webhook.Config{Endpoints: []webhook.Endpoint{{Name: "orders", URL: url, Secret: secret}}, Queue: q})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close(context.Background()) })

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, q.EmitTx(ctx, tx, pitOrder(1)))
	require.NoError(t, tx.Commit(ctx))
	require.Eventually(t, func() bool { return got() == 1 }, 15*time.Second, 20*time.Millisecond)

	var inQueue, inHost int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+queueSchema+".river_job").Scan(&inQueue))
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&inHost))
	assert.Equal(t, 1, inQueue, "the delivery is in the queue's schema")
	assert.Zero(t, inHost, "none in the host's")

	require.Eventually(t, func() bool { // River stores the job's end in batches
		logs, err := e.Logs(ctx, webhook.LogQuery{Status: webhook.StatusDelivered})
		return err == nil && len(logs) == 1
	}, 15*time.Second, 20*time.Millisecond, "the delivered log, from the queue's schema")
	st, err := e.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Queued)
	res, err := q.Client().JobList(ctx, river.NewJobListParams().Kinds("webhook_delivery"))
	require.NoError(t, err)
	assert.Len(t, res.Jobs, 1)

	// The stored endpoints are in the queue's schema too.
	require.NoError(t, e.AddEndpoint(ctx, webhook.Endpoint{Name: "extra", URL: url, Secret: secret}))
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+queueSchema+".webhook_endpoint").Scan(&inQueue))
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM webhook_endpoint").Scan(&inHost))
	assert.Equal(t, 1, inQueue, "the endpoint is in the queue's schema")
	assert.Zero(t, inHost, "none in the host's")

	_, err = webhookriver.New(driver, webhookriver.Config{Schema: "bad-name"})
	assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
	assert.ErrorIs(t, webhookriver.MigrateSchema(ctx, driver, "x; DROP"), webhook.ErrInvalidConfig)
}
