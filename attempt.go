package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// runner is the Emitter's Runner, which New hands to its Queue. Its
// methods are the Emitter's attempt engine; they are not the Emitter's
// own API.
type runner struct{ e *Emitter }

var _ Runner = runner{}

// Endpoints implements Runner.
func (r runner) Endpoints() []string {
	set := r.e.eps.Load()
	names := make([]string, len(set.all))
	for i, ep := range set.all {
		names[i] = ep.Name
	}
	return names
}

// Attempt implements Runner.
func (r runner) Attempt(ctx context.Context, d *Delivery) Result { return r.e.attempt(ctx, d) }

// AttemptTimeout implements Runner.
func (r runner) AttemptTimeout(d *Delivery) time.Duration {
	if ep := r.e.endpoint(d.Endpoint); ep != nil {
		return ep.timeout
	}
	return r.e.cfg.Timeout
}

// NextRetry implements Runner.
func (r runner) NextRetry(d *Delivery, n int) (time.Duration, bool) {
	ep := r.e.endpoint(d.Endpoint)
	if ep == nil || n > ep.retry.maxRetries {
		return 0, false
	}
	return ep.retry.backoff(max(n, 1), 0), true
}

// GiveUp implements Runner.
func (r runner) GiveUp(d *Delivery, err error) error { return r.e.giveUp(d, err) }

// Prepare implements Runner.
func (r runner) Prepare(ctx context.Context, ev Event) (Prepared, error) {
	e := r.e
	if !e.enter() {
		return Prepared{}, errClosed
	}
	defer e.leave()
	return e.prepare(ctx, &ev)
}

// attempt makes attempt number d.Attempts+1 of d, records it and decides
// what comes next. It is the one place an attempt's outcome is decided.
func (e *Emitter) attempt(ctx context.Context, d *Delivery) Result {
	n := d.Attempts + 1
	ep := e.endpoint(d.Endpoint)
	var err error
	if ep == nil {
		err = e.missing(d.Endpoint)
	} else {
		err = ep.unavailable()
	}
	if err != nil {
		return e.fail(d, e.deliveryError(d, err), "")
	}
	if ctx.Err() != nil {
		// Close gave up, or a Sync caller's ctx ended, before this attempt
		// began: nothing is sent and nothing counts.
		return interrupted(d, n, fmt.Errorf("interrupted before it began: %w", context.Cause(ctx)))
	}
	if ep.paused.Load() {
		// Held, as long as the pause lasts: not counted, not given up.
		return Result{Outcome: OutcomeDeferred, Delay: pausedRecheck}
	}
	if ep.pace != nil {
		if wait := ep.pace.wait(d.ID, time.Now()); wait > 0 {
			// Over the RateLimit: back to the queue until its turn.
			return Result{Outcome: OutcomeDeferred, Delay: wait}
		}
	}
	wait, probe, ok := ep.admit(e.breaker)
	if !ok {
		left := ep.window - e.now().Sub(d.CreatedAt)
		if d.CreatedAt.IsZero() {
			left = ep.window // a queue that lost it: from now
		}
		if left <= 0 {
			return e.fail(d, e.deliveryError(d, ErrCircuitOpen), "")
		}
		return Result{Outcome: OutcomeDeferred, Delay: min(wait, left)}
	}
	if e.obs == nil {
		var tried AttemptRecord
		return e.sendAttempt(ctx, ep, d, n, probe, &tried)
	}
	actx := e.obs.AttemptStarted(ctx, d, n)
	var tried AttemptRecord
	res := e.sendAttempt(actx, ep, d, n, probe, &tried)
	e.obs.AttemptEnded(actx, d, tried, res)
	return res
}

// sendAttempt sends attempt n of d, which the endpoint's circuit admitted
// (probe: as its probe), records it in tried and the log, and decides what
// comes next.
func (e *Emitter) sendAttempt(ctx context.Context, ep *endpoint, d *Delivery, n int, probe bool, tried *AttemptRecord) Result {
	t0 := time.Now()
	at := e.timeAt(t0)
	s := e.send(ctx, ep, d, at)
	*tried = AttemptRecord{Attempt: n, At: at.UTC(), Duration: time.Since(t0), StatusCode: s.status}
	if s.interrupted {
		// The attempt's own context ended, not the endpoint: it counts
		// for neither the breaker nor the monitor.
		ep.abandon(probe)
		return interrupted(d, n, s.err)
	}
	if s.status != 0 && s.err != nil && e.inProcess {
		e.answers.Store(d.ID, answer{s.status, s.response, n})
	}
	alert, changed := ep.observe(e.breaker, &e.cfg.Monitor, s, probe)
	if s.err == nil {
		if changed != "" {
			e.circuitChanged(d.Endpoint, changed, nil)
		}
		e.record(d, n, StatusDelivered, s.status, "", "", tried, time.Time{})
		return Result{Outcome: OutcomeDelivered}
	}
	derr := &DeliveryError{Endpoint: d.Endpoint, EventID: d.EventID, Attempt: n, StatusCode: s.status, Err: s.err}
	if s.err == errStatus {
		derr.Err = nil
	}
	if changed != "" {
		e.circuitChanged(d.Endpoint, changed, derr)
	}
	e.alert(alert, d.Endpoint, derr)
	if errors.Is(s.err, ErrEndpointGone) && ep.gone.CompareAndSwap(false, true) {
		e.logger.Warn("webhook endpoint answered 410 Gone: disabled until EnableEndpoint", "endpoint", d.Endpoint)
	}
	if s.retryable && n <= ep.retry.maxRetries {
		delay := ep.retry.backoff(n, s.retryAfter)
		msg := derr.Error()
		tried.Error = msg
		e.record(d, n, StatusRetrying, s.status, msg, s.response, tried, tried.At.Add(tried.Duration+delay))
		e.logger.Debug("webhook attempt failed; retry scheduled", "endpoint", d.Endpoint,
			"event_id", d.EventID, "delivery_id", d.ID, "attempt", n, "retry_in", delay, "error", derr)
		return Result{Outcome: OutcomeRetry, Delay: delay, Err: derr}
	}
	tried.Error = derr.Error()
	return e.failTried(d, derr, s.response, tried)
}

func interrupted(d *Delivery, n int, err error) Result {
	return Result{Outcome: OutcomeInterrupted, Err: &DeliveryError{Endpoint: d.Endpoint, EventID: d.EventID, Attempt: n, Err: err}}
}

// answer is a delivery's last answer: status code, the start of the body,
// and the attempt that got it.
type answer struct {
	code     int
	response string
	attempt  int
}

// deliveryError is the error of d given up between attempts, for err. An
// err that is d's DeliveryError already is kept as it is.
func (e *Emitter) deliveryError(d *Delivery, err error) *DeliveryError {
	var de *DeliveryError
	if errors.As(err, &de) && de.Endpoint == d.Endpoint && de.EventID == d.EventID {
		return de
	}
	de = &DeliveryError{Endpoint: d.Endpoint, EventID: d.EventID, Attempt: d.Attempts, Err: err}
	if a, ok := e.lastAnswer(d); ok && a.attempt == d.Attempts {
		de.StatusCode = a.code
	}
	return de
}

// lastAnswer returns the last answer d got: the one the Emitter keeps
// while the delivery is under way in this process, else the one its
// durable queue loaded with it.
func (e *Emitter) lastAnswer(d *Delivery) (answer, bool) {
	if a, ok := e.answers.Load(d.ID); ok {
		return a.(answer), true
	}
	if d.LastAnswer != nil && d.LastAnswer.StatusCode != 0 {
		return answer{d.LastAnswer.StatusCode, d.LastAnswer.Body, d.Attempts}, true
	}
	return answer{}, false
}

// giveUp fails d for a reason outside any attempt and returns the error
// it reported.
func (e *Emitter) giveUp(d *Delivery, err error) error {
	derr := e.deliveryError(d, err)
	e.fail(d, derr, "")
	return derr
}

// fail gives d up: delivery log, log line, OnFailure. Every delivery that
// is not delivered ends here exactly once. derr.Attempt is the attempts
// made; a delivery given up because the queue closed (derr wraps
// ErrClosed, once Close has begun) counts for Close's UndeliveredError.
func (e *Emitter) fail(d *Delivery, derr *DeliveryError, response string) Result {
	return e.failTried(d, derr, response, nil)
}

// failTried is fail after the attempt tried (nil: none).
func (e *Emitter) failTried(d *Delivery, derr *DeliveryError, response string, tried *AttemptRecord) Result {
	if e.closing.Load() && errors.Is(derr, ErrClosed) {
		e.abandoned.Add(1)
	}
	code := e.record(d, derr.Attempt, StatusFailed, derr.StatusCode, derr.Error(), response, tried, time.Time{})
	e.logger.Error("webhook delivery failed", "endpoint", d.Endpoint, "event_id", d.EventID,
		"delivery_id", d.ID, "attempts", derr.Attempt, "status", code, "error", derr)
	if e.cfg.OnFailure != nil {
		f := Failure{Endpoint: d.Endpoint, EventID: d.EventID, DeliveryID: d.ID, Body: d.Body, Err: derr, Attempts: derr.Attempt, StatusCode: code}
		e.guard("OnFailure", func() { e.cfg.OnFailure(f) })
	}
	return Result{Outcome: OutcomeFailed, Err: derr}
}

// record updates d's delivery log after attempts attempts and returns the
// status code it holds. An attempt that got no answer (code 0: a timeout,
// a refused connection, Close giving up) keeps the last answer there was,
// as DeliveryLog and Failure document: a delivery answered 503 and then
// timed out reports 503, not 0. The Emitter keeps that answer itself (not
// in the LogStore, which may not read back what it stores) while the
// delivery is under way with an in-process queue; a durable queue loads
// it with the delivery (Delivery.LastAnswer).
//
// tried is the attempt just made, for the log's history (nil: none was);
// next, while retrying, the next one's time.
func (e *Emitter) record(d *Delivery, attempts int, status DeliveryStatus, code int, msg, response string, tried *AttemptRecord, next time.Time) int {
	if attempts > 0 && response == "" && status != StatusDelivered { // a 2xx is its own last answer
		if a, ok := e.lastAnswer(d); ok && (code == 0 || code == a.code) {
			code, response = a.code, a.response
		}
	}
	var completed time.Time // zero: not finished
	if finished(status) {
		if e.obs != nil {
			e.obs.Finished(d, status, attempts)
		}
		if status == StatusFailed || attempts > 1 {
			// Only a failed attempt leaves an answer behind.
			e.answers.Delete(d.ID)
		}
		completed = e.now().UTC()
	}
	if e.memLogs != nil {
		// The log shares d instead of copying its fields.
		e.memLogs.recordDelivery(d, status, code, attempts, msg, response, completed, tried, next)
		return code
	}
	l := DeliveryLog{
		ID:           d.ID,
		EndpointName: d.Endpoint,
		EventID:      d.EventID,
		EventType:    d.EventType,
		Payload:      d.Body,
		Status:       status,
		StatusCode:   code,
		ErrorMessage: msg,
		ResponseBody: response,
		Attempts:     attempts,
		CreatedAt:    d.CreatedAt,
	}
	if !completed.IsZero() {
		t := completed // not &completed: the memory path would pay for it
		l.CompletedAt = &t
	}
	if tried != nil {
		l.History = []AttemptRecord{*tried}
	}
	if !next.IsZero() {
		t := next
		l.NextAttemptAt = &t
	}
	if err := e.logs.Record(context.Background(), l); err != nil {
		e.logger.Error("webhook: recording delivery log", "delivery_id", d.ID, "error", err)
	}
	return code
}

// protect runs user code whose panic is the caller's error (a Transform,
// ShouldSend, an object's methods): the panic becomes an error wrapping
// ErrPanic.
func protect(name string, fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrPanic, name, r)
		}
	}()
	fn()
	return nil
}

// guard runs a user callback whose panic has nowhere else to go
// (OnFailure, OnAlert): it is logged, never propagated.
func (e *Emitter) guard(name string, fn func()) {
	if err := protect(name, fn); err != nil {
		e.logger.Error("webhook: callback panicked", "callback", name, "error", err)
	}
}
