package queuetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// handler decides the Result of run n (1 for the first) of a delivery, as
// this harness counts them.
type handler func(ctx context.Context, d *webhook.Delivery, n int) webhook.Result

// delivered is the handler of a delivery that succeeds at once.
func delivered(context.Context, *webhook.Delivery, int) webhook.Result {
	return webhook.Result{Outcome: webhook.OutcomeDelivered}
}

// errRetry is why a handler asks for a retry.
var errRetry = errors.New("queuetest: the handler asked for a retry")

// attemptError is the error of attempt d.Attempts+1 of d, as an Emitter's
// Runner would report it.
func attemptError(d *webhook.Delivery, err error) error {
	return &webhook.DeliveryError{Endpoint: d.Endpoint, EventID: d.EventID, Attempt: d.Attempts + 1, Err: err}
}

// retry is a Result asking for another attempt after delay; it counts.
func retry(d *webhook.Delivery, delay time.Duration) webhook.Result {
	return webhook.Result{Outcome: webhook.OutcomeRetry, Delay: delay, Err: attemptError(d, errRetry)}
}

// deferred is a Result asking for another try after delay; it does not
// count.
func deferred(delay time.Duration) webhook.Result {
	return webhook.Result{Outcome: webhook.OutcomeDeferred, Delay: delay}
}

// interrupted is the Result of an attempt whose ctx ended.
func interrupted(ctx context.Context, d *webhook.Delivery) webhook.Result {
	cause := ctx.Err()
	if cause == nil {
		cause = errors.New("queuetest: interrupted while the queue runs on")
	}
	return webhook.Result{Outcome: webhook.OutcomeInterrupted, Err: attemptError(d, cause)}
}

// runRecord is one run of a delivery as the Runner saw it.
type runRecord struct {
	start    time.Time
	end      time.Time        // zero while under way
	attempts int              // d.Attempts when the run began
	d        webhook.Delivery // a copy, as handed to the run
	result   webhook.Result
}

// giveUpRecord is one call of Runner.GiveUp.
type giveUpRecord struct {
	at       time.Time
	err      error // the queue's reason
	returned error // what GiveUp returned
}

// call is one Enqueue the harness runs on a goroutine of its own.
type call struct {
	ids      []string
	done     chan struct{} // closed when Enqueue returned
	err      error         // set before done is closed
	returned time.Time     // set before done is closed
	checked  bool          // a case looked at err; under harness.mu
	held     bool          // made by submit: an inline queue holds the deliveries in it
}

// harness is the suite's side of one queue: its Runner, what ran and
// what was given up, and the handler of every delivery by ID.
type harness struct {
	t      *testing.T
	q      webhook.Queue
	opts   Options
	prefix string        // makes delivery IDs unique across subtests
	stop   chan struct{} // closed at cleanup: blocked handlers return

	mu         sync.Mutex
	handlers   map[string]handler
	created    map[string]webhook.Delivery // as made; what every run must see but Attempts
	base       map[string]int              // attempts counted before this harness (a restart)
	runs       map[string][]runRecord      // by delivery ID, in order
	finished   map[string]bool             // a run returned Delivered or Failed
	givenUp    map[string][]giveUpRecord
	active     int      // runs under way
	unknown    []string // runs and give-ups of IDs the suite never enqueued
	violations []string // breaches of the Runner's contract, reported at cleanup
	closed     time.Time
	closeBegan bool          // Close has been called: attempts may see their ctx end
	late       []string      // runs that began after Close returned
	calls      []*call       // Enqueue calls on goroutines of the harness
	changed    chan struct{} // closed and replaced on every change
}

var _ webhook.Runner = (*harness)(nil)

// newHarness starts q with a new harness as its Runner.
func newHarness(t *testing.T, q webhook.Queue, opts Options) *harness {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	h := makeHarness(t, q, opts, "qt"+hex.EncodeToString(b[:]))
	h.start()
	return h
}

func makeHarness(t *testing.T, q webhook.Queue, opts Options, prefix string) *harness {
	t.Helper()
	if q == nil {
		t.Fatal("queuetest: the queue to test is nil")
	}
	return &harness{
		t:        t,
		q:        q,
		opts:     opts,
		prefix:   prefix,
		stop:     make(chan struct{}),
		handlers: make(map[string]handler),
		created:  make(map[string]webhook.Delivery),
		base:     make(map[string]int),
		runs:     make(map[string][]runRecord),
		finished: make(map[string]bool),
		givenUp:  make(map[string][]giveUpRecord),
		changed:  make(chan struct{}),
	}
}

// start starts the queue and registers the cleanup that closes it.
func (h *harness) start() {
	h.t.Helper()
	var err error
	if !within(h.opts.Timeout, func() { err = h.q.Start(h) }) {
		h.t.Fatalf("Start did not return within %s", h.opts.Timeout)
	}
	if err != nil {
		h.t.Fatalf("Start: %v", err)
	}
	h.t.Cleanup(h.cleanup)
}

// cleanup closes the queue (again, for most cases), waits for the
// harness's Enqueue calls, and reports what the Runner saw go wrong. It is
// registered after Start, so it runs before any cleanup newQueue
// registered: the queue is closed before its resources go.
func (h *harness) cleanup() {
	close(h.stop)
	// Short: a case may leave a retry an hour away.
	limit := min(h.opts.Timeout, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		h.mu.Lock()
		h.closeBegan = true
		h.mu.Unlock()
		_ = h.q.Close(ctx) // a second Close may fail; it must return
	}()
	select {
	case <-closed:
	case <-time.After(limit + h.opts.Timeout):
		h.t.Errorf("Close at cleanup did not return within %s", limit+h.opts.Timeout)
	}
	h.mu.Lock()
	calls := slices.Clone(h.calls)
	h.mu.Unlock()
	deadline := time.After(h.opts.Timeout)
	for _, c := range calls {
		select {
		case <-c.done:
		case <-deadline:
			h.t.Errorf("Enqueue of %v still under way at cleanup, after Close: Close must end every Enqueue", c.ids)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.unknown) > 0 {
		h.t.Errorf("the queue ran or gave up deliveries it was never given: %v", h.unknown)
	}
	for _, v := range h.violations {
		h.t.Error(v)
	}
}

// violation records a breach seen from a queue's goroutine, where the
// test may have ended; cleanup reports it. h.mu held.
func (h *harness) violation(format string, args ...any) {
	h.violations = append(h.violations, fmt.Sprintf(format, args...))
}

// Endpoints implements webhook.Runner.
func (h *harness) Endpoints() []string { return slices.Clone(Endpoints) }

// NextRetry implements webhook.Runner: the suite's RetryConfig, as a
// queue sees it, allows maxRetries retries, a millisecond apart (the
// cases decide each outcome themselves).
func (h *harness) NextRetry(_ *webhook.Delivery, n int) (time.Duration, bool) {
	return time.Millisecond, n <= maxRetries
}

// maxRetries is the retries the suite's NextRetry allows.
const maxRetries = 100

// Prepare implements webhook.Runner; the suite enqueues its own
// deliveries.
func (h *harness) Prepare(context.Context, webhook.Event) (webhook.Prepared, error) {
	return webhook.Prepared{}, errors.New("queuetest: Prepare is not used by the suite")
}

// AttemptTimeout implements webhook.Runner.
func (h *harness) AttemptTimeout(*webhook.Delivery) time.Duration { return h.opts.Timeout }

// Attempt implements webhook.Runner: it records the run, checks what the
// queue handed it, and runs the delivery's handler. It never modifies d.
func (h *harness) Attempt(ctx context.Context, d *webhook.Delivery) webhook.Result {
	rec := runRecord{start: time.Now(), attempts: d.Attempts, d: *d}
	rec.d.Body = slices.Clone(d.Body)
	h.mu.Lock()
	fn, ok := h.handlers[d.ID]
	if !ok {
		h.unknown = append(h.unknown, d.ID)
		h.mu.Unlock()
		return webhook.Result{Outcome: webhook.OutcomeDelivered} // so that the queue forgets it
	}
	rs := h.runs[d.ID]
	n := len(rs) + 1
	if !h.closed.IsZero() {
		h.late = append(h.late, d.ID)
	}
	if ctx.Err() != nil && !h.closeBegan && !h.opts.Inline {
		h.violation("run %d of %s got a context that had ended (%v) before Close was called: attempts must run under a live context", len(h.runs[d.ID])+1, d.ID, ctx.Err())
	}
	if want := h.created[d.ID]; !sameFields(rec.d, want) {
		h.violation("run %d of %s got the delivery %s; want it as enqueued, %s (only Attempts may change)", n, d.ID, describe(rec.d), describe(want))
	}
	if want := h.base[d.ID] + counted(rs); d.Attempts != want {
		h.violation("run %d of %s began with Attempts %d; want %d, the results that count (Retry, Delivered, Failed) before it", n, d.ID, d.Attempts, want)
	}
	if len(rs) > 0 && rs[len(rs)-1].end.IsZero() {
		h.violation("run %d of %s began while run %d was under way: a delivery must not run concurrently with itself", n, d.ID, n-1)
	}
	if h.finished[d.ID] {
		h.violation("run %d of %s began after a run finished it (%v)", n, d.ID, rs[len(rs)-1].result.Outcome)
	}
	if len(h.givenUp[d.ID]) > 0 {
		h.violation("run %d of %s began after it was given up", n, d.ID)
	}
	h.runs[d.ID] = append(rs, rec)
	h.active++
	h.notify()
	h.mu.Unlock()

	res := fn(ctx, d, n)

	h.mu.Lock()
	defer h.mu.Unlock()
	if d.Attempts != rec.attempts {
		h.violation("run %d of %s: Attempts changed from %d to %d while the run was under way; the queue may change it only after Attempt returns", n, d.ID, rec.attempts, d.Attempts)
	}
	rs = h.runs[d.ID]
	rs[n-1].end = time.Now()
	rs[n-1].result = res
	h.active--
	if res.Finished() {
		h.finished[d.ID] = true
	}
	h.notify()
	return res
}

// GiveUp implements webhook.Runner: it records the delivery as given up
// and returns a *webhook.DeliveryError naming it and wrapping err.
func (h *harness) GiveUp(d *webhook.Delivery, err error) error {
	ret := &webhook.DeliveryError{
		Endpoint: d.Endpoint,
		EventID:  d.EventID,
		Attempt:  d.Attempts,
		Err:      fmt.Errorf("queuetest: given up %s: %w", d.ID, err),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.handlers[d.ID]; !ok {
		h.unknown = append(h.unknown, d.ID)
		return ret
	}
	rs := h.runs[d.ID]
	switch {
	case err == nil:
		h.violation("%s was given up with a nil error; GiveUp needs the reason", d.ID)
	case h.finished[d.ID]:
		h.violation("%s was given up (%v) after a run finished it (%v): a finished delivery is the Runner's, not the queue's, to report",
			d.ID, err, rs[len(rs)-1].result.Outcome)
	case len(h.givenUp[d.ID]) > 0:
		h.violation("%s was given up again (%v; first: %v): a delivery ends once", d.ID, err, h.givenUp[d.ID][0].err)
	case len(rs) > 0 && rs[len(rs)-1].end.IsZero():
		h.violation("%s was given up (%v) while a run of it was under way", d.ID, err)
	}
	h.givenUp[d.ID] = append(h.givenUp[d.ID], giveUpRecord{at: time.Now(), err: err, returned: ret})
	h.notify()
	return ret
}

// counted returns how many of the finished runs rs count.
func counted(rs []runRecord) int {
	n := 0
	for _, r := range rs {
		if !r.end.IsZero() && r.result.Counts() {
			n++
		}
	}
	return n
}

// sameFields reports whether a and b are the same delivery, Attempts
// aside.
func sameFields(a, b webhook.Delivery) bool {
	return a.ID == b.ID && a.EventID == b.EventID && a.EventType == b.EventType && a.Endpoint == b.Endpoint &&
		string(a.Body) == string(b.Body) && a.CreatedAt.Equal(b.CreatedAt)
}

func describe(d webhook.Delivery) string {
	return fmt.Sprintf("{ID %s, EventID %s, EventType %s, Endpoint %s, Body %q, CreatedAt %s}",
		d.ID, d.EventID, d.EventType, d.Endpoint, d.Body, d.CreatedAt.Format(time.RFC3339Nano))
}

// notify wakes waiters. h.mu held.
func (h *harness) notify() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// waitFor waits until cond (called with h.mu held) holds, or fails the
// test after the suite's timeout.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	h.poll(what, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return cond()
	})
}

// poll waits until cond (called without h.mu, so that it may call the
// queue) holds, or fails the test after the suite's timeout.
func (h *harness) poll(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(h.opts.Timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(20 * time.Millisecond): // for conditions on the queue's own state
		case <-deadline.C:
			h.t.Fatalf("timed out after %s waiting for %s", h.opts.Timeout, what)
		}
	}
}

// ranOnce reports whether id has a run that ended. h.mu held.
func (h *harness) ranOnce(id string, n int) bool {
	rs := h.runs[id]
	return len(rs) >= n && !rs[n-1].end.IsZero()
}

// running reports whether a run of id is under way. h.mu held.
func (h *harness) running(id string) bool {
	rs := h.runs[id]
	return len(rs) > 0 && rs[len(rs)-1].end.IsZero()
}

// delivery returns a new delivery for endpoint ep, run by fn.
func (h *harness) delivery(ep string, i int, fn handler) *webhook.Delivery {
	d := &webhook.Delivery{
		ID:        fmt.Sprintf("dlv_%s_%s_%04d", h.prefix, ep, i),
		EventID:   fmt.Sprintf("evt_%s_%04d", h.prefix, i),
		EventType: webhook.Created,
		Endpoint:  ep,
		Body:      fmt.Appendf(nil, `{"id":%q,"n":%d}`, h.prefix, i),
		CreatedAt: time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC),
	}
	c := *d
	c.Body = slices.Clone(d.Body)
	h.mu.Lock()
	h.handlers[d.ID] = fn
	h.created[d.ID] = c
	h.mu.Unlock()
	return d
}

// enqueue enqueues ds, one event's deliveries, in one call, and fails the
// test on an error.
func (h *harness) enqueue(ds ...*webhook.Delivery) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
	defer cancel()
	if err := h.callEnqueue(ctx, ds); err != nil {
		h.t.Fatalf("Enqueue(%v): %v", ids(ds), err)
	}
}

// submit enqueues ds for a case that looks on while the queue holds them:
// in one call that must succeed for a queue that holds deliveries, on a
// goroutine of the harness for an inline queue, whose Enqueue returns
// only when they are finished. Call waitTaken before Close.
func (h *harness) submit(ds ...*webhook.Delivery) {
	h.t.Helper()
	if !h.opts.Inline {
		h.enqueue(ds...)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
	c := h.goEnqueue(ctx, cancel, ds)
	h.mu.Lock()
	c.held = true
	h.mu.Unlock()
}

// held returns the calls submit made: an inline queue's Enqueue calls
// under way while it holds their deliveries.
func (h *harness) held() []*call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*call
	for _, c := range h.calls {
		if c.held {
			out = append(out, c)
		}
	}
	return out
}

// waitTaken waits until an inline queue is running the deliveries
// submitted: until each has begun a run. (An Enqueue that had not begun
// when Close came would be refused.) A queue that holds deliveries took
// them when Enqueue returned.
func (h *harness) waitTaken(ds ...*webhook.Delivery) {
	h.t.Helper()
	if !h.opts.Inline {
		return
	}
	h.waitFor(fmt.Sprintf("the inline Enqueue calls to run %v", ids(ds)), func() bool {
		for _, d := range ds {
			if len(h.runs[d.ID]) == 0 {
				return false
			}
		}
		return true
	})
}

// goEnqueue calls Enqueue(ctx, ds) on a goroutine and returns the call;
// cancel, if not nil, is called when Enqueue returns.
func (h *harness) goEnqueue(ctx context.Context, cancel context.CancelFunc, ds []*webhook.Delivery) *call {
	c := &call{ids: ids(ds), done: make(chan struct{})}
	h.mu.Lock()
	h.calls = append(h.calls, c)
	h.mu.Unlock()
	go func() {
		err := h.q.Enqueue(ctx, ds)
		if cancel != nil {
			cancel()
		}
		h.mu.Lock()
		c.err, c.returned = err, time.Now()
		close(c.done)
		h.notify()
		h.mu.Unlock()
	}()
	return c
}

// errHung is what tryEnqueue returns for an Enqueue that did not return.
var errHung = errors.New("queuetest: Enqueue did not return")

// tryEnqueue calls Enqueue(ctx, ds) and returns its error, or one wrapping
// errHung if it has not returned after ctx's deadline and the suite's
// timeout: a queue that ignores ctx fails instead of hanging the suite
// (its goroutine is left behind, and reported at cleanup). It may be
// called from any goroutine.
func (h *harness) tryEnqueue(ctx context.Context, ds []*webhook.Delivery) error {
	limit := h.limit(ctx)
	c := h.goEnqueue(ctx, nil, ds)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		return fmt.Errorf("%w within %s (its ctx ends sooner): it must honour ctx", errHung, limit)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.checked = true
	return c.err
}

// callEnqueue is tryEnqueue from the test's goroutine: it fails the test
// if Enqueue hangs.
func (h *harness) callEnqueue(ctx context.Context, ds []*webhook.Delivery) error {
	h.t.Helper()
	err := h.tryEnqueue(ctx, ds)
	if errors.Is(err, errHung) {
		h.t.Fatalf("Enqueue(%v): %v", ids(ds), err)
	}
	return err
}

// limit is how long the suite waits for a call under ctx: until its
// deadline, if any, and the suite's timeout after.
func (h *harness) limit(ctx context.Context) time.Duration {
	limit := h.opts.Timeout
	if dl, ok := ctx.Deadline(); ok {
		limit += max(time.Until(dl), 0)
	}
	return limit
}

// within runs f on a goroutine and reports whether it returned within
// limit; if not, f is left behind, and what it writes must not be read.
func within(limit time.Duration, f func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// wait waits for c to return, for at most the suite's timeout, and
// returns its error.
func (h *harness) wait(c *call) error {
	h.t.Helper()
	select {
	case <-c.done:
	case <-time.After(h.opts.Timeout):
		h.t.Fatalf("Enqueue(%v) did not return within %s", c.ids, h.opts.Timeout)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.checked = true
	return c.err
}

// returnedYet reports whether c has returned.
func (c *call) returnedYet() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// checkCalls waits for the harness's Enqueue calls that no case looked at
// and fails the test on an error.
func (h *harness) checkCalls() {
	h.t.Helper()
	h.mu.Lock()
	var calls []*call
	for _, c := range h.calls {
		if !c.checked {
			calls = append(calls, c)
		}
	}
	h.mu.Unlock()
	for _, c := range calls {
		if err := h.wait(c); err != nil {
			h.t.Errorf("Enqueue(%v) = %v; want nil", c.ids, err)
		}
	}
}

// close closes the queue with a context of timeout, records when it
// returned, and returns how long it took.
func (h *harness) close(timeout time.Duration) (time.Duration, error) {
	h.t.Helper()
	start := time.Now() // before the deadline is set: took ≥ timeout when ctx ends it
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := h.closeBounded(ctx, timeout+h.opts.Timeout)
	took := time.Since(start)
	h.mu.Lock()
	h.closed = time.Now()
	h.mu.Unlock()
	return took, err
}

// closeBounded calls Close(ctx) and fails the test if it has not returned
// after limit: a queue that hangs in Close fails instead of hanging the
// suite (its goroutine is left behind).
func (h *harness) closeBounded(ctx context.Context, limit time.Duration) error {
	h.t.Helper()
	ch := make(chan error, 1)
	h.mu.Lock()
	h.closeBegan = true
	h.mu.Unlock()
	go func() { ch <- h.q.Close(ctx) }()
	select {
	case err := <-ch:
		return err
	case <-time.After(limit):
		h.t.Fatalf("Close did not return within %s (its ctx ends sooner): workers ignore cancellation or are stuck", limit)
		return nil
	}
}

// closeDrained closes the queue when every delivery has ended or will
// (a durable queue: has ended), expecting nil, every Enqueue call of the
// harness to return nil, and every delivery to have ended once.
func (h *harness) closeDrained() {
	h.t.Helper()
	took, err := h.close(h.opts.Timeout)
	if err != nil {
		h.t.Fatalf("Close after %s = %v; want nil", took, err)
	}
	h.checkCalls()
	h.checkLate()
	h.checkEndedOnce()
}

// checkEndedOnce checks that every delivery made ended exactly once:
// finished by a run, or given up.
func (h *harness) checkEndedOnce() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.ids() {
		fin, gu := h.finished[id], len(h.givenUp[id])
		switch {
		case fin && gu == 0, !fin && gu == 1:
		case !fin && gu == 0:
			h.t.Errorf("delivery %s never ended (%d runs, none finished, never given up): after Close, each must be finished or given up", id, len(h.runs[id]))
		default:
			h.t.Errorf("delivery %s ended more than once: finished %v, given up %d times", id, fin, gu)
		}
	}
}

// checkNoGiveUp checks that nothing was given up: a durable queue keeps
// what it has not finished.
func (h *harness) checkNoGiveUp(what string) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.ids() {
		for _, g := range h.givenUp[id] {
			h.t.Errorf("%s: delivery %s was given up (%v); a durable queue keeps it for its next start", what, id, g.err)
		}
	}
}

// ids returns the IDs of the deliveries made, sorted. h.mu held.
func (h *harness) ids() []string {
	out := make([]string, 0, len(h.created))
	for id := range h.created {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// checkGivenUp checks that each of ids was given up exactly once, with
// an error wrapping each of wants.
func (h *harness) checkGivenUp(what string, ids []string, wants ...error) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		gs := h.givenUp[id]
		if len(gs) != 1 {
			h.t.Errorf("%s: delivery %s was given up %d times; want once, through Runner.GiveUp", what, id, len(gs))
			continue
		}
		for _, w := range wants {
			if !errors.Is(gs[0].err, w) {
				h.t.Errorf("%s: delivery %s was given up with %q; want an error wrapping %q", what, id, gs[0].err, w)
			}
		}
	}
}

// checkJoined checks that err, returned by a call, joins what GiveUp
// returned for each of ids: so GiveUp was called before the call returned.
func (h *harness) checkJoined(what string, err error, ids []string) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		gs := h.givenUp[id]
		if len(gs) == 0 {
			h.t.Errorf("%s: delivery %s was not given up when the call returned (%v)", what, id, err)
			continue
		}
		if !errors.Is(err, gs[0].returned) {
			h.t.Errorf("%s returned %q, which does not join what GiveUp returned for %s (%q)", what, err, id, gs[0].returned)
		}
	}
}

// checkNeverRan checks that none of ids ran.
func (h *harness) checkNeverRan(what string, ids []string) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if n := len(h.runs[id]); n != 0 {
			h.t.Errorf("%s: delivery %s ran %d times; a delivery not taken must never run", what, id, n)
		}
	}
}

func (h *harness) numRuns(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.runs[id])
}

// stats calls Stats and fails the test on an error.
func (h *harness) stats() webhook.QueueStats {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
	defer cancel()
	st, err := h.tryStats(ctx)
	if err != nil {
		h.t.Fatalf("Stats: %v", err)
	}
	return st
}

// tryStats calls Stats(ctx) and returns an error if it has not returned
// after ctx's deadline and the suite's timeout: a queue that hangs in
// Stats fails instead of hanging the suite (its goroutine is left behind).
func (h *harness) tryStats(ctx context.Context) (webhook.QueueStats, error) {
	var st webhook.QueueStats
	var err error
	if limit := h.limit(ctx); !within(limit, func() { st, err = h.q.Stats(ctx) }) {
		return webhook.QueueStats{}, fmt.Errorf("queuetest: Stats did not return within %s (its ctx ends sooner)", limit)
	}
	return st, err
}

// checkLate reports runs that began after Close returned, or were still
// under way.
func (h *harness) checkLate() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.late) > 0 {
		h.t.Errorf("deliveries ran after Close returned: %v", h.late)
	}
	if h.active != 0 {
		h.t.Errorf("%d runs still under way after Close returned; Close must stop the workers", h.active)
	}
}

// reopen returns the harness of a queue Options.Reopen opens on the
// storage of h's closed queue, started with a new Runner that knows the
// deliveries of handlers: a restarted process. Their counts of attempts
// carry over.
func (h *harness) reopen(handlers map[string]handler) *harness {
	h.t.Helper()
	h2 := makeHarness(h.t, h.opts.Reopen(h.t, h.q), h.opts, h.prefix)
	h.mu.Lock()
	for id, fn := range handlers {
		h2.handlers[id] = fn
		h2.created[id] = h.created[id]
		h2.base[id] = h.base[id] + counted(h.runs[id])
	}
	h.mu.Unlock()
	h2.start()
	return h2
}

// blocking returns a handler that blocks until gate is closed (nil:
// never) or the harness stops, and is Delivered then; when its ctx ends
// first, it is Interrupted.
func (h *harness) blocking(gate <-chan struct{}) handler {
	return func(ctx context.Context, d *webhook.Delivery, _ int) webhook.Result {
		select {
		case <-gate:
			return webhook.Result{Outcome: webhook.OutcomeDelivered}
		case <-h.stop:
			return webhook.Result{Outcome: webhook.OutcomeDelivered}
		case <-ctx.Done():
			return interrupted(ctx, d)
		}
	}
}

func ids(ds []*webhook.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}
