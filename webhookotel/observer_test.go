package webhookotel_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookotel"
)

// TestAttemptSpans: a delivery emitted under a host span gets one span
// per attempt (its retry included), each a Client span linked to the
// host span, and, as a memory queue worker's context has no span, its
// child; with the attributes of the attempt, and status Error on the
// failed one.
func TestAttemptSpans(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{})
	srv := failFirst(t, 1, http.StatusServiceUnavailable)
	e := newEmitter(t, tm.obs, webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: secret}},
		Retry:     fastRetry(2),
	})

	ctx, host := tm.hostSpan(context.Background())
	ev := orderEvent(1)
	ev.ID = "evt_spans"
	require.NoError(t, e.Emit(ctx, ev))
	host.End()
	closeEmitter(t, e)
	assert.Zero(t, webhookotel.KeptLinks(tm.obs), "Finished forgets the Emit span")

	spans := tm.attemptSpans()
	require.Len(t, spans, 2)
	hostSC := host.SpanContext()
	deliveryID := attr(spans[0].Attributes(), webhookotel.KeyDeliveryID).AsString()
	assert.Regexp(t, `^dlv_`, deliveryID)
	for i, s := range spans {
		assert.Equal(t, "webhook.attempt crm", s.Name())
		assert.Equal(t, trace.SpanKindClient, s.SpanKind())
		require.Len(t, s.Links(), 1, "attempt %d", i+1)
		assert.Equal(t, hostSC, s.Links()[0].SpanContext, "linked to the host span")
		assert.Equal(t, hostSC.SpanID(), s.Parent().SpanID(), "the host span's child")
		assert.Equal(t, hostSC.TraceID(), s.SpanContext().TraceID())
		a := s.Attributes()
		assert.Equal(t, "crm", attr(a, webhookotel.KeyEndpoint).AsString())
		assert.Equal(t, "created", attr(a, webhookotel.KeyEventType).AsString())
		assert.Equal(t, "evt_spans", attr(a, webhookotel.KeyEventID).AsString())
		assert.Equal(t, deliveryID, attr(a, webhookotel.KeyDeliveryID).AsString())
		assert.Equal(t, int64(i+1), attr(a, webhookotel.KeyAttempt).AsInt64())
		assert.Equal(t, "POST", attr(a, "http.request.method").AsString())
	}

	first := spans[0]
	assert.Equal(t, int64(http.StatusServiceUnavailable), attr(first.Attributes(), "http.response.status_code").AsInt64())
	assert.Equal(t, "retry", attr(first.Attributes(), webhookotel.KeyOutcome).AsString())
	assert.Equal(t, "503", attr(first.Attributes(), "error.type").AsString())
	assert.Equal(t, codes.Error, first.Status().Code)
	assert.Equal(t, `webhook: endpoint "crm": event evt_spans: attempt 1: status 503 Service Unavailable`, first.Status().Description)

	second := spans[1]
	assert.Equal(t, int64(http.StatusOK), attr(second.Attributes(), "http.response.status_code").AsInt64())
	assert.Equal(t, "delivered", attr(second.Attributes(), webhookotel.KeyOutcome).AsString())
	assert.Equal(t, attribute.EMPTY, attr(second.Attributes(), "error.type").Type(), "no error.type when delivered")
	assert.Equal(t, codes.Unset, second.Status().Code)
	assert.True(t, second.EndTime().After(first.EndTime()))
}

// TestAttemptSpansLinkOnly: with LinkOnly, an attempt span is not the
// host span's child: it starts a trace of its own, linked to it.
func TestAttemptSpansLinkOnly(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{LinkOnly: true})
	srv := failFirst(t, 0, 0)
	e := newEmitter(t, tm.obs, webhook.Config{Endpoints: []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: secret}}})

	ctx, host := tm.hostSpan(context.Background())
	require.NoError(t, e.Emit(ctx, orderEvent(1)))
	host.End()
	closeEmitter(t, e)

	spans := tm.attemptSpans()
	require.Len(t, spans, 1)
	s := spans[0]
	assert.False(t, s.Parent().IsValid(), "a root span")
	assert.NotEqual(t, host.SpanContext().TraceID(), s.SpanContext().TraceID())
	require.Len(t, s.Links(), 1)
	assert.Equal(t, host.SpanContext(), s.Links()[0].SpanContext)
}

// TestAttemptSpansUnlinked: a delivery emitted with no span active gets
// a root attempt span, without links, and nothing is kept for it.
func TestAttemptSpansUnlinked(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{})
	srv := failFirst(t, 0, 0)
	e := newEmitter(t, tm.obs, webhook.Config{Endpoints: []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: secret}}})
	require.NoError(t, e.Emit(context.Background(), orderEvent(1)))
	closeEmitter(t, e)

	spans := tm.attemptSpans()
	require.Len(t, spans, 1)
	assert.False(t, spans[0].Parent().IsValid())
	assert.Empty(t, spans[0].Links())
}

// TestParentAndLink drives the Observer as the Emitter does, to check
// its rules where a memory queue cannot reach: an attempt whose context
// carries a span (River's otelriver work span, a Sync caller's) is that
// span's child, linked to the Emit span; one that Queued never saw (a
// delivery emitted by another process) is the context span's child,
// unlinked; after Finished the Emit span is forgotten.
func TestParentAndLink(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{})
	tracer := tm.tp.Tracer("test")
	emitCtx, emit := tracer.Start(context.Background(), "emit")
	emit.End()
	workCtx, work := tracer.Start(context.Background(), "river.work", trace.WithSpanKind(trace.SpanKindConsumer))
	defer work.End()

	d := &webhook.Delivery{ID: "dlv_a", EventID: "evt_a", EventType: webhook.Created, Endpoint: "crm"}
	tm.obs.Queued(emitCtx, d)
	actx := tm.obs.AttemptStarted(workCtx, d, 1)
	tm.obs.AttemptEnded(actx, d, webhook.AttemptRecord{Attempt: 1, StatusCode: 200}, webhook.Result{Outcome: webhook.OutcomeDelivered})
	tm.obs.Finished(d, webhook.StatusDelivered, 1)

	other := &webhook.Delivery{ID: "dlv_b", EventID: "evt_b", EventType: webhook.Deleted, Endpoint: "crm"}
	actx = tm.obs.AttemptStarted(workCtx, other, 3)
	tm.obs.AttemptEnded(actx, other, webhook.AttemptRecord{Attempt: 3}, webhook.Result{Outcome: webhook.OutcomeInterrupted})

	// d again, as a redelivery of the same id would be: its Emit span
	// is forgotten.
	actx = tm.obs.AttemptStarted(context.Background(), d, 2)
	tm.obs.AttemptEnded(actx, d, webhook.AttemptRecord{Attempt: 2, StatusCode: 200}, webhook.Result{Outcome: webhook.OutcomeDelivered})

	spans := tm.attemptSpans()
	require.Len(t, spans, 3)
	byID := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		id := attr(s.Attributes(), webhookotel.KeyDeliveryID).AsString()
		byID[id] = append(byID[id], s)
	}
	a := byID["dlv_a"]
	require.Len(t, a, 2)
	assert.Equal(t, work.SpanContext().SpanID(), a[0].Parent().SpanID(), "the context's span is the parent")
	require.Len(t, a[0].Links(), 1)
	assert.Equal(t, emit.SpanContext(), a[0].Links()[0].SpanContext, "linked to the Emit span")
	assert.False(t, a[1].Parent().IsValid(), "forgotten after Finished")
	assert.Empty(t, a[1].Links())

	b := byID["dlv_b"]
	require.Len(t, b, 1)
	assert.Equal(t, work.SpanContext().SpanID(), b[0].Parent().SpanID())
	assert.Empty(t, b[0].Links())
	assert.Equal(t, codes.Error, b[0].Status().Code)
	assert.Equal(t, "interrupted", attr(b[0].Attributes(), "error.type").AsString())
	assert.Equal(t, "deleted", attr(b[0].Attributes(), webhookotel.KeyEventType).AsString())
	assert.Equal(t, int64(3), attr(b[0].Attributes(), webhookotel.KeyAttempt).AsInt64())
}

// TestMaxLinksNegative: with MaxLinks below zero nothing is kept, and an
// attempt span takes its parent from its context alone.
func TestMaxLinksNegative(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{MaxLinks: -1})
	srv := failFirst(t, 0, 0)
	e := newEmitter(t, tm.obs, webhook.Config{Endpoints: []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: secret}}})
	ctx, host := tm.hostSpan(context.Background())
	require.NoError(t, e.Emit(ctx, orderEvent(1)))
	host.End()
	closeEmitter(t, e)

	spans := tm.attemptSpans()
	require.Len(t, spans, 1)
	assert.False(t, spans[0].Parent().IsValid())
	assert.Empty(t, spans[0].Links())
}

// TestSync: in Sync mode the attempts run inside Emit, under its ctx:
// the attempt span is the host span's child and linked to it, ended by
// the time Emit returns, and the metrics count it.
func TestSync(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t, webhookotel.Options{})
	srv := failFirst(t, 1, http.StatusBadGateway)
	e := newEmitter(t, tm.obs, webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: secret}},
		Retry:     fastRetry(1),
		Sync:      true,
	})

	ctx, host := tm.hostSpan(context.Background())
	require.NoError(t, e.Emit(ctx, orderEvent(1)))
	spans := tm.attemptSpans() // before the host span ends
	host.End()

	require.Len(t, spans, 2)
	for _, s := range spans {
		assert.Equal(t, host.SpanContext().SpanID(), s.Parent().SpanID())
		require.Len(t, s.Links(), 1)
		assert.Equal(t, host.SpanContext(), s.Links()[0].SpanContext)
	}
	assert.Equal(t, codes.Error, spans[0].Status().Code)
	assert.Equal(t, codes.Unset, spans[1].Status().Code)

	rm := tm.collect(t)
	ep := webhookotel.KeyEndpoint.String("crm")
	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricDeliveries, ep, webhookotel.KeyOutcome.String("delivered")))
	assert.Equal(t, int64(1), intValue(t, rm, webhookotel.MetricRetries, ep))
	assert.Equal(t, uint64(2), histogramCount(t, rm, webhookotel.MetricAttemptDuration, ep))
	assert.Equal(t, int64(0), intValue(t, rm, webhookotel.MetricQueueDepth, ep), "nothing under way once Emit returned")
}

// TestNewDefaults: the zero Options uses the global providers (no-ops
// here), and the Observer works with them.
func TestNewDefaults(t *testing.T) {
	t.Parallel()
	obs, err := webhookotel.New(webhookotel.Options{})
	require.NoError(t, err)
	srv := failFirst(t, 0, 0)
	e := newEmitter(t, obs, webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: secret}},
		Sync:      true,
	})
	reg, err := obs.ObserveEmitter(e)
	require.NoError(t, err)
	require.NoError(t, e.Emit(context.Background(), orderEvent(1)))
	require.NoError(t, reg.Unregister())
}
