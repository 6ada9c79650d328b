package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Delivery is one event bound for one endpoint: the unit a Queue holds
// and an attempt sends. Its body is fixed when the event is emitted.
type Delivery struct {
	ID        string    // "dlv_…", also its DeliveryLog's ID
	EventID   string    // the event id: the same on every attempt and every endpoint
	EventType EventType // the event's type
	Endpoint  string    // the endpoint's name
	Body      []byte    // the body, signed afresh at each attempt; shared, never modified
	CreatedAt time.Time // when the event was emitted (or redelivered); its deadline counts from it

	// Attempts is the number of attempts counted so far: 0 when the
	// delivery is made. The Queue keeps it: it adds one after each
	// attempt whose Result counts ([Result.Counts]), and a durable queue
	// sets it from its own count when it loads the delivery. Nothing else
	// changes a Delivery once it is enqueued.
	Attempts int

	// LastAnswer is the last answer an earlier attempt got, nil when
	// none did. A durable queue sets it, as Attempts, when it loads the
	// delivery (from the log it stored), so that a later attempt that gets
	// no answer (a timeout) reports the last one there was; the in-process
	// queues leave it nil: the Emitter keeps the answer itself.
	LastAnswer *Answer
}

// Answer is an HTTP answer to an attempt: its status code, and the start
// of its body as the delivery log keeps it.
type Answer struct {
	StatusCode int
	Body       string
}

// Outcome is what one attempt of a delivery came to.
type Outcome uint8

// The outcomes of an attempt. Delivered and Failed finish the delivery;
// Retry and Deferred ask for another attempt after Result.Delay;
// Interrupted leaves the delivery as it was.
const (
	// OutcomeDelivered: the endpoint answered 2xx.
	OutcomeDelivered Outcome = iota + 1

	// OutcomeRetry: the attempt failed and counts against the delivery's
	// retries; the next one is due after Result.Delay (RetryConfig's
	// schedule, with the endpoint's Retry-After as a floor).
	OutcomeRetry

	// OutcomeDeferred: no attempt was made, because the endpoint's circuit
	// is open; it does not count. The next try is due after Result.Delay.
	OutcomeDeferred

	// OutcomeFailed: the delivery is given up for good: it has been
	// logged, recorded and reported to OnFailure already. (It counts,
	// though the endpoint may have been gone and no request made: the
	// delivery is finished either way.)
	OutcomeFailed

	// OutcomeInterrupted: the attempt's context ended (the queue is
	// stopping, a Sync caller's deadline passed) before it had an answer.
	// It does not count and nothing is final: a durable queue keeps the
	// delivery for its next start; the memory queue gives it up only when
	// Close gives up.
	OutcomeInterrupted
)

var outcomeNames = [...]string{"", "delivered", "retry", "deferred", "failed", "interrupted"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o != 0 {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", o)
}

// Result is what an attempt tells its Queue.
type Result struct {
	Outcome Outcome

	// Delay is when the next attempt is due, counted from now, for
	// OutcomeRetry and OutcomeDeferred. The queue must not tie up a
	// worker while it waits.
	Delay time.Duration

	// Err is a *DeliveryError saying what went wrong, for every outcome
	// but OutcomeDelivered and OutcomeDeferred.
	Err error
}

// Counts reports whether the attempt counts: the queue adds it to
// Delivery.Attempts. Deferred and interrupted attempts do not.
func (r Result) Counts() bool {
	return r.Outcome == OutcomeDelivered || r.Outcome == OutcomeRetry || r.Outcome == OutcomeFailed
}

// Finished reports whether the delivery is finished (delivered, or
// failed and reported): the queue forgets it.
func (r Result) Finished() bool {
	return r.Outcome == OutcomeDelivered || r.Outcome == OutcomeFailed
}

// Runner is the Emitter's side of the seam: what a Queue calls to shape,
// run, schedule and give up deliveries. New hands one to [Queue.Start].
// Its methods are safe for concurrent use.
//
// Every delivery a queue takes ends through the Runner exactly once: in
// an Attempt whose Result is finished, or in GiveUp.
type Runner interface {
	// Endpoints names the endpoints deliveries may be bound for now. A
	// queue that implements EndpointWatcher hears of later changes.
	Endpoints() []string

	// Attempt makes attempt number d.Attempts+1 of d: it signs the body
	// afresh, sends it, records the outcome in the delivery log, in the
	// endpoint's circuit breaker and monitor, and, once the delivery is
	// given up, reports it to OnFailure. It never modifies d. When ctx ends
	// first, nothing counts and it returns OutcomeInterrupted: ctx is the
	// queue's, to stop with, not a bound on the attempt (see
	// AttemptTimeout).
	Attempt(ctx context.Context, d *Delivery) Result

	// AttemptTimeout returns the longest an attempt of d takes: its
	// endpoint's Timeout, which bounds the whole attempt (an OAuth2 token
	// fetch and a re-sent 401 included). A queue that bounds attempts
	// itself (River's Worker.Timeout) must allow at least this: an attempt
	// whose ctx ends first is interrupted, which counts against nothing,
	// so it would be tried again and again without ever failing.
	AttemptTimeout(d *Delivery) time.Duration

	// NextRetry returns the delay the endpoint's RetryConfig puts between
	// failed attempt number n of d and the next (jittered, without the
	// Retry-After floor that Result.Delay includes), and false when
	// attempt n was the last the RetryConfig allows.
	NextRetry(d *Delivery, n int) (time.Duration, bool)

	// GiveUp fails d for a reason outside any attempt (no room, the queue
	// closing, a failed insert): the delivery log records it as failed,
	// the logger and OnFailure hear of it, as after a last attempt. It
	// returns the *DeliveryError it reported, which names the endpoint and
	// wraps err.
	GiveUp(d *Delivery, err error) error

	// Prepare turns ev into its deliveries, one per endpoint that wants
	// it, with their bodies shaped and fixed, as Emit does but with no
	// side effect: nothing is logged, recorded or reported. A durable
	// queue inserts the deliveries in the host's transaction and, once it
	// commits, gives up the ones in Prepared.Failed. Its error is about
	// the event as a whole, as Emit's (no deliveries then).
	Prepare(ctx context.Context, ev Event) (Prepared, error)
}

// Prepared is an event turned into its deliveries by [Runner.Prepare].
type Prepared struct {
	// Deliveries are those whose bodies were built: enqueue them.
	Deliveries []*Delivery

	// Failed are those whose bodies could not be built (a Transform
	// error or panic, a body over MaxBodyBytes). Nothing has reported
	// them yet: once the event is committed, give each up with
	// Runner.GiveUp(f.Delivery, f.Err), as Emit does at once.
	Failed []ShapeFailure
}

// ShapeFailure is a delivery whose body could not be built.
type ShapeFailure struct {
	Delivery *Delivery // its Body is nil
	Err      error     // a *DeliveryError naming the endpoint
}

// Err returns the errors of Failed, joined: what Emit returns for them.
func (p Prepared) Err() error {
	errs := make([]error, len(p.Failed))
	for i, f := range p.Failed {
		errs[i] = f.Err
	}
	return errors.Join(errs...)
}

// Queue holds deliveries until their attempts are due and runs them
// through the Emitter's [Runner]. The memory queue ([MemoryQueue]) is the
// default; Sync mode runs an inline one inside Emit; durable queues live
// in their own modules. A Queue is used by one Emitter. Every
// implementation must pass [github.com/hookrail/webhook/queuetest.Run].
type Queue interface {
	// Start is called once, by New, before any other method. A queue
	// that runs no workers of its own (a web tier that only inserts,
	// while other processes run the attempts) keeps r for GiveUp and
	// Prepare.
	Start(r Runner) error

	// Enqueue takes the deliveries of one event, all of them in one call
	// so that a durable queue can store them at once. It honours ctx like
	// any Go call: a delivery it has not taken when ctx ends, or at all
	// when ctx has ended before the call, is not taken. A delivery it
	// does not take (ctx ended, no room, closed, a failed insert) it
	// gives up with the Runner's GiveUp before returning, and its error
	// joins what GiveUp returned for each. After Close it takes none:
	// their errors wrap ErrClosed.
	Enqueue(ctx context.Context, ds []*Delivery) error

	// Close stops accepting and wakes any Enqueue that waits. A memory
	// queue then waits until every delivery is finished (scheduled
	// retries included); if ctx ends first, it interrupts the attempts
	// under way, gives up every delivery left with GiveUp (their errors
	// wrapping ErrClosed and ctx.Err()) and returns ctx.Err(), or nil
	// when nothing was left. A durable queue stops fetching, lets attempts
	// under way finish within ctx (interrupting them when it ends), keeps
	// everything else for its next start and returns nil. Neither returns
	// while an Attempt is under way. Either returns its own failures to
	// close (a database pool, say).
	Close(ctx context.Context) error

	// Stats reports what the queue holds, in total and per endpoint.
	Stats(ctx context.Context) (QueueStats, error)
}

// EndpointWatcher is implemented by a Queue that keeps something per
// endpoint (the memory queue its shares, a River queue a River queue per
// endpoint). After New, the Emitter tells it of every endpoint added or
// removed at runtime ([Emitter.AddEndpoint], [Emitter.RemoveEndpoint],
// or a change another process stored in the [EndpointStore]); the names
// Runner.Endpoints gave at Start need no call.
type EndpointWatcher interface {
	// EndpointAdded is called before the endpoint takes its first
	// delivery. An error stops AddEndpoint, which returns it.
	EndpointAdded(name string) error

	// EndpointRemoved is called once the endpoint takes no more
	// deliveries. The deliveries the queue still holds for it can be
	// given up at once, with Runner.GiveUp and an error wrapping
	// ErrEndpointRemoved; an Attempt of one fails it in any case.
	EndpointRemoved(name string)
}

// QueueStats counts deliveries a Queue holds.
type QueueStats struct {
	Queued    int                           `json:"queued"`    // waiting: due, or scheduled for a retry
	InFlight  int                           `json:"in_flight"` // being attempted
	Endpoints map[string]EndpointQueueStats `json:"endpoints"` // by endpoint name
}

// EndpointQueueStats counts one endpoint's deliveries in a Queue.
type EndpointQueueStats struct {
	Queued   int `json:"queued"`    // waiting: due, or scheduled for a retry
	InFlight int `json:"in_flight"` // being attempted
}

// closedBeforeDelivery is why a delivery left when Close gave up is
// given up.
func closedBeforeDelivery(ctx context.Context) error {
	return fmt.Errorf("%w before delivery: %w", ErrClosed, ctx.Err())
}

// giveUpAll gives up every delivery of ds and returns the errors joined.
func giveUpAll(r Runner, ds []*Delivery, err error) error {
	errs := make([]error, 0, len(ds))
	for _, d := range ds {
		errs = append(errs, r.GiveUp(d, err))
	}
	return errors.Join(errs...)
}
