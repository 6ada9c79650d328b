package webhook

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors callers branch on with errors.Is. Their text is a bare phrase:
// the errors the package returns wrap them after "webhook: " and what
// they concern ("webhook: endpoint "crm": event evt_…: queue full: …").
var (
	// ErrClosed: the Emitter (or its Queue) is closed. Emit returns it
	// after Close has begun; a delivery that Close gave up wraps it.
	ErrClosed = errors.New("emitter closed")

	// ErrQueueFull: an endpoint's share of the queue stayed full until
	// Emit's context ended.
	ErrQueueFull = errors.New("queue full")

	// ErrInvalidEvent: the event itself is wrong (unknown type, malformed
	// model label, an object that does not serialise to a JSON object), or
	// the code that describes its model failed (a panic in WebhookLabel,
	// WebhookMeta, ShouldSend or MarshalJSON, which also wraps ErrPanic).
	ErrInvalidEvent = errors.New("invalid event")

	// ErrInvalidConfig: New was given a Config it cannot run.
	ErrInvalidConfig = errors.New("invalid config")

	// ErrBodyTooLarge: an endpoint's body is over Config.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("body too large")

	// ErrRedirect: the endpoint answered 3xx. Redirects are never
	// followed, so that a signed body only goes where it was configured to.
	ErrRedirect = errors.New("redirects are not followed")

	// ErrEndpointGone: the endpoint answered 410 Gone, and was disabled
	// until [Emitter.EnableEndpoint] is called.
	ErrEndpointGone = errors.New("endpoint answered 410 Gone and was disabled")

	// ErrEndpointDisabled: the delivery's endpoint was disabled when its
	// attempt came.
	ErrEndpointDisabled = errors.New("endpoint disabled")

	// ErrEndpointNotFound: no endpoint has the name: a delivery stored by
	// a durable queue whose endpoint left the configuration before its
	// attempt came, or a name no endpoint was given.
	ErrEndpointNotFound = errors.New("endpoint not configured")

	// ErrEndpointExists: AddEndpoint was given a name another endpoint
	// has.
	ErrEndpointExists = errors.New("endpoint name taken")

	// ErrEndpointRemoved: the delivery's endpoint was removed
	// (RemoveEndpoint) before its attempt came. Such a delivery is given
	// up without being sent.
	ErrEndpointRemoved = errors.New("endpoint removed")

	// ErrEndpointFixed: UpdateEndpoint or RemoveEndpoint was given an
	// endpoint of Config.Endpoints while the endpoints are stored (an
	// EndpointStore): every process has those from its own Config, so
	// they change there.
	ErrEndpointFixed = errors.New("endpoint comes from the Config")

	// ErrAlreadyRedelivered: Redeliver was given a log that was sent
	// again already (DeliveryLog.RedeliveredAs); RedeliverAgain sends it
	// anyway.
	ErrAlreadyRedelivered = errors.New("sent again already")

	// ErrNotFinished: Redeliver was given the log of a delivery still
	// under way (pending or retrying); only a failed or delivered one can
	// be sent again.
	ErrNotFinished = errors.New("delivery not finished")

	// ErrNoPayload: Redeliver was given the log of a delivery whose body
	// was never built (its shaping failed); emit the event again.
	ErrNoPayload = errors.New("no body was built")

	// ErrCircuitOpen: the endpoint's circuit breaker held the delivery
	// until past its deadline (see [CircuitBreaker]).
	ErrCircuitOpen = errors.New("circuit open past the delivery's deadline")

	// ErrPanic: user code (a Transform, ShouldSend, an object's own
	// methods) panicked.
	ErrPanic = errors.New("panic in callback")
)

// errClosed is what Emit and Redeliver return after Close has begun.
var errClosed = fmt.Errorf("webhook: %w", ErrClosed)

// errNotNew is what the methods of an Emitter not made by New return.
var errNotNew = errors.New("webhook: Emitter not initialised: create it with New")

// DeliveryError is the error of a delivery: a failed attempt, or a
// delivery given up without one (no room in the queue, Close giving up,
// a body that could not be built). Every Failure's Err is one.
type DeliveryError struct {
	Endpoint string // the endpoint's name
	EventID  string

	// Attempt is the attempt that failed (1 for the first); for a delivery
	// given up between attempts, the number of attempts made (0: none).
	Attempt int

	// StatusCode is the failed attempt's answer; for a delivery given up
	// between attempts, the last attempt's. 0: no answer.
	StatusCode int

	// Err says why: the network error, a sentinel such as ErrQueueFull or
	// ErrRedirect, or nil when the status code says it all.
	Err error
}

func (e *DeliveryError) Error() string {
	s := fmt.Sprintf("webhook: endpoint %q: event %s", e.Endpoint, e.EventID)
	if e.Attempt > 0 {
		s += fmt.Sprintf(": attempt %d", e.Attempt)
	}
	if e.StatusCode != 0 {
		s += fmt.Sprintf(": status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// UndeliveredError is returned by Close when its context ended before
// every delivery finished. Each of them was reported to OnFailure.
type UndeliveredError struct {
	Count int   // deliveries not delivered
	Err   error // the context's error
}

func (e *UndeliveredError) Error() string {
	noun := "deliveries"
	if e.Count == 1 {
		noun = "delivery"
	}
	s := fmt.Sprintf("webhook: close: %d %s not delivered", e.Count, noun)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the context's error.
func (e *UndeliveredError) Unwrap() error { return e.Err }
