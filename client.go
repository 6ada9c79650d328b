package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// noCloseIdle hides CloseIdleConnections from retryablehttp, which calls
// it on every failed request and would drop the keep-alive connections of
// every healthy endpoint with it. For a transport an SSRFGuard lets use a
// proxy, it gives every request the route the guard's dialer reads.
type noCloseIdle struct {
	http.RoundTripper
	routed bool
}

// RoundTrip implements http.RoundTripper.
func (t noCloseIdle) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.routed {
		r = withRoute(r)
	}
	return t.RoundTripper.RoundTrip(r)
}

// newTransport is the default transport: http.DefaultTransport's settings
// with enough idle connections per host for every worker, and no
// Accept-Encoding. It dials with a
// defaultDialer, by which an SSRFGuard knows it may replace the dialer.
func newTransport(workers int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&defaultDialer{net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}).dial
	t.MaxIdleConnsPerHost = workers
	t.MaxIdleConns = max(t.MaxIdleConns, 4*workers)
	// An answer is read only to keep the start of a failed one for the
	// log: asking for gzip would cost every request a header, and
	// the receiver the compressing.
	t.DisableCompression = true
	return t
}

// defaultDialer is the dialer of the transport New makes, with
// http.DefaultTransport's settings. Its dial method values are how an
// SSRFGuard tells that transport from a user's, whose dialer it must not
// drop.
type defaultDialer struct{ net.Dialer }

func (d *defaultDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.DialContext(ctx, network, addr)
}

// isDefaultDial reports whether f is a defaultDialer's dial method.
func isDefaultDial(f func(context.Context, string, string) (net.Conn, error)) bool {
	return f != nil && sameFunc(f, (&defaultDialer{}).dial)
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
	tr, _ := rt.(*http.Transport)
	c.Transport = noCloseIdle{rt, tr != nil && tr.Proxy != nil && isGuardDial(tr.DialContext)}
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
