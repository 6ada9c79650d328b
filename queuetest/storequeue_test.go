package queuetest_test

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

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/queuetest"
)

// This file holds storeQueue, a durable queue for tests only, so that the
// suite's durable cases run in CI: its store stands for a database table
// that outlives every queue opened on it, as a restarted process would
// find it.

// rowState is where a stored delivery stands.
type rowState uint8

const (
	available rowState = iota // due now
	scheduled                 // due at row.due
	running                   // claimed by a worker
)

// row is one stored delivery.
type row struct {
	d     webhook.Delivery // a copy, Body included; Attempts is the stored count
	state rowState
	due   time.Time
	seq   uint64 // insertion order, for FIFO among rows due at once
}

// store is the storage the queues share: a mutex and a map, surviving
// the queues' Close.
type store struct {
	mu   sync.Mutex
	rows map[string]*row // by delivery ID
	seq  uint64
	wake chan struct{} // closed and replaced when a row becomes available
}

func newStore() *store {
	return &store{rows: make(map[string]*row), wake: make(chan struct{})}
}

// notify wakes the workers waiting for an available row. s.mu held.
func (s *store) notify() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// woken returns the channel closed when a row next becomes available.
func (s *store) woken() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

// insert stores ds, all or none, like a transaction that commits only if
// ctx is still alive.
func (s *store) insert(ctx context.Context, ds []*webhook.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, d := range ds {
		if s.rows[d.ID] != nil || slices.ContainsFunc(ds[:i], func(o *webhook.Delivery) bool { return o.ID == d.ID }) {
			return fmt.Errorf("duplicate delivery ID %s", d.ID)
		}
	}
	now := time.Now()
	for _, d := range ds {
		s.seq++
		r := &row{d: *d, state: available, due: now, seq: s.seq}
		r.d.Body = slices.Clone(d.Body)
		s.rows[d.ID] = r
	}
	s.notify()
	return nil
}

// claim marks the row due first as running and returns a copy of its
// delivery, as a SELECT … FOR UPDATE SKIP LOCKED would.
func (s *store) claim(now time.Time) (webhook.Delivery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next *row
	for _, r := range s.rows {
		if r.state == running || r.state == scheduled && r.due.After(now) {
			continue
		}
		if next == nil || r.due.Before(next.due) || r.due.Equal(next.due) && r.seq < next.seq {
			next = r
		}
	}
	if next == nil {
		return webhook.Delivery{}, false
	}
	next.state = running
	d := next.d
	d.Body = slices.Clone(next.d.Body)
	return d, true
}

// release puts a claimed row back, as it was, for another worker.
func (s *store) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rows[id]; r != nil && r.state == running {
		r.state = available
		s.notify()
	}
}

// settle stores what an attempt came to. It reports false for an outcome
// it does not know, whose row it deletes: the caller gives it up.
func (s *store) settle(id string, res webhook.Result) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rows[id]
	if r == nil {
		return true
	}
	if res.Counts() {
		r.d.Attempts++
	}
	now := time.Now()
	switch res.Outcome {
	case webhook.OutcomeDelivered, webhook.OutcomeFailed:
		delete(s.rows, id)
	case webhook.OutcomeRetry, webhook.OutcomeDeferred:
		if res.Delay > 0 {
			r.state, r.due = scheduled, now.Add(res.Delay)
			return true
		}
		r.state, r.due = available, now
		s.notify()
	case webhook.OutcomeInterrupted: // nothing is final: due again
		r.state, r.due = available, now
		s.notify()
	default:
		delete(s.rows, id)
		return false
	}
	return true
}

// stats counts the stored rows: running ones in flight, the others queued.
func (s *store) stats() webhook.QueueStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := webhook.QueueStats{Endpoints: make(map[string]webhook.EndpointQueueStats)}
	for _, r := range s.rows {
		e := st.Endpoints[r.d.Endpoint]
		if r.state == running {
			e.InFlight++
			st.InFlight++
		} else {
			e.Queued++
			st.Queued++
		}
		st.Endpoints[r.d.Endpoint] = e
	}
	return st
}

// storeQueue is a durable webhook.Queue on a store. Its workers poll the
// store for due rows; with none, it only inserts, as a web tier whose
// workers run in another process does.
type storeQueue struct {
	st      *store
	workers int
	poll    time.Duration

	run      webhook.Runner
	attempts context.Context // attempts run under it; cancelled when Close's ctx ends
	cancel   context.CancelFunc
	stopping chan struct{} // closed by Close: workers fetch no more
	wg       sync.WaitGroup

	mu     sync.Mutex // orders Enqueue's insert before Close
	closed bool
}

var _ webhook.Queue = (*storeQueue)(nil)

// newStoreQueue returns a queue on st with the given number of workers
// (0: insert only).
func newStoreQueue(st *store, workers int) *storeQueue {
	q := &storeQueue{st: st, workers: workers, poll: 5 * time.Millisecond, stopping: make(chan struct{})}
	q.attempts, q.cancel = context.WithCancel(context.Background())
	return q
}

// Start implements webhook.Queue.
func (q *storeQueue) Start(r webhook.Runner) error {
	if q.run != nil {
		return errors.New("storequeue: already started")
	}
	q.run = r
	q.wg.Add(q.workers)
	for range q.workers {
		go q.work()
	}
	return nil
}

// Enqueue implements webhook.Queue: it inserts ds at once, or gives them
// all up.
func (q *storeQueue) Enqueue(ctx context.Context, ds []*webhook.Delivery) error {
	if q.run == nil {
		return errors.New("storequeue: not started")
	}
	if err := ctx.Err(); err != nil {
		return q.giveUp(ds, fmt.Errorf("not stored: %w", err))
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return q.giveUp(ds, fmt.Errorf("storequeue: %w", webhook.ErrClosed))
	}
	err := q.st.insert(ctx, ds)
	q.mu.Unlock()
	if err != nil {
		return q.giveUp(ds, fmt.Errorf("not stored: %w", err))
	}
	return nil
}

func (q *storeQueue) giveUp(ds []*webhook.Delivery, err error) error {
	errs := make([]error, len(ds))
	for i, d := range ds {
		errs[i] = q.run.GiveUp(d, err)
	}
	return errors.Join(errs...)
}

// work runs due deliveries until Close.
func (q *storeQueue) work() {
	defer q.wg.Done()
	for {
		wake := q.st.woken()
		d, ok := q.st.claim(time.Now())
		select {
		case <-q.stopping:
			if ok {
				q.st.release(d.ID)
			}
			return
		default:
		}
		if !ok {
			select {
			case <-q.stopping:
				return
			case <-wake:
			case <-time.After(q.poll): // for scheduled rows coming due
			}
			continue
		}
		res := q.run.Attempt(q.attempts, &d)
		if !q.st.settle(d.ID, res) {
			q.run.GiveUp(&d, fmt.Errorf("attempt returned an unknown outcome %v", res.Outcome))
		}
	}
}

// Close implements webhook.Queue: it stops fetching, lets the attempts
// under way finish within ctx (then interrupts them), and keeps every
// other row.
func (q *storeQueue) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errors.New("storequeue: closed already")
	}
	q.closed = true
	q.mu.Unlock()
	close(q.stopping)
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		q.cancel()
		<-done
	}
	q.cancel()
	return nil
}

// Stats implements webhook.Queue: it counts the whole store, whichever
// queue inserted the rows.
func (q *storeQueue) Stats(ctx context.Context) (webhook.QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return webhook.QueueStats{}, err
	}
	return q.st.stats(), nil
}

// reopen is Options.Reopen for storeQueue: a new queue, with as many
// workers, on the closed one's store.
func reopen(_ *testing.T, closed webhook.Queue) webhook.Queue {
	q := closed.(*storeQueue)
	return newStoreQueue(q.st, q.workers)
}

// TestStoreQueue runs the suite, durable cases included, against
// storeQueue.
func TestStoreQueue(t *testing.T) {
	t.Parallel()
	queuetest.RunWithOptions(t, func(*testing.T) webhook.Queue {
		return newStoreQueue(newStore(), 4)
	}, queuetest.Options{Durable: true, Reopen: reopen, Parallel: true})
}

// TestStoreQueueOneWorker runs the suite against a storeQueue with one
// worker, where a worker held by a retry delay shows at once.
func TestStoreQueueOneWorker(t *testing.T) {
	t.Parallel()
	queuetest.RunWithOptions(t, func(*testing.T) webhook.Queue {
		return newStoreQueue(newStore(), 1)
	}, queuetest.Options{Durable: true, Reopen: reopen, Parallel: true})
}

// handlers is the work the runners of TestStoreQueueInsertOnly share, by
// delivery ID, as processes share the code of the Emitter.
type handlers struct {
	mu sync.Mutex
	m  map[string]func(n int) webhook.Result // by delivery ID; n: the run, 1 for the first
}

// runner is a webhook.Runner that records which deliveries it ran and
// gave up.
type runner struct {
	hs *handlers

	mu      sync.Mutex
	runs    map[string]int // by delivery ID
	givenUp map[string]error
}

func newRunner(hs *handlers) *runner {
	return &runner{hs: hs, runs: make(map[string]int), givenUp: make(map[string]error)}
}

func (r *runner) Endpoints() []string { return slices.Clone(queuetest.Endpoints) }

func (r *runner) Attempt(_ context.Context, d *webhook.Delivery) webhook.Result {
	r.mu.Lock()
	r.runs[d.ID]++
	n := r.runs[d.ID]
	r.mu.Unlock()
	r.hs.mu.Lock()
	fn := r.hs.m[d.ID]
	r.hs.mu.Unlock()
	if fn == nil {
		return webhook.Result{Outcome: webhook.OutcomeFailed, Err: fmt.Errorf("no handler for %s", d.ID)}
	}
	return fn(n)
}

func (r *runner) NextRetry(*webhook.Delivery, int) (time.Duration, bool) {
	return time.Millisecond, true
}

func (r *runner) GiveUp(d *webhook.Delivery, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.givenUp[d.ID] = err
	return fmt.Errorf("given up %s: %w", d.ID, err)
}

func (r *runner) Prepare(context.Context, webhook.Event) (webhook.Prepared, error) {
	return webhook.Prepared{}, errors.New("not used")
}

func (r *runner) AttemptTimeout(*webhook.Delivery) time.Duration { return time.Minute }

// ran returns the number of runs of id.
func (r *runner) ran(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[id]
}

// total returns the number of runs of all deliveries.
func (r *runner) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.runs {
		n += c
	}
	return n
}

// TestStoreQueueInsertOnly: a queue without workers (a web tier) and a
// working queue (a worker process) on one store share the work: what the
// first inserts, the second's workers run, through their own Runner.
func TestStoreQueueInsertOnly(t *testing.T) {
	t.Parallel()
	st := newStore()
	hs := &handlers{m: make(map[string]func(int) webhook.Result)}
	newDelivery := func(i int, fn func(int) webhook.Result) *webhook.Delivery {
		d := &webhook.Delivery{
			ID:        fmt.Sprintf("dlv_io_%03d", i),
			EventID:   fmt.Sprintf("evt_io_%03d", i),
			EventType: webhook.Created,
			Endpoint:  queuetest.Endpoints[i%len(queuetest.Endpoints)],
			Body:      fmt.Appendf(nil, `{"n":%d}`, i),
			CreatedAt: time.Now(),
		}
		hs.mu.Lock()
		hs.m[d.ID] = fn
		hs.mu.Unlock()
		return d
	}
	delivered := func(int) webhook.Result { return webhook.Result{Outcome: webhook.OutcomeDelivered} }
	retryOnce := func(n int) webhook.Result {
		if n == 1 {
			return webhook.Result{Outcome: webhook.OutcomeRetry, Delay: 20 * time.Millisecond, Err: errors.New("try again")}
		}
		return webhook.Result{Outcome: webhook.OutcomeDelivered}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	web, webRunner := newStoreQueue(st, 0), newRunner(hs)
	require.NoError(t, web.Start(webRunner))
	var early []*webhook.Delivery
	for i := range 8 {
		early = append(early, newDelivery(i, delivered))
	}
	require.NoError(t, web.Enqueue(ctx, early[:4]), "one event's deliveries")
	require.NoError(t, web.Enqueue(ctx, early[4:]))
	stats, err := web.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 8, stats.Queued, "the insert-only queue's Stats count the store")
	assert.Equal(t, 0, stats.InFlight)
	time.Sleep(30 * time.Millisecond)
	assert.Zero(t, webRunner.total(), "an insert-only queue runs nothing")

	worker, workerRunner := newStoreQueue(st, 2), newRunner(hs)
	require.NoError(t, worker.Start(workerRunner))
	late := []*webhook.Delivery{newDelivery(100, retryOnce), newDelivery(101, delivered)}
	require.NoError(t, web.Enqueue(ctx, late), "inserted through the web tier while the worker runs")
	own := newDelivery(200, delivered)
	require.NoError(t, worker.Enqueue(ctx, []*webhook.Delivery{own}), "a worker process may insert too")

	all := append(slices.Clone(early), append(late, own)...)
	want := map[string]int{late[0].ID: 2} // retried once; every other: 1
	require.Eventually(t, func() bool {
		for _, d := range all {
			if workerRunner.ran(d.ID) != max(want[d.ID], 1) {
				return false
			}
		}
		s, err := worker.Stats(ctx)
		return err == nil && s.Queued == 0 && s.InFlight == 0
	}, 5*time.Second, 5*time.Millisecond, "the worker runs what the web tier inserted")
	assert.Zero(t, webRunner.total(), "the insert-only queue ran nothing")

	require.NoError(t, web.Close(ctx), "Close of an insert-only queue")
	kept := newDelivery(300, delivered)
	err = web.Enqueue(ctx, []*webhook.Delivery{kept})
	require.ErrorIs(t, err, webhook.ErrClosed, "Enqueue after Close")
	webRunner.mu.Lock()
	assert.ErrorIs(t, webRunner.givenUp[kept.ID], webhook.ErrClosed, "given up by the closed queue's Runner")
	webRunner.mu.Unlock()
	require.NoError(t, worker.Close(ctx))

	time.Sleep(20 * time.Millisecond)
	for _, d := range all {
		assert.Equal(t, max(want[d.ID], 1), workerRunner.ran(d.ID), "runs of %s", d.ID)
	}
	workerRunner.mu.Lock()
	assert.Empty(t, workerRunner.givenUp, "the worker gave nothing up")
	workerRunner.mu.Unlock()
}

// TestStoreQueueInsertOnlyKeeps: deliveries an insert-only queue stored
// stay stored across its Close, for a worker process started later.
func TestStoreQueueInsertOnlyKeeps(t *testing.T) {
	t.Parallel()
	st := newStore()
	hs := &handlers{m: make(map[string]func(int) webhook.Result)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	web, webRunner := newStoreQueue(st, 0), newRunner(hs)
	require.NoError(t, web.Start(webRunner))
	d := &webhook.Delivery{ID: "dlv_keep", EventID: "evt_keep", EventType: webhook.Created, Endpoint: "a", Body: []byte(`{}`)}
	hs.m[d.ID] = func(int) webhook.Result { return webhook.Result{Outcome: webhook.OutcomeDelivered} }
	require.NoError(t, web.Enqueue(ctx, []*webhook.Delivery{d}))
	ended, cancelEnded := context.WithCancel(ctx)
	cancelEnded()
	require.NoError(t, web.Close(ended), "an insert-only queue has no attempt to wait for")

	worker, workerRunner := newStoreQueue(st, 1), newRunner(hs)
	require.NoError(t, worker.Start(workerRunner))
	require.Eventually(t, func() bool { return workerRunner.ran(d.ID) == 1 }, 5*time.Second, 5*time.Millisecond,
		"a worker started after the web tier closed runs what it stored")
	require.NoError(t, worker.Close(ctx))
	assert.Zero(t, webRunner.total())
}
