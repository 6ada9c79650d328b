// Package webhookriver is a durable queue for [github.com/hookrail/webhook]
// on River (github.com/riverqueue/river), in the host's own PostgreSQL or
// SQLite database: deliveries and their retries survive restarts,
// deploys and crashes, every process on the database shares the work,
// and [Queue.EmitTx] stores an event's deliveries in the host's own
// transaction (a transactional outbox: the webhook goes out if and only
// if the change it reports commits).
//
// Set up once per process:
//
//	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	driver := riverpgxv5.New(pool)
//	if err := webhookriver.Migrate(ctx, driver); err != nil { … }
//	queue, err := webhookriver.New(driver, webhookriver.Config{})
//	emitter, err := webhook.New(webhook.Config{Endpoints: eps, Queue: queue})
//	defer emitter.Close(ctx)
//
// then, where the host changes its data:
//
//	tx, _ := pool.Begin(ctx)
//	… the host's own writes …
//	if err := queue.EmitTx(ctx, tx, webhook.Update(old, new)); err != nil { … }
//	tx.Commit(ctx)
//
// Emit works too, storing the deliveries in a transaction of its own.
// The delivery logs are read from the same database ([Queue.LogStore]), so
// Emitter.Logs, LogsHandler and Redeliver answer for every process.
//
// Endpoints added at runtime ([webhook.Emitter.AddEndpoint],
// UpdateEndpoint, RemoveEndpoint) are stored in the same database, in the
// table webhook_endpoint that Migrate creates (in Config.Schema):
// [Queue.EndpointStore], which webhook.New uses unless its
// Config.EndpointStore is set. A row holds an endpoint as the Emitter
// encodes it, its secrets as they were given (an OAuth2 client secret
// too): protect the table as the host's own credentials. New loads them
// before the queue starts, so they survive restarts; then every Emitter
// on the database reads the changes the others made every
// webhook.Config.EndpointSync (2 s by default): a change made in one
// process is in use in the others within about that long. Each process
// gives an added endpoint a River queue of its own. The deliveries of a
// removed endpoint are not sent: those that wait for a retry are made due
// at once, and each is given up (webhook.ErrEndpointRemoved, logged and
// reported to OnFailure) by the process that fetches it, once that
// process knows of the removal (one that has yet to read it may still
// send what it fetches meanwhile, as it would have sent what came due).
// The removed endpoint's River queue keeps running in each process until
// it stops, for deliveries that still come for it.
//
// Drivers: riverpgxv5 (pgx v5) and riverdatabasesql (database/sql, with
// pgx's stdlib driver) for PostgreSQL; riversqlite with the pure-Go
// modernc.org/sqlite for one machine that must not lose events.
//
// Every process that works the queue must run this package's River
// client alone on its tables: River's elected leader rescues and cleans
// every job of its schema, and discards the kinds it has no worker for.
// A host that runs River for its own jobs on the same PostgreSQL gives
// the queue a schema of its own: MigrateSchema, and Config.Schema.
package webhookriver
