package webhook

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryQueueConfig configures [NewMemoryQueue].
type MemoryQueueConfig struct {
	// Workers is the number of attempts run at once. Defaults to 32.
	Workers int

	// Size bounds the deliveries held (due, scheduled for a retry and in
	// flight). Each endpoint gets an equal share, so that a dead endpoint's
	// backlog never blocks events for the others; the shares are divided
	// anew when endpoints are added or removed. With many endpoints (one
	// per tenant, say) raise it: each holds Size divided by their number,
	// at least one. Defaults to 10,000.
	Size int

	// EndpointConcurrency bounds the attempts run at once for one
	// endpoint, so that a slow endpoint cannot take every worker. Defaults
	// to half the workers (all of them when there is one endpoint).
	//
	// Beyond its fair share (the workers divided by the endpoints) an
	// endpoint takes a worker only while more than an eighth of them (at
	// least one) stay free: however many endpoints hang, every endpoint
	// still gets workers up to its fair share from that reserve.
	EndpointConcurrency int
}

// Defaults of the memory queue.
const (
	DefaultWorkers   = 32
	DefaultQueueSize = 10000
)

// MemoryQueue is the default Queue: bounded, in memory, lost on a crash.
// Workers take due deliveries round-robin across endpoints, each endpoint
// within its concurrency limit; a retry waits in a timer heap, not in a
// worker.
type MemoryQueue struct {
	cfg MemoryQueueConfig
	run Runner

	ctx    context.Context // attempts run under it; cancelled when Close gives up
	cancel context.CancelFunc
	done   chan struct{} // closed when Close starts: wakes waiting Enqueues
	wake   chan struct{} // pokes the scheduler when an earlier retry arrives
	wg     sync.WaitGroup

	mu        sync.Mutex
	work      sync.Cond // workers wait here for due deliveries
	eps       map[string]*endpointQueue
	removed   map[string]bool  // endpoints removed (EndpointRemoved), not added since
	ring      []*endpointQueue // those with due deliveries, in round-robin order
	next      int
	share     int
	limit     int
	sched     schedHeap
	total     int // held: due + scheduled + in flight
	inFlight  int
	ready     int // due, waiting for a worker
	closing   bool
	aborting  bool
	drained   chan struct{} // closed once closing and total == 0
	leftovers []*Delivery   // interrupted by Close giving up
}

var _ Queue = (*MemoryQueue)(nil)

type endpointQueue struct {
	name     string
	due      []*Delivery // FIFO: due[head:] wait; the array is kept for the next when it empties
	head     int
	count    int // held for this endpoint
	inFlight int
	room     chan struct{} // closed when count drops, if anyone waits
	inRing   bool          // it has due deliveries: it is in q.ring
}

// NewMemoryQueue returns a memory queue. It starts working when an
// Emitter starts it.
func NewMemoryQueue(cfg MemoryQueueConfig) *MemoryQueue {
	cfg.Workers = cmpOr(cfg.Workers, DefaultWorkers)
	cfg.Size = cmpOr(cfg.Size, DefaultQueueSize)
	q := &MemoryQueue{
		cfg:     cfg,
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
		eps:     make(map[string]*endpointQueue),
		removed: make(map[string]bool),
		drained: make(chan struct{}),
	}
	q.work.L = &q.mu
	return q
}

func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Start implements Queue.
func (q *MemoryQueue) Start(r Runner) error {
	if q.run != nil {
		return errors.New("memory queue: already started")
	}
	q.run = r
	for _, name := range r.Endpoints() {
		q.endpoint(name)
	}
	q.divide()
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.wg.Add(q.cfg.Workers + 1)
	for range q.cfg.Workers {
		go q.worker()
	}
	go q.scheduler()
	return nil
}

// endpoint returns the endpoint's queue, making it if needed. q.mu held
// (or not yet shared).
func (q *MemoryQueue) endpoint(name string) *endpointQueue {
	eq := q.eps[name]
	if eq == nil {
		eq = &endpointQueue{name: name}
		q.eps[name] = eq
	}
	return eq
}

// divide sets each endpoint's share of the room and its concurrency
// limit from the number of endpoints. q.mu held (or not yet shared).
func (q *MemoryQueue) divide() {
	n := max(len(q.eps), 1)
	q.share = max((q.cfg.Size+n-1)/n, 1)
	q.limit = q.cfg.EndpointConcurrency
	if q.limit <= 0 {
		q.limit = q.cfg.Workers
		if n > 1 {
			q.limit = max(q.cfg.Workers/2, 1)
		}
	}
}

// EndpointAdded implements EndpointWatcher: the shares are divided
// anew, the endpoint's included.
func (q *MemoryQueue) EndpointAdded(name string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.removed, name)
	q.endpoint(name)
	q.divide()
	return nil
}

// EndpointRemoved implements EndpointWatcher: the deliveries held for the
// endpoint, due or waiting for a retry, are given up at once (their
// errors wrap ErrEndpointRemoved), on a goroutine of the queue's (Close
// waits for it), and the shares divided anew. An attempt under way ends
// as it would have, but is not tried again; a delivery enqueued for the
// endpoint from now on (by an Emit that chose its endpoints before the
// removal) is given up as well.
func (q *MemoryQueue) EndpointRemoved(name string) {
	q.mu.Lock()
	q.removed[name] = true
	eq := q.eps[name]
	if eq == nil {
		q.mu.Unlock()
		return
	}
	delete(q.eps, name)
	q.divide()
	left := eq.due[eq.head:]
	eq.due, eq.head = nil, 0
	q.ready -= len(left)
	if eq.inRing {
		q.unring(slices.Index(q.ring, eq))
	}
	kept := q.sched[:0]
	for _, s := range q.sched {
		if s.eq == eq {
			left = append(left, s.d)
		} else {
			kept = append(kept, s)
		}
	}
	clear(q.sched[len(kept):])
	q.sched = kept
	heap.Init(&q.sched)
	for range left {
		q.release(eq)
	}
	if len(left) > 0 {
		// Not on the caller's goroutine: OnFailure may call back into
		// the Emitter, which is changing its endpoints.
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			giveUpAll(q.run, left, ErrEndpointRemoved)
		}()
	}
	q.mu.Unlock()
}

// unring takes the endpoint at i out of the ring. q.mu held.
func (q *MemoryQueue) unring(i int) {
	q.ring[i].inRing = false
	q.ring = slices.Delete(q.ring, i, i+1)
	switch {
	case len(q.ring) == 0:
		q.next = 0
	case q.next > i:
		q.next--
	case q.next >= len(q.ring):
		q.next = 0
	}
}

// Enqueue implements Queue. Every delivery whose endpoint has room is
// added at once, so that a full endpoint never holds back the others;
// then each of the others waits for room until ctx ends, when it is given
// up with an error wrapping ErrQueueFull and ctx.Err().
func (q *MemoryQueue) Enqueue(ctx context.Context, ds []*Delivery) error {
	if q.run == nil {
		return errors.New("memory queue: not started")
	}
	if err := ctx.Err(); err != nil {
		return giveUpAll(q.run, ds, fmt.Errorf("not queued: %w", err))
	}
	var full, removed []*Delivery
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return giveUpAll(q.run, ds, ErrClosed)
	}
	for _, d := range ds {
		switch {
		case q.removed[d.Endpoint]:
			removed = append(removed, d)
		case !q.add(d):
			full = append(full, d)
		}
	}
	q.mu.Unlock()
	var errs []error
	if len(removed) > 0 {
		errs = append(errs, giveUpAll(q.run, removed, ErrEndpointRemoved))
	}
	for _, d := range full {
		if err := q.wait(ctx, d); err != nil {
			errs = append(errs, q.run.GiveUp(d, err))
		}
	}
	return errors.Join(errs...)
}

// add adds d if its endpoint has room. q.mu held.
func (q *MemoryQueue) add(d *Delivery) bool {
	eq := q.endpoint(d.Endpoint)
	if eq.count >= q.share {
		return false
	}
	eq.count++
	q.total++
	q.pushDue(eq, d)
	return true
}

// wait adds d once its endpoint has room, and says why not when ctx ends
// or the queue closes first.
func (q *MemoryQueue) wait(ctx context.Context, d *Delivery) error {
	q.mu.Lock()
	for {
		if q.closing {
			q.mu.Unlock()
			return ErrClosed
		}
		if q.removed[d.Endpoint] {
			q.mu.Unlock()
			return ErrEndpointRemoved
		}
		if q.add(d) {
			q.mu.Unlock()
			return nil
		}
		eq := q.eps[d.Endpoint]
		if eq.room == nil {
			eq.room = make(chan struct{})
		}
		room := eq.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-q.done:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())
		}
		q.mu.Lock()
	}
}

// keptDue is the largest array of due deliveries an endpoint's queue
// keeps when it empties.
const keptDue = 64

// pushDue makes d due for a worker. q.mu held.
func (q *MemoryQueue) pushDue(eq *endpointQueue, d *Delivery) {
	if len(eq.due) == cap(eq.due) && eq.head >= len(eq.due)/2 && eq.head > 0 {
		// Move what waits to the front rather than grow.
		n := copy(eq.due, eq.due[eq.head:])
		clear(eq.due[n:])
		eq.due, eq.head = eq.due[:n], 0
	}
	eq.due = append(eq.due, d)
	q.becameDue(eq)
}

// pushFront makes d due for a worker before every other delivery of its
// endpoint. q.mu held.
func (q *MemoryQueue) pushFront(eq *endpointQueue, d *Delivery) {
	if eq.head > 0 {
		eq.head--
		eq.due[eq.head] = d
	} else {
		eq.due = slices.Insert(eq.due, 0, d)
	}
	q.becameDue(eq)
}

// becameDue counts a delivery just made due for eq, puts eq in the ring
// if it was not, and wakes a worker. q.mu held.
func (q *MemoryQueue) becameDue(eq *endpointQueue) {
	if !eq.inRing {
		eq.inRing = true
		q.ring = append(q.ring, eq)
	}
	q.ready++
	q.work.Signal()
}

// release forgets a finished delivery. q.mu held.
func (q *MemoryQueue) release(eq *endpointQueue) {
	eq.count--
	q.total--
	if eq.room != nil {
		close(eq.room)
		eq.room = nil
	}
	if q.closing && q.total == 0 {
		q.markDrained()
	}
}

func (q *MemoryQueue) markDrained() {
	select {
	case <-q.drained:
	default:
		close(q.drained)
		q.work.Broadcast()
		q.poke()
	}
}

func (q *MemoryQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the next due delivery round-robin across endpoints under
// their limits. q.mu held.
func (q *MemoryQueue) take() (*Delivery, *endpointQueue) {
	if q.ready == 0 {
		return nil, nil
	}
	// Beyond its fair share an endpoint may not take the reserve: the
	// workers kept for endpoints below theirs (see EndpointConcurrency).
	fair := max(q.cfg.Workers/max(len(q.eps), 1), 1)
	reserve := max(q.cfg.Workers/8, 1)
	overReserve := q.cfg.Workers-q.inFlight > reserve // this worker is free
	for i := range q.ring {
		at := (q.next + i) % len(q.ring)
		eq := q.ring[at]
		if eq.inFlight >= q.limit || (eq.inFlight >= fair && !overReserve) {
			continue
		}
		q.next = (at + 1) % len(q.ring)
		d := eq.due[eq.head]
		eq.due[eq.head] = nil
		eq.head++
		if eq.head == len(eq.due) {
			// Empty: keep a small array for the next deliveries, and let
			// a burst's go.
			eq.head = 0
			if cap(eq.due) > keptDue {
				eq.due = nil
			} else {
				eq.due = eq.due[:0]
			}
			q.unring(at)
		}
		q.ready--
		return d, eq
	}
	return nil, nil
}

func (q *MemoryQueue) stopping() bool {
	if q.aborting {
		return true
	}
	select {
	case <-q.drained:
		return true
	default:
		return false
	}
}

func (q *MemoryQueue) worker() {
	defer q.wg.Done()
	// Each attempt's context (its endpoint's Timeout) is a child of this
	// worker's own, not of q.ctx: registering with a parent takes the
	// parent's lock, which every worker would share. The worker's
	// attempts reuse one such context and timer (see attemptDeadlines).
	ctx, cancel := context.WithCancel(q.ctx)
	defer cancel()
	ctx, release := withAttemptDeadlines(ctx)
	defer release()
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.aborting {
			return // abort collects what is left
		}
		d, eq := q.take()
		if d == nil {
			if q.stopping() {
				return
			}
			q.work.Wait()
			continue
		}
		eq.inFlight++
		q.inFlight++
		if q.ready > 0 {
			q.work.Signal()
		}
		q.mu.Unlock()
		res := q.run.Attempt(ctx, d)
		if res.Counts() {
			d.Attempts++
		}
		q.mu.Lock()
		eq.inFlight--
		q.inFlight--
		q.settle(eq, d, res)
	}
}

// settle does what an attempt's result asks. q.mu held.
func (q *MemoryQueue) settle(eq *endpointQueue, d *Delivery, res Result) {
	switch {
	case res.Finished():
		q.release(eq)
	case q.eps[eq.name] != eq && !q.aborting:
		// Its endpoint was removed during the attempt (and its name
		// perhaps taken since by another): it is not tried again.
		q.release(eq)
		q.mu.Unlock()
		q.run.GiveUp(d, ErrEndpointRemoved)
		q.mu.Lock()
	case q.aborting:
		q.leftovers = append(q.leftovers, d)
		q.release(eq)
	case res.Outcome == OutcomeRetry || res.Outcome == OutcomeDeferred:
		if res.Delay <= 0 {
			q.pushDue(eq, d)
			return
		}
		heap.Push(&q.sched, scheduled{due: time.Now().Add(res.Delay), d: d, eq: eq})
		if q.sched[0].d == d {
			q.poke()
		}
	case res.Outcome == OutcomeInterrupted:
		q.pushDue(eq, d) // only Close interrupts: this is not reached
	default:
		// A Runner that says nothing we know: give the delivery up rather
		// than lose it or spin on it.
		q.release(eq)
		q.mu.Unlock()
		q.run.GiveUp(d, fmt.Errorf("attempt returned an unknown outcome %v", res.Outcome))
		q.mu.Lock()
	}
}

// scheduler moves retries whose time has come to their endpoint's FIFO.
func (q *MemoryQueue) scheduler() {
	defer q.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		if q.stopping() {
			q.mu.Unlock()
			return
		}
		now := time.Now()
		var back []scheduled
		for len(q.sched) > 0 && !q.sched[0].due.After(now) {
			back = append(back, heap.Pop(&q.sched).(scheduled))
		}
		// A delivery whose time has come goes before those never tried
		// (its turn under a RateLimit is now, not after them); those
		// that come back together keep their order.
		for _, s := range slices.Backward(back) {
			q.pushFront(s.eq, s.d)
		}
		wait := time.Hour
		if len(q.sched) > 0 {
			wait = q.sched[0].due.Sub(now)
		}
		q.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-q.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

// Close implements Queue: it drains, or, when ctx ends first, gives up
// what is left.
func (q *MemoryQueue) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return errors.New("memory queue: closed already")
	}
	q.closing = true
	close(q.done)
	if q.total == 0 {
		q.markDrained()
	}
	started := q.run != nil
	q.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-q.drained:
	default:
		select {
		case <-q.drained:
		case <-ctx.Done():
			return q.abort(ctx)
		}
	}
	q.wg.Wait()
	q.cancel()
	return nil
}

// abort ends a Close whose ctx ended first: attempts under way are
// interrupted and every delivery not finished is given up.
func (q *MemoryQueue) abort(ctx context.Context) error {
	q.mu.Lock()
	q.aborting = true
	q.work.Broadcast()
	q.poke()
	q.mu.Unlock()
	q.cancel()
	q.wg.Wait()

	q.mu.Lock()
	left := q.leftovers
	q.leftovers = nil
	for _, eq := range q.eps {
		left = append(left, eq.due[eq.head:]...)
		eq.due, eq.head = nil, 0
		eq.count, eq.inFlight = 0, 0
		eq.inRing = false
	}
	q.ring, q.next = nil, 0
	for _, s := range q.sched {
		left = append(left, s.d)
	}
	q.sched = nil
	q.total, q.ready, q.inFlight = 0, 0, 0
	q.mu.Unlock()
	if len(left) == 0 {
		return nil
	}
	giveUpAll(q.run, left, closedBeforeDelivery(ctx))
	return ctx.Err()
}

// Stats implements Queue.
func (q *MemoryQueue) Stats(context.Context) (QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := QueueStats{
		Queued:    q.total - q.inFlight,
		InFlight:  q.inFlight,
		Endpoints: make(map[string]EndpointQueueStats, len(q.eps)),
	}
	for name, eq := range q.eps {
		st.Endpoints[name] = EndpointQueueStats{Queued: eq.count - eq.inFlight, InFlight: eq.inFlight}
	}
	return st, nil
}

// scheduled is a delivery waiting for its retry time.
type scheduled struct {
	due time.Time
	d   *Delivery
	eq  *endpointQueue
}

// schedHeap is a min-heap of scheduled retries by due time.
type schedHeap []scheduled

func (h schedHeap) Len() int           { return len(h) }
func (h schedHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h schedHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *schedHeap) Push(x any)        { *h = append(*h, x.(scheduled)) }
func (h *schedHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = scheduled{}
	*h = old[:len(old)-1]
	return s
}
