package webhook_test

// Helpers shared by the test files of package webhook_test: a quiet
// logger, an Emitter that is closed when the test ends, step contexts,
// a polling wait, a settable clock, a recording receiver on 127.0.0.1, a
// collector of OnFailure calls, a log buffer, external tools for the
// interop tests, and the signatures and headers of both schemes computed
// independently of the library.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// quietLogger keeps the logs of expected failures out of the test output.
var quietLogger = slog.New(slog.DiscardHandler)

// newEmitter returns webhook.New(cfg), with quietLogger unless cfg has a
// Logger, and fails the test if New fails. The Emitter is closed when the
// test ends, waiting 10 s at most, after the cleanups registered later
// (such as a stricter close) and before the receivers made earlier; that
// Close's error is ignored: a test that expects none closes the Emitter
// itself with closeEmitter.
func newEmitter(t testing.TB, cfg webhook.Config) *webhook.Emitter {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	e, err := webhook.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = closeWithin(e, 10*time.Second) })
	return e
}

// closeWithin closes e with a context that ends after d and returns
// Close's error.
// statsOf returns e's Stats, failing the test on an error.
func statsOf(t testing.TB, e *webhook.Emitter) webhook.Stats {
	t.Helper()
	st, err := e.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func closeWithin(e *webhook.Emitter, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.Close(ctx)
}

// closeEmitter closes e, waiting at most d, and fails the test if Close
// returns an error.
func closeEmitter(t testing.TB, e *webhook.Emitter, d time.Duration) {
	t.Helper()
	if err := closeWithin(e, d); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// testCtx is a context that bounds one test step: it ends after d, or
// when the test does.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// eachSyncMode runs test in two parallel subtests, "sync=false" and
// "sync=true", for an Emitter with Config.Sync off and on.
func eachSyncMode(t *testing.T, test func(t *testing.T, sync bool)) {
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) {
			t.Parallel()
			test(t, sync)
		})
	}
}

// waitFor polls cond every few milliseconds until it holds, failing the
// test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testClock is a settable clock, safe for concurrent use: its Now serves
// as Config.Now and Verifier.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hookRequest is one request as a hookReceiver got it.
type hookRequest struct {
	N      int       // 1 for the receiver's first request
	At     time.Time // when the handler was entered, before reading the body
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// eventID is the request's X-Webhook-Event-Id.
func (r hookRequest) eventID() string { return r.Header.Get(webhook.HeaderEventID) }

// hookReceiver is an httptest server on 127.0.0.1 that records every
// request and answers with its respond func.
type hookReceiver struct {
	*httptest.Server
	respond func(w http.ResponseWriter, r *http.Request, req hookRequest)

	mu      sync.Mutex
	reqs    []hookRequest
	taken   int           // requests already returned by takeNew
	changed chan struct{} // poked after each request is recorded
}

// newHookReceiver starts a receiver; respond nil answers 200. A request
// whose body cannot be read is answered 400 and not recorded. The
// receiver is closed when the test ends (after the Emitters made later).
func newHookReceiver(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, req hookRequest)) *hookReceiver {
	t.Helper()
	rc := &hookReceiver{respond: respond, changed: make(chan struct{}, 1)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		req := hookRequest{N: len(rc.reqs) + 1, At: at, Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		rc.reqs = append(rc.reqs, req)
		rc.mu.Unlock()
		select {
		case rc.changed <- struct{}{}:
		default:
		}
		if rc.respond == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		rc.respond(w, r, req)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// answerStatus answers the nth request with codes[n-1], and every request
// after the last code with the last code.
func answerStatus(codes ...int) func(http.ResponseWriter, *http.Request, hookRequest) {
	return func(w http.ResponseWriter, _ *http.Request, req hookRequest) {
		w.WriteHeader(codes[min(req.N, len(codes))-1])
	}
}

// requests returns a copy of the requests so far.
func (rc *hookReceiver) requests() []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookRequest(nil), rc.reqs...)
}

// count returns the number of requests so far.
func (rc *hookReceiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// take returns the requests received on path, in arrival order.
func (rc *hookReceiver) take(path string) []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookRequest
	for _, r := range rc.reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// takeNew returns the requests received since the last takeNew (or since
// the start), in arrival order.
func (rc *hookReceiver) takeNew() []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := append([]hookRequest(nil), rc.reqs[rc.taken:]...)
	rc.taken = len(rc.reqs)
	return out
}

// wait waits until the receiver has n requests, failing the test after d.
func (rc *hookReceiver) wait(t testing.TB, n int, d time.Duration) []hookRequest {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if reqs := rc.requests(); len(reqs) >= n {
			return reqs
		}
		select {
		case <-rc.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("receiver got %d requests within %s, want %d", rc.count(), d, n)
		}
	}
}

// requireTool returns the path of the executable name, and fails the test
// (it never skips it) when there is none; forWhat completes the message
// "<name> is required for ...".
func requireTool(t testing.TB, name, forWhat string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for %s: %v", name, forWhat, err)
	}
	return p
}

// runScript runs bin with script and dir as its arguments, and returns its
// combined output; ctx bounds it, and its output is waited for 5 s at most
// after that.
func runScript(ctx context.Context, bin, script, dir string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, script, dir)
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// localhostURL is the URL of path on srv by the hostname "localhost",
// which resolves to a loopback address: an SSRFGuard sees the address
// dialled, not a literal in the URL.
func localhostURL(t testing.TB, srv *httptest.Server, path string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + port + path
}

// failureLog collects OnFailure calls: set Config.OnFailure to its record
// method.
type failureLog struct {
	mu   sync.Mutex
	list []webhook.Failure
	ch   chan webhook.Failure // every call, for next; record never blocks on it
}

func newFailureLog() *failureLog { return &failureLog{ch: make(chan webhook.Failure, 1024)} }

// record is the OnFailure callback.
func (f *failureLog) record(x webhook.Failure) {
	f.mu.Lock()
	f.list = append(f.list, x)
	f.mu.Unlock()
	select {
	case f.ch <- x:
	default:
	}
}

// all returns a copy of the calls so far.
func (f *failureLog) all() []webhook.Failure {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]webhook.Failure(nil), f.list...)
}

// next waits for the next OnFailure call, failing the test after d.
func (f *failureLog) next(t testing.TB, d time.Duration) webhook.Failure {
	t.Helper()
	select {
	case x := <-f.ch:
		return x
	case <-time.After(d):
		t.Fatalf("no OnFailure call within %s", d)
		return webhook.Failure{}
	}
}

// wait waits until there have been at least n OnFailure calls, failing
// the test after d, and returns them.
func (f *failureLog) wait(t testing.TB, n int, d time.Duration) []webhook.Failure {
	t.Helper()
	waitFor(t, d, strconv.Itoa(n)+" OnFailure calls", func() bool { return len(f.all()) >= n })
	return f.all()
}

// logBuffer collects log output; it is safe for a handler's concurrent
// writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// debugLogger is a logger that writes JSON lines of every level, debug
// included, to b.
func (b *logBuffer) debugLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// seedSignature is the seed scheme's X-Webhook-Signature value, "sha256="
// and the hex HMAC-SHA256 of "<ts>.<body>", computed independently of the
// library.
func seedSignature(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// seedHeader returns the headers of a seed-scheme JSON request signed at
// ts; without X-Webhook-Event-Id when eventID is empty.
func seedHeader(secret, eventID string, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(webhook.HeaderSignature, seedSignature(secret, strconv.FormatInt(ts, 10), body))
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	if eventID != "" {
		h.Set(webhook.HeaderEventID, eventID)
	}
	return h
}

// standardSignature is the Standard Webhooks v1 signature, written from
// the specification with crypto/hmac, independently of the library.
func standardSignature(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// newSigningKey returns a fresh ed25519 "whsk_" signing key and its
// "whpk_" public key, failing the test if GenerateSigningKey fails.
func newSigningKey(t testing.TB) (signing, public string) {
	t.Helper()
	signing, public, err := webhook.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return signing, public
}

// standardHeader returns the Standard Webhooks headers webhook-id,
// webhook-timestamp and webhook-signature, set to id, ts and sig.
func standardHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderStandardID, id)
	h.Set(webhook.HeaderStandardTimestamp, ts)
	h.Set(webhook.HeaderStandardSignature, sig)
	return h
}
