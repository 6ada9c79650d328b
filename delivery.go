package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// DeliveryError is the error of a failed attempt: an answer that was not
// 2xx (StatusCode set, Err nil or describing the answer) or no answer at all
// (StatusCode 0, Err the network error or timeout).
type DeliveryError struct {
	Endpoint   string // the endpoint's name
	EventID    string
	Attempt    int // 1 for the first attempt
	StatusCode int // 0: no answer
	Err        error
}

func (e *DeliveryError) Error() string {
	s := fmt.Sprintf("webhook: endpoint %q: event %s: attempt %d", e.Endpoint, e.EventID, e.Attempt)
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

// Errors an attempt or a delivery can fail with, usable with errors.Is.
var (
	// ErrRedirect: the endpoint answered 3xx. Redirects are never
	// followed, so that a signed body only goes where it was configured to.
	ErrRedirect = errors.New("redirects are not followed")

	// ErrEndpointGone: the endpoint answered 410 Gone, and was disabled
	// until [Emitter.EnableEndpoint] is called.
	ErrEndpointGone = errors.New("endpoint answered 410 Gone and was disabled")

	// ErrEndpointDisabled: the delivery's endpoint was disabled, or is no
	// longer configured, when its attempt came.
	ErrEndpointDisabled = errors.New("endpoint disabled")

	// ErrPanic: a user callback (Transform, ShouldSend) panicked.
	ErrPanic = errors.New("panic in callback")
)

// maxResponseBody is how much of a failed attempt's answer is kept for the
// log; maxDrain is how much more is read so the connection can be reused.
const (
	maxResponseBody = 1 << 10
	maxDrain        = 64 << 10
)

const userAgent = "hookrail-webhook/1"

var (
	contentTypeJSON = []string{"application/json"}
	userAgentValue  = []string{userAgent}
)

// sent is what one attempt learned.
type sent struct {
	status     int
	retryAfter time.Duration
	response   string // the start of a failed attempt's answer
	err        error  // nil: delivered
	retryable  bool
	down       bool // the failure suggests the endpoint is down (breaker)
}

// send makes one signed POST of d to ep and classifies the outcome.
func (e *Emitter) send(ctx context.Context, ep *endpoint, d *Delivery) sent {
	ctx, cancel := context.WithTimeout(ctx, ep.timeout)
	defer cancel()
	var oa *oauthAttempt
	if ep.tokens != nil {
		oa = &oauthAttempt{d: d, now: e.now}
		ctx = context.WithValue(ctx, attemptKey{}, oa)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, ep.URL, d.Body)
	if err != nil {
		return sent{err: fmt.Errorf("building request: %w", stripURL(err))}
	}
	h := req.Header
	h["Content-Type"] = contentTypeJSON
	h["User-Agent"] = userAgentValue
	for k, v := range ep.headers {
		h[k] = v
	}
	if oa != nil {
		if err := oa.authorize(ctx, ep, h); err != nil {
			return sent{err: err, retryable: true}
		}
	}
	ep.sign(h, d, e.now())

	resp, err := ep.client.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if errors.Is(err, ErrToken) {
			return sent{err: err, retryable: true}
		}
		if errors.Is(err, ErrBlockedAddress) {
			return sent{err: stripURL(err)}
		}
		if ctx.Err() == context.DeadlineExceeded && !errors.Is(err, context.Canceled) {
			return sent{err: fmt.Errorf("timeout after %s: %w", ep.timeout, context.DeadlineExceeded), retryable: true, down: true}
		}
		return sent{err: stripURL(err), retryable: true, down: true}
	}
	defer resp.Body.Close()
	s := sent{status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		return s
	}
	buf := make([]byte, maxResponseBody)
	n, _ := io.ReadFull(resp.Body, buf)
	s.response = string(buf[:n])
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))

	s.retryable = ep.retry.statuses[resp.StatusCode]
	s.down = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		s.err = ErrRedirect
	case resp.StatusCode == http.StatusGone:
		s.err = ErrEndpointGone
		s.retryable = false
	default:
		s.err = errStatus
	}
	switch resp.StatusCode {
	case http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// The receiver says when to come back: that is a request to retry,
		// even for a status RetryOnStatus leaves out (a 409 from a
		// receiver still processing the same event, for one).
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			s.retryAfter = retryAfter(ra, time.Now())
			s.retryable = true
		}
	}
	return s
}

// errStatus stands for "the answer was not 2xx" until DeliveryError
// replaces it with nothing: the status code says it all.
var errStatus = errors.New("unexpected status")

// stripURL removes the URL from a *url.Error: the URL may carry tokens,
// and the endpoint's name already says where the request went.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// attempt runs one attempt of d, records it and decides what comes next.
// Its error is the attempt's, nil when delivered or deferred.
func (e *Emitter) attempt(ctx context.Context, d *Delivery) (Result, error) {
	ep := e.byName[d.Endpoint]
	err := error(ErrEndpointDisabled) // not configured: as disabled
	if ep != nil {
		err = ep.unavailable()
	}
	if err != nil {
		derr := &DeliveryError{Endpoint: d.Endpoint, EventID: d.EventID, Attempt: d.Attempts, Err: err}
		e.fail(d, derr, 0, "")
		return Result{Done: true}, derr
	}
	if err := ctx.Err(); err != nil {
		// Close gave up, or Sync's ctx ended, before this attempt began:
		// nothing is sent and nothing counts; the caller decides.
		return Result{}, &DeliveryError{Endpoint: d.Endpoint, EventID: d.EventID, Attempt: d.Attempts, Err: err}
	}
	wait, probe, ok := ep.admit(e.breaker)
	if !ok {
		return Result{Delay: wait}, nil
	}
	d.Attempts++
	s := e.send(ctx, ep, d)
	if s.status != 0 && s.err != nil {
		e.answers.Store(d.ID, answer{s.status, s.response})
	}
	alert := ep.observe(e.breaker, &e.cfg.Monitor, s, probe)
	if s.err == nil {
		e.record(d, StatusDelivered, s.status, "", "")
		return Result{Done: true}, nil
	}
	derr := &DeliveryError{Endpoint: d.Endpoint, EventID: d.EventID, Attempt: d.Attempts, StatusCode: s.status, Err: s.err}
	if s.err == errStatus {
		derr.Err = nil
	}
	e.alert(alert, d.Endpoint, derr)
	if errors.Is(s.err, ErrEndpointGone) && ep.gone.CompareAndSwap(false, true) {
		e.logger.Warn("webhook endpoint answered 410 Gone: disabled until EnableEndpoint", "endpoint", d.Endpoint)
	}
	if ctx.Err() != nil {
		// Cancelled from outside (Close gave up, or Sync's ctx ended): the
		// caller decides; nothing is final yet.
		return Result{}, derr
	}
	if s.retryable && d.Attempts <= ep.retry.maxRetries {
		delay := ep.retry.backoff(d.Attempts, s.retryAfter)
		e.record(d, StatusRetrying, s.status, derr.Error(), s.response)
		e.logger.Debug("webhook attempt failed; retry scheduled", "endpoint", d.Endpoint,
			"event_id", d.EventID, "delivery_id", d.ID, "attempt", d.Attempts, "retry_in", delay, "error", derr)
		return Result{Delay: delay}, derr
	}
	e.fail(d, derr, s.status, s.response)
	return Result{Done: true}, derr
}

// answer is a delivery's last answer: status code and the start of the
// body.
type answer struct {
	code     int
	response string
}

// record updates d's delivery log and returns the status code it holds.
// An attempt that got no answer (code 0: a timeout, a refused connection,
// Close giving up) keeps the last answer there was, as DeliveryLog and
// Failure document: a delivery answered 503 and then timed out reports
// 503, not 0. The Emitter keeps that answer itself (not in the LogStore,
// which may not read back what it stores) while the delivery is under
// way; a durable queue's delivery resumed after a restart has none.
func (e *Emitter) record(d *Delivery, status DeliveryStatus, code int, msg, response string) int {
	if code == 0 && d.Attempts > 0 {
		if a, ok := e.answers.Load(d.ID); ok {
			code, response = a.(answer).code, a.(answer).response
		}
	}
	var completed *time.Time
	if finished(status) {
		e.answers.Delete(d.ID)
		t := e.now().UTC()
		completed = &t
	}
	if e.memLogs != nil {
		// The log shares d instead of copying its fields.
		e.memLogs.recordDelivery(d, status, code, d.Attempts, msg, response, completed)
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
		Attempts:     d.Attempts,
		CreatedAt:    d.CreatedAt,
		CompletedAt:  completed,
	}
	if err := e.logs.Record(context.Background(), l); err != nil {
		e.logger.Error("webhook: recording delivery log", "delivery_id", d.ID, "error", err)
	}
	return code
}

// fail gives d up: log line, delivery log, OnFailure. Every delivery that
// is not delivered ends here exactly once.
func (e *Emitter) fail(d *Delivery, err error, code int, response string) {
	code = e.record(d, StatusFailed, code, err.Error(), response)
	e.logger.Error("webhook delivery failed", "endpoint", d.Endpoint, "event_id", d.EventID,
		"delivery_id", d.ID, "attempts", d.Attempts, "status", code, "error", err)
	if e.cfg.OnFailure == nil {
		return
	}
	f := Failure{Endpoint: d.Endpoint, EventID: d.EventID, DeliveryID: d.ID, Body: d.Body, Err: err, Attempts: d.Attempts, StatusCode: code}
	e.guard("OnFailure", func() { e.cfg.OnFailure(f) })
}

// guard runs a user callback; a panic is logged, never propagated.
func (e *Emitter) guard(name string, fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrPanic, name, r)
			e.logger.Error("webhook: callback panicked", "callback", name, "panic", fmt.Sprint(r))
		}
	}()
	fn()
	return nil
}

// noCloseIdle hides CloseIdleConnections from retryablehttp, which calls
// it on every failed request and would drop the keep-alive connections of
// every healthy endpoint with it.
type noCloseIdle struct{ http.RoundTripper }

// newTransport is the default transport: http.DefaultTransport's settings
// with enough idle connections per host for every worker.
func newTransport(workers int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = workers
	t.MaxIdleConns = max(t.MaxIdleConns, 4*workers)
	return t
}

// newHTTPClient copies base for deliveries: redirects are never
// followed, and retryablehttp cannot close every endpoint's idle
// connections when one request fails.
func newHTTPClient(base *http.Client) *http.Client {
	c := *base
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = noCloseIdle{rt}
	return &c
}

// attemptKey carries an OAuth2 attempt's state to PrepareRetry.
type attemptKey struct{}

type oauthAttempt struct {
	d   *Delivery
	gen int // the token generation the request was sent with
	now func() time.Time
}

// newClient returns an endpoint's retryablehttp client. The queue owns
// the retry schedule, so it makes one request per attempt; for an OAuth2
// endpoint, a 401 answer makes it refresh the token and, in PrepareRetry,
// re-sign with a fresh timestamp and send once more at once.
func newClient(hc *http.Client, ep *endpoint) *retryablehttp.Client {
	c := &retryablehttp.Client{
		HTTPClient:   hc,
		CheckRetry:   func(context.Context, *http.Response, error) (bool, error) { return false, nil },
		Backoff:      func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return 0 },
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	if ep.tokens == nil {
		return c
	}
	c.RetryMax = 1
	c.CheckRetry = func(_ context.Context, resp *http.Response, err error) (bool, error) {
		return err == nil && resp != nil && resp.StatusCode == http.StatusUnauthorized, nil
	}
	c.PrepareRetry = func(req *http.Request) error {
		a, _ := req.Context().Value(attemptKey{}).(*oauthAttempt)
		if a == nil {
			return errors.New("oauth2 retry without its attempt")
		}
		ep.tokens.invalidate(a.gen)
		if err := a.authorize(req.Context(), ep, req.Header); err != nil {
			return err
		}
		ep.sign(req.Header, a.d, a.now())
		return nil
	}
	return c
}

// authorize sets h's Authorization header from ep's current token and
// remembers the token's generation, for PrepareRetry to invalidate.
func (a *oauthAttempt) authorize(ctx context.Context, ep *endpoint, h http.Header) error {
	tok, gen, err := ep.tokens.token(ctx)
	if err != nil {
		return err
	}
	a.gen = gen
	h["Authorization"] = []string{tok.Type() + " " + tok.AccessToken}
	return nil
}
