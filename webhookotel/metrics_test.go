package webhookotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookotel"
)

// TestMetrics: deliveries by endpoint and outcome (one endpoint that
// delivers after a retry, one that fails after its retry), an attempt
// duration point per attempt, by outcome and status code, and the
// retries.
func TestMetrics(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{})
	flaky := failFirst(t, 1, http.StatusServiceUnavailable)
	down := failFirst(t, 1<<30, http.StatusInternalServerError)
	e := newEmitter(t, tm.obs, webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "flaky", URL: flaky.URL, Secret: secret},
			{Name: "down", URL: down.URL, Secret: secret},
		},
		Retry:          fastRetry(1),
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
	})
	require.NoError(t, e.Emit(context.Background(), orderEvent(1)))
	require.NoError(t, e.Emit(context.Background(), orderEvent(2)))
	closeEmitter(t, e)

	rm := tm.collect(t)
	flakyEP, downEP := webhookotel.KeyEndpoint.String("flaky"), webhookotel.KeyEndpoint.String("down")
	delivered, failed := webhookotel.KeyOutcome.String("delivered"), webhookotel.KeyOutcome.String("failed")
	assert.Equal(t, int64(2), intValue(t, rm, webhookotel.MetricDeliveries, flakyEP, delivered))
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricDeliveries, flakyEP, failed))
	assert.Equal(t, int64(2), intValue(t, rm, webhookotel.MetricDeliveries, downEP, failed))
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricDeliveries, downEP, delivered))

	// flaky: event 1's first attempt 503, then 200, event 2's 200.
	// down: two attempts of each event, 500.
	assert.Equal(t, uint64(3), histogramCount(t, rm, webhookotel.MetricAttemptDuration, flakyEP))
	assert.Equal(t, uint64(2), histogramCount(t, rm, webhookotel.MetricAttemptDuration, flakyEP, delivered, statusCode(200)))
	assert.Equal(t, uint64(1), histogramCount(t, rm, webhookotel.MetricAttemptDuration, flakyEP, webhookotel.KeyOutcome.String("retry"), statusCode(503)))
	assert.Equal(t, uint64(4), histogramCount(t, rm, webhookotel.MetricAttemptDuration, downEP))
	assert.Equal(t, uint64(2), histogramCount(t, rm, webhookotel.MetricAttemptDuration, downEP, webhookotel.KeyOutcome.String("retry"), statusCode(500)))
	assert.Equal(t, uint64(2), histogramCount(t, rm, webhookotel.MetricAttemptDuration, downEP, failed, statusCode(500)))
	assert.Equal(t, uint64(len(tm.attemptSpans())), histogramCount(t, rm, webhookotel.MetricAttemptDuration), "a point per attempt")

	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricRetries, flakyEP))
	assert.Equal(t, int64(2), intValue(t, rm, webhookotel.MetricRetries, downEP))

	m, ok := findMetric(rm, webhookotel.MetricAttemptDuration)
	require.True(t, ok)
	assert.Equal(t, "s", m.Unit)
}

// TestQueueDepth: the queue depth gauge reads, per endpoint, the
// delivery a receiver holds (in flight) and the one waiting behind it
// (queued), and nothing once they are delivered; after Unregister the
// Emitter is no longer read.
func TestQueueDepth(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{})
	release := make(chan struct{})
	var arrived atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	fast := failFirst(t, 0, 0)
	e := newEmitter(t, tm.obs, webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "slow", URL: slow.URL, Secret: secret, Events: []webhook.EventType{webhook.Created}},
			{Name: "fast", URL: fast.URL, Secret: secret, Events: []webhook.EventType{webhook.Updated}},
		},
		Workers: 1,
	})
	// New attached the gauges (webhook.AttachingObserver).
	require.NoError(t, e.Emit(context.Background(), orderEvent(1)))
	require.Eventually(t, func() bool { return arrived.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, e.Emit(context.Background(), orderEvent(2)))

	slowEP, fastEP := webhookotel.KeyEndpoint.String("slow"), webhookotel.KeyEndpoint.String("fast")
	queued, inFlight := webhookotel.KeyQueueState.String("queued"), webhookotel.KeyQueueState.String("in_flight")
	rm := tm.collect(t)
	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricQueueDepth, slowEP, inFlight))
	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricQueueDepth, slowEP, queued))
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricQueueDepth, fastEP), "fast's endpoint is reported, empty")
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricCircuitState, slowEP))

	close(release)
	require.Eventually(t, func() bool {
		n, ok := lookupInt(tm.collectNow(), webhookotel.MetricQueueDepth, slowEP)
		return ok && n == 0
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, int64(2), intValue(t, tm.collect(t), webhookotel.MetricDeliveries, slowEP))

	require.NoError(t, e.Close(context.Background()))
	_, ok := findMetric(tm.collect(t), webhookotel.MetricQueueDepth)
	assert.False(t, ok, "no longer reported once the Emitter is closed")
}

// TestCircuitMetrics: a circuit that opens (CircuitBreaker Threshold 1)
// reads 1 on the state gauge and counts a change to open; once reset, it
// reads 0 and counts a change to closed.
func TestCircuitMetrics(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{})
	down := failFirst(t, 1<<30, http.StatusServiceUnavailable)
	up := failFirst(t, 0, 0)
	e := newEmitter(t, tm.obs, webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "down", URL: down.URL, Secret: secret},
			{Name: "up", URL: up.URL, Secret: secret},
		},
		Retry:          fastRetry(0),
		CircuitBreaker: webhook.CircuitBreaker{Threshold: 1, Cooldown: time.Hour},
	})
	downEP, upEP := webhookotel.KeyEndpoint.String("down"), webhookotel.KeyEndpoint.String("up")
	opened, closed := webhookotel.KeyCircuitState.String("open"), webhookotel.KeyCircuitState.String("closed")
	require.NoError(t, e.Emit(context.Background(), orderEvent(1)))
	require.Eventually(t, func() bool {
		n, _ := lookupInt(tm.collectNow(), webhookotel.MetricDeliveries)
		return n == 2
	}, 5*time.Second, 5*time.Millisecond)

	rm := tm.collect(t)
	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricCircuitState, downEP))
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricCircuitState, upEP))
	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricCircuitChanges, downEP, opened))
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricCircuitChanges, downEP, closed))
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricCircuitChanges, upEP))

	require.NoError(t, e.ResetCircuit(context.Background(), "down"))
	rm = tm.collect(t)
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricCircuitState, downEP))
	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricCircuitChanges, downEP, closed))
	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricCircuitChanges, downEP, opened))
}
