package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// maxResponseBody is how much of a failed attempt's answer is kept for the
// log (nothing with an SSRFGuard, unless its LogResponseBodies); maxDrain
// is how much more is read so the connection can be reused.
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
	response   string // the start of a failed attempt's answer, if kept
	err        error  // nil: delivered
	retryable  bool
	down       bool // the failure suggests the endpoint is down (breaker)

	// interrupted: ctx (the queue's, or a Sync caller's) ended before an
	// answer came. It says nothing about the endpoint.
	interrupted bool
}

// send makes one signed POST of d to ep, signed as of at, and classifies
// the outcome. ctx is the attempt's context from outside; the endpoint's
// Timeout is set here, so that the two can be told apart.
func (e *Emitter) send(ctx context.Context, ep *endpoint, d *Delivery, at time.Time) sent {
	actx, reused, cancel := attemptContext(ctx, ep, d.Body)
	var getBody func() (io.ReadCloser, error) // nil: newRequest makes one
	if reused != nil {
		defer reused.stop()
		getBody = reused.getBody
	} else {
		defer cancel()
	}
	// Room for the fixed headers, the three of the signature and an
	// OAuth2 Authorization.
	h := make(http.Header, len(ep.fixed)+4)
	for _, f := range ep.fixed {
		h[f.key] = f.vals
	}
	var resp *http.Response
	var err error
	if ep.tokens != nil {
		resp, err = e.sendOAuth(actx, ep, d, h)
	} else {
		ep.sign(h, d, at)
		resp, err = ep.do(newRequest(actx, ep, d.Body, h, getBody))
	}
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return failedBeforeAnswer(ctx, actx, ep, err)
	}
	defer resp.Body.Close()
	s := sent{status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		drain(resp.Body)
		return s
	}
	if e.cfg.SSRFGuard.keepsResponseBodies() {
		buf := make([]byte, maxResponseBody)
		n, _ := io.ReadFull(resp.Body, buf)
		s.response = string(buf[:n])
	}
	drain(resp.Body)

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

// sendOAuth sends an attempt to an OAuth2 endpoint: through its
// retryablehttp client, which refreshes the token and re-signs once when
// the answer is 401 (see newClient).
func (e *Emitter) sendOAuth(actx context.Context, ep *endpoint, d *Delivery, h http.Header) (*http.Response, error) {
	oa := &oauthAttempt{d: d, now: e.now}
	actx = context.WithValue(actx, attemptKey{}, oa)
	req, err := retryablehttp.NewRequestWithContext(actx, http.MethodPost, ep.URL, d.Body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", stripURL(err))
	}
	req.Header = h
	if err := oa.authorize(actx, ep, h); err != nil {
		return nil, err
	}
	ep.sign(h, d, e.now())
	return ep.client.Do(req)
}

// newRequest returns the POST of body to ep, with header h. The URL was
// parsed once, at New; the body is read through a bytes.Reader, and can
// be read again (getBody, or a func made here when it is nil) if the
// transport retries on a connection that closed.
func newRequest(ctx context.Context, ep *endpoint, body []byte, h http.Header, getBody func() (io.ReadCloser, error)) *http.Request {
	r := http.Request{
		Method: http.MethodPost, URL: ep.url, Host: ep.url.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: http.NoBody,
	}
	if len(body) > 0 {
		r.Body, r.ContentLength, r.GetBody = requestBody(body), int64(len(body)), getBody
		if getBody == nil {
			r.GetBody = func() (io.ReadCloser, error) { return requestBody(body), nil }
		}
	}
	return r.WithContext(ctx)
}

// requestBody is a request's body as net/http knows an in-memory one
// (io.NopCloser of a *bytes.Reader): it writes headers and body in one
// write, with no buffer of its own.
func requestBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

// do sends req: straight through the transport when http.Client would
// add nothing (see compileEndpoint), else through the client. Either way
// an error is a *url.Error, as http.Client makes it.
func (ep *endpoint) do(req *http.Request) (*http.Response, error) {
	if ep.roundTrip == nil {
		return ep.client.HTTPClient.Do(req)
	}
	resp, err := ep.roundTrip.RoundTrip(req)
	if err != nil {
		return nil, &url.Error{Op: "Post", URL: ep.URL, Err: err}
	}
	return resp, nil
}

// drain reads up to maxDrain more of an answer's body, so that its
// connection can be reused.
func drain(body io.Reader) {
	if body == http.NoBody {
		return
	}
	lr := drainers.Get().(*io.LimitedReader)
	lr.R, lr.N = body, maxDrain
	_, _ = io.Copy(io.Discard, lr)
	lr.R = nil
	drainers.Put(lr)
}

var drainers = sync.Pool{New: func() any { return new(io.LimitedReader) }}

// failedBeforeAnswer classifies an attempt that got no answer: cut short
// from outside (ctx ended), the endpoint's own timeout (actx ended), a
// token or SSRF refusal, or a network error.
func failedBeforeAnswer(ctx, actx context.Context, ep *endpoint, err error) sent {
	switch {
	case ctx.Err() != nil:
		return sent{err: fmt.Errorf("interrupted: %w", context.Cause(ctx)), interrupted: true}
	case errors.Is(err, ErrToken):
		if timedOut(actx) {
			err = fmt.Errorf("%w: timeout after %s: %w", ErrToken, ep.timeout, context.DeadlineExceeded)
		}
		return sent{err: err, retryable: true}
	case errors.Is(err, ErrBlockedAddress):
		return sent{err: stripURL(err)}
	case timedOut(actx):
		return sent{err: fmt.Errorf("timeout after %s: %w", ep.timeout, context.DeadlineExceeded), retryable: true, down: true}
	}
	return sent{err: stripURL(err), retryable: true, down: true}
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
