package webhook

import (
	"context"
	"io"
	"sync"
	"time"
)

// attemptDeadlines give one memory-queue worker's attempts their
// endpoint's Timeout without a new context and timer for each. An
// attempt's own context.WithTimeout costs a context, a timer, a Done
// channel and, once net/http's Transport derives its request context from
// it, a map of children: seven allocations and 640 bytes more than a
// request under a context that is never cancelled. Here one
// context, derived from the worker's, serves attempt after attempt until
// a timeout cancels it, and one timer is re-armed for each attempt. The
// request's GetBody func is made once too, for the body of the attempt
// running: net/http calls it only inside RoundTrip, on the worker's
// goroutine.
//
// The context is only handed to the Transport New made itself (see
// attemptContext): net/http releases what it derives from a request's
// context when the request ends, but a RoundTripper of the user's, or a
// Proxy func or protocol of a Transport the user set up, might register
// with it and never let go, in a context that is never cancelled.
type attemptDeadlines struct {
	parent  context.Context               // the worker's context, carrying d; the only one d serves
	timer   *time.Timer                   // calls expire; armed while an attempt runs
	body    []byte                        // the running attempt's body: set by start, read by getBody on the attempt's goroutine
	getBody func() (io.ReadCloser, error) // a new reader of body: the request's GetBody

	mu     sync.Mutex
	ctx    context.Context // derived from parent; replaced once cancelled
	cancel context.CancelCauseFunc
	busy   bool      // an attempt is using ctx
	until  time.Time // its deadline
}

type deadlinesKey struct{}

// withAttemptDeadlines returns ctx carrying reusable attempt deadlines
// for the attempts made under it, and the func that releases them.
func withAttemptDeadlines(ctx context.Context) (context.Context, func()) {
	d := new(attemptDeadlines)
	d.parent = context.WithValue(ctx, deadlinesKey{}, d)
	d.timer = time.AfterFunc(time.Hour, d.expire)
	d.timer.Stop()
	d.getBody = func() (io.ReadCloser, error) { return requestBody(d.body), nil }
	return d.parent, d.release
}

// start returns the context of an attempt of body that must end within
// timeout, and true; each such start is followed by one stop, and
// d.getBody reads body until then. While another attempt uses the context
// (a Runner of the user's calling Attempt concurrently with the worker's
// context), it returns false, and the attempt must get a context and a
// GetBody of its own.
func (d *attemptDeadlines) start(timeout time.Duration, body []byte) (context.Context, bool) {
	d.mu.Lock()
	if d.busy {
		d.mu.Unlock()
		return nil, false
	}
	if d.ctx == nil || d.ctx.Err() != nil {
		d.ctx, d.cancel = context.WithCancelCause(d.parent)
	}
	d.busy, d.until, d.body = true, time.Now().Add(timeout), body
	ctx := d.ctx
	d.mu.Unlock()
	d.timer.Reset(timeout)
	return ctx, true
}

// stop ends the attempt start began.
func (d *attemptDeadlines) stop() {
	d.timer.Stop()
	d.mu.Lock()
	d.busy, d.body = false, nil
	d.mu.Unlock()
}

// expire cancels the context of an attempt past its deadline, with
// context.DeadlineExceeded as the cause. A timer that fires late, for an
// attempt already over, finds none running or one whose deadline is still
// ahead, and does nothing.
func (d *attemptDeadlines) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy && !time.Now().Before(d.until) {
		d.cancel(context.DeadlineExceeded)
	}
}

// release stops the timer and cancels the context, once the worker has
// made its last attempt.
func (d *attemptDeadlines) release() {
	d.timer.Stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		d.cancel(context.Canceled)
	}
}

// attemptContext returns the context of an attempt of body to ep under
// ctx, ending after ep's Timeout, and what ends it: the reused deadlines
// of the worker whose context ctx is (whose getBody then reads body), or
// else the cancel func of a context made for this attempt. Either way the
// context's cause, once the Timeout has passed, is
// context.DeadlineExceeded (see timedOut).
func attemptContext(ctx context.Context, ep *endpoint, body []byte) (context.Context, *attemptDeadlines, context.CancelFunc) {
	if ep.reuseContext {
		if d, _ := ctx.Value(deadlinesKey{}).(*attemptDeadlines); d != nil && d.parent == ctx {
			if actx, ok := d.start(ep.timeout, body); ok {
				return actx, d, nil
			}
		}
	}
	actx, cancel := context.WithTimeout(ctx, ep.timeout)
	return actx, nil, cancel
}

// timedOut reports whether the attempt context actx ended because its
// endpoint's Timeout passed.
func timedOut(actx context.Context) bool {
	return context.Cause(actx) == context.DeadlineExceeded
}
