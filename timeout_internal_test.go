package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttemptDeadlines: a worker's attempts share one context until a
// timeout cancels it, with context.DeadlineExceeded as its cause; a timer
// firing late for an attempt already over cancels nothing; a second
// attempt while one runs gets no shared context; releasing the deadlines,
// or cancelling the worker, ends the context without blaming a timeout.
func TestAttemptDeadlines(t *testing.T) {
	// Not parallel: AllocsPerRun.
	parent, cancelParent := context.WithCancel(context.Background())
	wctx, release := withAttemptDeadlines(parent)
	d, _ := wctx.Value(deadlinesKey{}).(*attemptDeadlines)
	require.NotNil(t, d)
	start := func(timeout time.Duration) context.Context {
		t.Helper()
		ctx, ok := d.start(timeout, nil)
		require.True(t, ok, "start with no attempt running")
		return ctx
	}

	// Attempts within their timeout: one context, nothing allocated.
	first := start(time.Hour)
	_, ok := d.start(time.Hour, nil)
	assert.False(t, ok, "a second attempt while one runs shares its context")
	d.stop()
	second := start(time.Hour)
	d.stop()
	assert.True(t, first == second, "a context that did not time out is reused")
	allocs := testing.AllocsPerRun(100, func() {
		if ctx, ok := d.start(time.Hour, nil); !ok || ctx.Err() != nil {
			panic("no live context")
		}
		d.stop()
	})
	assert.Zero(t, allocs, "allocations per attempt")

	// The request's GetBody, made once, reads the running attempt's body;
	// newRequest uses it, and makes one of its own without it.
	read := func(get func() (io.ReadCloser, error)) string {
		t.Helper()
		rc, err := get()
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		return string(got)
	}
	to := &endpoint{url: &url.URL{Scheme: "http", Host: "receiver.test"}}
	for _, body := range []string{"first body", "second"} {
		ctx, ok := d.start(time.Hour, []byte(body))
		require.True(t, ok)
		assert.Equal(t, body, read(d.getBody))
		assert.Equal(t, body, read(newRequest(ctx, to, []byte(body), http.Header{}, d.getBody).GetBody))
		d.stop()
	}
	assert.Equal(t, "own", read(newRequest(context.Background(), to, []byte("own"), http.Header{}, nil).GetBody))

	// A timer firing after its attempt, while the next runs.
	ctx := start(time.Hour)
	d.expire()
	assert.NoError(t, ctx.Err(), "a late timer cancelled an attempt within its deadline")
	d.stop()
	d.expire()
	assert.NoError(t, ctx.Err(), "a timer cancelled the context with no attempt running")

	// A timeout: the cause says so, and the next attempt gets a new context.
	ctx = start(20 * time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the attempt's context did not end after its timeout")
	}
	assert.True(t, timedOut(ctx), "cause %v, want context.DeadlineExceeded", context.Cause(ctx))
	d.stop()
	next := start(time.Hour)
	assert.NoError(t, next.Err(), "the attempt after a timeout")
	assert.False(t, next == ctx, "the timed-out context is not reused")
	d.stop()

	// Released at the worker's end.
	release()
	assert.ErrorIs(t, next.Err(), context.Canceled, "after release")
	assert.False(t, timedOut(next), "release blamed on a timeout")

	// The worker's context ended.
	cancelParent()
	ended := start(time.Hour)
	assert.Error(t, ended.Err(), "an attempt after the worker's context ended")
	assert.False(t, timedOut(ended), "the worker's end blamed on a timeout")
	d.stop()
}

// TestAttemptContextReuse: the worker's context is reused only by
// attempts made under that very context (not one an Observer derived
// from it) to an endpoint whose requests go through the Transport New
// made; every other attempt gets a context of its own, which ends with
// its timeout too.
func TestAttemptContextReuse(t *testing.T) {
	t.Parallel()
	wctx, release := withAttemptDeadlines(context.Background())
	defer release()
	own := &endpoint{timeout: time.Hour, reuseContext: true}
	theirs := &endpoint{timeout: 10 * time.Millisecond}
	type spanKey struct{}
	derived := context.WithValue(wctx, spanKey{}, "an Observer's span")
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		ep    *endpoint
		reuse bool
	}{
		{"worker context, the Transport New made", wctx, own, true},
		{"worker context, the user's HTTPClient", wctx, theirs, false},
		{"a context derived from the worker's", derived, own, false},
		{"no worker", context.Background(), own, false},
	} {
		actx, reused, cancel := attemptContext(tc.ctx, tc.ep, nil)
		if tc.reuse {
			assert.NotNil(t, reused, tc.name)
			assert.Nil(t, cancel, tc.name)
			reused.stop()
			continue
		}
		assert.Nil(t, reused, tc.name)
		require.NotNil(t, cancel, tc.name)
		if tc.ep == theirs {
			<-actx.Done()
			assert.True(t, timedOut(actx), tc.name)
		}
		cancel()
	}

	for _, tc := range []struct {
		name string
		cfg  Config
		want bool
	}{
		{"no HTTPClient", Config{}, true},
		{"no HTTPClient, an SSRFGuard", Config{SSRFGuard: &SSRFGuard{}}, true},
		{"the user's HTTPClient", Config{HTTPClient: &http.Client{Transport: &http.Transport{}}}, false},
	} {
		tc.cfg.Endpoints = []Endpoint{{Name: "a", URL: "https://example.com/hook", Secret: "whsec_reuse_context_secret"}}
		e, err := New(tc.cfg)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, e.endpoint("a").reuseContext, tc.name)
		require.NoError(t, e.Close(context.Background()))
	}
}

// children is the number of contexts registered with ctx, a
// context.WithCancelCause context, read under its lock from the context
// package's internals: what a RoundTripper derived from it and has not
// released.
func children(t *testing.T, ctx context.Context) int {
	t.Helper()
	v := reflect.ValueOf(ctx)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		v = v.Elem()
		mu, kids := v.FieldByName("mu"), v.FieldByName("children")
		if mu.IsValid() && mu.Type() == reflect.TypeFor[sync.Mutex]() && kids.IsValid() && kids.Kind() == reflect.Map {
			m := (*sync.Mutex)(unsafe.Pointer(mu.UnsafeAddr()))
			m.Lock()
			defer m.Unlock()
			return kids.Len()
		}
	}
	t.Fatalf("%T has no mu and children map: the context package changed; update this test", ctx)
	return 0
}

// TestReusedContextLeavesNothing: attempts through the Transport New made
// leave nothing registered with the worker's reused context, on every
// path: an answer without a body, a large body drained then closed early,
// an error answer whose start is kept, a refused connection, a timeout,
// and HTTP/2 over TLS. Every attempt but those after the timeout runs
// under the same context.
func TestReusedContextLeavesNothing(t *testing.T) {
	t.Parallel()
	big := make([]byte, 4<<20)
	var protos sync.Map
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		protos.Store(r.Proto, true)
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write(big)
		case "/fail":
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		case "/hang":
			select { // past the timeout (bounded)
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	h1 := httptest.NewServer(handler)
	defer h1.Close()
	h2 := httptest.NewUnstartedServer(handler)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	refused := httptest.NewServer(handler)
	refused.Close()

	eps := []Endpoint{
		{Name: "empty", URL: h1.URL + "/empty"},
		{Name: "big", URL: h1.URL + "/big"},
		{Name: "fail", URL: h1.URL + "/fail"},
		{Name: "refused", URL: refused.URL + "/x"},
		{Name: "h2", URL: h2.URL + "/empty"},
		{Name: "hang", URL: h1.URL + "/hang", Timeout: 100 * time.Millisecond},
	}
	for i := range eps {
		eps[i].Secret = "whsec_reused_context_secret"
	}
	e, err := New(Config{Endpoints: eps})
	require.NoError(t, err)
	defer e.Close(context.Background())
	pool := x509.NewCertPool()
	pool.AddCert(h2.Certificate())
	e.ownTrans.TLSClientConfig = &tls.Config{RootCAs: pool} // before its first request

	wctx, release := withAttemptDeadlines(context.Background())
	defer release()
	d := wctx.Value(deadlinesKey{}).(*attemptDeadlines)
	send := func(name string) sent {
		return e.send(wctx, e.endpoint(name), &Delivery{ID: "dlv_x", EventID: "evt_x", Endpoint: name, Body: []byte(`{}`)}, time.Now())
	}
	settled := func(ctx context.Context, after string) {
		t.Helper()
		assert.Eventually(t, func() bool { return children(t, ctx) == 0 }, 2*time.Second, 5*time.Millisecond,
			"contexts left registered after %s", after)
	}
	var shared context.Context
	for _, name := range []string{"empty", "big", "fail", "refused", "h2", "empty", "big", "h2"} {
		require.True(t, e.endpoint(name).reuseContext, name)
		for range 20 {
			send(name)
		}
		if shared == nil {
			shared = d.ctx
		}
		assert.True(t, d.ctx == shared, "%s: the attempts did not share the worker's context", name)
		settled(shared, name)
	}
	_, h2seen := protos.Load("HTTP/2.0")
	assert.True(t, h2seen, "no request came over HTTP/2")

	s := send("hang")
	require.Error(t, s.err)
	assert.Contains(t, s.err.Error(), "timeout after 100ms")
	assert.False(t, s.interrupted, "a timeout taken for an interruption")
	settled(shared, "the timeout")
	send("empty")
	assert.False(t, d.ctx == shared, "the timed-out context was used again")
	settled(d.ctx, "the attempt after the timeout")
}

// TestTimeoutThenReuse: one worker, an endpoint whose first answer comes
// after its Timeout. The attempt is logged as a timeout; the worker's
// next attempts, on a new context, deliver it and two more events.
func TestTimeoutThenReuse(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read to the end: the server then watches the connection, and
		// ends r's context when the sender gives up.
		_, _ = io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 {
			select { // past the 100 ms timeout (bounded)
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	e, err := New(Config{
		Workers: 1,
		Endpoints: []Endpoint{{Name: "slow-first", URL: srv.URL, Secret: "whsec_timeout_reuse_secret",
			Timeout: 100 * time.Millisecond, Retry: &RetryConfig{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, NoJitter: true}}},
	})
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, e.Emit(ctx, Event{Type: Created, Model: "shop.Order", Object: map[string]any{"id": i}}))
	}
	require.NoError(t, e.Close(ctx))

	logs, err := e.Logs(ctx, LogQuery{Endpoint: "slow-first"})
	require.NoError(t, err)
	require.Len(t, logs, 3)
	timedOutOnce := 0
	for _, l := range logs {
		assert.Equal(t, StatusDelivered, l.Status, "log %s", l.ID)
		for _, a := range l.History {
			if a.StatusCode == 0 {
				assert.Contains(t, a.Error, "timeout after 100ms", "log %s attempt %d", l.ID, a.Attempt)
				timedOutOnce++
			}
		}
	}
	assert.Equal(t, 1, timedOutOnce, "attempts that timed out")
}
