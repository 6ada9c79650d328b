package webhook_test

// The SSRF guard and the HTTP client's transport: the guard makes every
// connection itself, so a transport whose own dialers or proxy would make
// them instead is refused by New, never silently overridden nor allowed
// around the guard. No traffic leaves 127.0.0.1.

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// stSecret is the signing secret of the SSRF tests' endpoints.
const stSecret = "whsec_ssrf_test_secret"

// stHitServer is a TLS test server on 127.0.0.1 counting its requests.
type stHitServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newSTHitServer(t *testing.T) *stHitServer {
	t.Helper()
	s := &stHitServer{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

// tlsConfig trusts the server's certificate, which names example.com:
// the requests go to "localhost", which no certificate names, and are
// dialled to the server by the test's own dialers.
func (s *stHitServer) tlsConfig() *tls.Config {
	c := s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	c.ServerName = "example.com"
	return c
}

// url is the server's https URL by the hostname "localhost".
func (s *stHitServer) url(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(s.Listener.Addr().String())
	require.NoError(t, err)
	return "https://localhost:" + port + "/hooks"
}

// stEvent is a small created event.
func stEvent(i int) webhook.Event {
	return webhook.Event{Type: webhook.Created, Model: "store.Order", Object: map[string]any{"id": i}}
}

// stTryDeliver makes an Emitter of cfg. If New accepts cfg, it emits one
// event in Sync mode and closes the Emitter: whatever the transport
// reaches, the test's server counts. It returns New's error.
func stTryDeliver(t *testing.T, cfg webhook.Config) error {
	t.Helper()
	cfg.Sync = true
	cfg.Logger = quietLogger
	e, err := webhook.New(cfg)
	if err != nil {
		return err
	}
	_ = e.Emit(testCtx(t, 10*time.Second), stEvent(1))
	_ = closeWithin(e, 10*time.Second)
	return nil
}

// TestSSRFGuardRefusesTransportDialers: a transport that sets Dial,
// DialContext, DialTLS or DialTLSContext would make connections the guard
// cannot check (net/http still uses the deprecated DialTLS for https).
// New refuses it, naming the field, and nothing reaches 127.0.0.1.
func TestSSRFGuardRefusesTransportDialers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field string
		set   func(tr *http.Transport, addr string, tlsCfg *tls.Config)
	}{
		{"DialTLS", func(tr *http.Transport, addr string, tlsCfg *tls.Config) {
			//lint:ignore SA1019 the deprecated hook is the point
			tr.DialTLS = func(string, string) (net.Conn, error) { return tls.Dial("tcp", addr, tlsCfg) }
		}},
		{"DialTLSContext", func(tr *http.Transport, addr string, tlsCfg *tls.Config) {
			tr.DialTLSContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&tls.Dialer{Config: tlsCfg}).DialContext(ctx, "tcp", addr)
			}
		}},
		{"DialContext", func(tr *http.Transport, addr string, _ *tls.Config) {
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			}
		}},
		{"Dial", func(tr *http.Transport, addr string, _ *tls.Config) {
			//lint:ignore SA1019 the deprecated hook is the point
			tr.Dial = func(string, string) (net.Conn, error) { return net.Dial("tcp", addr) }
		}},
	} {
		t.Run(tc.field, func(t *testing.T) {
			t.Parallel()
			srv := newSTHitServer(t)
			tr := &http.Transport{TLSClientConfig: srv.tlsConfig()}
			tc.set(tr, srv.Listener.Addr().String(), srv.tlsConfig())
			err := stTryDeliver(t, webhook.Config{
				HTTPClient: &http.Client{Transport: tr},
				SSRFGuard:  &webhook.SSRFGuard{},
				Retry:      &webhook.RetryConfig{MaxRetries: 0},
				Endpoints:  []webhook.Endpoint{{Name: "user-supplied", URL: srv.url(t), Secret: stSecret}},
			})
			assert.Zero(t, srv.hits.Load(), "the guarded emitter reached 127.0.0.1 through the transport's %s", tc.field)
			require.ErrorIs(t, err, webhook.ErrInvalidConfig)
			assert.ErrorContains(t, err, "ssrf_guard")
			assert.ErrorContains(t, err, tc.field+" is set")
		})
	}
}

// TestSSRFGuardRefusesProxy: a proxy is dialled instead of the endpoint,
// so the guard would check the proxy's address, not the endpoint's. A
// transport with a Proxy is refused unless SSRFGuard.AllowProxy says the
// proxy itself refuses internal addresses.
func TestSSRFGuardRefusesProxy(t *testing.T) {
	t.Parallel()
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(proxy.Close)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)

	_, err = webhook.New(webhook.Config{
		Logger:     quietLogger,
		HTTPClient: &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}},
		SSRFGuard:  &webhook.SSRFGuard{},
		Endpoints:  []webhook.Endpoint{{Name: "user-supplied", URL: "http://hooks.example/in", Secret: stSecret}},
	})
	require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	assert.ErrorContains(t, err, "ssrf_guard")
	assert.ErrorContains(t, err, "Proxy is set")
	assert.ErrorContains(t, err, "AllowProxy")
	assert.Zero(t, proxied.Load())
}

// TestSSRFGuardDefaultTransports: the transport New makes, an HTTPClient
// without a Transport (http.DefaultTransport), and a clone of
// http.DefaultTransport with its DialContext and Proxy cleared all dial
// through the guard: a loopback endpoint is blocked, an allowed one is
// reached.
func TestSSRFGuardDefaultTransports(t *testing.T) {
	t.Parallel()
	clone := func() *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext, tr.Proxy = nil, nil
		return &http.Client{Transport: tr}
	}
	for _, tc := range []struct {
		name   string
		client func() *http.Client
	}{
		{"made by New", func() *http.Client { return nil }},
		{"http.DefaultTransport", func() *http.Client { return &http.Client{Timeout: 10 * time.Second} }},
		{"clone without dialer and proxy", clone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newHookReceiver(t, nil)
			for _, allow := range []bool{false, true} {
				g := &webhook.SSRFGuard{}
				if allow {
					g.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
				}
				e := newEmitter(t, webhook.Config{
					Sync:       true,
					HTTPClient: tc.client(),
					SSRFGuard:  g,
					Retry:      &webhook.RetryConfig{MaxRetries: 0},
					Endpoints:  []webhook.Endpoint{{Name: "user-supplied", URL: localhostURL(t, srv.Server, "/in"), Secret: stSecret}},
				})
				err := e.Emit(testCtx(t, 10*time.Second), stEvent(1))
				if allow {
					require.NoError(t, err)
					assert.Equal(t, 1, srv.count())
				} else {
					require.ErrorIs(t, err, webhook.ErrBlockedAddress)
					assert.Zero(t, srv.count())
				}
			}
		})
	}
}

// TestSSRFGuardAllowProxy: with AllowProxy, a delivery the Proxy func
// sends through the proxy goes there (the proxy, on 127.0.0.1, is trusted
// and not checked), while one it sends directly is still checked and
// blocked, even to the proxy's own address (as a NO_PROXY rule naming
// 127.0.0.1 would send it), after requests went through the proxy.
func TestSSRFGuardAllowProxy(t *testing.T) {
	t.Parallel()
	proxied := make(chan string, 16)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied <- r.URL.String() // a proxy is sent the absolute URL; a direct request, the path
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(proxy.Close)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	direct := newHookReceiver(t, nil)

	tr := &http.Transport{Proxy: func(r *http.Request) (*url.URL, error) {
		if r.URL.Hostname() == "hooks.example" {
			return proxyURL, nil
		}
		return nil, nil // as NO_PROXY=localhost,127.0.0.1
	}}
	e := newEmitter(t, webhook.Config{
		Sync:       true,
		HTTPClient: &http.Client{Transport: tr},
		SSRFGuard:  &webhook.SSRFGuard{AllowProxy: true},
		Retry:      &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{
			{Name: "proxied", URL: "http://hooks.example/in", Secret: stSecret},
			{Name: "direct", URL: localhostURL(t, direct.Server, "/in"), Secret: stSecret},
			{Name: "proxy-itself", URL: proxy.URL + "/squid-internal-mgr/info", Secret: stSecret},
		},
	})
	for i := range 2 {
		err = e.Emit(testCtx(t, 10*time.Second), stEvent(i))
		require.ErrorIs(t, err, webhook.ErrBlockedAddress)
		assert.NotContains(t, err.Error(), `"proxied"`)
		assert.Contains(t, err.Error(), `"direct"`)
		assert.Contains(t, err.Error(), `"proxy-itself"`)
	}
	assert.Zero(t, direct.count(), "the direct endpoint on 127.0.0.1 was reached")
	close(proxied)
	var got []string
	for u := range proxied {
		got = append(got, u)
	}
	assert.Equal(t, []string{"http://hooks.example/in", "http://hooks.example/in"}, got)
}

// TestSSRFGuardEnvironmentProxy: the transport New makes, and clones of
// http.DefaultTransport, take their proxy from HTTP_PROXY / HTTPS_PROXY.
// With the guard on, New refuses a proxy the environment names rather
// than bypass it, unless AllowProxy; with none named, nothing is lost.
// Not parallel: it sets the environment.
func TestSSRFGuardEnvironmentProxy(t *testing.T) {
	cloned := func() *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = nil // Proxy stays http.ProxyFromEnvironment
		return &http.Client{Transport: tr}
	}
	for _, tc := range []struct {
		name    string
		env     string // the value of HTTPS_PROXY; the others are empty
		client  *http.Client
		allow   bool
		wantErr bool
	}{
		{"made by New, proxy named", "http://127.0.0.1:1", nil, false, true},
		{"clone, proxy named", "http://127.0.0.1:1", cloned(), false, true},
		{"made by New, proxy named, AllowProxy", "http://127.0.0.1:1", nil, true, false},
		{"clone, proxy named, AllowProxy", "http://127.0.0.1:1", cloned(), true, false},
		{"made by New, no proxy", "", nil, false, false},
		{"clone, no proxy", "", cloned(), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"HTTP_PROXY", "http_proxy", "https_proxy"} {
				t.Setenv(k, "")
			}
			t.Setenv("HTTPS_PROXY", tc.env)
			e, err := webhook.New(webhook.Config{
				Logger:     quietLogger,
				HTTPClient: tc.client,
				SSRFGuard:  &webhook.SSRFGuard{AllowProxy: tc.allow},
				Endpoints:  []webhook.Endpoint{{Name: "user-supplied", URL: "https://hooks.example/in", Secret: stSecret}},
			})
			if tc.wantErr {
				require.ErrorIs(t, err, webhook.ErrInvalidConfig)
				assert.ErrorContains(t, err, "HTTPS_PROXY")
				assert.ErrorContains(t, err, "AllowProxy")
				return
			}
			require.NoError(t, err)
			require.NoError(t, closeWithin(e, 10*time.Second))
		})
	}
}
