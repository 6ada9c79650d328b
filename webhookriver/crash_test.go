package webhookriver_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// These tests run the queue in real processes: children re-executed from
// the test binary (TestMain runs crashChildMain), told what to do through the
// environment, delivering to a receiver in the test process on 127.0.0.1.

// The environment of a helper process.
const (
	crashEnvRole     = "WEBHOOKRIVER_CRASH_ROLE"     // "emit": emit, then deliver; "deliver": deliver only
	crashEnvDB       = "WEBHOOKRIVER_CRASH_DB"       // "postgres" or "sqlite"
	crashEnvDSN      = "WEBHOOKRIVER_CRASH_DSN"      // the PostgreSQL URL or the SQLite path
	crashEnvURL      = "WEBHOOKRIVER_CRASH_URL"      // the receiver
	crashEnvCount    = "WEBHOOKRIVER_CRASH_COUNT"    // how many events to emit
	crashEnvInstance = "WEBHOOKRIVER_CRASH_INSTANCE" // sent as X-Instance; the events' id prefix
	crashEnvTimeout  = "WEBHOOKRIVER_CRASH_TIMEOUT"  // the endpoint's Timeout
	crashEnvRescue   = "WEBHOOKRIVER_CRASH_RESCUE"   // Config.RescueAfter
)

const (
	crashSecret   = "crash_secret_0123456789abcdef"
	crashReady    = "WEBHOOKRIVER-CRASH-READY" // a helper's line on stdout: emitted, delivering
	crashInstance = "X-Instance"               // the header that names the delivering process
	crashEndpoint = "crash"
)

// crashEventID is the id of event i emitted by instance inst: the
// receiver learns from it who emitted the event.
func crashEventID(inst string, i int) string { return fmt.Sprintf("i%s-%05d", inst, i) }

// crashChildMain is the body of a helper process (see TestMain): it
// builds an Emitter on a webhookriver Queue, emits its events (role
// "emit"), says so on stdout and delivers until its stdin is closed
// (then closes the Emitter and exits) or it is killed.
func crashChildMain(role string) error {
	if role == epRole {
		return epChildMain() // endpoints_test.go's helper process
	}
	inst := os.Getenv(crashEnvInstance)
	count, err := strconv.Atoi(os.Getenv(crashEnvCount))
	if err != nil {
		return fmt.Errorf("%s: %w", crashEnvCount, err)
	}
	timeout, err := time.ParseDuration(os.Getenv(crashEnvTimeout))
	if err != nil {
		return fmt.Errorf("%s: %w", crashEnvTimeout, err)
	}
	rescue, err := time.ParseDuration(os.Getenv(crashEnvRescue))
	if err != nil {
		return fmt.Errorf("%s: %w", crashEnvRescue, err)
	}
	switch db := os.Getenv(crashEnvDB); db {
	case "postgres":
		pool, err := pgxpool.New(context.Background(), os.Getenv(crashEnvDSN))
		if err != nil {
			return err
		}
		defer pool.Close()
		return crashRun(riverpgxv5.New(pool), role, inst, count, timeout, rescue)
	case "sqlite":
		db, err := sql.Open("sqlite", sqliteDSN(os.Getenv(crashEnvDSN)))
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		defer db.Close()
		return crashRun(riversqlite.New(db), role, inst, count, timeout, rescue)
	default:
		return fmt.Errorf("%s=%q", crashEnvDB, db)
	}
}

func crashRun[TTx any](driver riverdriver.Driver[TTx], role, inst string, count int, timeout, rescue time.Duration) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).
		With("instance", inst)

	cfg := fast
	cfg.Workers = 8
	cfg.RescueAfter = rescue
	cfg.Logger = logger
	q, err := webhookriver.New(driver, cfg)
	if err != nil {
		return err
	}
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{
			Name: crashEndpoint, URL: os.Getenv(crashEnvURL), Secret: crashSecret,
			Timeout: timeout, Headers: map[string]string{crashInstance: inst},
		}},
		Queue: q,
		// Quick, many retries: an attempt that timed out (held by the
		// receiver's gate while the events are emitted) is tried again
		// soon, for as long as emitting takes, and so is a delivery the
		// rescuer made available again.
		Retry: &webhook.RetryConfig{MaxRetries: 1000, RetryDelay: 500 * time.Millisecond, BackoffFactor: 1},
		// Timeouts must not stall the endpoint for 30 s.
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
		Logger:         logger,
		OnFailure: func(f webhook.Failure) {
			fmt.Fprintf(os.Stderr, "instance %s: GIVEN UP: %v\n", inst, f.Err)
		},
	})
	if err != nil {
		return err
	}

	if role == "emit" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		for i := range count {
			ev := webhook.Create(map[string]any{"id": i, "instance": inst})
			ev.ID = crashEventID(inst, i)
			ev.Model = "crash.Item"
			if err := e.Emit(ctx, ev); err != nil {
				cancel()
				return fmt.Errorf("instance %s: emitting event %d: %w", inst, i, err)
			}
		}
		cancel()
	}
	fmt.Println(crashReady)

	// Deliver until the parent closes stdin (or goes away), bounded.
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(5 * time.Minute):
		fmt.Fprintf(os.Stderr, "instance %s: never told to stop\n", inst)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.Close(ctx)
}

// crashReceiver verifies each request and records, per event id, how
// many times it arrived and from which process. While its gate is shut
// it holds requests; once open, it answers each after a random pause
// between minDelay and maxDelay. A request arrives when it is answered:
// one whose sender went away first (an attempt that timed out while
// held, a process killed while it waited) is not counted, so that the
// deliveries a killed process had under way count only once they come
// again.
type crashReceiver struct {
	minDelay, maxDelay time.Duration
	gate               chan struct{}
	gateOnce           sync.Once

	mu       sync.Mutex
	arrivals map[string]int            // event id → arrivals
	by       map[string]map[string]int // event id → delivering instance → arrivals
	total    int
	rejected []string
}

func crashNewReceiver(t *testing.T, gated bool, minDelay, maxDelay time.Duration) (*crashReceiver, string) {
	c := &crashReceiver{minDelay: minDelay, maxDelay: maxDelay, gate: make(chan struct{}),
		arrivals: map[string]int{}, by: map[string]map[string]int{}}
	if !gated {
		c.open()
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	t.Cleanup(c.open) // before srv.Close, which waits for held requests
	return c, srv.URL
}

func (c *crashReceiver) open() { c.gateOnce.Do(func() { close(c.gate) }) }

func (c *crashReceiver) reject(w http.ResponseWriter, why string) {
	c.mu.Lock()
	c.rejected = append(c.rejected, why)
	c.mu.Unlock()
	http.Error(w, why, http.StatusBadRequest)
}

func (c *crashReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return // the sender went away
	}
	if err := webhook.Verify(crashSecret, r.Header, body); err != nil {
		c.reject(w, err.Error())
		return
	}
	var p struct {
		ID string `json:"id"`
	}
	id := r.Header.Get(webhook.HeaderEventID)
	if err := json.Unmarshal(body, &p); err != nil || p.ID != id || id == "" {
		c.reject(w, fmt.Sprintf("body id %q, header id %q (%v)", p.ID, id, err))
		return
	}
	select {
	case <-c.gate:
	case <-r.Context().Done():
		return // the attempt timed out while held: it never arrived
	}
	if c.maxDelay > 0 {
		select {
		case <-time.After(c.minDelay + rand.N(c.maxDelay-c.minDelay+1)):
		case <-r.Context().Done():
			return // the sender died (or gave up) before the answer: not an arrival
		}
	}
	inst := r.Header.Get(crashInstance)
	c.mu.Lock()
	c.arrivals[id]++
	if c.by[id] == nil {
		c.by[id] = map[string]int{}
	}
	c.by[id][inst]++
	c.total++
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// crashTally is what a receiver has seen of the events of instances,
// count each.
type crashTally struct {
	Arrivals   int            // verified requests
	Delivered  int            // distinct expected events that arrived
	Duplicated int            // arrivals beyond the first of an event
	DupEvents  int            // events that arrived more than once
	Lost       int            // expected events that never arrived
	Unexpected int            // arrivals of ids nobody emitted
	Rejected   int            // requests that failed verification
	Rejects    []string       // why, the first few
	ByInstance map[string]int // arrivals per delivering instance
	Cross      map[string]int // per delivering instance: arrivals of events the other instance emitted
	FirstLost  []string
}

func (c *crashReceiver) tally(count int, instances ...string) crashTally {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := crashTally{Arrivals: c.total, Rejected: len(c.rejected), ByInstance: map[string]int{}, Cross: map[string]int{},
		Rejects: slices.Clone(c.rejected[:min(len(c.rejected), 5)])}
	for _, inst := range instances {
		for i := range count {
			id := crashEventID(inst, i)
			n := c.arrivals[id]
			if n == 0 {
				s.Lost++
				if len(s.FirstLost) < 10 {
					s.FirstLost = append(s.FirstLost, id)
				}
				continue
			}
			s.Delivered++
			if n > 1 {
				s.DupEvents++
				s.Duplicated += n - 1
			}
		}
	}
	for id, by := range c.by {
		emitter, _, _ := strings.Cut(strings.TrimPrefix(id, "i"), "-")
		for inst, n := range by {
			s.ByInstance[inst] += n
			if inst != emitter {
				s.Cross[inst] += n
			}
		}
	}
	for id, n := range c.arrivals {
		if emitter, i, ok := strings.Cut(strings.TrimPrefix(id, "i"), "-"); ok && slices.Contains(instances, emitter) {
			if k, err := strconv.Atoi(i); err == nil && k >= 0 && k < count && id == crashEventID(emitter, k) {
				continue
			}
		}
		s.Unexpected += n
	}
	return s
}

func (s crashTally) String() string {
	return fmt.Sprintf("arrivals=%d delivered=%d duplicated=%d (in %d events) lost=%d unexpected=%d rejected=%d by instance %v, of the other's events %v",
		s.Arrivals, s.Delivered, s.Duplicated, s.DupEvents, s.Lost, s.Unexpected, s.Rejected, s.ByInstance, s.Cross)
}

// crashOutput is a child's output, kept for a failure's log.
type crashOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *crashOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *crashOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// crashChild is a helper process.
type crashChild struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *crashOutput
	ready chan struct{} // closed when it printed crashReady
	done  chan struct{} // closed when it exited
	err   error         // Wait's, once done

	// onLine, if set, is given each line the child prints on stdout
	// (crashReady aside), from one goroutine.
	onLine func(string)
}

// crashStart starts a helper process with env added to the test's
// environment; t's end kills it if it still runs.
func crashStart(t *testing.T, name string, env ...string) *crashChild {
	t.Helper()
	return crashStartWith(t, name, nil, env...)
}

// crashStartWith is crashStart, with onLine given each line the child
// prints on stdout.
func crashStartWith(t *testing.T, name string, onLine func(string), env ...string) *crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0]) // TestMain runs the child: see crashChildMain
	cmd.Env = append(os.Environ(), env...)
	c := &crashChild{name: name, cmd: cmd, out: &crashOutput{}, ready: make(chan struct{}), done: make(chan struct{}), onLine: onLine}
	cmd.Stderr = c.out
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	c.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, crashReady) {
				once.Do(func() { close(c.ready) })
				continue
			}
			if c.onLine != nil {
				c.onLine(line)
			}
			fmt.Fprintln(c.out, line)
		}
		_, _ = io.Copy(io.Discard, stdout)
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.stdin.Close()
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				t.Logf("%s: pid %d did not exit after SIGKILL", name, cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("%s (pid %d) output:\n%s", name, cmd.Process.Pid, c.out)
		}
	})
	return c
}

// waitReady waits until c has emitted its events and delivers.
func (c *crashChild) waitReady(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-c.ready:
	case <-c.done:
		t.Fatalf("%s exited before it was ready: %v\n%s", c.name, c.err, c.out)
	case <-time.After(limit):
		t.Fatalf("%s was not ready within %s\n%s", c.name, limit, c.out)
	}
}

// kill sends c SIGKILL and waits until it is gone.
func (c *crashChild) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit after SIGKILL", c.name)
	}
}

// stop closes c's stdin, so that it closes its Emitter and exits, and
// requires that it exit cleanly.
func (c *crashChild) stop(t *testing.T, limit time.Duration) {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	select {
	case <-c.done:
		require.NoError(t, c.err, "%s exited badly:\n%s", c.name, c.out)
	case <-time.After(limit):
		t.Fatalf("%s did not stop within %s\n%s", c.name, limit, c.out)
	}
}

// crashWait polls cond until it holds, failing t after limit or when one
// of children exits.
func crashWait(t *testing.T, limit time.Duration, what func() string, cond func() bool, children ...*crashChild) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		for _, c := range children {
			select {
			case <-c.done:
				t.Fatalf("%s exited (%v) while waiting: %s\n%s", c.name, c.err, what(), c.out)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// crashDB asks the database what became of the deliveries.
type crashDB struct {
	exec   riverdriver.Executor
	sqlite bool
}

// states is the count of jobs in each River state, "state:n,…".
func (d crashDB) states(t *testing.T) string {
	t.Helper()
	q := `SELECT coalesce(string_agg(state || ':' || n, ',' ORDER BY state), '') FROM (
	SELECT state::text AS state, count(*) AS n FROM river_job GROUP BY state) s`
	if d.sqlite {
		q = `SELECT coalesce(group_concat(state || ':' || n, ','), '') FROM (
	SELECT state, count(*) AS n FROM river_job GROUP BY state ORDER BY state)`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var s string
	require.NoError(t, d.exec.QueryRow(ctx, q).Scan(&s))
	return s
}

// count is the number of jobs in state.
func (d crashDB) count(t *testing.T, state string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var n int64
	require.NoError(t, d.exec.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = '`+state+`'`).Scan(&n))
	return int(n)
}

// crashLog logs to t and to stdout, so that the figures show without -v.
func crashLog(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf(format, args...)
	fmt.Printf("%s: %s\n", t.Name(), fmt.Sprintf(format, args...))
}

// A process killed with SIGKILL in the middle of its deliveries loses
// none: another process on the same database delivers what was waiting
// and, once River's rescuer takes the deliveries the dead process left
// running (RescueAfter), those too. Some arrive twice: at least once, not
// exactly once.
func TestCrashLosesNothing(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresURL(t)
		d := pgxDriver(t, dsn)
		crashLosesNothing(t, "postgres", dsn, crashDB{exec: d.GetExecutor()})
	})
	t.Run("sqlite", func(t *testing.T) {
		path := sqlitePath(t)
		d := sqliteDriver(t, path)
		crashLosesNothing(t, "sqlite", path, crashDB{exec: d.GetExecutor(), sqlite: true})
	})
}

func crashLosesNothing(t *testing.T, db, dsn string, store crashDB) {
	const (
		count     = 2000
		killAfter = 400 // arrivals
	)
	begin := time.Now()
	rec, url := crashNewReceiver(t, true, 20*time.Millisecond, 50*time.Millisecond)
	env := func(role, inst string) []string {
		return []string{
			crashEnvRole + "=" + role, crashEnvDB + "=" + db, crashEnvDSN + "=" + dsn, crashEnvURL + "=" + url,
			crashEnvCount + "=" + strconv.Itoa(count), crashEnvInstance + "=" + inst,
			crashEnvTimeout + "=2s", crashEnvRescue + "=15s",
		}
	}
	tally := func() crashTally { return rec.tally(count, "1") }
	report := func() string { return tally().String() + "; jobs " + store.states(t) }

	// The first process emits every event (each stored when Emit
	// returns) while the receiver holds what it sends; then it delivers,
	// slowly, and is killed mid-way.
	first := crashStart(t, "instance 1 (emits, killed)", env("emit", "1")...)
	first.waitReady(t, 3*time.Minute)
	emitted := time.Since(begin)
	rec.open()
	crashWait(t, time.Minute, report, func() bool { return tally().Arrivals >= killAfter }, first)
	first.kill(t)
	killed := time.Now()
	atKill := tally()
	crashLog(t, "%s: emitted %d events in %s; SIGKILL after %d arrivals: %s; jobs %s",
		db, count, emitted.Round(time.Millisecond), killAfter, atKill, store.states(t))
	require.Less(t, atKill.Delivered, count, "the kill must come mid-way, or the test shows nothing")
	stuck := store.count(t, "running")
	require.Positive(t, stuck, "the killed process left deliveries running, for the rescuer")

	// A new process on the same database finishes the work.
	second := crashStart(t, "instance 2 (recovers)", env("deliver", "2")...)
	second.waitReady(t, time.Minute)
	crashWait(t, 2*time.Minute, report, func() bool { return tally().Lost == 0 }, second)
	recovered := time.Since(killed)
	// And River records every delivery as done: none left running,
	// scheduled or failed.
	crashWait(t, time.Minute, report, func() bool { return store.count(t, "completed") == count }, second)
	second.stop(t, time.Minute)

	s := tally()
	crashLog(t, "%s: %d deliveries left running by the killed process; all delivered %s after the kill (%s in all): %s; jobs %s",
		db, stuck, recovered.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond), s, store.states(t))
	require.Zero(t, s.Lost, "lost events, the first: %v", s.FirstLost)
	require.Equal(t, count, s.Delivered)
	require.Zero(t, s.Unexpected)
	require.Zero(t, s.Rejected, "requests that failed verification: %v", s.Rejects)
	require.Positive(t, s.ByInstance["2"], "the second process delivered the rest")
}

// Two processes on one PostgreSQL schema, each emitting its own events,
// share the deliveries: each delivery is attempted by one of them, once.
func TestTwoInstances(t *testing.T) {
	const count = 2500 // per instance
	dsn := postgresURL(t)
	d := pgxDriver(t, dsn)
	store := crashDB{exec: d.GetExecutor()}
	begin := time.Now()
	rec, url := crashNewReceiver(t, false, 2*time.Millisecond, 5*time.Millisecond)
	tally := func() crashTally { return rec.tally(count, "1", "2") }
	report := func() string { return tally().String() + "; jobs " + store.states(t) }

	var children []*crashChild
	for _, inst := range []string{"1", "2"} {
		children = append(children, crashStart(t, "instance "+inst,
			crashEnvRole+"=emit", crashEnvDB+"=postgres", crashEnvDSN+"="+dsn, crashEnvURL+"="+url,
			crashEnvCount+"="+strconv.Itoa(count), crashEnvInstance+"="+inst,
			// No attempt times out: a duplicate would be River's doing.
			crashEnvTimeout+"=10s", crashEnvRescue+"=30s"))
	}
	for _, c := range children {
		c.waitReady(t, 3*time.Minute)
	}
	emitted := time.Since(begin)
	crashWait(t, 2*time.Minute, report, func() bool { return tally().Lost == 0 }, children...)
	delivered := time.Since(begin)
	crashWait(t, 30*time.Second, report, func() bool { return store.count(t, "completed") == 2*count }, children...)
	for _, c := range children {
		c.stop(t, time.Minute)
	}

	s := tally()
	crashLog(t, "emitted 2×%d events in %s, all delivered in %s: %s; jobs %s",
		count, emitted.Round(time.Millisecond), delivered.Round(time.Millisecond), s, store.states(t))
	require.Zero(t, s.Lost, "lost events, the first: %v", s.FirstLost)
	require.Equal(t, 2*count, s.Delivered)
	require.Zero(t, s.Duplicated, "no process died and no attempt timed out: each delivery is run once")
	require.Zero(t, s.Unexpected)
	require.Zero(t, s.Rejected, "requests that failed verification: %v", s.Rejects)
	require.Equal(t, 2*count, s.ByInstance["1"]+s.ByInstance["2"], "every arrival came from one of the two: %v", s.ByInstance)
	for _, inst := range []string{"1", "2"} {
		require.Positive(t, s.Cross[inst], "instance %s delivered none of the other's events: %s", inst, s)
	}
}
