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

// send makes one signed POST of d to ep and classifies the outcome. ctx
// is the attempt's context from outside; the endpoint's Timeout is set
// here, so that the two can be told apart.
func (e *Emitter) send(ctx context.Context, ep *endpoint, d *Delivery) sent {
	actx, cancel := context.WithTimeout(ctx, ep.timeout)
	defer cancel()
	var oa *oauthAttempt
	if ep.tokens != nil {
		oa = &oauthAttempt{d: d, now: e.now}
		actx = context.WithValue(actx, attemptKey{}, oa)
	}
	req, err := retryablehttp.NewRequestWithContext(actx, http.MethodPost, ep.URL, d.Body)
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
		if err := oa.authorize(actx, ep, h); err != nil {
			return failedBeforeAnswer(ctx, actx, ep, err)
		}
	}
	ep.sign(h, d, e.now())

	resp, err := ep.client.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return failedBeforeAnswer(ctx, actx, ep, err)
	}
	defer resp.Body.Close()
	s := sent{status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		return s
	}
	if e.cfg.SSRFGuard.keepsResponseBodies() {
		buf := make([]byte, maxResponseBody)
		n, _ := io.ReadFull(resp.Body, buf)
		s.response = string(buf[:n])
	}
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

// failedBeforeAnswer classifies an attempt that got no answer: cut short
// from outside (ctx ended), the endpoint's own timeout (actx ended), a
// token or SSRF refusal, or a network error.
func failedBeforeAnswer(ctx, actx context.Context, ep *endpoint, err error) sent {
	switch {
	case ctx.Err() != nil:
		return sent{err: fmt.Errorf("interrupted: %w", context.Cause(ctx)), interrupted: true}
	case errors.Is(err, ErrToken):
		if actx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("%w: timeout after %s: %w", ErrToken, ep.timeout, context.DeadlineExceeded)
		}
		return sent{err: err, retryable: true}
	case errors.Is(err, ErrBlockedAddress):
		return sent{err: stripURL(err)}
	case actx.Err() == context.DeadlineExceeded:
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
