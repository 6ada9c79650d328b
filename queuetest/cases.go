package queuetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// testRunsEveryDeliveryOnce: every enqueued delivery is run, and a
// delivery whose run is Delivered is not run again.
func testRunsEveryDeliveryOnce(t *testing.T, h *harness) {
	var want []string
	for i := range 40 {
		d := h.delivery(Endpoints[i%len(Endpoints)], i, delivered)
		want = append(want, d.ID)
		h.enqueue(d)
	}
	h.waitFor("every delivery to be run", func() bool { return len(h.finished) == len(want) })
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range want {
		if n := len(h.runs[id]); n != 1 {
			t.Errorf("delivery %s ran %d times; want 1", id, n)
		}
	}
}

// testBatchEnqueue: one Enqueue of an event's deliveries to several
// endpoints takes them all; each runs once.
func testBatchEnqueue(t *testing.T, h *harness) {
	var ds []*webhook.Delivery
	for i := range 2 * len(Endpoints) {
		ds = append(ds, h.delivery(Endpoints[i%len(Endpoints)], i, delivered))
	}
	h.enqueue(ds...)
	h.waitFor("every delivery of the batch to be run", func() bool { return len(h.finished) == len(ds) })
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range ds {
		if n := len(h.runs[d.ID]); n != 1 {
			t.Errorf("delivery %s of the batch ran %d times; want 1", d.ID, n)
		}
	}
}

// testKeepsDeliveryFields: each run gets the delivery as enqueued, and
// d.Attempts as the counted runs before it left it.
func testKeepsDeliveryFields(t *testing.T, h *harness) {
	d := h.delivery("b", 1, func(_ context.Context, d *webhook.Delivery, n int) webhook.Result {
		if n < 3 {
			return retry(d, time.Millisecond)
		}
		return webhook.Result{Outcome: webhook.OutcomeDelivered}
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
		t.Fatalf("ran %d times; want 3", len(rs))
	}
	for i, r := range rs {
		if !sameFields(r.d, want) {
			t.Errorf("run %d got delivery %s; want %s", i+1, describe(r.d), describe(want))
		}
		if r.attempts != i {
			t.Errorf("run %d began with Attempts %d; want %d (the count the previous runs left)", i+1, r.attempts, i)
		}
	}
}

// testAttemptCounting: the queue adds to Attempts only the results that
// count: Deferred and Interrupted do not, Retry does.
func testAttemptCounting(t *testing.T, h *harness) {
	type step struct {
		outcome  webhook.Outcome
		attempts int // d.Attempts the run must see
	}
	steps := []step{
		{webhook.OutcomeDeferred, 0},
		{webhook.OutcomeDeferred, 0},
		{webhook.OutcomeRetry, 0},
		{webhook.OutcomeInterrupted, 1}, // while the queue runs on: run again
		{webhook.OutcomeDelivered, 1},
	}
	if h.opts.Inline {
		// For an inline queue an interrupted attempt means the caller's ctx
		// ended (the Runner returns Interrupted only then): it gives the
		// delivery up rather than run it again. EnqueueWithEndedContext and
		// CloseWhenContextEnds cover that; the rest of the count applies.
		steps = slices.Delete(steps, 3, 4)
	}
	d := h.delivery("a", 1, func(ctx context.Context, d *webhook.Delivery, n int) webhook.Result {
		if n > len(steps) {
			return webhook.Result{Outcome: webhook.OutcomeDelivered}
		}
		switch steps[n-1].outcome {
		case webhook.OutcomeDeferred:
			return deferred(5 * time.Millisecond)
		case webhook.OutcomeRetry:
			return retry(d, 5*time.Millisecond)
		case webhook.OutcomeInterrupted:
			return interrupted(ctx, d)
		default:
			return webhook.Result{Outcome: webhook.OutcomeDelivered}
		}
	})
	h.enqueue(d)
	h.waitFor("the delivery to be delivered", func() bool { return h.finished[d.ID] })
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.runs[d.ID]
	if len(rs) != len(steps) {
		t.Fatalf("ran %d times; want %d (one per result until Delivered)", len(rs), len(steps))
	}
	for i, r := range rs {
		prev := "none"
		if i > 0 {
			prev = rs[i-1].result.Outcome.String()
		}
		if r.attempts != steps[i].attempts {
			t.Errorf("run %d (after %s) began with Attempts %d; want %d: only Retry, Delivered and Failed count",
				i+1, prev, r.attempts, steps[i].attempts)
		}
	}
}

// testFailedIsFinal: a run that returns Failed finishes the delivery: it
// is never run again, and the queue does not give it up (the Runner has
// reported it). An inline queue's Enqueue returns the failure.
func testFailedIsFinal(t *testing.T, h *harness) {
	failure := errors.New("queuetest: the endpoint refused the delivery for good")
	fail := func(d *webhook.Delivery) webhook.Result {
		return webhook.Result{Outcome: webhook.OutcomeFailed, Err: attemptError(d, failure)}
	}
	later := h.delivery("b", 1, func(_ context.Context, d *webhook.Delivery, n int) webhook.Result {
		if n == 1 {
			return retry(d, time.Millisecond)
		}
		return fail(d)
	})
	first := h.delivery("c", 1, func(_ context.Context, d *webhook.Delivery, _ int) webhook.Result { return fail(d) })
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
	defer cancel()
	err := h.callEnqueue(ctx, []*webhook.Delivery{later, first})
	if h.opts.Inline {
		if !errors.Is(err, failure) {
			t.Errorf("inline Enqueue of deliveries that fail = %v; want their failures joined", err)
		}
	} else if err != nil {
		t.Errorf("Enqueue = %v; want nil", err)
	}
	h.waitFor("both deliveries to fail", func() bool { return h.finished[later.ID] && h.finished[first.ID] })
	time.Sleep(50 * time.Millisecond) // time to run them again, wrongly
	h.closeDrained()                  // checks that neither was given up too
	for id, want := range map[string]int{later.ID: 2, first.ID: 1} {
		if n := h.numRuns(id); n != want {
			t.Errorf("delivery %s ran %d times; want %d (Failed is final)", id, n, want)
		}
	}
}

// testDelayedRetry: Retry and Deferred with a Delay run again no earlier
// than the delay; a Retry without one runs again soon.
func testDelayedRetry(t *testing.T, h *harness) {
	const delay = 300 * time.Millisecond
	retried := h.delivery("a", 1, func(_ context.Context, d *webhook.Delivery, n int) webhook.Result {
		if n == 1 {
			return retry(d, delay)
		}
		return webhook.Result{Outcome: webhook.OutcomeDelivered}
	})
	deferredOnce := h.delivery("b", 2, func(_ context.Context, _ *webhook.Delivery, n int) webhook.Result {
		if n == 1 {
			return deferred(delay)
		}
		return webhook.Result{Outcome: webhook.OutcomeDelivered}
	})
	again := h.delivery("c", 3, func(_ context.Context, d *webhook.Delivery, n int) webhook.Result {
		if n == 1 {
			return retry(d, 0)
		}
		return webhook.Result{Outcome: webhook.OutcomeDelivered}
	})
	h.submit(retried)
	h.submit(deferredOnce)
	h.submit(again)
	h.waitFor("the three retries", func() bool {
		return h.finished[retried.ID] && h.finished[deferredOnce.ID] && h.finished[again.ID]
	})
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range []*webhook.Delivery{retried, deferredOnce} {
		rs := h.runs[d.ID]
		if len(rs) != 2 {
			t.Errorf("delivery %s ran %d times; want 2", d.ID, len(rs))
			continue
		}
		if gap := rs[1].start.Sub(rs[0].end); gap < delay {
			t.Errorf("delivery %s ran again %s after its first run returned %v with Delay %s; must not be earlier",
				d.ID, gap, rs[0].result.Outcome, delay)
		}
	}
	if n := len(h.runs[again.ID]); n != 2 {
		t.Errorf("delivery with Retry and no Delay ran %d times; want 2", n)
	}
}

// testNoWorkerWaitsThroughDelay: deliveries waiting for a retry do not
// keep workers from a delivery that is due. (For an inline queue: a retry
// waiting inside one Enqueue does not hold back another call.)
func testNoWorkerWaitsThroughDelay(t *testing.T, h *harness) {
	delay := h.opts.HeldDelay
	const held = 40 // more than most pools have workers
	var waiting []string
	for i := range held {
		d := h.delivery("a", i, func(_ context.Context, d *webhook.Delivery, n int) webhook.Result {
			if n == 1 {
				return retry(d, delay)
			}
			return webhook.Result{Outcome: webhook.OutcomeDelivered}
		})
		waiting = append(waiting, d.ID)
		h.submit(d)
	}
	h.waitFor("the first run of every delayed delivery", func() bool {
		for _, id := range waiting {
			if !h.ranOnce(id, 1) {
				return false
			}
		}
		return true
	})
	due := h.delivery("b", 1000, delivered)
	enqueued := time.Now()
	h.enqueue(due)
	h.waitFor("the due delivery", func() bool { return h.finished[due.ID] })

	// A retry that fell due well after the due delivery was enqueued
	// (half the delay: on a loaded machine the first runs spread out, and
	// the earliest retries may fall due as it arrives) must not run first.
	h.mu.Lock()
	ran := h.runs[due.ID][0].start
	for _, id := range waiting {
		rs := h.runs[id]
		if len(rs) > 1 && rs[1].start.Before(ran) && rs[0].end.Add(delay).After(enqueued.Add(delay/2)) {
			t.Errorf("a retry delayed %s ran before a due delivery enqueued while it waited: workers are held by delays", delay)
			break
		}
	}
	h.mu.Unlock()

	h.waitFor("every retry", func() bool {
		for _, id := range waiting {
			if !h.finished[id] {
				return false
			}
		}
		return true
	})
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range waiting {
		rs := h.runs[id]
		if len(rs) != 2 {
			t.Errorf("delivery %s ran %d times; want 2", id, len(rs))
			continue
		}
		if gap := rs[1].start.Sub(rs[0].end); gap < delay {
			t.Errorf("delivery %s ran again after %s; want ≥ %s", id, gap, delay)
		}
	}
}

// testEnqueueWithEndedContext: Enqueue with a context that has ended
// takes none of the deliveries: it gives each up before it returns, and
// its error joins GiveUp's, wrapping the context's error.
func testEnqueueWithEndedContext(t *testing.T, h *harness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ds := []*webhook.Delivery{h.delivery("c", 1, delivered), h.delivery("d", 2, delivered)}
	err := h.callEnqueue(ctx, ds)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Enqueue with an ended context = %v; want an error wrapping context.Canceled: a delivery is not taken when ctx has ended", err)
	}
	const what = "Enqueue with an ended context"
	h.checkGivenUp(what, ids(ds), context.Canceled)
	h.checkJoined(what, err, ids(ds))
	time.Sleep(50 * time.Millisecond)
	h.checkNeverRan(what, ids(ds))
	h.closeDrained()
}

// testEnqueueAfterClose: Enqueue after Close takes none: each delivery is
// given up with an error wrapping ErrClosed, which Enqueue returns, and
// never run.
func testEnqueueAfterClose(t *testing.T, h *harness) {
	h.closeDrained()
	ds := []*webhook.Delivery{h.delivery("a", 1, delivered), h.delivery("b", 2, delivered)}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
	defer cancel()
	err := h.callEnqueue(ctx, ds)
	if !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("Enqueue after Close = %v; want an error wrapping webhook.ErrClosed", err)
	}
	const what = "Enqueue after Close"
	h.checkGivenUp(what, ids(ds), webhook.ErrClosed)
	h.checkJoined(what, err, ids(ds))
	time.Sleep(50 * time.Millisecond)
	h.checkNeverRan(what, ids(ds))
}

// fill enqueues Options.RoomPerEndpoint deliveries for endpoint ep, run
// by fn, in one call that must not wait.
func (h *harness) fill(ep string, fn handler) []*webhook.Delivery {
	h.t.Helper()
	ds := make([]*webhook.Delivery, h.opts.RoomPerEndpoint)
	for i := range ds {
		ds[i] = h.delivery(ep, i, fn)
	}
	h.enqueue(ds...)
	return ds
}

// testEnqueueWaitsForRoom: when an endpoint's room is full, Enqueue waits
// for room: it gives up at its ctx's end, and takes the delivery when
// room frees; another endpoint's delivery is taken meanwhile.
func testEnqueueWaitsForRoom(t *testing.T, h *harness) {
	room := h.opts.RoomPerEndpoint
	if room == 0 {
		t.Skip("Options.RoomPerEndpoint is 0: the queue does not bound its room per endpoint, so no Enqueue waits for room")
	}
	gate := make(chan struct{})
	fill := h.fill("a", h.blocking(gate))

	const wait = 200 * time.Millisecond
	full := h.delivery("a", room, delivered)
	start := time.Now() // before the deadline is set: took ≥ wait when ctx ends the wait
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := h.callEnqueue(ctx, []*webhook.Delivery{full})
	took := time.Since(start)
	if err == nil {
		t.Fatalf("Enqueue into endpoint a's full room (%d held) = nil; want it to wait and give up: is Options.RoomPerEndpoint right?", room)
	}
	if took < wait {
		t.Errorf("Enqueue into a full room returned after %s, before its ctx ended (%s): it must wait for room", took, wait)
	}
	const what = "Enqueue into a full room until ctx ended"
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s = %v; want an error wrapping context.DeadlineExceeded", what, err)
	}
	h.checkGivenUp(what, []string{full.ID}, context.DeadlineExceeded)
	h.checkJoined(what, err, []string{full.ID})

	other := h.delivery("b", 1, delivered)
	h.enqueue(other) // fails the test if it waits for a's room until the suite's timeout

	later := h.delivery("a", room+1, delivered)
	c := h.goEnqueue(context.Background(), nil, []*webhook.Delivery{later})
	time.Sleep(50 * time.Millisecond)
	if c.returnedYet() {
		t.Errorf("Enqueue into a full room returned before room freed: %v", h.wait(c))
	}
	close(gate) // the fill is delivered: room frees
	if err := h.wait(c); err != nil {
		t.Errorf("Enqueue waiting for room, when room freed = %v; want nil", err)
	}
	h.waitFor("the fill and the deliveries that waited for room", func() bool {
		for _, d := range fill {
			if !h.finished[d.ID] {
				return false
			}
		}
		return h.finished[other.ID] && h.finished[later.ID]
	})
	h.closeDrained()
	h.checkNeverRan(what, []string{full.ID})
}

// testCloseWakesBlockedEnqueue: Close wakes an Enqueue waiting for room
// at once: it returns an error wrapping ErrClosed, its delivery given up,
// without waiting for Close's context.
func testCloseWakesBlockedEnqueue(t *testing.T, h *harness) {
	if h.opts.RoomPerEndpoint == 0 {
		t.Skip("Options.RoomPerEndpoint is 0: the queue does not bound its room per endpoint, so no Enqueue waits for room")
	}
	fill := h.fill("a", h.blocking(nil))
	blocked := h.delivery("a", h.opts.RoomPerEndpoint, delivered)
	c := h.goEnqueue(context.Background(), nil, []*webhook.Delivery{blocked})
	time.Sleep(100 * time.Millisecond)
	if c.returnedYet() {
		t.Fatalf("Enqueue into a full room returned before Close: %v; want it to wait for room", h.wait(c))
	}

	const closeAfter = time.Second
	start := time.Now()
	took, err := h.close(closeAfter)
	const what = "Enqueue woken by Close"
	eerr := h.wait(c)
	h.mu.Lock()
	woke := c.returned.Sub(start)
	h.mu.Unlock()
	if woke >= closeAfter {
		t.Errorf("Enqueue waiting for room returned %s after Close began, not before Close's ctx ended (%s): Close must wake it", woke, closeAfter)
	}
	if !errors.Is(eerr, webhook.ErrClosed) {
		t.Errorf("%s = %v; want an error wrapping webhook.ErrClosed", what, eerr)
	}
	h.checkGivenUp(what, []string{blocked.ID}, webhook.ErrClosed)
	h.checkJoined(what, eerr, []string{blocked.ID})
	h.checkNeverRan(what, []string{blocked.ID})
	h.checkLate()
	if h.opts.Durable {
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("durable Close = %v; want nil (or an error wrapping context.DeadlineExceeded)", err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, d := range fill {
			if len(h.givenUp[d.ID]) > 0 {
				t.Errorf("durable Close gave up %s; it keeps what is unfinished", d.ID)
			}
		}
		return
	}
	if took < closeAfter || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with the room full of blocked attempts = %v after %s; want an error wrapping context.DeadlineExceeded after %s", err, took, closeAfter)
	}
	h.checkGivenUp("Close when its ctx ended", ids(fill), webhook.ErrClosed, context.DeadlineExceeded)
	h.checkEndedOnce()
}

// testEnqueueRacesClose: Enqueue calls racing Close either take their
// delivery (it is run, or a durable queue keeps it) or give it up with
// an error wrapping ErrClosed; never both, never neither.
func testEnqueueRacesClose(t *testing.T, h *harness) {
	const goroutines = 8
	type outcome struct {
		d   *webhook.Delivery
		err error
	}
	var mu sync.Mutex
	var got []outcome
	var refused [goroutines]bool
	start := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
	defer cancel()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := 0; ctx.Err() == nil; i++ {
				d := h.delivery(Endpoints[g%len(Endpoints)], g*100000+i, delivered)
				err := h.tryEnqueue(ctx, []*webhook.Delivery{d})
				if errors.Is(err, errHung) {
					t.Errorf("Enqueue(%s) racing Close: %v", d.ID, err)
					return
				}
				mu.Lock()
				got = append(got, outcome{d, err})
				mu.Unlock()
				if errors.Is(err, webhook.ErrClosed) {
					refused[g] = true
					return
				}
			}
		})
	}
	close(start)
	h.waitFor("a few deliveries to run before Close", func() bool { return len(h.finished) >= 10 })
	took, err := h.close(h.opts.Timeout)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(h.opts.Timeout):
		t.Fatalf("Enqueue calls still under way %s after Close", h.opts.Timeout)
	}
	if err != nil {
		t.Errorf("Close after %s = %v; want nil", took, err)
	}
	for g, r := range refused {
		if !r {
			t.Errorf("goroutine %d's Enqueue calls were never refused with ErrClosed after Close", g)
		}
	}
	h.checkLate()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range got {
		id := o.d.ID
		gs := h.givenUp[id]
		switch {
		case o.err == nil:
			if len(gs) > 0 {
				t.Errorf("Enqueue of %s = nil, but it was given up (%v)", id, gs[0].err)
			} else if !h.opts.Durable && !h.finished[id] {
				t.Errorf("Enqueue of %s = nil, but it was not delivered when Close returned", id)
			}
		case !errors.Is(o.err, webhook.ErrClosed):
			t.Errorf("Enqueue of %s racing Close = %v; want nil or an error wrapping webhook.ErrClosed", id, o.err)
		case len(gs) != 1:
			t.Errorf("Enqueue of %s = %v; it was given up %d times, want once", id, o.err, len(gs))
		case !errors.Is(o.err, gs[0].returned):
			t.Errorf("Enqueue of %s = %q, which does not join what GiveUp returned (%q)", id, o.err, gs[0].returned)
		case len(h.runs[id]) > 0:
			t.Errorf("Enqueue of %s = %v, yet it ran %d times", id, o.err, len(h.runs[id]))
		}
	}
}

// testCloseEmpty: Close of an idle queue returns nil at once.
func testCloseEmpty(t *testing.T, h *harness) {
	took, err := h.close(h.opts.Timeout)
	if err != nil {
		t.Errorf("Close of an empty queue = %v; want nil", err)
	}
	if took > h.opts.Timeout/2 {
		t.Errorf("Close of an empty queue took %s", took)
	}
}

// testCloseIdleWithEndedContext: a queue with nothing left has nothing to
// report, even when Close's context has already ended: Close returns nil
// and gives nothing up (as http.Server.Shutdown does when idle). Several
// queues are tried, so that a Close choosing at random between "drained"
// and "ctx ended" fails reliably.
func testCloseIdleWithEndedContext(t *testing.T, newQueue func(t *testing.T) webhook.Queue, opts Options) {
	for i := range 20 {
		h := newHarness(t, newQueue(t), opts)
		if i%2 == 1 { // drained rather than never used
			d := h.delivery("a", i, delivered)
			h.enqueue(d)
			h.waitFor("the delivery", func() bool { return h.finished[d.ID] })
			h.poll("Stats to be empty", func() bool {
				st := h.stats()
				return st.Queued == 0 && st.InFlight == 0
			})
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := h.closeBounded(ctx, opts.Timeout); err != nil {
			t.Fatalf("Close (try %d) of a queue with nothing left, ctx ended = %v; want nil", i, err)
		}
		h.mu.Lock()
		n := len(h.givenUp)
		h.mu.Unlock()
		if n != 0 {
			t.Fatalf("Close (try %d) of a queue with nothing left gave up %d deliveries", i, n)
		}
	}
}

// testCloseDrains: a non-durable Close waits for every queued delivery
// and scheduled retry before it returns.
func testCloseDrains(t *testing.T, h *harness) {
	var want []*webhook.Delivery
	for i := range 30 {
		d := h.delivery(Endpoints[i%len(Endpoints)], i, func(ctx context.Context, d *webhook.Delivery, _ int) webhook.Result {
			select {
			case <-time.After(10 * time.Millisecond):
				return webhook.Result{Outcome: webhook.OutcomeDelivered}
			case <-ctx.Done():
				return interrupted(ctx, d)
			}
		})
		want = append(want, d)
		h.submit(d)
	}
	retried := h.delivery("d", 100, func(_ context.Context, d *webhook.Delivery, n int) webhook.Result {
		if n == 1 {
			return retry(d, 300*time.Millisecond)
		}
		return webhook.Result{Outcome: webhook.OutcomeDelivered}
	})
	want = append(want, retried)
	h.submit(retried)
	// Close as soon as the retry is scheduled, so that Close has a
	// scheduled retry to wait for.
	h.waitFor("the retry to be scheduled", func() bool { return h.ranOnce(retried.ID, 1) })
	h.waitTaken(want...)
	h.closeDrained()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range want {
		if !h.finished[d.ID] {
			t.Errorf("Close returned before delivery %s finished (%d runs)", d.ID, len(h.runs[d.ID]))
		}
	}
}

// testCloseWhenContextEnds: when a non-durable Close's context ends
// first, the attempts under way are interrupted, the workers stop, every
// unfinished delivery is given up once, before Close returns, with an
// error wrapping ErrClosed and the context's error, and Close returns the
// context's error.
func testCloseWhenContextEnds(t *testing.T, h *harness) {
	// The retry first: a queue with one worker could not run it while an
	// attempt blocks.
	later := h.delivery("c", 100, func(_ context.Context, d *webhook.Delivery, _ int) webhook.Result {
		return retry(d, time.Hour)
	})
	want := []*webhook.Delivery{later}
	h.submit(later)
	h.waitFor("the retry to be scheduled", func() bool { return h.ranOnce(later.ID, 1) })
	for i := range 6 {
		d := h.delivery(Endpoints[i%2], i, h.blocking(nil))
		want = append(want, d)
		h.submit(d)
	}
	h.waitFor("an attempt under way", func() bool { return h.active > 0 })
	h.waitTaken(want...)

	const closeAfter = 300 * time.Millisecond
	took, err := h.close(closeAfter)
	if took < closeAfter {
		t.Errorf("Close returned after %s, before its context ended (%s), with deliveries unfinished", took, closeAfter)
	}
	if took > closeAfter+h.opts.Timeout/2 {
		t.Errorf("Close took %s after its context ended at %s", took, closeAfter)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v; want an error wrapping context.DeadlineExceeded", err)
	}
	h.checkLate()
	time.Sleep(100 * time.Millisecond)
	h.checkLate()

	const what = "Close when its ctx ended"
	h.checkGivenUp(what, ids(want), webhook.ErrClosed, context.DeadlineExceeded)
	h.checkEndedOnce()
	h.mu.Lock()
	var sawCancel bool
	for _, d := range want {
		for _, r := range h.runs[d.ID] {
			sawCancel = sawCancel || r.result.Outcome == webhook.OutcomeInterrupted
		}
		for _, g := range h.givenUp[d.ID] {
			if g.at.After(h.closed) {
				t.Errorf("%s: delivery %s was given up after Close returned", what, d.ID)
			}
		}
	}
	h.mu.Unlock()
	if !sawCancel {
		t.Error("no attempt under way saw its context cancelled by Close")
	}
	for _, c := range h.held() { // inline: each call returns its deliveries' failures
		err := h.wait(c)
		h.checkJoined(fmt.Sprintf("Enqueue(%v) ended by Close", c.ids), err, c.ids)
	}
}

// testCloseWhenContextEndsNothingLeft: when Close's context ends while
// an attempt is under way, but the attempt is delivered all the same (its
// answer came as the context ended), nothing was left: Close gives
// nothing up and returns nil.
func testCloseWhenContextEndsNothingLeft(t *testing.T, h *harness) {
	d := h.delivery("a", 1, func(ctx context.Context, _ *webhook.Delivery, _ int) webhook.Result {
		select {
		case <-ctx.Done():
		case <-h.stop:
		}
		return webhook.Result{Outcome: webhook.OutcomeDelivered}
	})
	h.submit(d)
	h.waitFor("the attempt to be under way", func() bool { return h.running(d.ID) })
	took, err := h.close(200 * time.Millisecond)
	switch {
	case h.opts.Durable && errors.Is(err, context.DeadlineExceeded):
	case err != nil:
		t.Errorf("Close after %s = %v; want nil: the attempt its ctx interrupted was delivered all the same, so nothing was left to give up", took, err)
	}
	h.checkCalls() // inline: the Enqueue returns nil: its delivery was delivered
	h.checkLate()
	h.checkEndedOnce()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.finished[d.ID] {
		t.Errorf("delivery %s was not delivered: its attempt returned Delivered", d.ID)
	}
}

// testDurableCloseFinishesAttempts: a durable Close lets an attempt under
// way finish within its context and returns nil without waiting for a
// retry scheduled an hour away, which it keeps: a reopened queue holds
// it, and not the finished delivery.
func testDurableCloseFinishesAttempts(t *testing.T, h *harness) {
	later := h.delivery("c", 1, func(_ context.Context, d *webhook.Delivery, _ int) webhook.Result {
		return retry(d, time.Hour)
	})
	h.enqueue(later)
	h.waitFor("the retry to be scheduled", func() bool { return h.ranOnce(later.ID, 1) })
	slow := h.delivery("a", 2, func(ctx context.Context, d *webhook.Delivery, _ int) webhook.Result {
		select {
		case <-time.After(300 * time.Millisecond):
			return webhook.Result{Outcome: webhook.OutcomeDelivered}
		case <-ctx.Done():
			return interrupted(ctx, d)
		}
	})
	h.enqueue(slow)
	h.waitFor("the slow attempt to be under way", func() bool { return h.running(slow.ID) })

	took, err := h.close(h.opts.Timeout)
	if err != nil {
		t.Errorf("durable Close = %v; want nil", err)
	}
	if took > h.opts.Timeout/2 {
		t.Errorf("durable Close took %s: it must not wait for a retry scheduled an hour away", took)
	}
	h.checkLate()
	h.checkNoGiveUp("durable Close")
	h.mu.Lock()
	if rs := h.runs[slow.ID]; len(rs) != 1 || rs[0].result.Outcome != webhook.OutcomeDelivered {
		t.Errorf("the attempt under way at Close ran %d times, ending %v; want once, delivered: a durable Close lets it finish within its ctx",
			len(rs), rs[len(rs)-1].result.Outcome)
	}
	h.mu.Unlock()

	h2 := h.reopen(map[string]handler{later.ID: delivered}) // slow is finished: running it is an error
	h2.poll("the reopened queue's Stats to count the kept retry on c", func() bool {
		st := h2.stats()
		return st.Queued == 1 && st.InFlight == 0 && st.Endpoints["c"].Queued == 1
	})
	time.Sleep(50 * time.Millisecond)
	if n := h2.numRuns(later.ID); n != 0 {
		t.Errorf("the reopened queue ran a retry scheduled an hour away %d times", n)
	}
}

// testDurableCloseKeepsLeftovers: when a durable Close's context ends,
// the attempts under way are interrupted and the workers stop; Close
// returns promptly, nil (or the context's error), and gives up nothing:
// a reopened queue runs what was interrupted and holds the retry.
func testDurableCloseKeepsLeftovers(t *testing.T, h *harness) {
	later := h.delivery("c", 100, func(_ context.Context, d *webhook.Delivery, _ int) webhook.Result {
		return retry(d, time.Hour)
	})
	h.enqueue(later)
	h.waitFor("the retry to be scheduled", func() bool { return h.ranOnce(later.ID, 1) })
	var blocked []*webhook.Delivery
	for i := range 4 {
		d := h.delivery(Endpoints[i%2], i, h.blocking(nil))
		blocked = append(blocked, d)
		h.enqueue(d)
	}
	h.waitFor("an attempt under way", func() bool { return h.active > 0 })

	const closeAfter = 300 * time.Millisecond
	took, err := h.close(closeAfter)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("durable Close = %v; want nil (or an error wrapping context.DeadlineExceeded)", err)
	}
	if took > closeAfter+h.opts.Timeout/2 {
		t.Errorf("durable Close took %s after its context ended at %s", took, closeAfter)
	}
	h.checkLate()
	h.checkNoGiveUp("durable Close when its ctx ended")
	h.mu.Lock()
	var sawCancel bool
	for _, d := range blocked {
		for _, r := range h.runs[d.ID] {
			sawCancel = sawCancel || r.result.Outcome == webhook.OutcomeInterrupted
		}
	}
	h.mu.Unlock()
	if !sawCancel {
		t.Error("no attempt under way saw its context cancelled when Close's ended")
	}

	handlers := map[string]handler{later.ID: delivered}
	for _, d := range blocked {
		handlers[d.ID] = delivered
	}
	h2 := h.reopen(handlers)
	h2.waitFor("the reopened queue to run what Close kept (a new queue on the same storage resumes it)", func() bool {
		for _, d := range blocked {
			if !h2.finished[d.ID] {
				return false
			}
		}
		return true
	})
	h2.poll("the reopened queue's Stats to count the kept retry on c", func() bool {
		st := h2.stats()
		return st.Queued == 1 && st.InFlight == 0 && st.Endpoints["c"].Queued == 1
	})
	h2.checkNoGiveUp("the reopened queue")
}

// testRestartResumes: what a durable Close kept, a queue reopened on the
// same storage runs, with the Attempts counted before the restart and
// every other field as enqueued, not before the retry it was scheduled
// for; what was finished is not run again.
func testRestartResumes(t *testing.T, h *harness) {
	const delay = 300 * time.Millisecond
	// After the first run, each delivery that is asked to wait asks again
	// (Deferred does not count), so that a slow machine running it again
	// before Close changes nothing but its due time.
	scheduled := func(retries int) handler {
		return func(_ context.Context, d *webhook.Delivery, n int) webhook.Result {
			if n <= retries {
				if n == retries {
					return retry(d, delay)
				}
				return retry(d, time.Millisecond)
			}
			return deferred(delay)
		}
	}
	twice := h.delivery("c", 1, scheduled(2)) // kept with Attempts 2, due after delay
	once := h.delivery("a", 2, scheduled(1))  // kept with Attempts 1, due after delay
	done := h.delivery("d", 3, delivered)     // finished: not run again
	stuck := h.delivery("b", 4, func(ctx context.Context, d *webhook.Delivery, n int) webhook.Result {
		if n == 1 {
			return retry(d, 0)
		}
		return h.blocking(nil)(ctx, d, n) // interrupted by Close: kept with Attempts 1, due
	})
	h.enqueue(twice)
	h.waitFor("two runs of "+twice.ID, func() bool { return h.ranOnce(twice.ID, 2) })
	h.enqueue(done)
	h.waitFor("the delivery that succeeds", func() bool { return h.finished[done.ID] })
	h.enqueue(once)
	h.waitFor("the first run of "+once.ID, func() bool { return h.ranOnce(once.ID, 1) })
	h.enqueue(stuck) // last: it holds a worker, maybe the only one
	h.waitFor("the second run of "+stuck.ID+" to be under way", func() bool {
		return len(h.runs[stuck.ID]) == 2 && h.running(stuck.ID)
	})

	took, err := h.close(200 * time.Millisecond)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("durable Close after %s = %v; want nil (or an error wrapping context.DeadlineExceeded)", took, err)
	}
	h.checkLate()
	h.checkNoGiveUp("durable Close")

	kept := []*webhook.Delivery{twice, once, stuck}
	wantAttempts := map[string]int{twice.ID: 2, once.ID: 1, stuck.ID: 1}
	notBefore := map[string]time.Time{}
	h.mu.Lock()
	for _, d := range []*webhook.Delivery{twice, once} {
		rs := h.runs[d.ID]
		notBefore[d.ID] = rs[len(rs)-1].end.Add(delay)
	}
	h.mu.Unlock()

	handlers := map[string]handler{}
	for _, d := range kept {
		handlers[d.ID] = delivered
	}
	h2 := h.reopen(handlers)
	h2.waitFor("the reopened queue to run every kept delivery (a new queue on the same storage resumes what Close kept)", func() bool {
		for _, d := range kept {
			if !h2.finished[d.ID] {
				return false
			}
		}
		return true
	})
	h2.closeDrained()
	h2.mu.Lock()
	defer h2.mu.Unlock()
	for _, d := range kept {
		rs := h2.runs[d.ID]
		if len(rs) != 1 {
			t.Errorf("after the restart, %s ran %d times; want 1", d.ID, len(rs))
			continue
		}
		if rs[0].attempts != wantAttempts[d.ID] {
			t.Errorf("after the restart, %s began with Attempts %d; want %d, as counted before", d.ID, rs[0].attempts, wantAttempts[d.ID])
		}
		if nb, ok := notBefore[d.ID]; ok && rs[0].start.Before(nb) {
			t.Errorf("after the restart, %s ran %s before its retry was due", d.ID, nb.Sub(rs[0].start))
		}
	}
}

// testStats: Stats counts queued (due and scheduled, or, inline, waiting
// for a retry inside Enqueue) and in-flight deliveries, in total and per
// endpoint.
func testStats(t *testing.T, h *harness) {
	gate := make(chan struct{})
	blocking := h.blocking(gate)
	later := h.delivery("c", 100, func(_ context.Context, d *webhook.Delivery, _ int) webhook.Result {
		return retry(d, time.Hour)
	})
	h.submit(later)
	h.waitFor("the retry to be scheduled", func() bool { return h.ranOnce(later.ID, 1) })
	var blocked []*webhook.Delivery
	for i := range 3 {
		blocked = append(blocked, h.delivery("a", i, blocking))
	}
	for i := range 2 {
		blocked = append(blocked, h.delivery("b", 10+i, blocking))
	}
	for _, d := range blocked {
		h.submit(d)
	}

	want := map[string]int{"a": 3, "b": 2, "c": 1, "d": 0}
	var last webhook.QueueStats
	h.poll("Stats to count 6 held deliveries, the blocked ones in flight", func() bool {
		h.mu.Lock()
		scheduled := h.ranOnce(later.ID, 1)
		active := h.active
		h.mu.Unlock()
		if !scheduled || active == 0 {
			return false
		}
		last = h.stats()
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
		last = h.stats()
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
	if fin != len(blocked) {
		t.Errorf("%d deliveries finished; want %d", fin, len(blocked))
	}

	// Inline: the calls of the blocked deliveries returned nil; the retry's
	// is still waiting inside Enqueue, for Close to end.
	var callLater *call
	for _, c := range h.held() {
		if slices.Equal(c.ids, []string{later.ID}) {
			callLater = c
			h.mu.Lock()
			c.checked = true // looked at below
			h.mu.Unlock()
		}
	}
	h.checkCalls()

	took, err := h.close(200 * time.Millisecond)
	h.checkLate()
	if h.opts.Durable {
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("durable Close with a retry an hour away = %v; want nil (or an error wrapping context.DeadlineExceeded)", err)
		}
		h.checkNoGiveUp("durable Close")
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with a retry an hour away = %v after %s; want an error wrapping context.DeadlineExceeded", err, took)
	}
	h.checkGivenUp("Close with a retry an hour away", []string{later.ID}, webhook.ErrClosed, context.DeadlineExceeded)
	if callLater != nil {
		err := h.wait(callLater)
		h.checkJoined("inline Enqueue of the retry an hour away, ended by Close", err, callLater.ids)
	}
	h.checkEndedOnce()
}

// testConcurrentUse: many goroutines enqueue, one delivery or an event's
// several at a time, while others read Stats; every delivery runs once
// and Close drains.
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
				st, err := h.tryStats(context.Background())
				if err != nil || st.Queued < 0 || st.InFlight < 0 {
					t.Errorf("Stats = %+v, %v; want no error, no negative count", st, err)
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
			ds[g] = append(ds[g], h.delivery(Endpoints[n%len(Endpoints)], n, delivered))
		}
	}
	errs := make(chan error, goroutines*each)
	var enq sync.WaitGroup
	for g := range goroutines {
		enq.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
			defer cancel()
			batch := g%len(Endpoints) + 1 // consecutive deliveries: distinct endpoints
			for event := range slices.Chunk(ds[g], batch) {
				if err := h.tryEnqueue(ctx, event); err != nil {
					errs <- fmt.Errorf("Enqueue(%v): %w", ids(event), err)
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
				t.Errorf("delivery %s ran %d times; want 1", d.ID, n)
			}
		}
	}
}
