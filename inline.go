package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// inlineQueue is the Queue of Sync mode (Config.Sync): Enqueue runs every
// delivery of the event at once, each on a goroutine of its own, retrying
// within the caller's ctx (a goroutine does sleep through a retry delay
// here: it is the caller's), and returns when all are finished, with each
// one's failure joined. Nothing waits in it between calls.
type inlineQueue struct {
	run  Runner
	life context.Context // cancelled, with a cause, when Close gives up
	stop context.CancelCauseFunc

	mu        sync.Mutex
	closed    bool
	active    sync.WaitGroup // Enqueue calls under way
	stats     QueueStats     // deliveries under way, under mu
	abandoned int            // deliveries given up because Close gave up, under mu
}

var _ Queue = (*inlineQueue)(nil)

// newInlineQueue returns an inline queue, not started.
func newInlineQueue() *inlineQueue {
	q := &inlineQueue{stats: QueueStats{Endpoints: map[string]EndpointQueueStats{}}}
	q.life, q.stop = context.WithCancelCause(context.Background())
	return q
}

// Start implements Queue.
func (q *inlineQueue) Start(r Runner) error {
	if q.run != nil {
		return errors.New("inline queue: already started")
	}
	q.run = r
	return nil
}

// Enqueue implements Queue: it delivers ds before it returns: every delivery at once, each
// attempted and retried until it is finished or ctx ends.
func (q *inlineQueue) Enqueue(ctx context.Context, ds []*Delivery) error {
	if q.run == nil {
		return errors.New("inline queue: not started")
	}
	if err := ctx.Err(); err != nil {
		return giveUpAll(q.run, ds, fmt.Errorf("not sent: %w", err))
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return giveUpAll(q.run, ds, ErrClosed)
	}
	q.active.Add(1)
	defer q.active.Done()
	for _, d := range ds {
		q.count(d.Endpoint, 1, 0)
	}
	q.mu.Unlock()

	// Close giving up ends the call's deliveries too.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(q.life, func() { cancel(context.Cause(q.life)) })()
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() { errs[i] = q.deliver(ctx, d) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deliver runs d's attempts until it is finished or ctx ends, and
// returns its failure.
func (q *inlineQueue) deliver(ctx context.Context, d *Delivery) error {
	defer q.countLocked(d.Endpoint, -1, 0)
	for {
		q.countLocked(d.Endpoint, -1, 1)
		res := q.run.Attempt(ctx, d)
		q.countLocked(d.Endpoint, 1, -1)
		if res.Counts() {
			d.Attempts++
		}
		switch res.Outcome {
		case OutcomeDelivered:
			return nil
		case OutcomeFailed:
			return res.Err
		case OutcomeInterrupted:
			return q.giveUp(ctx, d, fmt.Errorf("attempt %d interrupted: %w", d.Attempts+1, context.Cause(ctx)))
		case OutcomeRetry, OutcomeDeferred:
			t := time.NewTimer(res.Delay)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return q.giveUp(ctx, d, fmt.Errorf("no retry before the context ended: %w", context.Cause(ctx)))
			}
		default:
			return q.run.GiveUp(d, fmt.Errorf("attempt returned an unknown outcome %v", res.Outcome))
		}
	}
}

// giveUp gives d up because ctx ended, counting it when Close ended it.
func (q *inlineQueue) giveUp(ctx context.Context, d *Delivery, err error) error {
	if q.life.Err() != nil && context.Cause(ctx) == context.Cause(q.life) {
		q.mu.Lock()
		q.abandoned++
		q.mu.Unlock()
	}
	return q.run.GiveUp(d, err)
}

// count adds to an endpoint's counts of queued (waiting for a retry, or
// for its first attempt) and in-flight deliveries. q.mu held.
func (q *inlineQueue) count(endpoint string, queued, inFlight int) {
	s := q.stats.Endpoints[endpoint]
	s.Queued += queued
	s.InFlight += inFlight
	q.stats.Queued += queued
	q.stats.InFlight += inFlight
	if s == (EndpointQueueStats{}) {
		delete(q.stats.Endpoints, endpoint)
		return
	}
	q.stats.Endpoints[endpoint] = s
}

func (q *inlineQueue) countLocked(endpoint string, queued, inFlight int) {
	q.mu.Lock()
	q.count(endpoint, queued, inFlight)
	q.mu.Unlock()
}

// Close implements Queue: it waits for the calls under way; when ctx ends first, their
// deliveries are interrupted and given up.
func (q *inlineQueue) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		q.stop(closedBeforeDelivery(ctx))
		<-done
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.abandoned == 0 {
			return nil
		}
		return ctx.Err()
	}
}

// Stats implements Queue: it counts the deliveries of the calls under way: in flight while
// attempted, queued while they wait for a retry.
func (q *inlineQueue) Stats(context.Context) (QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.stats
	st.Endpoints = make(map[string]EndpointQueueStats, len(q.stats.Endpoints))
	for k, v := range q.stats.Endpoints {
		st.Endpoints[k] = v
	}
	return st, nil
}
