// Package queuetest is the conformance suite that every [webhook.Queue]
// implementation must pass, the memory queue included.
//
// A backend runs it from its own tests:
//
//	func TestQueue(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T) webhook.Queue {
//			return mybackend.NewQueue(…)
//		})
//	}
//
// The suite drives the queue the way an Emitter does: it calls Start once
// with its own AttemptFunc and the endpoint names "a", "b", "c" and "d",
// enqueues deliveries, and checks the contract written on the Queue
// interface: every enqueued delivery is run until its Result says Done, a
// Result with a Delay is run again no earlier than the delay and without a
// worker waiting for it, Enqueue after Close returns webhook.ErrClosed,
// Close drains, Close with an ending context cancels the attempts under
// way and reports what it did not finish, Stats counts, and all of it is
// safe under concurrent use (run the suite with -race).
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

// Options tune the suite to a backend.
type Options struct {
	// Durable reports that the queue keeps unfinished deliveries across
	// Close: when Close's context ends before the queue is drained, it may
	// return none of them (they stay stored for the next start), and its
	// error may be nil. A non-durable queue must return every unfinished
	// delivery, once, with an error wrapping the context's. Defaults to
	// false.
	Durable bool

	// Parallel runs the subtests in parallel. Set it when the queues
	// newQueue returns share nothing (no common database schema).
	// Defaults to false.
	Parallel bool

	// Timeout bounds every wait of the suite (a delivery to be run, Close
	// to drain). Defaults to 30 s.
	Timeout time.Duration
}

// Endpoints are the endpoint names the suite passes to Queue.Start.
var Endpoints = []string{"a", "b", "c", "d"}

// MaxHeld is the most deliveries the suite holds for one endpoint at once
// without expecting Enqueue to wait for room; a queue under test needs at
// least this much room per endpoint.
const MaxHeld = 50

// Run runs the conformance suite with the default Options. newQueue must
// return a new, not yet started queue each time it is called; the suite
// starts and closes it.
func Run(t *testing.T, newQueue func(t *testing.T) webhook.Queue) {
	t.Helper()
	RunWithOptions(t, newQueue, Options{})
}

// RunWithOptions runs the conformance suite with opts.
func RunWithOptions(t *testing.T, newQueue func(t *testing.T) webhook.Queue, opts Options) {
	t.Helper()
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"RunsEveryDeliveryOnce", testRunsEveryDeliveryOnce},
		{"KeepsDeliveryFields", testKeepsDeliveryFields},
		{"DelayedRetry", testDelayedRetry},
		{"NoWorkerWaitsThroughDelay", testNoWorkerWaitsThroughDelay},
		{"EnqueueWithEndedContext", testEnqueueWithEndedContext},
		{"EnqueueAfterClose", testEnqueueAfterClose},
		{"CloseEmpty", testCloseEmpty},
		{"CloseDrains", testCloseDrains},
		{"CloseWhenContextEnds", testCloseWhenContextEnds},
		{"Stats", testStats},
		{"ConcurrentUse", testConcurrentUse},
	}
	t.Run("CloseIdleWithEndedContext", func(t *testing.T) {
		if opts.Parallel {
			t.Parallel()
		}
		testCloseIdleWithEndedContext(t, newQueue, opts)
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if opts.Parallel {
				t.Parallel()
			}
			q := newQueue(t)
			if q == nil {
				t.Fatal("newQueue returned nil")
			}
			h := newHarness(t, q, opts)
			tc.fn(t, h)
		})
	}
}

// handler decides the Result of run n (1 for the first) of a delivery.
type handler func(ctx context.Context, d *webhook.Delivery, n int) webhook.Result

// done is the handler of a delivery that succeeds at once.
func done(context.Context, *webhook.Delivery, int) webhook.Result { return webhook.Result{Done: true} }

// runRecord is one run of a delivery as the AttemptFunc saw it.
type runRecord struct {
	start    time.Time
	end      time.Time
	attempts int              // d.Attempts when the run began
	d        webhook.Delivery // a copy, as handed to the run
	result   webhook.Result
}

// harness is the suite's side of one queue: its AttemptFunc, what ran,
// and the handler of every delivery by ID.
type harness struct {
	t      *testing.T
	q      webhook.Queue
	opts   Options
	prefix string        // makes delivery IDs unique across subtests
	stop   chan struct{} // closed at cleanup: blocked handlers return

	mu       sync.Mutex
	handlers map[string]handler
	runs     map[string][]runRecord // by delivery ID, in order
	order    []string               // delivery IDs in the order their runs began
	finished map[string]bool        // a run returned Done
	active   int                    // runs under way
	unknown  []string               // runs of IDs the suite never enqueued
	closed   time.Time              // when Close returned; zero before
	late     []string               // runs that began after Close returned
	changed  chan struct{}          // closed and replaced on every change
}

func newHarness(t *testing.T, q webhook.Queue, opts Options) *harness {
	var b [6]byte
	_, _ = rand.Read(b[:])
	h := &harness{
		t:        t,
		q:        q,
		opts:     opts,
		prefix:   "qt" + hex.EncodeToString(b[:]),
		stop:     make(chan struct{}),
		handlers: make(map[string]handler),
		runs:     make(map[string][]runRecord),
		finished: make(map[string]bool),
		changed:  make(chan struct{}),
	}
	if err := q.Start(h.run, slices.Clone(Endpoints)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		// Registered after Start, so it runs before any cleanup newQueue
		// registered: the queue is closed before its resources go.
		close(h.stop)
		// Short: a test may leave a retry an hour away.
		ctx, cancel := context.WithTimeout(context.Background(), min(opts.Timeout, 3*time.Second))
		defer cancel()
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_, _ = q.Close(ctx) // a second Close may fail; it must return
		}()
		select {
		case <-closed:
		case <-time.After(min(opts.Timeout, 3*time.Second) + opts.Timeout):
			t.Errorf("Close at cleanup did not return")
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.unknown) > 0 {
			t.Errorf("the queue ran deliveries that were never enqueued: %v", h.unknown)
		}
	})
	return h
}

// run is the AttemptFunc handed to Start. Like the Emitter's, it counts
// the attempt in d.Attempts.
func (h *harness) run(ctx context.Context, d *webhook.Delivery) webhook.Result {
	start := time.Now()
	h.mu.Lock()
	fn, ok := h.handlers[d.ID]
	if !ok {
		h.unknown = append(h.unknown, d.ID)
		h.mu.Unlock()
		return webhook.Result{Done: true}
	}
	if !h.closed.IsZero() {
		h.late = append(h.late, d.ID)
	}
	n := len(h.runs[d.ID]) + 1
	rec := runRecord{start: start, attempts: d.Attempts, d: *d}
	rec.d.Body = slices.Clone(d.Body)
	h.runs[d.ID] = append(h.runs[d.ID], rec)
	h.order = append(h.order, d.ID)
	h.active++
	h.notify()
	h.mu.Unlock()

	d.Attempts++
	res := fn(ctx, d, n)

	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.runs[d.ID]
	rs[n-1].end = time.Now()
	rs[n-1].result = res
	h.active--
	if res.Done {
		h.finished[d.ID] = true
	}
	h.notify()
	return res
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
		ok := cond()
		if ok {
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
	h.mu.Lock()
	h.handlers[d.ID] = fn
	h.mu.Unlock()
	return d
}

// enqueue enqueues d and fails the test on an error.
func (h *harness) enqueue(d *webhook.Delivery) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
	defer cancel()
	if err := h.q.Enqueue(ctx, d); err != nil {
		h.t.Fatalf("Enqueue(%s): %v", d.ID, err)
	}
}

// close closes the queue with a context of timeout and records when it
// returned.
func (h *harness) close(timeout time.Duration) ([]*webhook.Delivery, time.Duration, error) {
	start := time.Now() // before the deadline is set: took ≥ timeout when ctx ends it
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	left, err := h.closeBounded(ctx, timeout+h.opts.Timeout)
	took := time.Since(start)
	h.mu.Lock()
	h.closed = time.Now()
	h.mu.Unlock()
	return left, took, err
}

// closeBounded calls Close(ctx) and fails the test if it has not returned
// after limit: a queue that hangs in Close fails instead of hanging the
// suite (its goroutine is left behind).
func (h *harness) closeBounded(ctx context.Context, limit time.Duration) ([]*webhook.Delivery, error) {
	h.t.Helper()
	type result struct {
		left []*webhook.Delivery
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		left, err := h.q.Close(ctx)
		ch <- result{left, err}
	}()
	select {
	case r := <-ch:
		return r.left, r.err
	case <-time.After(limit):
		h.t.Fatalf("Close did not return within %s (its ctx ends sooner): workers ignore cancellation or are stuck", limit)
		return nil, nil
	}
}

// closeDrained closes the queue, expecting it to drain.
func (h *harness) closeDrained() {
	h.t.Helper()
	left, took, err := h.close(h.opts.Timeout)
	if err != nil || len(left) != 0 {
		h.t.Fatalf("Close after %s = %d leftovers, %v; want none, nil", took, len(left), err)
	}
}

func (h *harness) numRuns(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.runs[id])
}

// checkLate reports runs that began after Close returned.
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

func ids(ds []*webhook.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// testRunsEveryDeliveryOnce: every enqueued delivery is run, and a
// delivery whose run says Done is not run again.
func testRunsEveryDeliveryOnce(t *testing.T, h *harness) {
	var want []string
	for i := range 40 {
		d := h.delivery(Endpoints[i%len(Endpoints)], i, done)
		want = append(want, d.ID)
		h.enqueue(d)
	}
	h.waitFor("every delivery to be run", func() bool { return len(h.finished) == len(want) })
	h.closeDrained()
	h.checkLate()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range want {
		if n := len(h.runs[id]); n != 1 {
			t.Errorf("delivery %s ran %d times, want 1", id, n)
		}
	}
}

// testKeepsDeliveryFields: the run gets the delivery as enqueued, and
// d.Attempts as the previous run left it.
func testKeepsDeliveryFields(t *testing.T, h *harness) {
	d := h.delivery("b", 1, func(_ context.Context, _ *webhook.Delivery, n int) webhook.Result {
		if n < 3 {
			return webhook.Result{Delay: time.Millisecond}
		}
		return webhook.Result{Done: true}
	})
	want := *d
	want.Body = slices.Clone(d.Body)
	h.enqueue(d)
	h.waitFor("three runs", func() bool { return h.finished[want.ID] })
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.runs[want.ID]
	if len(rs) != 3 {
		t.Fatalf("ran %d times, want 3", len(rs))
	}
	for i, r := range rs {
		got := r.d
		if got.ID != want.ID || got.EventID != want.EventID || got.EventType != want.EventType ||
			got.Endpoint != want.Endpoint || string(got.Body) != string(want.Body) || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("run %d got delivery %+v, want %+v", i+1, got, want)
		}
		if r.attempts != i {
			t.Errorf("run %d began with Attempts %d, want %d (the count the previous runs left)", i+1, r.attempts, i)
		}
	}
}

// testDelayedRetry: a Result with a Delay is run again no earlier than
// the delay; one without Done and without Delay is run again soon.
func testDelayedRetry(t *testing.T, h *harness) {
	const delay = 300 * time.Millisecond
	delayed := h.delivery("a", 1, func(_ context.Context, _ *webhook.Delivery, n int) webhook.Result {
		if n == 1 {
			return webhook.Result{Delay: delay}
		}
		return webhook.Result{Done: true}
	})
	again := h.delivery("b", 2, func(_ context.Context, _ *webhook.Delivery, n int) webhook.Result {
		return webhook.Result{Done: n == 2}
	})
	h.enqueue(delayed)
	h.enqueue(again)
	h.waitFor("both retries", func() bool { return h.finished[delayed.ID] && h.finished[again.ID] })
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.runs[delayed.ID]
	if len(rs) != 2 {
		t.Fatalf("delayed delivery ran %d times, want 2", len(rs))
	}
	if gap := rs[1].start.Sub(rs[0].end); gap < delay {
		t.Errorf("delayed delivery re-run %s after its first run returned Delay %s; must not be earlier", gap, delay)
	}
	if n := len(h.runs[again.ID]); n != 2 {
		t.Errorf("delivery with Result{} (no Delay) ran %d times, want 2", n)
	}
}

// testNoWorkerWaitsThroughDelay: deliveries waiting for a retry do not
// keep workers from a delivery that is due.
func testNoWorkerWaitsThroughDelay(t *testing.T, h *harness) {
	const delay = 2 * time.Second
	const held = 40 // more than most pools have workers
	var waiting []string
	for i := range held {
		d := h.delivery("a", i, func(_ context.Context, _ *webhook.Delivery, n int) webhook.Result {
			if n == 1 {
				return webhook.Result{Delay: delay}
			}
			return webhook.Result{Done: true}
		})
		waiting = append(waiting, d.ID)
		h.enqueue(d)
	}
	h.waitFor("the first run of every delayed delivery", func() bool {
		for _, id := range waiting {
			rs := h.runs[id]
			if len(rs) == 0 || rs[0].end.IsZero() {
				return false
			}
		}
		return true
	})
	due := h.delivery("b", 1000, done)
	h.enqueue(due)
	h.waitFor("the due delivery", func() bool { return h.finished[due.ID] })

	h.mu.Lock()
	ran := h.runs[due.ID][0].start
	for _, id := range waiting {
		if rs := h.runs[id]; len(rs) > 1 && rs[1].start.Before(ran) {
			t.Errorf("a retry delayed %s ran before a due delivery enqueued while it waited: workers are held by delays", delay)
			break
		}
	}
	h.mu.Unlock()

	h.closeDrained() // also waits for the retries
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range waiting {
		rs := h.runs[id]
		if len(rs) != 2 {
			t.Errorf("delivery %s ran %d times, want 2", id, len(rs))
			continue
		}
		if gap := rs[1].start.Sub(rs[0].end); gap < delay {
			t.Errorf("delivery %s re-run after %s, want ≥ %s", id, gap, delay)
		}
	}
}

// testEnqueueWithEndedContext: Enqueue adds a delivery when there is room
// even if its context has already ended.
func testEnqueueWithEndedContext(t *testing.T, h *harness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := h.delivery("c", 1, done)
	if err := h.q.Enqueue(ctx, d); err != nil {
		t.Fatalf("Enqueue with an ended context into an empty queue = %v, want nil", err)
	}
	h.waitFor("the delivery", func() bool { return h.finished[d.ID] })
	h.closeDrained()
}

// testEnqueueAfterClose: Enqueue after Close returns ErrClosed and the
// delivery is never run.
func testEnqueueAfterClose(t *testing.T, h *harness) {
	h.closeDrained()
	d := h.delivery("a", 1, done)
	err := h.q.Enqueue(context.Background(), d)
	if !errors.Is(err, webhook.ErrClosed) {
		t.Fatalf("Enqueue after Close = %v, want ErrClosed", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := h.numRuns(d.ID); n != 0 {
		t.Errorf("a delivery refused after Close ran %d times", n)
	}
}

// testCloseEmpty: Close of an idle queue returns at once.
func testCloseEmpty(t *testing.T, h *harness) {
	left, took, err := h.close(h.opts.Timeout)
	if err != nil || len(left) != 0 {
		t.Fatalf("Close of an empty queue = %d leftovers, %v; want none, nil", len(left), err)
	}
	if took > h.opts.Timeout/2 {
		t.Errorf("Close of an empty queue took %s", took)
	}
}

// testCloseIdleWithEndedContext: a queue with nothing left has nothing
// to report, even when Close's context has already ended: Close returns
// no deliveries and no error (as http.Server.Shutdown does when idle).
// Several queues are tried, so that a Close choosing at random between
// "drained" and "ctx ended" fails reliably.
func testCloseIdleWithEndedContext(t *testing.T, newQueue func(t *testing.T) webhook.Queue, opts Options) {
	for i := range 20 {
		h := newHarness(t, newQueue(t), opts)
		if i%2 == 1 { // drained rather than never used
			d := h.delivery("a", i, done)
			h.enqueue(d)
			h.waitFor("the delivery", func() bool { return h.finished[d.ID] })
			h.poll("Stats to be empty", func() bool {
				st := h.q.Stats()
				return st.Queued == 0 && st.InFlight == 0
			})
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		left, err := h.closeBounded(ctx, opts.Timeout)
		if err != nil || len(left) != 0 {
			t.Fatalf("Close (try %d) of a queue with nothing left, ctx ended = %v, %v; want none, nil", i, ids(left), err)
		}
	}
}

// testCloseDrains: Close waits for every queued delivery and scheduled
// retry before it returns.
func testCloseDrains(t *testing.T, h *harness) {
	var want []string
	for i := range 30 {
		d := h.delivery(Endpoints[i%len(Endpoints)], i, func(ctx context.Context, _ *webhook.Delivery, _ int) webhook.Result {
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return webhook.Result{}
			}
			return webhook.Result{Done: true}
		})
		want = append(want, d.ID)
		h.enqueue(d)
	}
	retry := h.delivery("d", 100, func(_ context.Context, _ *webhook.Delivery, n int) webhook.Result {
		if n == 1 {
			return webhook.Result{Delay: 300 * time.Millisecond}
		}
		return webhook.Result{Done: true}
	})
	want = append(want, retry.ID)
	h.enqueue(retry)
	// Close as soon as the retry is scheduled, so that Close has a
	// scheduled retry to wait for.
	h.waitFor("the retry to be scheduled", func() bool {
		rs := h.runs[retry.ID]
		return len(rs) > 0 && !rs[0].end.IsZero()
	})
	h.closeDrained()
	h.checkLate()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range want {
		if !h.finished[id] {
			t.Errorf("Close returned before delivery %s finished (%d runs)", id, len(h.runs[id]))
		}
	}
}

// testCloseWhenContextEnds: when Close's context ends first, attempts
// under way are cancelled, the workers stop, and a non-durable queue
// returns every unfinished delivery once.
func testCloseWhenContextEnds(t *testing.T, h *harness) {
	blocking := func(ctx context.Context, _ *webhook.Delivery, _ int) webhook.Result {
		select {
		case <-ctx.Done():
			return webhook.Result{} // not finished: the Emitter's answer to a cancelled attempt
		case <-h.stop:
			return webhook.Result{Done: true}
		}
	}
	// The retry first: a queue with one worker could not run it while an
	// attempt blocks.
	later := h.delivery("c", 100, func(context.Context, *webhook.Delivery, int) webhook.Result {
		return webhook.Result{Delay: time.Hour}
	})
	want := []string{later.ID}
	h.enqueue(later)
	h.waitFor("the retry to be scheduled", func() bool {
		rs := h.runs[later.ID]
		return len(rs) > 0 && !rs[0].end.IsZero()
	})
	for i := range 6 {
		d := h.delivery(Endpoints[i%2], i, blocking)
		want = append(want, d.ID)
		h.enqueue(d)
	}
	h.waitFor("an attempt under way", func() bool { return h.active > 0 })

	const closeAfter = 300 * time.Millisecond
	left, took, err := h.close(closeAfter)
	if took < closeAfter {
		t.Errorf("Close returned after %s, before its context ended (%s), with deliveries unfinished", took, closeAfter)
	}
	if took > closeAfter+h.opts.Timeout/2 {
		t.Errorf("Close took %s after its context ended at %s", took, closeAfter)
	}
	h.checkLate()
	time.Sleep(100 * time.Millisecond)
	h.checkLate()

	h.mu.Lock()
	var sawCancel bool
	for _, id := range want {
		for _, r := range h.runs[id] {
			if !r.end.IsZero() && !r.result.Done && r.result.Delay == 0 {
				sawCancel = true
			}
		}
	}
	h.mu.Unlock()
	if !sawCancel {
		t.Error("no attempt under way saw its context cancelled by Close")
	}

	got := ids(left)
	if dup := duplicates(got); len(dup) > 0 {
		t.Errorf("Close returned deliveries more than once: %v", dup)
	}
	for _, id := range got {
		if !slices.Contains(want, id) {
			t.Errorf("Close returned %s, which was never enqueued", id)
		}
	}
	if h.opts.Durable {
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("durable Close error = %v, want nil or one wrapping context.DeadlineExceeded", err)
		}
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close error = %v, want one wrapping context.DeadlineExceeded", err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Close returned %d unfinished deliveries %v, want %d %v", len(got), got, len(want), want)
	}
}

func duplicates(s []string) []string {
	seen := map[string]bool{}
	var dup []string
	for _, x := range s {
		if seen[x] {
			dup = append(dup, x)
		}
		seen[x] = true
	}
	return dup
}

// testStats: Stats counts queued (due and scheduled) and in-flight
// deliveries, in total and per endpoint.
func testStats(t *testing.T, h *harness) {
	gate := make(chan struct{})
	blocking := func(ctx context.Context, _ *webhook.Delivery, _ int) webhook.Result {
		select {
		case <-gate:
			return webhook.Result{Done: true}
		case <-ctx.Done():
			return webhook.Result{}
		case <-h.stop:
			return webhook.Result{Done: true}
		}
	}
	later := h.delivery("c", 100, func(context.Context, *webhook.Delivery, int) webhook.Result {
		return webhook.Result{Delay: time.Hour}
	})
	h.enqueue(later)
	h.waitFor("the retry to be scheduled", func() bool {
		rs := h.runs[later.ID]
		return len(rs) > 0 && !rs[0].end.IsZero()
	})
	for i := range 3 {
		h.enqueue(h.delivery("a", i, blocking))
	}
	for i := range 2 {
		h.enqueue(h.delivery("b", 10+i, blocking))
	}

	want := map[string]int{"a": 3, "b": 2, "c": 1, "d": 0}
	var last webhook.QueueStats
	h.poll("Stats to count 6 held deliveries, the blocked ones in flight", func() bool {
		h.mu.Lock()
		rs := h.runs[later.ID]
		scheduled := len(rs) > 0 && !rs[0].end.IsZero()
		active := h.active
		h.mu.Unlock()
		if !scheduled || active == 0 {
			return false
		}
		last = h.q.Stats()
		h.mu.Lock()
		active2 := h.active
		h.mu.Unlock()
		if last.Queued+last.InFlight != 6 || last.InFlight != active || active2 != active {
			return false
		}
		inFlight := 0
		for ep, n := range want {
			s := last.Endpoints[ep]
			if s.Queued+s.InFlight != n || s.Queued < 0 || s.InFlight < 0 {
				return false
			}
			inFlight += s.InFlight
		}
		return inFlight == last.InFlight && last.Endpoints["c"].Queued == 1
	})
	close(gate)
	h.poll("Stats to count only the scheduled retry", func() bool {
		last = h.q.Stats()
		if last.Queued != 1 || last.InFlight != 0 {
			return false
		}
		for _, ep := range Endpoints {
			s := last.Endpoints[ep]
			want := 0
			if ep == "c" {
				want = 1
			}
			if s.Queued != want || s.InFlight != 0 {
				return false
			}
		}
		return true
	})
	h.mu.Lock()
	fin := len(h.finished)
	h.mu.Unlock()
	if fin != 5 {
		t.Errorf("%d deliveries finished, want 5", fin)
	}
	left, _, err := h.close(200 * time.Millisecond)
	if !h.opts.Durable && (!errors.Is(err, context.DeadlineExceeded) || len(left) != 1) {
		t.Errorf("Close with a retry an hour away = %v, %v; want it returned with context.DeadlineExceeded", ids(left), err)
	}
}

// testConcurrentUse: many goroutines enqueue while others read Stats;
// every delivery runs once and Close drains.
func testConcurrentUse(t *testing.T, h *harness) {
	const goroutines, each = 16, 40
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				st := h.q.Stats()
				if st.Queued < 0 || st.InFlight < 0 {
					t.Errorf("Stats has negative counts: %+v", st)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	ds := make([][]*webhook.Delivery, goroutines)
	for g := range goroutines {
		for i := range each {
			n := g*each + i
			ds[g] = append(ds[g], h.delivery(Endpoints[n%len(Endpoints)], n, done))
		}
	}
	errs := make(chan error, goroutines*each)
	var enq sync.WaitGroup
	for g := range goroutines {
		enq.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
			defer cancel()
			for _, d := range ds[g] {
				if err := h.q.Enqueue(ctx, d); err != nil {
					errs <- fmt.Errorf("Enqueue(%s): %w", d.ID, err)
				}
			}
		})
	}
	enq.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	h.waitFor("every delivery to be run", func() bool { return len(h.finished) == goroutines*each })
	close(stop)
	wg.Wait()
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range ds {
		for _, d := range g {
			if n := len(h.runs[d.ID]); n != 1 {
				t.Errorf("delivery %s ran %d times, want 1", d.ID, n)
			}
		}
	}
}
