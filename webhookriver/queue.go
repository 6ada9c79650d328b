package webhookriver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookrail/webhook"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
)

// Queue is a durable [webhook.Queue] on River: each delivery is a River
// job in the host's own database (PostgreSQL or SQLite), so that a
// restart, a deploy or a crash loses none, and every process on the
// database shares the work. Pass it as webhook.Config.Queue; it keeps
// the delivery logs in the same database ([Queue.LogStore]).
//
// Each endpoint has a River queue of its own ("webhook_" and the
// endpoint's name), so that an endpoint that hangs holds only its own
// Config.Workers. Every attempt is the Emitter's own (signing, circuit
// breaker, logs, OnFailure); River stores the deliveries and schedules
// them:
//
//   - delivered: the job completes;
//   - a failure with retries left: the job errors and River retries it
//     after exactly the Emitter's delay (its RetryConfig, with the
//     endpoint's Retry-After as a floor);
//   - the circuit is open: the job is snoozed until it may close (not an
//     attempt: River's count does not move);
//   - given up: the job is cancelled, with no River retry on top;
//   - interrupted by Close: the job is snoozed, for the next start.
//
// River's attempt count is the delivery log's for every attempt that
// sends a request (a delivery given up without one, its endpoint gone or
// its body never built, logs 0 where River counts 1). The body is stored
// byte for byte (as a base64 string in the job's args, which JSONB keeps
// as it is), and signed afresh at each attempt.
type Queue[TTx any] struct {
	driver riverdriver.Driver[TTx]
	cfg    Config

	state  atomic.Pointer[state[TTx]] // set by Start; replaced when the first endpoint is added to a client that works no queue
	closed atomic.Bool
	stopMu sync.Mutex // serializes Close and the changes of endpoints (EndpointAdded, EndpointRemoved)

	names   atomic.Pointer[endpointSet] // replaced whole on a change: read without a lock
	namesMu sync.Mutex                  // orders the changes to names

	// producers is the River queues this process's client runs. Under
	// stopMu.
	producers map[string]bool

	running  sync.Map // delivery ID → *attemptLog: attempts under way in this process
	delays   sync.Map // River job ID → time.Duration: the Retry delay of the attempt that just failed
	fallback *webhook.MemoryLogStore
}

// state is what Start made.
type state[TTx any] struct {
	runner  webhook.Runner
	client  *river.Client[TTx]
	working bool          // client.Start ran: Close stops it
	config  river.Config  // the client's, without its queues
	rescue  time.Duration // River's RescueStuckJobsAfter
}

var _ webhook.Queue = (*Queue[any])(nil)

// ErrNotStarted is returned by EmitTx and LogStore before webhook.New has
// started the queue.
var ErrNotStarted = errors.New("webhookriver: the queue is not started: pass it to webhook.New as Config.Queue first")

// jobKind is the River job kind of a delivery.
const jobKind = "webhook_delivery"

// maxAttempts is each job's River MaxAttempts: above any RetryConfig
// Start accepts (maxRetries), so that the Emitter alone decides when a
// delivery is given up. (Attempts of a process that died count towards
// it too.)
const maxAttempts = 10_000

// maxRetries is the most RetryConfig.MaxRetries Start accepts.
const maxRetries = 5_000

// attemptSlack is what a River job may run beyond its endpoint's
// Timeout (the attempt bounds itself by it) before River cancels it.
const attemptSlack = 10 * time.Second

// New returns a Queue on driver's database: riverpgxv5.New(pool) or
// riverdatabasesql.New(db) for PostgreSQL, riversqlite.New(db) for
// SQLite. Run [Migrate] on the database first. The driver needs its
// pool: an attempt runs outside any transaction of the host.
//
// With SQLite, give database/sql one connection (db.SetMaxOpenConns(1))
// and a busy timeout: SQLite has one writer. Then Emit, which stores the
// deliveries in a transaction of its own, must not be called while the
// same goroutine holds a transaction on that connection (it would wait
// for it forever): inside a transaction, use EmitTx.
func New[TTx any](driver riverdriver.Driver[TTx], cfg Config) (*Queue[TTx], error) {
	if driver == nil {
		return nil, fmt.Errorf("webhookriver: %w: driver is nil", webhook.ErrInvalidConfig)
	}
	if !driver.PoolIsSet() {
		return nil, fmt.Errorf("webhookriver: %w: driver has no database pool (riverpgxv5.New(nil) can only insert)", webhook.ErrInvalidConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Schema != "" && driver.DatabaseName() == riverdriver.DatabaseNameSQLite {
		return nil, fmt.Errorf("webhookriver: %w: schema: PostgreSQL only (a SQLite database is a file of its own)", webhook.ErrInvalidConfig)
	}
	q := &Queue[TTx]{driver: driver, cfg: cfg, fallback: webhook.NewMemoryLogStore(fallbackLogs), producers: map[string]bool{}}
	q.names.Store(&endpointSet{names: map[string]epState{}, owners: map[string]string{}})
	return q, nil
}

// Start implements webhook.Queue: it makes the River client, with a queue
// per endpoint, and, unless Config.InsertOnly, starts it. Deliveries
// stored for endpoints this process does not have are run too, in a River
// queue each (with Config.Workers, in case the endpoint is added at
// runtime: River cannot change a running queue's workers): for
// Config.UnknownEndpointGrace after they were stored they are put back
// for a process that has the endpoint; then they are given up
// (webhook.ErrEndpointNotFound), logged and reported to OnFailure. Those of an endpoint removed from the stored endpoints
// ([Queue.EndpointStore]) are given up at once
// (webhook.ErrEndpointRemoved).
func (q *Queue[TTx]) Start(r webhook.Runner) error {
	if r == nil {
		return errors.New("webhookriver: Start: nil Runner")
	}
	q.stopMu.Lock()
	defer q.stopMu.Unlock()
	if q.state.Load() != nil {
		return errors.New("webhookriver: Start: the queue is already started (a Queue serves one Emitter)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	names := r.Endpoints()
	queues := make(map[string]river.QueueConfig, len(names))
	owners := make(map[string]string, len(names))
	var longest time.Duration
	for _, name := range names {
		qn := queueName(name)
		if other, ok := owners[qn]; ok {
			return fmt.Errorf("webhookriver: endpoints %q and %q map to the same River queue %q: rename one", other, name, qn)
		}
		owners[qn] = name
		queues[qn] = q.queueConfig(q.cfg.Workers)
		if _, ok := r.NextRetry(&webhook.Delivery{Endpoint: name}, maxRetries+1); ok {
			return fmt.Errorf("webhookriver: %w: endpoint %q: retry.max_retries: above %d, the most the River queue runs (it keeps room below River's limit for attempts cut short by crashes)", webhook.ErrInvalidConfig, name, maxRetries)
		}
		longest = max(longest, r.AttemptTimeout(&webhook.Delivery{Endpoint: name}))
	}
	rescue := q.cfg.RescueAfter
	switch {
	case rescue == 0:
		// An endpoint added later without a Timeout of its own has the
		// Emitter's: the Runner's for a name it does not have.
		rescue = max(longest, r.AttemptTimeout(&webhook.Delivery{})) + time.Minute
	case rescue <= longest+attemptSlack:
		return fmt.Errorf("webhookriver: %w: rescue_after: %s is not longer than the longest endpoint timeout (%s) plus %s", webhook.ErrInvalidConfig, rescue, longest, attemptSlack)
	}

	set := &endpointSet{names: make(map[string]epState, len(names)), owners: owners}
	for _, name := range names {
		set.names[name] = epState{status: epLive}
	}
	working := !q.cfg.InsertOnly
	if working {
		left, err := q.queuesWithWork(ctx)
		if err != nil {
			return err
		}
		var unknown []string
		for _, qn := range left {
			if _, ok := queues[qn]; !ok && strings.HasPrefix(qn, queuePrefix) {
				// All the workers of an endpoint's, though they only put
				// the deliveries back: River cannot change a running
				// queue's, and the endpoint may be added at runtime.
				queues[qn] = q.queueConfig(q.cfg.Workers)
				unknown = append(unknown, qn)
			}
		}
		if len(unknown) > 0 {
			q.removedAtStart(ctx, set, unknown)
			q.cfg.Logger.Warn("webhookriver: stored deliveries for endpoints this process does not have: left for a process that has them, then given up",
				"river_queues", unknown, "unknown_endpoint_grace", q.cfg.UnknownEndpointGrace)
		}
		working = len(queues) > 0
	}

	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker[TTx]{q: q}); err != nil {
		return fmt.Errorf("webhookriver: %w", err)
	}
	rc := &river.Config{
		CancelledJobRetentionPeriod: q.cfg.FailedRetention,
		CompletedJobRetentionPeriod: q.cfg.DeliveredRetention,
		DiscardedJobRetentionPeriod: q.cfg.FailedRetention,
		FetchCooldown:               q.cfg.FetchCooldown,
		FetchPollInterval:           q.cfg.FetchPollInterval,
		JobTimeout:                  longest + attemptSlack,
		Logger:                      q.cfg.Logger,
		MaxAttempts:                 maxAttempts,
		Plugins:                     q.cfg.Plugins,
		RescueStuckJobsAfter:        rescue,
		Schema:                      q.cfg.Schema,
		Workers:                     workers,
	}
	base := *rc
	if working {
		rc.Queues = queues
	}
	client, err := river.NewClient(q.driver, rc)
	if err != nil {
		return fmt.Errorf("webhookriver: %w", err)
	}
	// The workers read the state and the endpoints as soon as the client
	// starts.
	q.names.Store(set)
	q.state.Store(&state[TTx]{runner: r, client: client, working: working, config: base, rescue: rescue})
	if working {
		// River runs the jobs with contexts from this one: Close stops
		// them, not a caller's context.
		if err := client.Start(context.Background()); err != nil {
			q.state.Store(nil)
			return fmt.Errorf("webhookriver: starting River: %w", err)
		}
		for qn := range queues {
			q.producers[qn] = true
		}
	}
	return nil
}

// removedAtStart marks removed, in set, the endpoints that the stored
// endpoints record as removed and that have deliveries left in the River
// queues unknown, and makes those deliveries due now: the Runner gives
// them up at once (the Emitter loads the removals with the endpoints),
// where they would wait for the grace. A failure only costs the wait.
func (q *Queue[TTx]) removedAtStart(ctx context.Context, set *endpointSet, unknown []string) {
	removed, err := q.removedEndpoints(ctx)
	if err != nil {
		q.cfg.Logger.Warn("webhookriver: reading the removed endpoints failed: their deliveries wait for the unknown endpoints' grace", "error", err)
		return
	}
	exec := q.driver.GetExecutor()
	for _, name := range removed {
		qn := queueName(name)
		if _, ok := set.names[name]; ok || !slices.Contains(unknown, qn) {
			continue
		}
		set.names[name] = epState{status: epRemoved}
		if err := exec.Exec(ctx, q.sql(dueSQL), jobKind, qn, name); err != nil {
			q.cfg.Logger.Warn("webhookriver: making a removed endpoint's deliveries due failed: they are given up when they come due",
				"endpoint", name, "error", err)
		}
	}
}

// queueConfig is the River queue of an endpoint, with n workers.
func (q *Queue[TTx]) queueConfig(n int) river.QueueConfig {
	return river.QueueConfig{MaxWorkers: n, FetchCooldown: q.cfg.FetchCooldown, FetchPollInterval: q.cfg.FetchPollInterval}
}

// startTimeout bounds what Start asks the database.
const startTimeout = 30 * time.Second

// fallbackLogs is how many logs the queue keeps in memory for deliveries
// that never reached the database (a failed insert).
const fallbackLogs = 1000

// Enqueue implements webhook.Queue: it stores the deliveries of one event
// in one insert. A delivery it cannot store (ctx ended, the queue closed,
// the database refused) is given up through the Runner.
func (q *Queue[TTx]) Enqueue(ctx context.Context, ds []*webhook.Delivery) error {
	st := q.state.Load()
	if st == nil {
		return ErrNotStarted
	}
	if len(ds) == 0 {
		return nil
	}
	if q.closed.Load() {
		return giveUpAll(st.runner, ds, webhook.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return giveUpAll(st.runner, ds, fmt.Errorf("not stored: %w", context.Cause(ctx)))
	}
	if _, err := st.client.InsertMany(ctx, q.params(ds, nil)); err != nil {
		hint := ""
		if ctx.Err() != nil && q.driver.DatabaseName() == riverdriver.DatabaseNameSQLite {
			hint = " (SQLite has one connection: if this goroutine holds a transaction on it, emit with EmitTx in that transaction)"
		}
		return giveUpAll(st.runner, ds, fmt.Errorf("webhookriver: storing the deliveries%s: %w", hint, err))
	}
	return nil
}

// EmitTx emits ev as [webhook.Emitter.Emit] does, but stores its
// deliveries in tx, the host's transaction, in one insert: they exist,
// and are attempted, if and only if tx commits. The bodies are shaped and
// fixed now.
//
// Unlike Emit's, its error means that nothing was stored: the event is
// invalid, ctx ended, the Emitter is closed, or the database refused the
// insert (tx is then the host's to roll back, as after any failed
// statement). A delivery whose body could not be built (a Transform
// error, a body over MaxBodyBytes) is stored as a failure, beside the
// others, and given up (logged, reported to OnFailure) once tx commits:
// one endpoint's failure does not undo the host's change.
//
// EmitTx is usable once an Emitter has been built on the queue.
func (q *Queue[TTx]) EmitTx(ctx context.Context, tx TTx, ev webhook.Event) error {
	st := q.state.Load()
	if st == nil {
		return ErrNotStarted
	}
	if q.closed.Load() {
		return fmt.Errorf("webhookriver: EmitTx: %w", webhook.ErrClosed)
	}
	p, err := st.runner.Prepare(ctx, ev)
	if err != nil {
		return err
	}
	params := q.params(p.Deliveries, p.Failed)
	if len(params) == 0 {
		return nil
	}
	if _, err := st.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("webhookriver: storing the deliveries of event %s: %w", eventID(p), err)
	}
	return nil
}

func eventID(p webhook.Prepared) string {
	if len(p.Deliveries) > 0 {
		return p.Deliveries[0].EventID
	}
	return p.Failed[0].Delivery.EventID
}

// params are the River jobs of ds, and of the shaping failures fs.
func (q *Queue[TTx]) params(ds []*webhook.Delivery, fs []webhook.ShapeFailure) []river.InsertManyParams {
	ps := make([]river.InsertManyParams, 0, len(ds)+len(fs))
	add := func(d *webhook.Delivery, giveUp string) {
		ps = append(ps, river.InsertManyParams{
			Args: deliveryArgs{
				ID: d.ID, EventID: d.EventID, EventType: d.EventType, Endpoint: d.Endpoint,
				Body: d.Body, CreatedAt: d.CreatedAt, GiveUp: giveUp,
			},
			InsertOpts: &river.InsertOpts{Queue: queueName(d.Endpoint), MaxAttempts: maxAttempts},
		})
	}
	for _, d := range ds {
		add(d, "")
	}
	for _, f := range fs {
		add(f.Delivery, shapeMessage(f.Err))
	}
	return ps
}

// Close implements webhook.Queue: River stops fetching and lets the
// attempts under way finish within ctx; when ctx ends first, it cancels
// them, and each goes back to the database as it was (snoozed, not
// counted). Everything else stays stored for the next start. Nothing is
// given up. It returns nil, or River's failure to stop.
func (q *Queue[TTx]) Close(ctx context.Context) error {
	q.stopMu.Lock()
	defer q.stopMu.Unlock()
	if !q.closed.CompareAndSwap(false, true) {
		return nil
	}
	st := q.state.Load()
	if st == nil || !st.working {
		return nil
	}
	err := st.client.Stop(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		return fmt.Errorf("webhookriver: stopping River: %w", err)
	}
	// ctx ended with attempts under way: interrupt them. Each returns at
	// once (its context ends) and is snoozed for the next start.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	if err := st.client.StopAndCancel(cctx); err != nil {
		return fmt.Errorf("webhookriver: stopping River: %w", err)
	}
	return nil
}

// cancelTimeout bounds how long Close waits for cancelled attempts to
// return and River to record them.
const cancelTimeout = 30 * time.Second

// Client returns the River client Start made, for what River offers
// beyond the queue (its job list, River UI, otelriver's middleware on a
// client of the host's own): nil before Start. Do not stop it: Close does.
func (q *Queue[TTx]) Client() *river.Client[TTx] {
	if st := q.state.Load(); st != nil {
		return st.client
	}
	return nil
}

// giveUpAll gives up every delivery of ds and returns the errors joined.
func giveUpAll(r webhook.Runner, ds []*webhook.Delivery, err error) error {
	errs := make([]error, 0, len(ds))
	for _, d := range ds {
		errs = append(errs, r.GiveUp(d, err))
	}
	return errors.Join(errs...)
}

// queuePrefix starts the name of every River queue of this package.
const queuePrefix = "webhook_"

// riverName is what River accepts as a queue name.
var riverName = regexp.MustCompile(`^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`)

// maxQueueName is River's longest queue name.
const maxQueueName = 64

// queueName is the River queue of an endpoint: "webhook_" and its name
// when River accepts that, else "webhook_", what is left of the name in
// lower case with other characters as "_", and 12 hex digits of its
// SHA-256, so that every process maps a name to the same queue.
func queueName(endpoint string) string {
	if len(queuePrefix)+len(endpoint) <= maxQueueName && riverName.MatchString(endpoint) {
		return queuePrefix + endpoint
	}
	sum := sha256.Sum256([]byte(endpoint))
	var b strings.Builder
	for _, r := range strings.ToLower(endpoint) {
		ok := r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		switch {
		case ok:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	const hashLen = 12
	clean := strings.TrimSuffix(b.String(), "_")
	if room := maxQueueName - len(queuePrefix) - 1 - hashLen; len(clean) > room {
		clean = strings.TrimSuffix(clean[:room], "_")
	}
	if clean != "" {
		clean += "_"
	}
	return queuePrefix + clean + hex.EncodeToString(sum[:])[:hashLen]
}

// Stats implements webhook.Queue from the database: what every process
// on it holds, in total and per endpoint (a delivery River is running is
// in flight). Deliveries for endpoints this Emitter does not have count
// in the totals only.
func (q *Queue[TTx]) Stats(ctx context.Context) (webhook.QueueStats, error) {
	st := q.state.Load()
	if st == nil {
		return webhook.QueueStats{}, ErrNotStarted
	}
	owners := q.names.Load().owners
	s := webhook.QueueStats{Endpoints: make(map[string]webhook.EndpointQueueStats, len(owners))}
	for _, name := range owners {
		s.Endpoints[name] = webhook.EndpointQueueStats{}
	}
	var agg string
	if err := q.driver.GetExecutor().QueryRow(ctx, q.sql(statsSQL), jobKind).Scan(&agg); err != nil {
		return webhook.QueueStats{}, fmt.Errorf("webhookriver: stats: %w", err)
	}
	for _, row := range strings.Split(agg, ",") {
		if row == "" {
			continue
		}
		qn, rest, _ := strings.Cut(row, ":")
		state, count, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(count)
		if err != nil {
			return webhook.QueueStats{}, fmt.Errorf("webhookriver: stats: bad count in %q", row)
		}
		name, known := owners[qn]
		es := s.Endpoints[name]
		if state == "running" {
			s.InFlight += n
			es.InFlight += n
		} else {
			s.Queued += n
			es.Queued += n
		}
		if known {
			s.Endpoints[name] = es
		}
	}
	return s, nil
}

// queuesWithWork returns the River queues that hold unfinished
// deliveries.
func (q *Queue[TTx]) queuesWithWork(ctx context.Context) ([]string, error) {
	var agg string
	if err := q.driver.GetExecutor().QueryRow(ctx, q.sql(queuesSQL), jobKind).Scan(&agg); err != nil {
		return nil, fmt.Errorf("webhookriver: reading the stored deliveries (has webhookriver.Migrate run on this database?): %w", err)
	}
	if agg == "" {
		return nil, nil
	}
	return strings.Split(agg, ","), nil
}
