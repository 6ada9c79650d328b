package webhook_test

// Regression tests of the delivery core: each one pins a bug the review
// found (cancelled attempts blamed on the endpoint, contexts dropped or
// errors lost on the way to and from a Queue, OAuth2 fetches outliving
// Close, callbacks' failures reported the wrong way, Stats blind in Sync
// mode, an open circuit stretching a backlog's retry budget, a receiver
// completing the claim of a request nobody waited for, a zero Emitter
// doing nothing, and "webhook: … webhook: …" in error texts).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrail/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---- helpers (prefixed "core" to stay clear of other test files) ----

const coreSecret = "core-secret"

// coreEvent is a Created event of a store.Order map. A map has no Go type
// name to label it: without Model, Emit rejects it as invalid.
func coreEvent(id int) webhook.Event {
	ev := webhook.Create(map[string]any{"id": id})
	ev.Model = "store.Order"
	return ev
}

// coreEndpoint is a valid endpoint to url.
func coreEndpoint(name, url string) webhook.Endpoint {
	return webhook.Endpoint{Name: name, URL: url, Secret: coreSecret}
}

// coreHang is an httptest server on 127.0.0.1 whose handler holds every
// request until release is called (then answers 200), the client goes
// away, or the test ends (then answers 503): no handler outlives the test.
type coreHang struct {
	*httptest.Server
	reached chan struct{} // a value per request that entered the handler, while there is room
	ended   chan struct{} // a value per request whose client went away, while there is room
	release func()
}

func newCoreHang(t *testing.T) *coreHang {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	h := &coreHang{
		reached: make(chan struct{}, 64),
		ended:   make(chan struct{}, 64),
		release: func() { once.Do(func() { close(gate) }) },
	}
	testOver := t.Context() // cancelled before any cleanup runs
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body: the server notices a client that goes away (and
		// cancels r's context) only once the body has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case h.reached <- struct{}{}:
		default:
		}
		select {
		case <-gate:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
			select {
			case h.ended <- struct{}{}:
			default:
			}
		case <-testOver.Done():
			http.Error(w, "test over", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// waitReached waits for a request to enter the handler, failing the test
// after d.
func (h *coreHang) waitReached(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-h.reached:
	case <-time.After(d):
		t.Fatalf("no request reached the endpoint within %s", d)
	}
}

// coreQueue is a custom Queue, as a durable one would be: its Enqueue
// honours ctx (a database insert does), it records what it is handed and
// never attempts anything; Close and Stats return closeErr and statsErr.
type coreQueue struct {
	closeErr error
	statsErr error

	run webhook.Runner
	mu  sync.Mutex
	got []coreEnqueue
}

// coreEnqueue is one Enqueue call: its ctx's error at the call, and the
// deliveries.
type coreEnqueue struct {
	ctx    context.Context
	ctxErr error
	ds     []*webhook.Delivery
}

var _ webhook.Queue = (*coreQueue)(nil)

func (q *coreQueue) Start(r webhook.Runner) error {
	q.run = r
	return nil
}

func (q *coreQueue) Enqueue(ctx context.Context, ds []*webhook.Delivery) error {
	q.mu.Lock()
	q.got = append(q.got, coreEnqueue{ctx: ctx, ctxErr: ctx.Err(), ds: ds})
	q.mu.Unlock()
	if err := ctx.Err(); err != nil {
		// Not taken: given up, as the Queue contract says.
		errs := make([]error, 0, len(ds))
		for _, d := range ds {
			errs = append(errs, q.run.GiveUp(d, fmt.Errorf("not stored: %w", err)))
		}
		return errors.Join(errs...)
	}
	return nil
}

func (q *coreQueue) Close(context.Context) error { return q.closeErr }

func (q *coreQueue) Stats(context.Context) (webhook.QueueStats, error) {
	return webhook.QueueStats{}, q.statsErr
}

// calls returns the Enqueue calls so far.
func (q *coreQueue) calls() []coreEnqueue {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]coreEnqueue(nil), q.got...)
}

// coreSaysWebhookOnce checks that err's text starts with "webhook: " and
// says it only there; the errors an errors.Join joins, one per line, are
// checked line by line.
func coreSaysWebhookOnce(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error", what)
		return
	}
	for line := range strings.Lines(err.Error()) {
		line = strings.TrimSuffix(line, "\n")
		assert.Truef(t, strings.HasPrefix(line, "webhook: "), "%s: error does not start with \"webhook: \": %q", what, line)
		assert.LessOrEqualf(t, strings.Count(line, "webhook: "), 1, "%s: error says \"webhook: \" more than once: %q", what, line)
	}
}

// ---- tests ----

// TestCancelledAttemptIsNotAnEndpointFailure: an attempt cut short by its
// own context (a Sync caller's deadline, Close giving up) is no failure of
// the endpoint: the circuit stays closed, the monitor does not alert, and
// the error says the attempt was interrupted by the caller's deadline,
// once, without blaming the endpoint's timeout.
func TestCancelledAttemptIsNotAnEndpointFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sync bool
		// cut makes attempts that their context cuts short, and returns
		// the errors the caller got.
		cut          func(t *testing.T, e *webhook.Emitter, h *coreHang) []error
		wantFailures int
	}{
		{
			name: "sync: the caller's deadline",
			sync: true,
			cut: func(t *testing.T, e *webhook.Emitter, h *coreHang) []error {
				var errs []error
				for i := range 3 {
					ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
					err := e.Emit(ctx, coreEvent(i))
					cancel()
					require.Errorf(t, err, "Emit %d whose deadline ended during the attempt", i)
					h.waitReached(t, 2*time.Second) // the attempt was under way
					var de *webhook.DeliveryError
					if assert.ErrorAsf(t, err, &de, "Emit %d", i) {
						assert.Equal(t, "a", de.Endpoint, "the DeliveryError's endpoint")
					}
					assert.Containsf(t, err.Error(), "attempt 1 interrupted: context deadline exceeded", "Emit %d", i)
					errs = append(errs, err)
				}
				return errs
			},
			wantFailures: 3,
		},
		{
			name: "async: Close giving up",
			cut: func(t *testing.T, e *webhook.Emitter, h *coreHang) []error {
				require.NoError(t, e.Emit(context.Background(), coreEvent(1)))
				h.waitReached(t, 3*time.Second)
				err := closeWithin(e, 100*time.Millisecond)
				var ue *webhook.UndeliveredError
				require.ErrorAs(t, err, &ue, "Close giving up on the attempt under way")
				assert.Equal(t, 1, ue.Count, "UndeliveredError.Count")
				return []error{err}
			},
			wantFailures: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newCoreHang(t)
			var alerts atomic.Int32
			failures := newFailureLog()
			e := newEmitter(t, webhook.Config{
				Sync:           tc.sync,
				Endpoints:      []webhook.Endpoint{coreEndpoint("a", h.URL)}, // Timeout: the default 30 s
				CircuitBreaker: webhook.CircuitBreaker{Threshold: 1},
				Monitor: webhook.Monitor{AlertOnConsecutiveFailures: 1, OnAlert: func(webhook.Alert) {
					alerts.Add(1)
				}},
				OnFailure: failures.record,
			})
			errs := tc.cut(t, e, h)

			fs := failures.all()
			require.Len(t, fs, tc.wantFailures, "OnFailure calls: each delivery cut short is given up once")
			for i, f := range fs {
				assert.Zerof(t, f.Attempts, "Failure %d: Attempts (an interrupted attempt does not count)", i)
				assert.Zerof(t, f.StatusCode, "Failure %d: StatusCode", i)
				assert.ErrorIsf(t, f.Err, context.DeadlineExceeded, "Failure %d", i)
				errs = append(errs, f.Err)
			}
			for i, err := range errs {
				msg := err.Error()
				assert.NotContainsf(t, msg, "timeout after", "error %d blames the endpoint's timeout", i)
				assert.Equalf(t, 1, strings.Count(msg, "context deadline exceeded"),
					"error %d must say \"context deadline exceeded\" exactly once: %q", i, msg)
			}
			assert.Equal(t, webhook.CircuitClosed, statsOf(t, e).Endpoints["a"].Circuit,
				"circuit after attempts cut short by their own context (threshold 1)")
			assert.Zero(t, alerts.Load(), "OnAlert calls for attempts cut short by their own context (alert after 1)")
		})
	}
}

// TestEmitEnqueueHonoursContext: Emit hands a custom Queue the caller's
// context as it is: with context.Background() the queue gets a live
// context and takes the delivery; a context that has ended is the event's
// error, and the queue is not called.
func TestEmitEnqueueHonoursContext(t *testing.T) {
	t.Parallel()
	srv := newHookReceiver(t, nil)
	q := &coreQueue{}
	failures := newFailureLog()
	e := newEmitter(t, webhook.Config{Queue: q, Endpoints: []webhook.Endpoint{coreEndpoint("a", srv.URL)}, OnFailure: failures.record})

	live, cancelLive := context.WithCancel(context.Background())
	require.NoError(t, e.Emit(live, coreEvent(1)), "Emit with a live context and a queue that honours ctx")
	calls := q.calls()
	require.Len(t, calls, 1, "Enqueue calls")
	assert.NoError(t, calls[0].ctxErr, "the context Enqueue got had ended already")
	cancelLive()
	assert.ErrorIs(t, calls[0].ctx.Err(), context.Canceled, "Enqueue must get the caller's context, not one detached from it")
	require.Len(t, calls[0].ds, 1, "deliveries in the Enqueue call")
	assert.Equal(t, "a", calls[0].ds[0].Endpoint)
	assert.NotEmpty(t, calls[0].ds[0].Body, "the delivery's body")
	assert.Empty(t, failures.all(), "OnFailure calls")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.Emit(ctx, coreEvent(2))
	require.ErrorIs(t, err, context.Canceled, "Emit with an ended context")
	assert.Len(t, q.calls(), 1, "Enqueue calls after an Emit whose context had ended")
	assert.Empty(t, failures.all(), "OnFailure calls: an ended context is the event's error")
}

// TestCloseReturnsQueueError: when nothing was left undelivered, Close
// returns the Queue's own error in closing, wrapped (and nil when there is
// none); later calls return the same.
func TestCloseReturnsQueueError(t *testing.T) {
	t.Parallel()
	errDisk := errors.New("disk on fire")
	for _, closeErr := range []error{nil, errDisk} {
		t.Run(fmt.Sprintf("queue error %v", closeErr), func(t *testing.T) {
			t.Parallel()
			srv := newHookReceiver(t, nil)
			q := &coreQueue{closeErr: closeErr}
			e := newEmitter(t, webhook.Config{Queue: q, Endpoints: []webhook.Endpoint{coreEndpoint("a", srv.URL)}})
			err := closeWithin(e, 2*time.Second)
			if closeErr == nil {
				require.NoError(t, err, "Close with a queue that closes cleanly")
				return
			}
			require.ErrorIs(t, err, errDisk, "Close must return the queue's Close error")
			coreSaysWebhookOnce(t, "Close", err)
			assert.Equal(t, err, closeWithin(e, 2*time.Second), "a second Close returns the first one's result")
		})
	}
}

// TestOAuthFetchEndsWithClose: an OAuth2 token request under way ends
// when Close gives up, not when the endpoint's timeout (10 s) does.
func TestOAuthFetchEndsWithClose(t *testing.T) {
	t.Parallel()
	tokens := newCoreHang(t)
	hook := newHookReceiver(t, nil)
	clock := &coreTokenClock{RoundTripper: http.DefaultTransport.(*http.Transport).Clone(), host: strings.TrimPrefix(tokens.URL, "http://")}
	e := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{{
			Name: "a", URL: hook.URL, Secret: coreSecret, Timeout: 10 * time.Second,
			OAuth2: &webhook.OAuth2{ClientID: "id", ClientSecret: "secret", TokenURL: tokens.URL},
		}},
		Retry:      &webhook.RetryConfig{MaxRetries: 0},
		HTTPClient: &http.Client{Transport: clock},
	})
	require.NoError(t, e.Emit(context.Background(), coreEvent(1)))
	tokens.waitReached(t, 3*time.Second)

	start := time.Now()
	err := closeWithin(e, 200*time.Millisecond)
	took := time.Since(start)
	var ue *webhook.UndeliveredError
	require.ErrorAs(t, err, &ue, "Close giving up on a delivery waiting for its token")
	assert.Equal(t, 1, ue.Count, "UndeliveredError.Count")
	assert.Less(t, took, 2*time.Second, "Close(200ms) took %s", took)
	returned := clock.returned()
	if assert.False(t, returned.IsZero(), "the token request had not returned when Close did") {
		assert.False(t, returned.After(start.Add(took)), "the token request returned %s after Close did", returned.Sub(start.Add(took)))
	}
	select {
	case <-tokens.ended:
	case <-time.After(500 * time.Millisecond):
		t.Errorf("the token request was still running 500ms after Close returned (endpoint timeout 10s)")
	}
	assert.Zero(t, hook.count(), "requests to the endpoint without a token")
}

// coreTokenClock is a transport that notes when a request to host
// returned.
type coreTokenClock struct {
	http.RoundTripper
	host string

	mu   sync.Mutex
	when time.Time
}

func (c *coreTokenClock) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.RoundTripper.RoundTrip(r)
	if r.URL.Host == c.host {
		c.mu.Lock()
		c.when = time.Now()
		c.mu.Unlock()
	}
	return resp, err
}

func (c *coreTokenClock) returned() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.when
}

// TestEmitErrorRule: Emit's error rule. What is wrong with the event as
// a whole (an invalid event, a panic in ShouldSend or WebhookMeta) is
// returned and nothing else happens; what is wrong with one endpoint's
// delivery (a Transform error or panic, a body too large) is returned as a
// *DeliveryError naming it, that delivery fails the usual way (delivery
// log, OnFailure) and the other endpoints get the event.
func TestEmitErrorRule(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("transform refused")
	// big is over MaxBodyBytes for "target", not for "other", which
	// leaves the blob out.
	big := webhook.Create(map[string]any{"id": 1, "blob": strings.Repeat("x", 4096)})
	big.Model = "store.Order"
	for _, tc := range []struct {
		name   string
		ev     webhook.Event
		config func(cfg *webhook.Config, target *webhook.Endpoint)

		eventErrs []error // an error about the event, wrapping all of these
		targetErr error   // else a *DeliveryError of "target" wrapping it
	}{
		{
			name:      "invalid type",
			ev:        webhook.Event{Type: "bogus", Model: "store.Order", Object: map[string]any{"id": 1}},
			eventErrs: []error{webhook.ErrInvalidEvent},
		},
		{
			name: "ShouldSend panic",
			ev:   big,
			config: func(cfg *webhook.Config, _ *webhook.Endpoint) {
				cfg.Models = map[string]webhook.ModelMeta{
					"store.Order": {ShouldSend: func(webhook.Event) bool { panic("should_send exploded") }},
				}
			},
			eventErrs: []error{webhook.ErrInvalidEvent, webhook.ErrPanic},
		},
		{
			name:      "WebhookMeta panic",
			ev:        webhook.Event{Type: webhook.Created, Model: "store.Order", Object: (*whPanicMeta)(nil)},
			eventErrs: []error{webhook.ErrInvalidEvent, webhook.ErrPanic},
		},
		{
			name: "Transform error",
			ev:   big,
			config: func(_ *webhook.Config, target *webhook.Endpoint) {
				target.Transform = func(webhook.Payload) (any, error) { return nil, errRefused }
			},
			targetErr: errRefused,
		},
		{
			name: "Transform panic",
			ev:   big,
			config: func(_ *webhook.Config, target *webhook.Endpoint) {
				target.Transform = func(webhook.Payload) (any, error) { panic("transform exploded") }
			},
			targetErr: webhook.ErrPanic,
		},
		{
			name:      "body too large",
			ev:        big,
			targetErr: webhook.ErrBodyTooLarge,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newHookReceiver(t, nil)
			failures := newFailureLog()
			target := coreEndpoint("target", srv.URL+"/target")
			other := coreEndpoint("other", srv.URL+"/other")
			other.ExcludeFields = map[string][]string{"*": {"blob"}}
			cfg := webhook.Config{MaxBodyBytes: 2048, OnFailure: failures.record}
			if tc.config != nil {
				tc.config(&cfg, &target)
			}
			cfg.Endpoints = []webhook.Endpoint{target, other}
			e := newEmitter(t, cfg)

			err := e.Emit(testCtx(t, 5*time.Second), tc.ev)
			require.Error(t, err, "Emit")
			coreSaysWebhookOnce(t, "Emit", err)
			logs, lerr := e.Logs(context.Background(), webhook.LogQuery{})
			require.NoError(t, lerr, "Logs")

			if tc.eventErrs != nil {
				for _, want := range tc.eventErrs {
					assert.ErrorIs(t, err, want, "Emit's error about the event")
				}
				var de *webhook.DeliveryError
				assert.False(t, errors.As(err, &de), "an error about the event is no DeliveryError: %v", err)
				assert.Empty(t, failures.all(), "OnFailure calls for an error about the event")
				assert.Empty(t, logs, "delivery logs for an error about the event")
				return
			}

			assert.ErrorIs(t, err, tc.targetErr, "Emit's error")
			assert.NotErrorIs(t, err, webhook.ErrInvalidEvent, "one endpoint's failure is not the event's")
			var de *webhook.DeliveryError
			require.ErrorAs(t, err, &de, "Emit's error for one endpoint's delivery")
			assert.Equal(t, "target", de.Endpoint, "DeliveryError.Endpoint")
			assert.Contains(t, err.Error(), `endpoint "target"`)

			fs := failures.all()
			require.Len(t, fs, 1, "OnFailure calls: the failed delivery, once")
			assert.Equal(t, "target", fs[0].Endpoint, "Failure.Endpoint")
			assert.Equal(t, de.Error(), fs[0].Err.Error(), "Failure.Err is what Emit returned")
			var failed []webhook.DeliveryLog
			for _, l := range logs {
				if l.Status == webhook.StatusFailed {
					failed = append(failed, l)
				}
			}
			require.Len(t, failed, 1, "failed delivery logs")
			assert.Equal(t, "target", failed[0].EndpointName)
			assert.Equal(t, fs[0].DeliveryID, failed[0].ID, "the failed log is the Failure's delivery")

			srv.wait(t, 1, 5*time.Second)
			assert.Empty(t, srv.take("/target"), "requests to the endpoint whose delivery failed")
			assert.Len(t, srv.take("/other"), 1, "requests to the other endpoint, which gets the event")
		})
	}
}

// TestStatsInSyncMode: Stats counts the deliveries of Sync Emits under
// way.
func TestStatsInSyncMode(t *testing.T) {
	t.Parallel()
	h := newCoreHang(t)
	e := newEmitter(t, webhook.Config{Sync: true, Endpoints: []webhook.Endpoint{coreEndpoint("a", h.URL)}})
	emitted := make(chan error, 1)
	go func() { emitted <- e.Emit(testCtx(t, 5*time.Second), coreEvent(1)) }()
	h.waitReached(t, 3*time.Second)

	st := statsOf(t, e)
	assert.Equal(t, 1, st.InFlight, "Stats.InFlight during a Sync Emit")
	assert.Equal(t, 1, st.Endpoints["a"].InFlight, "Stats.Endpoints[a].InFlight during a Sync Emit")
	assert.Zero(t, st.Queued, "Stats.Queued during a Sync Emit's attempt")

	h.release()
	select {
	case err := <-emitted:
		require.NoError(t, err, "Sync Emit")
	case <-time.After(3 * time.Second):
		t.Fatal("Emit did not return within 3s of the handler's release")
	}
	st = statsOf(t, e)
	assert.Zero(t, st.InFlight, "Stats.InFlight after the Sync Emit")
	assert.Zero(t, st.Endpoints["a"].InFlight, "Stats.Endpoints[a].InFlight after the Sync Emit")
}

// TestOpenCircuitBacklogKeepsDeadline: a dead endpoint's backlog is given
// up within its retry budget even though the circuit is open: each
// delivery either fails its last attempt or, held by the open circuit past
// its deadline, fails with ErrCircuitOpen; and Close without a deadline
// returns once they are.
func TestOpenCircuitBacklogKeepsDeadline(t *testing.T) {
	t.Parallel()
	const (
		n          = 20
		timeout    = time.Second
		retryDelay = 50 * time.Millisecond
		cooldown   = 300 * time.Millisecond
	)
	// Each delivery's deadline (see CircuitBreaker): a Timeout per attempt
	// (2) and the one retry delay, no jitter: 2.05 s after its creation.
	// Probes alone, one per cooldown, would take n × 300 ms = 6 s.
	bound := 2*timeout + retryDelay + 1500*time.Millisecond
	srv := newHookReceiver(t, answerStatus(http.StatusServiceUnavailable))
	failures := newFailureLog()
	e := newEmitter(t, webhook.Config{
		Endpoints:      []webhook.Endpoint{coreEndpoint("a", srv.URL)},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: 1, Cooldown: cooldown},
		Retry:          &webhook.RetryConfig{MaxRetries: 1, RetryDelay: retryDelay, NoJitter: true},
		Timeout:        timeout,
		OnFailure:      failures.record,
	})
	start := time.Now()
	for i := range n {
		require.NoError(t, e.Emit(context.Background(), coreEvent(i)), "Emit %d", i)
	}
	// Close with a context without deadline; the cleanup cancels it only
	// if Close is still running then, so that nothing outlives the test.
	closeCtx, cancelClose := context.WithCancel(context.Background())
	closed := make(chan error, 1)
	go func() { closed <- e.Close(closeCtx) }()
	t.Cleanup(func() {
		cancelClose()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("Close did not return within 5s of its context being cancelled")
		}
	})

	fs := failures.wait(t, n, bound)
	t.Logf("%d deliveries given up %s after the Emits (bound %s)", n, time.Since(start).Round(time.Millisecond), bound)
	require.Len(t, fs, n, "OnFailure calls")
	ids := map[string]bool{}
	open := 0
	for i, f := range fs {
		ids[f.DeliveryID] = true
		var de *webhook.DeliveryError
		require.ErrorAsf(t, f.Err, &de, "Failure %d", i)
		assert.Equalf(t, "a", de.Endpoint, "Failure %d: endpoint", i)
		if errors.Is(f.Err, webhook.ErrCircuitOpen) {
			open++
			continue
		}
		// Otherwise the last attempt the RetryConfig allows failed.
		assert.Equalf(t, 2, de.Attempt, "Failure %d (%v): the failed attempt, not held by the circuit, must be the last (2)", i, f.Err)
		assert.Equalf(t, http.StatusServiceUnavailable, de.StatusCode, "Failure %d (%v): status", i, f.Err)
		assert.Equalf(t, 2, f.Attempts, "Failure %d (%v): attempts", i, f.Err)
	}
	assert.Len(t, ids, n, "distinct deliveries given up")
	assert.Positive(t, open, "deliveries failed with ErrCircuitOpen (held by the open circuit past their deadline)")

	select {
	case err := <-closed:
		closed <- err // for the cleanup
		assert.NoError(t, err, "Close once every delivery is given up")
	case <-time.After(time.Until(start.Add(bound + 500*time.Millisecond))):
		t.Errorf("Close(ctx without deadline) had not returned %s after the Emits", time.Since(start).Round(time.Millisecond))
	}
}

// TestReceiverDeadRequestReleasesClaim: a request whose client gave up
// before the handler answered, and to which the handler wrote nothing, was
// not processed: the middleware releases its claim, the sender's retry
// reaches the handler, and a later copy is deduplicated.
func TestReceiverDeadRequestReleasesClaim(t *testing.T) {
	t.Parallel()
	var phase atomic.Int32 // 0: hang until the client goes, write nothing; 1: count and answer 200
	var calls atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if phase.Load() == 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
			return // nothing written
		}
		calls.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	rc := &webhook.Receiver{
		Verifier: webhook.Verifier{Secrets: []string{coreSecret}},
		Dedup:    webhook.NewMemoryDedup(webhook.MemoryDedupConfig{}),
	}
	mw := rc.Middleware(next)
	served := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mw.ServeHTTP(w, r)
		served <- struct{}{}
	}))
	t.Cleanup(srv.Close)

	const id = "evt_core_dead"
	body := []byte(`{"id":"` + id + `","event":"created"}`)
	send := func(client *http.Client) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header = seedHeader(coreSecret, id, time.Now().Unix(), body)
		return client.Do(req)
	}

	resp, err := send(&http.Client{Timeout: 100 * time.Millisecond})
	if err == nil {
		resp.Body.Close()
		t.Fatalf("first request answered %d, want the client to give up after 100ms", resp.StatusCode)
	}
	select {
	case <-served:
	case <-time.After(3 * time.Second):
		t.Fatal("the first request's middleware did not return within 3s")
	}

	phase.Store(1)
	for i, want := range []int32{1, 1} { // the retry is processed; a copy after it is not
		resp, err = send(&http.Client{Timeout: 3 * time.Second})
		require.NoErrorf(t, err, "request %d", i+2)
		resp.Body.Close()
		assert.Equalf(t, http.StatusOK, resp.StatusCode, "request %d: status", i+2)
		assert.Equalf(t, want, calls.Load(), "handler calls after request %d (the first abandoned by its client)", i+2)
	}
}

// TestZeroEmitter: every method of an Emitter not made by New fails with
// an error telling to use New, and none panics.
func TestZeroEmitter(t *testing.T) {
	t.Parallel()
	var e webhook.Emitter
	ctx := testCtx(t, 2*time.Second)
	for _, m := range []struct {
		name string
		call func() error
	}{
		{"Emit", func() error { return e.Emit(ctx, coreEvent(1)) }},
		{"Redeliver", func() error { _, err := e.Redeliver(ctx, "dlv_x"); return err }},
		{"Logs", func() error { _, err := e.Logs(ctx, webhook.LogQuery{}); return err }},
		{"Stats", func() error { _, err := e.Stats(ctx); return err }},
		{"EnableEndpoint", func() error { return e.EnableEndpoint(ctx, "a") }},
		{"Close", func() error { return e.Close(ctx) }},
		{"Emit after Close", func() error { return e.Emit(ctx, coreEvent(2)) }},
		{"LogsHandler", func() error {
			rec := httptest.NewRecorder()
			e.LogsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			var body struct{ Error string }
			if rec.Code == http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
				return nil
			}
			return errors.New(body.Error)
		}},
	} {
		var err error
		if !assert.NotPanicsf(t, func() { err = m.call() }, "%s on the zero Emitter", m.name) {
			continue
		}
		if assert.Errorf(t, err, "%s on the zero Emitter", m.name) {
			assert.Containsf(t, err.Error(), "New", "%s on the zero Emitter", m.name)
			coreSaysWebhookOnce(t, m.name, err)
		}
	}
}

// TestErrorsSayWebhookOnce: every error the package returns or reports
// starts with "webhook: " and says it only there (no "webhook: …
// webhook: …" stutter).
func TestErrorsSayWebhookOnce(t *testing.T) {
	t.Parallel()
	type named struct {
		what string
		err  error
	}
	var errs []named
	add := func(what string, err error) { errs = append(errs, named{what, err}) }
	ctx := testCtx(t, 10*time.Second)

	// An Emitter whose endpoint answers 400 (not retried).
	{
		srv := newHookReceiver(t, answerStatus(http.StatusBadRequest))
		failures := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Endpoints: []webhook.Endpoint{coreEndpoint("a", srv.URL)},
			Models: map[string]webhook.ModelMeta{
				"store.Panicky": {ShouldSend: func(webhook.Event) bool { panic("should_send exploded") }},
			},
			OnFailure: failures.record,
		})
		add("Emit of an invalid event type", e.Emit(ctx, webhook.Event{Type: "bogus", Model: "store.Order", Object: map[string]any{"id": 1}}))
		add("Emit with a panicking ShouldSend", e.Emit(ctx, webhook.Event{Type: webhook.Created, Model: "store.Panicky", Object: map[string]any{"id": 1}}))
		ended, cancel := context.WithCancel(ctx)
		cancel()
		add("Emit with an ended context", e.Emit(ended, coreEvent(1)))
		add("Emit of a map without a model label", e.Emit(ctx, webhook.Create(map[string]any{"id": 1})))
		add("Emit of a malformed model label", e.Emit(ctx, webhook.Event{Type: webhook.Created, Model: "bad label", Object: map[string]any{"id": 1}}))
		add("Emit of an object that is not a JSON object", e.Emit(ctx, webhook.Event{Type: webhook.Created, Model: "store.Order", Object: []int{1}}))
		add("Emit with a bad event id", e.Emit(ctx, webhook.Event{ID: "has space", Type: webhook.Created, Model: "store.Order", Object: map[string]any{"id": 1}}))
		_, err := e.Redeliver(ctx, "dlv_unknown")
		add("Redeliver of an unknown id", err)
		add("EnableEndpoint of an unknown endpoint", e.EnableEndpoint(ctx, "nope"))
		require.NoError(t, e.Emit(ctx, coreEvent(2)))
		add("a failed attempt's Failure.Err", failures.next(t, 5*time.Second).Err)
		closeEmitter(t, e, 5*time.Second)
		add("Emit after Close", e.Emit(ctx, coreEvent(3)))
		_, err = e.Redeliver(ctx, "dlv_unknown")
		add("Redeliver after Close", err)
	}

	// Invalid configs: one problem, and several (joined).
	_, err := webhook.New(webhook.Config{Timeout: -time.Second, Endpoints: []webhook.Endpoint{coreEndpoint("a", "http://127.0.0.1:1")}, Logger: quietLogger})
	add("New with a negative timeout", err)
	_, err = webhook.New(webhook.Config{Workers: -1, Endpoints: []webhook.Endpoint{{Name: "", URL: "ftp://x"}}, Logger: quietLogger})
	add("New with several problems", err)
	shared := webhook.NewMemoryQueue(webhook.MemoryQueueConfig{})
	newEmitter(t, webhook.Config{Queue: shared, Endpoints: []webhook.Endpoint{coreEndpoint("a", "http://127.0.0.1:1")}})
	_, err = webhook.New(webhook.Config{Queue: shared, Endpoints: []webhook.Endpoint{coreEndpoint("a", "http://127.0.0.1:1")}, Logger: quietLogger})
	add("New with a queue that fails to start", err)

	// Bodies that cannot be built: a Transform error, a body too large.
	{
		srv := newHookReceiver(t, nil)
		failures := newFailureLog()
		shaped := coreEndpoint("shaped", srv.URL)
		shaped.Transform = func(webhook.Payload) (any, error) { return nil, errors.New("transform refused") }
		e := newEmitter(t, webhook.Config{
			Endpoints:    []webhook.Endpoint{shaped, coreEndpoint("big", srv.URL)},
			MaxBodyBytes: 16,
			OnFailure:    failures.record,
		})
		err := e.Emit(ctx, coreEvent(1))
		require.ErrorIs(t, err, webhook.ErrBodyTooLarge)
		add("Emit with a Transform error and a body too large", err)
		for _, f := range failures.all() {
			add("Failure.Err of "+f.Endpoint, f.Err)
		}
	}

	// A full queue, then Close giving up.
	{
		h := newCoreHang(t)
		failures := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Endpoints: []webhook.Endpoint{coreEndpoint("a", h.URL)},
			Workers:   1, QueueSize: 1,
			OnFailure: failures.record,
		})
		require.NoError(t, e.Emit(ctx, coreEvent(1)))
		h.waitReached(t, 3*time.Second)
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := e.Emit(short, coreEvent(2))
		cancel()
		require.ErrorIs(t, err, webhook.ErrQueueFull)
		add("Emit to a full queue", err)
		err = closeWithin(e, 100*time.Millisecond)
		var ue *webhook.UndeliveredError
		require.ErrorAs(t, err, &ue)
		add("Close's UndeliveredError", err)
		for _, f := range failures.all() {
			add("Failure.Err of a delivery given up ("+f.DeliveryID+")", f.Err)
		}
	}

	// A Sync Emit whose deadline ends during the attempt.
	{
		h := newCoreHang(t)
		e := newEmitter(t, webhook.Config{Sync: true, Endpoints: []webhook.Endpoint{coreEndpoint("a", h.URL)}})
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		add("Sync Emit interrupted by its deadline", e.Emit(short, coreEvent(1)))
		cancel()
	}

	// A custom queue that fails to report its stats and to close.
	{
		srv := newHookReceiver(t, nil)
		q := &coreQueue{closeErr: errors.New("disk on fire"), statsErr: errors.New("database unreachable")}
		e := newEmitter(t, webhook.Config{Queue: q, Endpoints: []webhook.Endpoint{coreEndpoint("a", srv.URL)}})
		_, err := e.Stats(ctx)
		add("Stats of a failing queue", err)
		add("Close of a failing queue", closeWithin(e, 2*time.Second))
	}

	require.Len(t, errs, 25, "errors collected")
	for _, x := range errs {
		coreSaysWebhookOnce(t, x.what, x.err)
	}
}
