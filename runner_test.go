package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrail/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Runner a Queue gets at Start, called as a durable queue would.

// TestRunnerPrepare: Prepare shapes an event with no side effect, hands
// back the deliveries whose bodies failed for the queue to give up after
// its commit, and refuses what Emit refuses.
func TestRunnerPrepare(t *testing.T) {
	t.Parallel()
	srv := newHookReceiver(t, nil)
	refusing := coreEndpoint("refusing", srv.URL)
	refusing.Transform = func(webhook.Payload) (any, error) { return nil, errors.New("transform refused") }
	big := coreEndpoint("big", srv.URL)
	big.Transform = func(p webhook.Payload) (any, error) { return map[string]any{"pad": make([]int, 500)}, nil }
	q := &coreQueue{}
	failures := newFailureLog()
	e := newEmitter(t, webhook.Config{
		Queue:        q,
		Endpoints:    []webhook.Endpoint{coreEndpoint("plain", srv.URL), refusing, big},
		MaxBodyBytes: 600,
		OnFailure:    failures.record,
	})
	ctx := testCtx(t, 5*time.Second)

	p, err := q.run.Prepare(ctx, coreEvent(1))
	require.NoError(t, err, "an error about the event")
	require.Len(t, p.Deliveries, 1)
	assert.Equal(t, "plain", p.Deliveries[0].Endpoint)
	assert.NotEmpty(t, p.Deliveries[0].Body)
	require.Len(t, p.Failed, 2)
	failed := map[string]error{}
	for _, f := range p.Failed {
		assert.Nil(t, f.Delivery.Body, "the body of a delivery whose shaping failed")
		assert.Equal(t, p.Deliveries[0].EventID, f.Delivery.EventID, "one event id for every endpoint")
		var de *webhook.DeliveryError
		require.ErrorAs(t, f.Err, &de)
		assert.Equal(t, f.Delivery.Endpoint, de.Endpoint)
		failed[f.Delivery.Endpoint] = f.Err
	}
	assert.ErrorContains(t, failed["refusing"], "transform refused")
	assert.ErrorIs(t, failed["big"], webhook.ErrBodyTooLarge)
	assert.ErrorIs(t, p.Err(), webhook.ErrBodyTooLarge, "Prepared.Err joins the failures")

	// No side effect: nothing queued, logged or reported.
	assert.Empty(t, q.calls(), "Enqueue calls")
	assert.Empty(t, whLogs(t, e, webhook.LogQuery{}), "delivery logs")
	assert.Empty(t, failures.all(), "OnFailure calls")

	// After the commit, the queue gives up the failed ones: logged and
	// reported as Emit would have.
	for _, f := range p.Failed {
		assert.ErrorIs(t, q.run.GiveUp(f.Delivery, f.Err), f.Err)
	}
	assert.Len(t, failures.all(), 2, "OnFailure calls after GiveUp")
	assert.Len(t, whLogs(t, e, webhook.LogQuery{Status: webhook.StatusFailed}), 2, "failed delivery logs after GiveUp")

	_, err = q.run.Prepare(ctx, webhook.Event{Type: "bogus", Model: "store.Order", Object: map[string]any{"id": 1}})
	assert.ErrorIs(t, err, webhook.ErrInvalidEvent)
	closeEmitter(t, e, 5*time.Second)
	_, err = q.run.Prepare(ctx, coreEvent(2))
	assert.ErrorIs(t, err, webhook.ErrClosed, "Prepare after Close")
}

// TestRunnerSchedule: NextRetry is the endpoint's RetryConfig, and
// AttemptTimeout its Timeout.
func TestRunnerSchedule(t *testing.T) {
	t.Parallel()
	q := &coreQueue{}
	ep := coreEndpoint("a", "http://127.0.0.1:1")
	ep.Retry = &webhook.RetryConfig{MaxRetries: 2, RetryDelay: time.Second, BackoffFactor: 3, NoJitter: true}
	ep.Timeout = 7 * time.Second
	newEmitter(t, webhook.Config{Queue: q, Endpoints: []webhook.Endpoint{ep}, Timeout: 9 * time.Second})
	d := &webhook.Delivery{Endpoint: "a"}
	for _, tc := range []struct {
		n     int
		delay time.Duration
		ok    bool
	}{{1, time.Second, true}, {2, 3 * time.Second, true}, {3, 0, false}} {
		delay, ok := q.run.NextRetry(d, tc.n)
		assert.Equal(t, tc.ok, ok, "NextRetry after attempt %d", tc.n)
		assert.Equal(t, tc.delay, delay, "NextRetry after attempt %d", tc.n)
	}
	_, ok := q.run.NextRetry(&webhook.Delivery{Endpoint: "gone"}, 1)
	assert.False(t, ok, "NextRetry for an endpoint that is not configured")
	assert.Equal(t, 7*time.Second, q.run.AttemptTimeout(d))
	assert.Equal(t, 9*time.Second, q.run.AttemptTimeout(&webhook.Delivery{Endpoint: "gone"}))
}

// TestRunnerAttemptWithEndedContext: an attempt whose context has ended
// sends nothing, counts nothing and leaves the delivery as it was.
func TestRunnerAttemptWithEndedContext(t *testing.T) {
	t.Parallel()
	srv := newHookReceiver(t, nil)
	q := &coreQueue{}
	failures := newFailureLog()
	newEmitter(t, webhook.Config{Queue: q, Endpoints: []webhook.Endpoint{coreEndpoint("a", srv.URL)}, OnFailure: failures.record})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &webhook.Delivery{ID: "dlv_1", EventID: "evt_1", EventType: webhook.Created, Endpoint: "a", Body: []byte(`{}`), CreatedAt: time.Now()}
	before := *d
	res := q.run.Attempt(ctx, d)
	assert.Equal(t, webhook.OutcomeInterrupted, res.Outcome)
	assert.False(t, res.Counts())
	assert.ErrorIs(t, res.Err, context.Canceled)
	assert.Equal(t, before, *d, "the delivery after the attempt")
	assert.Zero(t, srv.count(), "requests sent")
	assert.Empty(t, failures.all(), "OnFailure calls")
}

// TestInterruptedProbeHandsBackItsTurn: a circuit's probe cut short by its
// caller's deadline lets the next delivery probe; it does not leave the
// circuit waiting for a probe that never reports.
func TestInterruptedProbeHandsBackItsTurn(t *testing.T) {
	t.Parallel()
	// The endpoint answers 503 (phase 0), then hangs until its client
	// gives up (1), then answers 200 (2).
	var phase atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client that went away only once the body
		// has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		switch phase.Load() {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 1:
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
	}))
	t.Cleanup(srv.Close)
	e := newEmitter(t, webhook.Config{
		Sync:           true,
		Endpoints:      []webhook.Endpoint{coreEndpoint("a", srv.URL)},
		Retry:          &webhook.RetryConfig{MaxRetries: 0},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: 1, Cooldown: 100 * time.Millisecond},
	})
	require.Error(t, e.Emit(testCtx(t, 5*time.Second), coreEvent(1)), "a 503")
	require.Equal(t, webhook.CircuitOpen, statsOf(t, e).Endpoints["a"].Circuit)
	time.Sleep(150 * time.Millisecond) // past the cooldown: the next attempt probes

	phase.Store(1)
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := e.Emit(short, coreEvent(2))
	cancel()
	require.ErrorContains(t, err, "interrupted", "the probe whose caller gave up")

	phase.Store(2)
	start := time.Now()
	require.NoError(t, e.Emit(testCtx(t, 5*time.Second), coreEvent(3)), "the delivery after an interrupted probe")
	assert.Less(t, time.Since(start), 2*time.Second, "the delivery after an interrupted probe")
	assert.Equal(t, webhook.CircuitClosed, statsOf(t, e).Endpoints["a"].Circuit)
}
