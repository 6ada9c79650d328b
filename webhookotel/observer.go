package webhookotel

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookrail/webhook"
)

// ScopeName is the instrumentation scope of the Observer's tracer and
// meter.
const ScopeName = "github.com/hookrail/webhook/webhookotel"

// Attribute keys of the spans and metrics. The HTTP ones are
// OpenTelemetry's semantic conventions'.
const (
	KeyEndpoint     = attribute.Key("webhook.endpoint")      // the endpoint's name
	KeyEventType    = attribute.Key("webhook.event.type")    // created, updated, deleted
	KeyEventID      = attribute.Key("webhook.event.id")      // "evt_…" or the host's
	KeyDeliveryID   = attribute.Key("webhook.delivery.id")   // "dlv_…"
	KeyAttempt      = attribute.Key("webhook.attempt")       // the attempt's number, from 1
	KeyOutcome      = attribute.Key("webhook.outcome")       // an attempt's or a delivery's (see the package doc)
	KeyQueueState   = attribute.Key("webhook.queue.state")   // queued, in_flight
	KeyCircuitState = attribute.Key("webhook.circuit.state") // open, closed
)

// Metric names.
const (
	MetricDeliveries      = "webhook.deliveries"
	MetricAttemptDuration = "webhook.attempt.duration"
	MetricRetries         = "webhook.retries"
	MetricCircuitChanges  = "webhook.circuit.changes"
	MetricQueueDepth      = "webhook.queue.depth"
	MetricCircuitState    = "webhook.circuit.state"
)

// SpanNamePrefix starts the name of every attempt span, which ends with
// the endpoint's name: "webhook.attempt crm".
const SpanNamePrefix = "webhook.attempt "

// DefaultMaxLinks is how many Emit-time span contexts an Observer keeps
// by default (see Options.MaxLinks).
const DefaultMaxLinks = 100_000

// durationBuckets are the attempt duration histogram's boundaries, in
// seconds: OpenTelemetry's HTTP client ones, and up to a minute for slow
// endpoints (the default Timeout is 30 s).
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 15, 30, 60}

// Options configures an Observer. The zero Options is ready to use.
type Options struct {
	// TracerProvider makes the attempt spans. Nil: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider

	// MeterProvider makes the metrics. Nil: otel.GetMeterProvider().
	MeterProvider metric.MeterProvider

	// LinkOnly keeps the span active at Emit out of the attempt spans'
	// parents: an attempt whose context has no span (a memory queue
	// worker's) starts a trace of its own, linked to the Emit span. By
	// default it is the Emit span's child (and linked to it), so that
	// the host's trace shows its webhooks' attempts, retries included.
	LinkOnly bool

	// MaxLinks bounds the Emit-time span contexts kept for deliveries
	// under way, by delivery id: each is kept from Queued to Finished, and
	// a delivery that a durable queue finishes in another process never
	// reaches this one's Finished. Past the bound the oldest half is
	// forgotten, and their later attempts are neither linked nor
	// parented to their Emit span. 0: DefaultMaxLinks (100,000, a few MB
	// at most); negative: none is kept, and attempt spans take their
	// parent from their context only.
	MaxLinks int
}

// Observer is a webhook.Observer that records OpenTelemetry spans and
// metrics. Make it with New; its methods are safe for concurrent use.
type Observer struct {
	tracer   trace.Tracer
	meter    metric.Meter
	linkOnly bool
	links    *links // nil: none kept

	deliveries     metric.Int64Counter
	duration       metric.Float64Histogram
	retries        metric.Int64Counter
	circuitChanges metric.Int64Counter
	queueDepth     metric.Int64ObservableGauge
	circuitState   metric.Int64ObservableGauge
}

var _ webhook.Observer = (*Observer)(nil)

// New returns an Observer; install it with webhook.Config{Observer: obs}.
// It fails only when the MeterProvider refuses an instrument.
func New(opts Options) (*Observer, error) {
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	o := &Observer{
		tracer:   tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		meter:    mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL)),
		linkOnly: opts.LinkOnly,
	}
	switch {
	case opts.MaxLinks == 0:
		o.links = newLinks(DefaultMaxLinks)
	case opts.MaxLinks > 0:
		o.links = newLinks(opts.MaxLinks)
	}
	m := o.meter
	var err, e error
	o.deliveries, e = m.Int64Counter(MetricDeliveries, metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries finished: delivered, or failed (given up)."))
	err = errors.Join(err, e)
	o.duration, e = m.Float64Histogram(MetricAttemptDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of delivery attempts, until the answer or the failure."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	err = errors.Join(err, e)
	o.retries, e = m.Int64Counter(MetricRetries, metric.WithUnit("{attempt}"),
		metric.WithDescription("Failed attempts after which a retry was scheduled."))
	err = errors.Join(err, e)
	o.circuitChanges, e = m.Int64Counter(MetricCircuitChanges, metric.WithUnit("{change}"),
		metric.WithDescription("Circuit breakers that opened or closed."))
	err = errors.Join(err, e)
	o.queueDepth, e = m.Int64ObservableGauge(MetricQueueDepth, metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries the queue holds: queued (due, scheduled for a retry, or held by an open circuit) and in flight."))
	err = errors.Join(err, e)
	o.circuitState, e = m.Int64ObservableGauge(MetricCircuitState, metric.WithUnit("1"),
		metric.WithDescription("Circuit breaker state: 0 closed, 1 open (or half-open: one probe under way)."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, fmt.Errorf("webhookotel: %w", err)
	}
	return o, nil
}

// Queued implements webhook.Observer: it keeps the span context active
// at Emit (if any) for the delivery's attempts.
func (o *Observer) Queued(ctx context.Context, d *webhook.Delivery) {
	if o.links == nil {
		return
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		o.links.put(d.ID, sc)
	}
}

// AttemptStarted implements webhook.Observer: it starts the attempt's
// span, under which the request is made.
func (o *Observer) AttemptStarted(ctx context.Context, d *webhook.Delivery, n int) context.Context {
	opts := make([]trace.SpanStartOption, 0, 3)
	opts = append(opts,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			KeyEndpoint.String(d.Endpoint),
			KeyEventType.String(string(d.EventType)),
			KeyEventID.String(d.EventID),
			KeyDeliveryID.String(d.ID),
			KeyAttempt.Int(n),
			semconv.HTTPRequestMethodPost,
		))
	parent := ctx
	if o.links != nil {
		if sc, ok := o.links.get(d.ID); ok {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
			if !o.linkOnly && !trace.SpanContextFromContext(ctx).IsValid() {
				parent = trace.ContextWithSpanContext(ctx, sc)
			}
		}
	}
	actx, _ := o.tracer.Start(parent, SpanNamePrefix+d.Endpoint, opts...)
	return actx
}

// AttemptEnded implements webhook.Observer: it ends the attempt's span
// and records its duration, and a retry.
func (o *Observer) AttemptEnded(ctx context.Context, d *webhook.Delivery, a webhook.AttemptRecord, r webhook.Result) {
	outcome := r.Outcome.String()
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 3)
		attrs = append(attrs, KeyOutcome.String(outcome))
		if a.StatusCode != 0 {
			attrs = append(attrs, semconv.HTTPResponseStatusCode(a.StatusCode))
		}
		if r.Outcome != webhook.OutcomeDelivered {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(a.StatusCode, r)))
			msg := outcome
			if r.Err != nil {
				// A DeliveryError: endpoint, event, attempt, status, and
				// an error the Emitter strips of the URL.
				msg = r.Err.Error()
			}
			span.SetStatus(codes.Error, msg)
		}
		span.SetAttributes(attrs...)
	}
	span.End()

	ep := KeyEndpoint.String(d.Endpoint)
	if a.StatusCode != 0 {
		o.duration.Record(ctx, a.Duration.Seconds(), metric.WithAttributes(ep, KeyOutcome.String(outcome), semconv.HTTPResponseStatusCode(a.StatusCode)))
	} else {
		o.duration.Record(ctx, a.Duration.Seconds(), metric.WithAttributes(ep, KeyOutcome.String(outcome)))
	}
	if r.Outcome == webhook.OutcomeRetry {
		o.retries.Add(ctx, 1, metric.WithAttributes(ep))
	}
}

// Finished implements webhook.Observer: it counts the delivery and
// forgets its Emit span.
func (o *Observer) Finished(d *webhook.Delivery, status webhook.DeliveryStatus, attempts int) {
	if o.links != nil {
		o.links.drop(d.ID)
	}
	o.deliveries.Add(context.Background(), 1, metric.WithAttributes(KeyEndpoint.String(d.Endpoint), KeyOutcome.String(string(status))))
}

// CircuitChanged implements webhook.Observer: it counts the change.
func (o *Observer) CircuitChanged(c webhook.CircuitChange) {
	o.circuitChanges.Add(context.Background(), 1, metric.WithAttributes(KeyEndpoint.String(c.Endpoint), KeyCircuitState.String(string(c.State))))
}

// errorType is the error.type of a failed attempt: its status code when
// it got an answer, else what kind of failure it was.
func errorType(status int, r webhook.Result) string {
	switch {
	case status != 0:
		return strconv.Itoa(status)
	case r.Outcome == webhook.OutcomeInterrupted:
		return "interrupted"
	case errors.Is(r.Err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(r.Err, webhook.ErrToken):
		return "oauth2_token"
	case errors.Is(r.Err, webhook.ErrBlockedAddress):
		return "blocked_address"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}
