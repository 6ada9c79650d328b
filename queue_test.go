package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The memory queue's own promises, beyond the queuetest suite: equal
// per-endpoint shares, the per-endpoint concurrency limit, round-robin
// between endpoints, retries that hold no worker, and leftovers on Close.

// mqtWait polls cond until it holds or fails the test after timeout.
func mqtWait(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// mqtStats returns q's stats.
func mqtStats(q *MemoryQueue) QueueStats {
	st, _ := q.Stats(context.Background())
	return st
}

// mqtDelivery returns a delivery for endpoint ep.
func mqtDelivery(ep string, i int) *Delivery {
	return &Delivery{
		ID:        fmt.Sprintf("dlv_%s_%03d", ep, i),
		EventID:   fmt.Sprintf("evt_%03d", i),
		EventType: Created,
		Endpoint:  ep,
		Body:      []byte(`{}`),
	}
}

// testRunner is a Runner whose attempts run attempt and whose give-ups
// are recorded.
type testRunner struct {
	endpoints []string
	attempt   func(ctx context.Context, d *Delivery) Result

	mu      sync.Mutex
	givenUp map[string]error // by delivery ID
}

func (r *testRunner) Endpoints() []string                             { return r.endpoints }
func (r *testRunner) Attempt(ctx context.Context, d *Delivery) Result { return r.attempt(ctx, d) }
func (r *testRunner) NextRetry(*Delivery, int) (time.Duration, bool)  { return time.Millisecond, true }
func (r *testRunner) AttemptTimeout(*Delivery) time.Duration          { return time.Second }
func (r *testRunner) Prepare(context.Context, Event) (Prepared, error) {
	return Prepared{}, errors.New("not used")
}

func (r *testRunner) GiveUp(d *Delivery, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.givenUp == nil {
		r.givenUp = map[string]error{}
	}
	r.givenUp[d.ID] = err
	return fmt.Errorf("given up %s: %w", d.ID, err)
}

// gaveUp returns the IDs given up, sorted.
func (r *testRunner) gaveUp() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.givenUp))
	for id := range r.givenUp {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// mqtStart starts q with attempt and closes it at cleanup (after release,
// which unblocks the runs).
func mqtStart(t *testing.T, q *MemoryQueue, attempt func(context.Context, *Delivery) Result, endpoints ...string) *testRunner {
	t.Helper()
	r := &testRunner{endpoints: endpoints, attempt: attempt}
	require.NoError(t, q.Start(r))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Close(ctx)
	})
	return r
}

var (
	delivered = Result{Outcome: OutcomeDelivered}
	cut       = Result{Outcome: OutcomeInterrupted}
)

// mqtGate is a channel closed once, by the test or at cleanup.
type mqtGate struct {
	ch   chan struct{}
	once sync.Once
}

func mqtNewGate(t *testing.T) *mqtGate {
	g := &mqtGate{ch: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *mqtGate) open() { g.once.Do(func() { close(g.ch) }) }

// hold is an attempt that waits for the gate to open (done) or for its ctx
// to end (not done).
func (g *mqtGate) hold(ctx context.Context) Result {
	select {
	case <-g.ch:
		return delivered
	case <-ctx.Done():
		return cut
	}
}

// mqtDrain closes q with a generous context and fails the test unless it
// drained: no error and no leftovers. want completes the failure message.
func mqtDrain(t *testing.T, q *MemoryQueue, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, q.Close(ctx), want)
}

// mqtEnqueue enqueues d with a generous context and fails on error.
func mqtEnqueue(t *testing.T, q *MemoryQueue, d *Delivery) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, q.Enqueue(ctx, []*Delivery{d}), "Enqueue(%s)", d.ID)
}

// TestMemoryQueueShares: Size is split equally between the endpoints; a
// full share makes Enqueue wait for room until its ctx ends, and does not
// touch another endpoint's share.
func TestMemoryQueueShares(t *testing.T) {
	t.Parallel()
	gate := mqtNewGate(t)
	// The gate is registered before mqtStart, so it opens after Close
	// has been tried: the runs must also honour ctx.
	q := NewMemoryQueue(MemoryQueueConfig{Size: 4, Workers: 1})
	mqtStart(t, q, func(ctx context.Context, _ *Delivery) Result { return gate.hold(ctx) }, "a", "b")

	mqtEnqueue(t, q, mqtDelivery("a", 1))
	mqtEnqueue(t, q, mqtDelivery("a", 2))

	const wait = 150 * time.Millisecond
	start := time.Now() // before the deadline is set: took ≥ wait when ctx ends it
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	err := q.Enqueue(ctx, []*Delivery{mqtDelivery("a", 3)})
	took := time.Since(start)
	cancel()
	if !errors.Is(err, ErrQueueFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third Enqueue to a (share 2 of Size 4) = %v, want ErrQueueFull and context.DeadlineExceeded", err)
	}
	if took < wait {
		t.Errorf("Enqueue gave up after %s, before its ctx ended (%s)", took, wait)
	}

	// b's share is its own: two fit at once, the third does not.
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		start := time.Now()
		err := q.Enqueue(ctx, []*Delivery{mqtDelivery("b", i)})
		cancel()
		if err != nil {
			t.Fatalf("Enqueue to b while a is full = %v, want nil", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Enqueue to b waited %s while a was full", d)
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = q.Enqueue(ctx, []*Delivery{mqtDelivery("b", 3)})
	cancel()
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third Enqueue to b = %v, want ErrQueueFull", err)
	}

	st, _ := q.Stats(context.Background())
	for _, ep := range []string{"a", "b"} {
		if s := st.Endpoints[ep]; s.Queued+s.InFlight != 2 {
			t.Errorf("Stats for %s = %+v, want 2 held", ep, s)
		}
	}
	if st.Queued+st.InFlight != 4 || st.InFlight != 1 {
		t.Errorf("Stats = %+v, want 4 held, 1 in flight (one worker)", st)
	}

	// A waiting Enqueue gets in when room frees.
	mqtEnqueueWhenFreed(t, q, mqtDelivery("a", 4), gate.open, 10*time.Second)
	mqtDrain(t, q, "a drained queue")
}

// TestMemoryQueueEndpointConcurrency: no endpoint has more attempts under
// way than its limit, and each reaches it.
func TestMemoryQueueEndpointConcurrency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       MemoryQueueConfig
		endpoints []string
		limit     int
	}{
		{"explicit limit", MemoryQueueConfig{Workers: 8, EndpointConcurrency: 2}, []string{"a", "b"}, 2},
		{"default: half the workers", MemoryQueueConfig{Workers: 8}, []string{"a", "b"}, 4},
		{"default: all workers for one endpoint", MemoryQueueConfig{Workers: 4}, []string{"a"}, 4},
		{"default: at least one", MemoryQueueConfig{Workers: 1}, []string{"a", "b"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gate := mqtNewGate(t)
			var mu sync.Mutex
			cur := map[string]int{}
			peak := map[string]int{}
			q := NewMemoryQueue(tc.cfg)
			mqtStart(t, q, func(ctx context.Context, d *Delivery) Result {
				mu.Lock()
				cur[d.Endpoint]++
				peak[d.Endpoint] = max(peak[d.Endpoint], cur[d.Endpoint])
				mu.Unlock()
				defer func() {
					mu.Lock()
					cur[d.Endpoint]--
					mu.Unlock()
				}()
				return gate.hold(ctx)
			}, tc.endpoints...)
			for _, ep := range tc.endpoints {
				for i := range 3 * tc.limit {
					mqtEnqueue(t, q, mqtDelivery(ep, i))
				}
			}
			// With one worker only one endpoint can be under way.
			reach := tc.limit
			want := len(tc.endpoints)
			if tc.cfg.Workers < tc.limit*len(tc.endpoints) {
				want = tc.cfg.Workers / tc.limit
			}
			mqtWait(t, 10*time.Second, "every endpoint to reach its limit", func() bool {
				mu.Lock()
				defer mu.Unlock()
				n := 0
				for _, ep := range tc.endpoints {
					if cur[ep] == reach {
						n++
					}
				}
				return n >= want
			})
			time.Sleep(100 * time.Millisecond) // room for a worker to break the limit
			checkPeaks := func() {
				t.Helper()
				mu.Lock()
				defer mu.Unlock()
				for _, ep := range tc.endpoints {
					if peak[ep] > tc.limit {
						t.Errorf("endpoint %s had %d attempts under way, limit %d", ep, peak[ep], tc.limit)
					}
				}
			}
			checkPeaks()
			gate.open()
			mqtDrain(t, q, "a drained queue")
			checkPeaks()
		})
	}
}

// TestMemoryQueueSlowEndpointLeavesWorkers: with the default limit, an
// endpoint whose attempts all hang cannot take every worker.
func TestMemoryQueueSlowEndpointLeavesWorkers(t *testing.T) {
	t.Parallel()
	gate := mqtNewGate(t)
	fast := make(chan string, 100)
	q := NewMemoryQueue(MemoryQueueConfig{Workers: 4})
	mqtStart(t, q, func(ctx context.Context, d *Delivery) Result {
		if d.Endpoint == "fast" {
			fast <- d.ID
			return delivered
		}
		return gate.hold(ctx)
	}, "slow", "fast")
	for i := range 20 {
		mqtEnqueue(t, q, mqtDelivery("slow", i))
	}
	for i := range 10 {
		mqtEnqueue(t, q, mqtDelivery("fast", i))
	}
	for range 10 {
		select {
		case <-fast:
		case <-time.After(10 * time.Second):
			t.Fatal("a healthy endpoint's deliveries did not run while another endpoint hung")
		}
	}
	gate.open()
}

// TestMemoryQueueRoundRobin: workers take due deliveries round-robin
// across endpoints, so a short backlog is not stuck behind a long one.
func TestMemoryQueueRoundRobin(t *testing.T) {
	t.Parallel()
	gate := mqtNewGate(t)
	var mu sync.Mutex
	var order []string
	q := NewMemoryQueue(MemoryQueueConfig{Workers: 1})
	mqtStart(t, q, func(ctx context.Context, d *Delivery) Result {
		if d.Endpoint == "gate" {
			return gate.hold(ctx)
		}
		mu.Lock()
		order = append(order, d.Endpoint)
		mu.Unlock()
		return delivered
	}, "a", "b", "gate")

	// The one worker waits in the gate delivery while the backlog builds,
	// so every delivery below is due when it is freed.
	mqtEnqueue(t, q, mqtDelivery("gate", 0))
	mqtWait(t, 10*time.Second, "the gate delivery to be under way", func() bool { return mqtStats(q).InFlight == 1 })
	for i := range 100 {
		mqtEnqueue(t, q, mqtDelivery("a", i))
	}
	for i := range 10 {
		mqtEnqueue(t, q, mqtDelivery("b", i))
	}
	gate.open()
	mqtDrain(t, q, "a drained queue")
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 110 {
		t.Fatalf("ran %d deliveries, want 110", len(order))
	}
	lastA, lastB := -1, -1
	for i, ep := range order {
		switch ep {
		case "a":
			lastA = i
		case "b":
			lastB = i
		}
	}
	if lastB > lastA {
		t.Fatalf("b's last delivery ran at %d, after a's last at %d: no round-robin", lastB, lastA)
	}
	// Strict alternation finishes b within the first 20 or 21 runs.
	if lastB > 25 {
		t.Errorf("b's 10 deliveries finished only at run %d of 110 (a has 100): not round-robin; order starts %v", lastB+1, order[:30])
	}
}

// TestMemoryQueueRetryHoldsNoWorker: a Result with a Delay is run again
// no earlier than the delay, and meanwhile the only worker serves other
// deliveries.
func TestMemoryQueueRetryHoldsNoWorker(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	type run struct {
		id  string
		at  time.Time
		end time.Time
	}
	var mu sync.Mutex
	var runs []run
	firstDone := make(chan struct{})
	q := NewMemoryQueue(MemoryQueueConfig{Workers: 1})
	mqtStart(t, q, func(ctx context.Context, d *Delivery) Result {
		r := run{id: d.ID, at: time.Now()}
		first := d.Endpoint == "a" && d.Attempts == 0
		res := delivered
		if first {
			res = Result{Outcome: OutcomeRetry, Delay: delay}
		}
		r.end = time.Now()
		mu.Lock()
		runs = append(runs, r)
		mu.Unlock()
		if first {
			close(firstDone)
		}
		return res
	}, "a", "b")

	x := mqtDelivery("a", 1)
	mqtEnqueue(t, q, x)
	select {
	case <-firstDone:
	case <-time.After(10 * time.Second):
		t.Fatal("first attempt did not run")
	}
	y := mqtDelivery("b", 2)
	mqtEnqueue(t, q, y)

	mqtDrain(t, q, "a drained queue with the retry run")
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != 3 {
		t.Fatalf("runs = %+v, want x, y, x", runs)
	}
	x1, y1, x2 := runs[0], runs[1], runs[2]
	if x1.id != x.ID || y1.id != y.ID || x2.id != x.ID {
		t.Fatalf("run order %s, %s, %s; want %s, %s, %s: the one worker must serve y during x's delay",
			x1.id, y1.id, x2.id, x.ID, y.ID, x.ID)
	}
	if gap := x2.at.Sub(x1.end); gap < delay {
		t.Errorf("retry ran %s after the attempt that asked for %s", gap, delay)
	}
	if !y1.at.Before(x2.at) {
		t.Errorf("y ran at %s, not during x's delay (x re-ran at %s)", y1.at, x2.at)
	}
}

// TestMemoryQueueCloseLeftovers: when Close's ctx ends, the attempt under
// way is interrupted and every delivery not finished (under way, due, or
// waiting for a retry) is given up once, with ErrClosed and ctx.Err(), and
// Close returns ctx.Err().
func TestMemoryQueueCloseLeftovers(t *testing.T) {
	t.Parallel()
	gate := mqtNewGate(t)
	interrupted := make(chan struct{})
	var once sync.Once
	q := NewMemoryQueue(MemoryQueueConfig{Workers: 1})
	r := mqtStart(t, q, func(ctx context.Context, d *Delivery) Result {
		if d.Endpoint == "later" {
			return Result{Outcome: OutcomeRetry, Delay: time.Hour}
		}
		res := gate.hold(ctx)
		if res.Outcome == OutcomeInterrupted {
			once.Do(func() { close(interrupted) })
		}
		return res
	}, "a", "later")

	want := []string{}
	later := mqtDelivery("later", 0)
	want = append(want, later.ID)
	mqtEnqueue(t, q, later)
	mqtWait(t, 10*time.Second, "the retry to be scheduled", func() bool {
		st := mqtStats(q)
		return st.InFlight == 0 && st.Endpoints["later"].Queued == 1
	})
	for i := range 5 {
		d := mqtDelivery("a", i)
		want = append(want, d.ID)
		mqtEnqueue(t, q, d)
	}
	mqtWait(t, 10*time.Second, "an attempt under way", func() bool { return mqtStats(q).InFlight == 1 })

	const closeAfter = 200 * time.Millisecond
	start := time.Now() // before the deadline is set: took ≥ closeAfter when ctx ends it
	ctx, cancel := context.WithTimeout(context.Background(), closeAfter)
	defer cancel()
	err := q.Close(ctx)
	took := time.Since(start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, took >= closeAfter && took < 10*time.Second, "Close took %s with ctx ending at %s", took, closeAfter)
	slices.Sort(want)
	assert.Equal(t, want, r.gaveUp(), "given up: under way, due and scheduled, once each")
	for id, err := range r.givenUp {
		assert.ErrorIs(t, err, ErrClosed, id)
		assert.ErrorIs(t, err, context.DeadlineExceeded, id)
	}
	select {
	case <-interrupted:
	case <-time.After(5 * time.Second):
		t.Error("the attempt under way was not interrupted")
	}
	st := mqtStats(q)
	assert.Zero(t, st.Queued+st.InFlight, "Stats after Close")
	late := mqtDelivery("a", 99)
	assert.ErrorIs(t, q.Enqueue(context.Background(), []*Delivery{late}), ErrClosed, "Enqueue after Close")
	assert.Contains(t, r.gaveUp(), late.ID, "a delivery refused after Close is given up")
}

// TestMemoryQueueCloseIdleWithEndedContext: a drained queue has nothing
// to report, even when Close's ctx has already ended. (Found while
// testing: Close picks at random between the drained and the ctx case.)
func TestMemoryQueueCloseIdleWithEndedContext(t *testing.T) {
	t.Parallel()
	for i := range 64 {
		q := NewMemoryQueue(MemoryQueueConfig{Workers: 2})
		mqtStart(t, q, func(context.Context, *Delivery) Result { return delivered }, "a")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.NoError(t, q.Close(ctx), "Close (try %d) of an idle queue with an ended ctx", i)
	}
}

// TestMemoryQueueWaiterWakesAtFirstFreeSlot: an Enqueue waiting for its
// endpoint's full share gets the first slot that frees, even while every
// other delivery of the endpoint waits an hour for its retry. (A version
// that woke waiters only once a sixteenth of the share was free left it
// waiting until its ctx ended, with a slot free.)
func TestMemoryQueueWaiterWakesAtFirstFreeSlot(t *testing.T) {
	t.Parallel()
	q := NewMemoryQueue(MemoryQueueConfig{Workers: 4, Size: 32})
	finish := make(chan struct{})
	mqtStart(t, q, func(ctx context.Context, d *Delivery) Result {
		if d.ID == "dlv_a_000" {
			select {
			case <-finish:
			case <-ctx.Done():
				return cut
			}
			return delivered
		}
		return Result{Outcome: OutcomeRetry, Delay: time.Hour}
	}, "a")
	var ds []*Delivery
	for i := range 32 {
		ds = append(ds, mqtDelivery("a", i))
	}
	if err := q.Enqueue(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	mqtWait(t, 2*time.Second, "31 waiting for their retry, one in flight", func() bool {
		st := mqtStats(q)
		return st.InFlight == 1 && st.Queued == 31
	})
	// One slot frees: the waiter parked on the full share gets it.
	mqtEnqueueWhenFreed(t, q, mqtDelivery("a", 100), func() { close(finish) }, 4*time.Second)
	// The retries an hour away are given up at once.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = q.Close(ctx)
}

// mqtEnqueueWhenFreed enqueues d from another goroutine, where it waits
// for room; once that Enqueue has had 50 ms to park, free makes room, and
// t fails unless the Enqueue then returns nil within the time given.
func mqtEnqueueWhenFreed(t *testing.T, q *MemoryQueue, d *Delivery, free func(), within time.Duration) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), within+time.Second)
		defer cancel()
		errc <- q.Enqueue(ctx, []*Delivery{d})
	}()
	time.Sleep(50 * time.Millisecond) // the waiter parks on the full share
	free()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Enqueue waiting for room = %v, want it queued once room freed", err)
		}
	case <-time.After(within):
		t.Fatalf("Enqueue waiting for room not woken within %s of the room freed", within)
	}
}
