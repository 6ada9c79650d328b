// Command outbox is a small order service that changes an order and
// emits its webhook in one database transaction, with the durable queue
// of github.com/hookrail/webhook/webhookriver: the webhook goes out if
// and only if the change it reports commits (a transactional outbox).
//
//	go run ./examples/outbox                                                      # SQLite
//	go run ./examples/outbox -postgres postgres://postgres@127.0.0.1:5432/test   # PostgreSQL
//
// (from the repository root: its go.work finds this module). With no
// flag the program uses SQLite, in a new database file in a temporary
// directory, so it runs on a machine with nothing installed. With
// -postgres URL, or OUTBOX_POSTGRES_URL in the environment, it uses that
// PostgreSQL database, in a schema of its own that it drops at the end.
//
// It starts a receiver on 127.0.0.1 (a random port) that verifies every
// request with webhook.Verify, runs webhookriver.Migrate, creates an
// orders table and builds an Emitter on a webhookriver.Queue. Then, for
// each change, it begins a transaction, writes the order, calls
// queue.EmitTx(ctx, tx, event) and commits: two orders are created, one
// is paid and shipped. A last change, shipping an order that is not
// paid, fails validation after its EmitTx: its transaction is rolled
// back, and its webhook with it. The program waits (at most 30 s) for
// every committed change's webhook to arrive verified, in any order
// (River runs an endpoint's deliveries in parallel), then a little longer
// to see that the rolled-back one never does, closes the Emitter, reads
// the delivery log from the database and exits 0; it exits 1 with the
// reason otherwise.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // database/sql's "sqlite": pure Go, no cgo

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

const (
	// arrivalTimeout bounds the wait for the committed changes' webhooks.
	arrivalTimeout = 30 * time.Second

	// grace is how long the program waits, after the last of them, for
	// the rolled-back change's webhook, which must never come: twenty
	// of River's polls (fetchPollInterval).
	grace = time.Second

	// fetchPollInterval is how often River looks for new deliveries: the
	// latency of SQLite, which has no notifications (River's default is
	// 1 s; PostgreSQL through pgx is notified at once).
	fetchPollInterval = 50 * time.Millisecond
)

// Order is the service's model; the json tags name the fields on the
// wire. Version counts its changes: it makes the event ids.
type Order struct {
	ID        int    `json:"id"`
	Reference string `json:"reference"`
	Status    string `json:"status"`
	Total     string `json:"total"`
	Version   int    `json:"version"`
}

// WebhookLabel gives the model label "store.Order".
func (Order) WebhookLabel() string { return "store.Order" }

// eventID is the id of the event that reports this version of the order.
// Setting Event.ID makes it known before EmitTx (which returns none) and
// the same if the change is ever emitted again.
func (o Order) eventID() string { return fmt.Sprintf("evt_order_%d_v%d", o.ID, o.Version) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "outbox:", err)
		fmt.Println("FAIL")
		os.Exit(1)
	}
}

// run is the program: it parses args, prints its log to out and returns
// nil when every committed change's webhook arrived verified and the
// rolled-back one's did not.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	pgURL := fs.String("postgres", os.Getenv("OUTBOX_POSTGRES_URL"),
		"PostgreSQL `URL` to use instead of a new SQLite database (default $OUTBOX_POSTGRES_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	// The receiver: in real life another service.
	secret := "outbox-demo-secret"
	rcv := &receiver{secret: secret, seen: map[string]bool{}, arrived: make(chan arrival, 64)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/webhooks/"
	fmt.Fprintln(out, "receiver listening on", url)

	ep := webhook.Endpoint{
		Name:   "orders",
		URL:    url,
		Secret: secret,
		// Short retries, so that a hiccup is retried within the wait.
		Retry: &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 200 * time.Millisecond},
	}
	if *pgURL != "" {
		err = withPostgres(ctx, *pgURL, out, func(db *database[pgx.Tx]) error {
			return demo(ctx, db, ep, rcv, out)
		})
	} else {
		err = withSQLite(ctx, out, func(db *database[*sql.Tx]) error {
			return demo(ctx, db, ep, rcv, out)
		})
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "OK: the committed changes' webhooks arrived verified; the rolled-back one's was never sent")
	return nil
}

// database is the order service's database, SQLite or PostgreSQL. TTx
// is its transaction type, *sql.Tx or pgx.Tx: River's driver on the same
// pool takes the same, so that Queue.EmitTx stores the webhook's
// deliveries in the very transaction that writes the order. The SQL is
// the same for both: modernc.org/sqlite binds $1, $2, … by position, as
// PostgreSQL does.
type database[TTx any] struct {
	driver   riverdriver.Driver[TTx]
	begin    func(ctx context.Context) (TTx, error)
	exec     func(ctx context.Context, tx TTx, query string, args ...any) error
	commit   func(ctx context.Context, tx TTx) error
	rollback func(ctx context.Context, tx TTx) error
	queryRow func(ctx context.Context, query string, args ...any) interface{ Scan(...any) error }
}

// inTx runs fn in a transaction: committed when fn returns nil, rolled
// back otherwise.
func (db *database[TTx]) inTx(ctx context.Context, fn func(tx TTx) error) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if rerr := db.rollback(ctx, tx); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	return db.commit(ctx, tx)
}

// withSQLite runs fn on a new SQLite database in a temporary directory,
// removed afterwards.
func withSQLite(ctx context.Context, out io.Writer, fn func(*database[*sql.Tx]) error) error {
	dir, err := os.MkdirTemp("", "outbox-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "orders.db")

	// SQLite has one writer: one connection, a busy timeout, WAL.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	fmt.Fprintln(out, "database: SQLite, new file", path)

	return fn(&database[*sql.Tx]{
		driver: riversqlite.New(db),
		begin:  func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
		exec: func(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
			_, err := tx.ExecContext(ctx, query, args...)
			return err
		},
		commit:   func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		rollback: func(_ context.Context, tx *sql.Tx) error { return tx.Rollback() },
		queryRow: func(ctx context.Context, query string, args ...any) interface{ Scan(...any) error } {
			return db.QueryRowContext(ctx, query, args...)
		},
	})
}

// withPostgres runs fn on the PostgreSQL database at dbURL, in a new
// schema (every connection's search_path) that it drops afterwards, so
// that runs never meet each other's tables.
func withPostgres(ctx context.Context, dbURL string, out io.Writer, fn func(*database[pgx.Tx]) error) (err error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("-postgres: %w", err)
	}
	schema := "outbox_" + randomHex(6)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return fmt.Errorf("creating schema %s: %w", schema, err)
	}
	defer func() {
		// Even when ctx has ended: leave nothing behind.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := pool.Exec(dctx, "DROP SCHEMA "+schema+" CASCADE"); derr != nil {
			err = errors.Join(err, fmt.Errorf("dropping schema %s: %w", schema, derr))
			return
		}
		fmt.Fprintln(out, "dropped schema", schema)
	}()
	fmt.Fprintf(out, "database: PostgreSQL %s:%d/%s, new schema %s\n",
		cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, schema)

	return fn(&database[pgx.Tx]{
		driver: riverpgxv5.New(pool),
		begin:  func(ctx context.Context) (pgx.Tx, error) { return pool.Begin(ctx) },
		exec: func(ctx context.Context, tx pgx.Tx, query string, args ...any) error {
			_, err := tx.Exec(ctx, query, args...)
			return err
		},
		commit:   func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
		rollback: func(ctx context.Context, tx pgx.Tx) error { return tx.Rollback(ctx) },
		queryRow: func(ctx context.Context, query string, args ...any) interface{ Scan(...any) error } {
			return pool.QueryRow(ctx, query, args...)
		},
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// demo is the order service at work on db: it makes the changes, waits
// for their webhooks at rcv and checks what arrived.
func demo[TTx any](ctx context.Context, db *database[TTx], ep webhook.Endpoint, rcv *receiver, out io.Writer) error {
	// Once per database, before the queue: River's tables and the
	// queue's index. Idempotent.
	if err := webhookriver.Migrate(ctx, db.driver); err != nil {
		return err
	}
	fmt.Fprintln(out, "migrated: River's tables and webhookriver's index")

	if err := db.inTx(ctx, func(tx TTx) error {
		return db.exec(ctx, tx, `CREATE TABLE orders (
			id        INTEGER PRIMARY KEY,
			reference TEXT    NOT NULL,
			status    TEXT    NOT NULL,
			total     TEXT    NOT NULL,
			version   INTEGER NOT NULL)`)
	}); err != nil {
		return fmt.Errorf("creating table orders: %w", err)
	}
	fmt.Fprintln(out, "created table orders")

	// The durable queue, and the Emitter that starts it.
	queue, err := webhookriver.New(db.driver, webhookriver.Config{
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: fetchPollInterval,
	})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var failures []webhook.Failure
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{ep},
		Queue:     queue,
		Timeout:   5 * time.Second,
		OnFailure: func(f webhook.Failure) { // a delivery given up
			mu.Lock()
			failures = append(failures, f)
			mu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	// problems are why a webhook would not arrive: deliveries given up
	// and requests the receiver rejected.
	problems := func() error {
		var errs []error
		mu.Lock()
		for _, f := range failures {
			errs = append(errs, fmt.Errorf("delivery of %s given up: %w", f.EventID, f.Err))
		}
		mu.Unlock()
		if n := rcv.rejectedCount(); n > 0 {
			errs = append(errs, fmt.Errorf("the receiver rejected %d requests", n))
		}
		return errors.Join(errs...)
	}
	// Close stops River; what is left stays stored for the next start.
	// Later calls return the first one's result: the check below closes
	// first, this covers the early returns.
	closeEmitter := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return emitter.Close(cctx)
	}
	defer closeEmitter()
	s := &shop[TTx]{db: db, queue: queue}

	// Who makes the changes: sent as "user".
	ctx = webhook.WithActor(ctx, webhook.Actor{ID: "1", Username: "admin"})

	// The committed changes: the event ids their webhooks carry.
	want := map[string]bool{}
	a := Order{ID: 1001, Reference: "ORD-2026-1001", Status: "pending", Total: "299.99", Version: 1}
	b := Order{ID: 1002, Reference: "ORD-2026-1002", Status: "pending", Total: "15.00", Version: 1}
	for _, o := range []Order{a, b} {
		if err := s.create(ctx, o); err != nil {
			return fmt.Errorf("creating order %d: %w", o.ID, err)
		}
		want[o.eventID()] = true
		fmt.Fprintf(out, "order %d created (%s, %s): committed with webhook %s\n", o.ID, o.Status, o.Total, o.eventID())
	}
	for _, status := range []string{"paid", "shipped"} {
		next, err := s.setStatus(ctx, a, status)
		if err != nil {
			return fmt.Errorf("order %d %s → %s: %w", a.ID, a.Status, status, err)
		}
		want[next.eventID()] = true
		fmt.Fprintf(out, "order %d %s → %s: committed with webhook %s\n", a.ID, a.Status, next.Status, next.eventID())
		a = next
	}
	lastCommit := time.Now()

	// Shipping an order that is not paid: EmitTx succeeds, then the
	// validation fails and the transaction rolls back, taking the
	// webhook's deliveries with the order's row.
	bad, err := s.setStatus(ctx, b, "shipped")
	if !errors.Is(err, errNotPaid) {
		return fmt.Errorf("order %d pending → shipped: want a validation error, got %v", b.ID, err)
	}
	rolledBack := bad.eventID()
	fmt.Fprintf(out, "order %d %s → %s: EmitTx ok, then validation failed (%v): rolled back, webhook %s with it\n",
		b.ID, b.Status, bad.Status, err, rolledBack)
	var status string
	if err := db.queryRow(ctx, `SELECT status FROM orders WHERE id = $1`, b.ID).Scan(&status); err != nil {
		return fmt.Errorf("reading order %d: %w", b.ID, err)
	}
	if status != b.Status {
		return fmt.Errorf("order %d is %s in the database after the rollback, want %s", b.ID, status, b.Status)
	}
	fmt.Fprintf(out, "order %d in the database: still %s\n", b.ID, status)

	// Wait for the committed changes' webhooks, then a little more for
	// the rolled-back one, which must never come.
	committed := len(want)
	timeout := time.After(arrivalTimeout)
	for len(want) > 0 {
		select {
		case got := <-rcv.arrived:
			fmt.Fprintln(out, "receiver:", got)
			if !want[got.ID] {
				return fmt.Errorf("webhook %s arrived: no committed change has that id", got.ID)
			}
			delete(want, got.ID)
		case <-timeout:
			return errors.Join(fmt.Errorf("after %s, %d webhooks have not arrived: %s",
				arrivalTimeout, len(want), strings.Join(slices.Sorted(maps.Keys(want)), ", ")), problems())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Fprintf(out, "every committed change's webhook arrived verified, %s after the last commit\n", time.Since(lastCommit).Round(time.Millisecond))
	select {
	case got := <-rcv.arrived:
		fmt.Fprintln(out, "receiver:", got)
		if got.ID == rolledBack {
			return fmt.Errorf("webhook %s arrived: its change was rolled back", got.ID)
		}
		return fmt.Errorf("webhook %s arrived: no committed change has that id", got.ID)
	case <-time.After(grace):
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(out, "webhook %s never arrived (waited %s more)\n", rolledBack, grace)

	if err := closeEmitter(); err != nil {
		return fmt.Errorf("closing the emitter: %w", err)
	}
	fmt.Fprintln(out, "emitter closed")

	// The delivery logs are the jobs in the database.
	logs, err := emitter.Logs(ctx, webhook.LogQuery{})
	if err != nil {
		return fmt.Errorf("delivery logs: %w", err)
	}
	delivered := 0
	for _, l := range logs {
		if l.EventID == rolledBack {
			return fmt.Errorf("the delivery log has %s (%s): it was rolled back", l.EventID, l.Status)
		}
		if l.Status == webhook.StatusDelivered {
			delivered++
		}
	}
	fmt.Fprintf(out, "delivery log: %d delivered of %d, nothing for %s\n", delivered, len(logs), rolledBack)

	if delivered != committed || len(logs) != committed {
		return errors.Join(fmt.Errorf("the delivery log has %d deliveries, %d of them delivered; want %d delivered",
			len(logs), delivered, committed), problems())
	}
	return problems()
}

// shop is the order service: each change writes the order and emits its
// webhook in one transaction.
type shop[TTx any] struct {
	db    *database[TTx]
	queue *webhookriver.Queue[TTx]
}

// create inserts o and emits its created event, in one transaction.
func (s *shop[TTx]) create(ctx context.Context, o Order) error {
	ev := webhook.Create(o)
	ev.ID = o.eventID()
	return s.db.inTx(ctx, func(tx TTx) error {
		if err := s.db.exec(ctx, tx,
			`INSERT INTO orders (id, reference, status, total, version) VALUES ($1, $2, $3, $4, $5)`,
			o.ID, o.Reference, o.Status, o.Total, o.Version); err != nil {
			return err
		}
		return s.queue.EmitTx(ctx, tx, ev)
	})
}

// errNotPaid is the validation error of shipping an order not paid.
var errNotPaid = errors.New("only a paid order ships")

// setStatus moves o to status and emits its updated event, in one
// transaction, and returns the new state. The change is validated last,
// after EmitTx, as a model hook or a deferred constraint would be: when
// it fails, the transaction rolls back, the event's deliveries with it.
func (s *shop[TTx]) setStatus(ctx context.Context, o Order, status string) (Order, error) {
	next := o
	next.Status = status
	next.Version++
	ev := webhook.Update(o, next) // changes: status and version
	ev.ID = next.eventID()
	return next, s.db.inTx(ctx, func(tx TTx) error {
		if err := s.db.exec(ctx, tx,
			`UPDATE orders SET status = $1, version = $2 WHERE id = $3`,
			next.Status, next.Version, next.ID); err != nil {
			return err
		}
		if err := s.queue.EmitTx(ctx, tx, ev); err != nil {
			return err
		}
		if next.Status == "shipped" && o.Status != "paid" {
			return fmt.Errorf("%w: order %d is %s", errNotPaid, o.ID, o.Status)
		}
		return nil
	})
}

// receiver verifies each request with webhook.Verify, deduplicates on
// the signed body's event id and passes each new event on to arrived.
type receiver struct {
	secret  string
	arrived chan arrival

	mu       sync.Mutex
	seen     map[string]bool
	rejected int
}

// arrival is a verified event, as the receiver got it.
type arrival struct{ webhook.Payload }

func (a arrival) String() string {
	s := fmt.Sprintf("%s %s: order %v", a.Event, a.ID, a.Object["id"])
	for _, field := range slices.Sorted(maps.Keys(a.Changes)) {
		c := a.Changes[field]
		s += fmt.Sprintf(", %s %v → %v", field, c.Old, c.New)
	}
	return s + " (signature ok)"
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Verify the raw body, before any JSON decoding.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := webhook.Verify(rc.secret, r.Header, body); err != nil {
		rc.mu.Lock()
		rc.rejected++
		rc.mu.Unlock()
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	// Deduplicate on the id inside the signed body: a retry of an event
	// already processed is answered 200 and nothing more.
	rc.mu.Lock()
	isNew := !rc.seen[p.ID]
	rc.seen[p.ID] = true
	rc.mu.Unlock()
	if isNew {
		select {
		case rc.arrived <- arrival{p}:
		default: // nobody is listening any more
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) rejectedCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.rejected
}
