package webhookriver_test

// Endpoints added, changed and removed at runtime, stored in the queue's
// database (Queue.EndpointStore): seen by another process on the same
// database, and after a restart. The other process is a child re-executed
// from the test binary (TestMain → crashChildMain → epChildMain), driven
// through its stdin.

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// The helper process of these tests.
const (
	epRole   = "endpoints"               // crashEnvRole's value
	epEnvDB  = "WEBHOOKRIVER_EP_DB"      // "postgres" or "sqlite"
	epEnvDSN = "WEBHOOKRIVER_EP_DSN"     // the PostgreSQL URL or the SQLite path
	epSync   = 200 * time.Millisecond    // every Emitter's EndpointSync here
	epSeen   = 15 * time.Second          // bounds a wait for a change to reach another process
	epAnswer = 30 * time.Second          // bounds a wait for the helper's answer
	epTenant = "acme"                    // the tenant of the endpoints added
	epName   = "acme-orders"             // the endpoint added
	epOther  = "globex"                  // a tenant without endpoints
	epReady  = "WEBHOOKRIVER-EP-RESULT " // prefixes the helper's answers on stdout
	epFail   = "WEBHOOKRIVER-EP-FAILURE "
)

// epCmd is a command to the helper process, one JSON line on its stdin.
type epCmd struct {
	Op       string  `json:"op"` // emit, add, update, remove, endpoints
	ID       string  `json:"id,omitempty"`
	Tenant   string  `json:"tenant,omitempty"`
	Name     string  `json:"name,omitempty"`
	Endpoint *epSpec `json:"endpoint,omitempty"`
}

// epSpec is what the tests set of an endpoint. (Endpoint's own JSON
// leaves its secret out.)
type epSpec struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
	Tenant string `json:"tenant"`
}

func (s epSpec) endpoint() webhook.Endpoint {
	return webhook.Endpoint{Name: s.Name, URL: s.URL, Secret: s.Secret, Tenant: s.Tenant}
}

func epSpecOf(ep webhook.Endpoint) epSpec {
	return epSpec{Name: ep.Name, URL: ep.URL, Secret: ep.Secret, Tenant: ep.Tenant}
}

// epResult is the helper's answer to a command.
type epResult struct {
	Err       string   `json:"err,omitempty"`
	Endpoints []epSpec `json:"endpoints,omitempty"`
}

// epFailure is a delivery the helper gave up.
type epFailure struct {
	Endpoint string `json:"endpoint"`
	EventID  string `json:"event_id"`
	Err      string `json:"err"`
	Removed  bool   `json:"removed"` // the error wraps webhook.ErrEndpointRemoved
}

// epChildMain is the helper process: an Emitter on a webhookriver Queue,
// with no endpoints of its own Config, that runs the commands it reads on
// stdin, one at a time, and answers each on stdout; at the end of stdin,
// it closes the Emitter and exits.
func epChildMain() error {
	switch db := os.Getenv(epEnvDB); db {
	case "postgres":
		pool, err := pgxpool.New(context.Background(), os.Getenv(epEnvDSN))
		if err != nil {
			return err
		}
		defer pool.Close()
		return epChildRun(riverpgxv5.New(pool))
	case "sqlite":
		db, err := sql.Open("sqlite", sqliteDSN(os.Getenv(epEnvDSN)))
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		defer db.Close()
		return epChildRun(riversqlite.New(db))
	default:
		return fmt.Errorf("%s=%q", epEnvDB, db)
	}
}

func epChildRun[TTx any](driver riverdriver.Driver[TTx]) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var outMu sync.Mutex
	say := func(prefix string, v any) {
		b, _ := json.Marshal(v)
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Println(prefix + string(b))
	}
	cfg := fast
	cfg.Logger = logger
	q, err := webhookriver.New(driver, cfg)
	if err != nil {
		return err
	}
	e, err := webhook.New(webhook.Config{Queue: q, EndpointSync: epSync, Logger: logger,
		OnFailure: func(f webhook.Failure) {
			say(epFail, epFailure{f.Endpoint, f.EventID, f.Err.Error(), errors.Is(f.Err, webhook.ErrEndpointRemoved)})
		}})
	if err != nil {
		return err
	}
	outMu.Lock()
	fmt.Println(crashReady)
	outMu.Unlock()

	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var c epCmd
		var res epResult
		err := json.Unmarshal(sc.Bytes(), &c)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		switch {
		case err != nil:
		case c.Op == "emit":
			err = e.Emit(ctx, epEvent(c.ID, c.Tenant))
		case c.Op == "add" && c.Endpoint != nil:
			err = e.AddEndpoint(ctx, c.Endpoint.endpoint())
		case c.Op == "update" && c.Endpoint != nil:
			err = e.UpdateEndpoint(ctx, c.Endpoint.endpoint())
		case c.Op == "remove":
			err = e.RemoveEndpoint(ctx, c.Name)
		case c.Op == "endpoints":
			for _, ep := range e.Endpoints() {
				res.Endpoints = append(res.Endpoints, epSpecOf(ep))
			}
		default:
			err = fmt.Errorf("unknown command %s", sc.Text())
		}
		cancel()
		if err != nil {
			res.Err = err.Error()
		}
		say(epReady, res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.Close(ctx)
}

// epEvent is the creation of an order of the tenant, with the event id.
func epEvent(id, tenant string) webhook.Event {
	ev := webhook.Create(map[string]any{"id": id})
	ev.Model = "store.Order"
	ev.ID = id
	ev.Tenant = tenant
	return ev
}

// epProc is a helper process, seen from the test.
type epProc struct {
	c       *crashChild
	results chan epResult

	mu       sync.Mutex
	failures []epFailure
}

// epStartProc starts a helper process on the database and waits until
// its Emitter is made.
func epStartProc(t *testing.T, name, db, dsn string) *epProc {
	t.Helper()
	p := &epProc{results: make(chan epResult, 1)}
	p.c = crashStartWith(t, name, p.line, crashEnvRole+"="+epRole, epEnvDB+"="+db, epEnvDSN+"="+dsn)
	p.c.waitReady(t, time.Minute)
	return p
}

func (p *epProc) line(s string) {
	switch {
	case strings.HasPrefix(s, epReady):
		var r epResult
		if err := json.Unmarshal([]byte(strings.TrimPrefix(s, epReady)), &r); err != nil {
			r.Err = "bad answer: " + s
		}
		p.results <- r
	case strings.HasPrefix(s, epFail):
		var f epFailure
		_ = json.Unmarshal([]byte(strings.TrimPrefix(s, epFail)), &f)
		p.mu.Lock()
		p.failures = append(p.failures, f)
		p.mu.Unlock()
	}
}

// do runs cmd in the helper and returns its answer.
func (p *epProc) do(t *testing.T, cmd epCmd) epResult {
	t.Helper()
	b, err := json.Marshal(cmd)
	require.NoError(t, err)
	_, err = p.c.stdin.Write(append(b, '\n'))
	require.NoError(t, err, "%s: writing %s", p.c.name, b)
	select {
	case r := <-p.results:
		return r
	case <-p.c.done:
		t.Fatalf("%s exited (%v) before answering %s\n%s", p.c.name, p.c.err, b, p.c.out)
	case <-time.After(epAnswer):
		t.Fatalf("%s did not answer %s within %s\n%s", p.c.name, b, epAnswer, p.c.out)
	}
	return epResult{}
}

// must runs cmd in the helper and requires that it succeed.
func (p *epProc) must(t *testing.T, cmd epCmd) epResult {
	t.Helper()
	r := p.do(t, cmd)
	require.Empty(t, r.Err, "%s: %+v", p.c.name, cmd)
	return r
}

// endpoints returns the helper's endpoints by name.
func (p *epProc) endpoints(t *testing.T) map[string]epSpec {
	t.Helper()
	m := map[string]epSpec{}
	for _, s := range p.must(t, epCmd{Op: "endpoints"}).Endpoints {
		m[s.Name] = s
	}
	return m
}

func (p *epProc) failed() []epFailure {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.failures)
}

// epInst is an Emitter of the test process on a webhookriver Queue.
type epInst[TTx any] struct {
	q        *webhookriver.Queue[TTx]
	e        *webhook.Emitter
	failures *e2eFailures
}

// epStart starts an Emitter on a new Queue on driver, with the queue's
// Config qcfg, no endpoints in its own Config and EndpointSync epSync; t's
// end closes it.
func epStart[TTx any](t *testing.T, driver riverdriver.Driver[TTx], qcfg webhookriver.Config, cfg webhook.Config) *epInst[TTx] {
	t.Helper()
	q, err := webhookriver.New(driver, qcfg)
	require.NoError(t, err)
	inst := &epInst[TTx]{q: q, failures: &e2eFailures{}}
	logs := &e2eLogBuf{}
	cfg.Queue = q
	cfg.EndpointSync = epSync
	cfg.OnFailure = inst.failures.add
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	inst.e, err = webhook.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		inst.close(t)
		if t.Failed() {
			t.Logf("the Emitter's log:\n%s", logs)
		}
	})
	return inst
}

func (inst *epInst[TTx]) close(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	assert.NoError(t, inst.e.Close(ctx))
}

// names returns the names of the Emitter's endpoints.
func (inst *epInst[TTx]) names() []string {
	var out []string
	for _, ep := range inst.e.Endpoints() {
		out = append(out, ep.Name)
	}
	return out
}

// epArrived reports whether the receiver answered 2xx to a request of
// the event.
func epArrived(rc *e2eReceiver, id string) bool {
	return slices.ContainsFunc(rc.ok(), func(r e2eReq) bool { return r.eventID == id })
}

// epArrivals counts the requests of the event the receiver verified.
func epArrivals(rc *e2eReceiver, id string) int {
	n := 0
	for _, r := range rc.all() {
		if r.eventID == id {
			n++
		}
	}
	return n
}

// An endpoint added by one process is used by a second process on the
// same PostgreSQL (its events of the endpoint's tenant reach the
// receiver), survives the first one's restart, and an update and a
// removal made by either are seen by the other.
func TestStoredEndpointsAcrossProcessesPostgres(t *testing.T) {
	dsn := postgresURL(t)
	ctx := e2eCtx(t)
	migrate(t, pgxDriverUnmigrated(t, dsn))
	rc := e2eNewReceiver(t, nil)
	rc2 := e2eNewReceiver(t, nil)
	openA := func() *epInst[pgx.Tx] {
		pool, err := pgxpool.New(ctx, dsn) // a pool of its own: another process's
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return epStart(t, riverpgxv5.New(pool), fast, webhook.Config{})
	}

	a := openA()
	b := epStartProc(t, "process B", "postgres", dsn)
	require.Empty(t, a.e.Endpoints())
	require.Empty(t, b.endpoints(t))

	// A adds the endpoint; B takes it from the database.
	ep := epSpec{Name: epName, URL: rc.URL, Secret: e2eSecret, Tenant: epTenant}
	require.NoError(t, a.e.AddEndpoint(ctx, ep.endpoint()))
	added := time.Now()
	require.Eventually(t, func() bool { return b.endpoints(t)[epName] == ep }, epSeen, 50*time.Millisecond,
		"B has A's endpoint, secret and tenant included")
	t.Logf("B had the endpoint %s after A added it (EndpointSync %s)", time.Since(added).Round(time.Millisecond), epSync)
	assert.Contains(t, b.do(t, epCmd{Op: "add", Endpoint: &ep}).Err, webhook.ErrEndpointExists.Error(), "the name is taken for B too")

	// B's event of the tenant reaches the receiver; another tenant's
	// goes nowhere.
	b.must(t, epCmd{Op: "emit", ID: "evt_b_other", Tenant: epOther})
	b.must(t, epCmd{Op: "emit", ID: "evt_b_1", Tenant: epTenant})
	require.Eventually(t, func() bool { return epArrived(rc, "evt_b_1") }, e2eWait, e2eTick, "B's event arrives")
	logs, err := a.e.Logs(ctx, webhook.LogQuery{Endpoint: epName})
	require.NoError(t, err)
	require.Len(t, logs, 1, "one delivery, B's, in the shared logs")
	assert.Equal(t, "evt_b_1", logs[0].EventID)
	assert.Zero(t, epArrivals(rc, "evt_b_other"), "another tenant's event does not go to the endpoint")

	// A restarts: the endpoint is still there, and used.
	a.close(t)
	a = openA()
	require.Equal(t, []webhook.Endpoint{ep.endpoint()}, a.e.Endpoints(), "the endpoint survives A's restart")
	require.NoError(t, a.e.Emit(ctx, epEvent("evt_a_1", epTenant)))
	require.Eventually(t, func() bool { return epArrived(rc, "evt_a_1") }, e2eWait, e2eTick, "A's event arrives after its restart")

	// An update made by A is seen by B.
	moved := ep
	moved.URL = rc2.URL
	require.NoError(t, a.e.UpdateEndpoint(ctx, moved.endpoint()))
	require.Eventually(t, func() bool { return b.endpoints(t)[epName] == moved }, epSeen, 50*time.Millisecond, "B has A's update")
	b.must(t, epCmd{Op: "emit", ID: "evt_b_2", Tenant: epTenant})
	require.Eventually(t, func() bool { return epArrived(rc2, "evt_b_2") }, e2eWait, e2eTick, "B's event goes to the new URL")
	assert.Zero(t, epArrivals(rc, "evt_b_2"))

	// A removal made by B is seen by A.
	b.must(t, epCmd{Op: "remove", Name: epName})
	require.Eventually(t, func() bool { return len(a.e.Endpoints()) == 0 }, epSeen, e2eTick, "A loses the endpoint B removed")
	require.NoError(t, a.e.Emit(ctx, epEvent("evt_a_2", epTenant)), "an event of a tenant without endpoints goes nowhere")
	require.ErrorIs(t, a.e.RemoveEndpoint(ctx, epName), webhook.ErrEndpointNotFound)
	// And it may be added again, by either.
	require.NoError(t, a.e.AddEndpoint(ctx, ep.endpoint()))
	require.Eventually(t, func() bool { return b.endpoints(t)[epName] == ep }, epSeen, 50*time.Millisecond, "B has it again")

	b.c.stop(t, time.Minute)
	assert.Zero(t, epArrivals(rc, "evt_a_2")+epArrivals(rc2, "evt_a_2"), "nothing went to the removed endpoint")
	assert.Empty(t, a.failures.get())
	assert.Empty(t, b.failed())
	assert.Zero(t, rc.unverified()+rc2.unverified())
}

// With SQLite, an endpoint added by one process is there, and used, in
// the process that runs on the database after it; and so is its removal.
func TestStoredEndpointsAfterRestartSQLite(t *testing.T) {
	path := sqlitePath(t)
	ctx := e2eCtx(t)
	migrate(t, riversqlite.New(openSQLite(t, path)))
	rc := e2eNewReceiver(t, nil)
	openA := func() (*epInst[*sql.Tx], *sql.DB) {
		db := openSQLite(t, path)
		return epStart(t, riversqlite.New(db), fast, webhook.Config{}), db
	}

	// The first process adds the endpoint and uses it.
	a, db := openA()
	ep := epSpec{Name: epName, URL: rc.URL, Secret: e2eSecret, Tenant: epTenant}
	require.NoError(t, a.e.AddEndpoint(ctx, ep.endpoint()))
	require.NoError(t, a.e.Emit(ctx, epEvent("evt_a_1", epTenant)))
	require.Eventually(t, func() bool { return epArrived(rc, "evt_a_1") }, e2eWait, e2eTick)
	a.close(t)
	require.NoError(t, db.Close())

	// The next process, on the same file, has it from the start.
	b := epStartProc(t, "process B", "sqlite", path)
	require.Equal(t, map[string]epSpec{epName: ep}, b.endpoints(t), "the endpoint survives the restart")
	b.must(t, epCmd{Op: "emit", ID: "evt_b_1", Tenant: epTenant})
	require.Eventually(t, func() bool { return epArrived(rc, "evt_b_1") }, e2eWait, e2eTick, "the next process's event arrives")
	b.must(t, epCmd{Op: "remove", Name: epName})
	b.c.stop(t, time.Minute)

	// And the one after it knows of the removal.
	a, _ = openA()
	assert.Empty(t, a.e.Endpoints(), "the removal survives the restart")
	require.NoError(t, a.e.AddEndpoint(ctx, ep.endpoint()), "the name may be used again")
	assert.Equal(t, []string{epName}, a.names())
	assert.Empty(t, a.failures.get())
	assert.Empty(t, b.failed())
	assert.Zero(t, rc.unverified())
}

// A removed endpoint's delivery that waits for its retry is given up at
// once (webhook.ErrEndpointRemoved, logged, reported to OnFailure, its job
// cancelled), not at its retry time and not after UnknownEndpointGrace;
// no request is made for it. The queue starts with no endpoint at all:
// the first one added makes its River client work.
func TestRemovedEndpointGivesUpItsDeliveries(t *testing.T) {
	e2eEachDB(t, epTestRemoved[pgx.Tx], epTestRemoved[*sql.Tx])
}

func epTestRemoved[TTx any](t *testing.T, db *e2eDB[TTx]) {
	ctx := e2eCtx(t)
	rc := e2eNewReceiver(t, func(int, http.ResponseWriter, *http.Request) int { return http.StatusInternalServerError })
	qcfg := fast
	qcfg.UnknownEndpointGrace = 10 * time.Minute
	inst := epStart(t, db.open(t).driver, qcfg, webhook.Config{})
	require.Empty(t, inst.e.Endpoints())

	ep := webhook.Endpoint{Name: "doomed", URL: rc.URL, Secret: e2eSecret, Tenant: epTenant,
		Retry: &webhook.RetryConfig{MaxRetries: 3, RetryDelay: time.Hour, BackoffFactor: 1}}
	require.NoError(t, inst.e.AddEndpoint(ctx, ep))
	ev := epEvent("evt_doomed", epTenant)
	require.NoError(t, inst.e.Emit(ctx, ev))
	job := func() *rivertype.JobRow {
		res, err := inst.q.Client().JobList(ctx, river.NewJobListParams().Kinds("webhook_delivery"))
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
		return res.Jobs[0]
	}
	require.Eventually(t, func() bool { return job().State == rivertype.JobStateRetryable }, e2eWait, e2eTick,
		"the first attempt failed; the next is an hour away")
	require.Len(t, rc.all(), 1)
	st, err := inst.e.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Endpoints["doomed"].Queued)

	require.NoError(t, inst.e.RemoveEndpoint(ctx, "doomed"))
	removed := time.Now()
	require.Eventually(t, func() bool { return len(inst.failures.get()) == 1 }, e2eWait, e2eTick, "the delivery is given up")
	t.Logf("given up %s after the removal", time.Since(removed).Round(time.Millisecond))
	f := inst.failures.get()[0]
	assert.ErrorIs(t, f.Err, webhook.ErrEndpointRemoved)
	assert.Equal(t, "doomed", f.Endpoint)
	assert.Equal(t, ev.ID, f.EventID)
	require.Eventually(t, func() bool { return job().State == rivertype.JobStateCancelled }, e2eWait, e2eTick)
	l, err := inst.e.Logs(ctx, webhook.LogQuery{Endpoint: "doomed"})
	require.NoError(t, err)
	require.Len(t, l, 1)
	assert.Equal(t, webhook.StatusFailed, l[0].Status)
	assert.Contains(t, l[0].ErrorMessage, webhook.ErrEndpointRemoved.Error())
	assert.Len(t, rc.all(), 1, "no request after the removal")

	st, err = inst.e.Stats(ctx)
	require.NoError(t, err)
	assert.NotContains(t, st.Endpoints, "doomed", "a removed endpoint is not in the stats")
	assert.Zero(t, st.Queued)
}

// An endpoint added at runtime to a process that runs its River queue
// already (deliveries for an endpoint it did not have, left by another
// process) has Config.Workers there: its deliveries are attempted several
// at a time.
func TestAddedEndpointGetsItsWorkers(t *testing.T) {
	const events = 6
	dsn := postgresURL(t)
	ctx := e2eCtx(t)
	migrate(t, pgxDriverUnmigrated(t, dsn))
	var inFlight, most atomic.Int32
	rc := e2eNewReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) int {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		// Held until another request is under way, 2 s at most.
		deadline := time.Now().Add(2 * time.Second)
		for inFlight.Load() < 2 && time.Now().Before(deadline) && r.Context().Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		return http.StatusOK
	})
	open := func(qcfg webhookriver.Config, cfg webhook.Config) *epInst[pgx.Tx] {
		pool, err := pgxpool.New(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return epStart(t, riverpgxv5.New(pool), qcfg, cfg)
	}

	// A web tier, whose Config has the endpoint, stores the deliveries.
	ep := webhook.Endpoint{Name: "late", URL: rc.URL, Secret: e2eSecret}
	insertOnly := fast
	insertOnly.InsertOnly = true
	web := open(insertOnly, webhook.Config{Endpoints: []webhook.Endpoint{ep}})
	for i := range events {
		require.NoError(t, web.e.Emit(ctx, epEvent(fmt.Sprintf("evt_late_%d", i), "")))
	}

	// A worker without it starts (one worker for them, left for others),
	// then adds it.
	grace := fast
	grace.UnknownEndpointGrace = 5 * time.Second
	w := open(grace, webhook.Config{})
	require.NoError(t, w.e.AddEndpoint(ctx, ep))
	require.Eventually(t, func() bool { return len(rc.ok()) == events }, 30*time.Second, e2eTick)
	assert.GreaterOrEqual(t, most.Load(), int32(2), "attempts ran side by side")
	assert.Empty(t, w.failures.get())
	assert.Empty(t, web.failures.get())
}

// The Emitter tells the queue of an added endpoint before it stores and
// publishes it: deliveries of the endpoint the queue fetches meanwhile
// (another process's) wait for it, rather than being given up as an
// unknown endpoint's (the grace is a nanosecond here).
func TestAddedEndpointWaitsForTheEmitter(t *testing.T) {
	dsn := postgresURL(t)
	ctx := e2eCtx(t)
	migrate(t, pgxDriverUnmigrated(t, dsn))
	rc := e2eNewReceiver(t, nil)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	open := func(qcfg webhookriver.Config, cfg webhook.Config) *epInst[pgx.Tx] {
		return epStart(t, riverpgxv5.New(pool), qcfg, cfg)
	}

	ep := webhook.Endpoint{Name: "new", URL: rc.URL, Secret: e2eSecret}
	insertOnly := fast
	insertOnly.InsertOnly = true
	web := open(insertOnly, webhook.Config{Endpoints: []webhook.Endpoint{ep}})
	w := open(fast, webhook.Config{})

	// The endpoint table is locked: AddEndpoint tells the queue, which
	// starts fetching the endpoint's deliveries, then waits to store it.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "LOCK TABLE webhook_endpoint IN EXCLUSIVE MODE")
	require.NoError(t, err)
	added := make(chan error, 1)
	go func() { added <- w.e.AddEndpoint(ctx, ep) }()
	// Once the store waits for the lock, the queue has been told (the
	// Emitter tells it first): only then is the delivery stored, so that
	// it is fetched while the endpoint is pending, not at w's start
	// (where it is unknown, and the grace a nanosecond).
	require.Eventually(t, func() bool {
		var waiting int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%webhook_endpoint%'`).Scan(&waiting)
		return err == nil && waiting > 0
	}, e2eWait, e2eTick)
	require.NoError(t, web.e.Emit(ctx, epEvent("evt_new", "")))
	time.Sleep(time.Second)
	select {
	case err := <-added:
		t.Fatalf("AddEndpoint returned while the table was locked: %v", err)
	default:
	}
	assert.Empty(t, rc.all(), "nothing is sent before the Emitter has the endpoint")
	assert.Empty(t, w.failures.get(), "nothing is given up meanwhile")
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-added)

	require.Eventually(t, func() bool { return epArrived(rc, "evt_new") }, e2eWait, e2eTick)
	assert.Empty(t, w.failures.get())
	assert.Empty(t, web.failures.get())
}

// LogQuery.Since and Until select by the delivery's creation time, to the
// nanosecond, whatever the database's precision; DeliveryLog.RedeliveredAs
// is kept in the database: Redeliver's, and Recover's, which sends each
// failure again once.
func TestLogsSinceUntilAndRedeliveredAs(t *testing.T) {
	e2eEachDB(t, epTestLogs[pgx.Tx], epTestLogs[*sql.Tx])
}

func epTestLogs[TTx any](t *testing.T, db *e2eDB[TTx]) {
	ctx := e2eCtx(t)
	rc, healthy := e2eSwitchReceiver(t, http.StatusServiceUnavailable)
	healthy.Store(true)
	// The creation times, within a millisecond of each other (and of the
	// margins the database's precision needs).
	base := time.Now().UTC().Truncate(time.Millisecond)
	times := []time.Time{
		base.Add(100),
		base.Add(300 * time.Microsecond),
		base.Add(300*time.Microsecond + 1),
		base.Add(time.Millisecond + 200*time.Microsecond),
	}
	var clock atomic.Pointer[time.Time]
	now := func() time.Time {
		if t := clock.Load(); t != nil {
			return *t
		}
		return time.Now()
	}
	ep := e2eEndpoint("orders", rc.URL)
	ep.Retry = &webhook.RetryConfig{MaxRetries: 0}
	h := db.open(t)
	inst := e2eStart(t, h, webhook.Config{Endpoints: []webhook.Endpoint{ep}, Now: now})
	var ids []string
	for i, at := range times {
		clock.Store(&at)
		ev := epEvent(fmt.Sprintf("evt_log_%d", i), "")
		require.NoError(t, inst.e.Emit(ctx, ev))
		ids = append(ids, ev.ID)
	}
	clock.Store(nil)
	require.Eventually(t, func() bool {
		logs, err := inst.e.Logs(ctx, webhook.LogQuery{Status: webhook.StatusDelivered})
		return err == nil && len(logs) == len(times)
	}, e2eWait, e2eTick)

	cases := []struct {
		name         string
		since, until time.Time
		endpoint     string
		limit        int
		want         []int // indexes in times, newest first
	}{
		{"all", time.Time{}, time.Time{}, "", 0, []int{3, 2, 1, 0}},
		{"since the second", times[1], time.Time{}, "", 0, []int{3, 2, 1}},
		{"since a nanosecond after it", times[1].Add(1), time.Time{}, "", 0, []int{3, 2}},
		{"until the second", time.Time{}, times[1], "", 0, []int{0}},
		{"until a nanosecond after it", time.Time{}, times[1].Add(1), "", 0, []int{1, 0}},
		{"between", times[1], times[3], "orders", 0, []int{2, 1}},
		{"between, limited", times[0], times[3], "", 2, []int{2, 1}},
		{"the same instant", times[2], times[2], "", 0, nil},
		{"after the last", times[3].Add(1), time.Time{}, "", 0, nil},
		{"another endpoint", time.Time{}, time.Time{}, "nobody", 0, nil},
	}
	for _, c := range cases {
		logs, err := inst.e.Logs(ctx, webhook.LogQuery{Since: c.since, Until: c.until, Endpoint: c.endpoint, Limit: c.limit})
		require.NoError(t, err, c.name)
		var got []string
		for _, l := range logs {
			got = append(got, l.EventID)
		}
		var want []string
		for _, i := range c.want {
			want = append(want, ids[i])
		}
		assert.Equal(t, want, got, c.name)
	}

	// Redeliver records the new delivery in the old one's log: in the
	// database, where every process reads it.
	first := inst.waitLog(t, ctx, ids[0], webhook.StatusDelivered)
	assert.Empty(t, first.RedeliveredAs)
	again, err := inst.e.Redeliver(ctx, first.ID)
	require.NoError(t, err)
	l, err := inst.q.LogStore().Get(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, again, l.RedeliveredAs, "Get")
	logs, err := inst.e.Logs(ctx, webhook.LogQuery{Until: times[1]})
	require.NoError(t, err)
	require.Len(t, logs, 1)
	assert.Equal(t, again, logs[0].RedeliveredAs, "Query")
	assert.Equal(t, webhook.StatusDelivered, logs[0].Status, "the log is as it was otherwise")
	require.Eventually(t, func() bool {
		l, err := inst.q.LogStore().Get(ctx, again)
		return err == nil && l.Status == webhook.StatusDelivered && l.RedeliveredAs == ""
	}, e2eWait, e2eTick, "the new delivery is delivered")

	// Recover sends each failure again, once.
	healthy.Store(false)
	since := time.Now()
	for i := range 3 {
		require.NoError(t, inst.e.Emit(ctx, epEvent(fmt.Sprintf("evt_down_%d", i), "")))
	}
	require.Eventually(t, func() bool { return len(inst.failures.get()) == 3 }, e2eWait, e2eTick)
	require.Eventually(t, func() bool { // River stores the jobs' ends in batches
		logs, err := inst.e.Logs(ctx, webhook.LogQuery{Status: webhook.StatusFailed})
		return err == nil && len(logs) == 3
	}, e2eWait, e2eTick)
	healthy.Store(true)
	n, err := inst.e.Recover(ctx, "orders", since)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for i := range 3 {
		id := fmt.Sprintf("evt_down_%d", i)
		require.Eventually(t, func() bool { return epArrived(rc, id) }, e2eWait, e2eTick, id)
	}
	n, err = inst.e.Recover(ctx, "orders", since)
	require.NoError(t, err)
	assert.Zero(t, n, "a failure sent again already is left alone")
	failed, err := inst.e.Logs(ctx, webhook.LogQuery{Status: webhook.StatusFailed})
	require.NoError(t, err)
	for _, l := range failed {
		assert.NotEmpty(t, l.RedeliveredAs, "%s", l.ID)
	}
	assert.Zero(t, rc.unverified())
}
