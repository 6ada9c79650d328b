package webhookotel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/hookrail/webhook"
)

// StatsSource is what ObserveEmitter reads: a *webhook.Emitter is one.
type StatsSource interface {
	Stats(ctx context.Context) (webhook.Stats, error)
}

var _ StatsSource = (*webhook.Emitter)(nil)

// Attach implements webhook.AttachingObserver: webhook.New calls it, so
// that the gauges of ObserveEmitter need no call of their own, and Close
// calls the function it returns, which unregisters them. A registration
// that fails is reported to otel.Handle.
func (o *Observer) Attach(e *webhook.Emitter) (detach func()) {
	reg, err := o.ObserveEmitter(e)
	if err != nil {
		otel.Handle(err)
		return func() {}
	}
	return func() { _ = reg.Unregister() }
}

var _ webhook.AttachingObserver = (*Observer)(nil)

// ObserveEmitter reports e's queue and circuits through the gauges
// webhook.queue.depth and webhook.circuit.state, read from e.Stats at
// each collection (with the reader's context: a durable queue's Stats
// asks its database). An Emitter whose Config has the Observer is
// observed already (see Attach): call it for another StatsSource, and
// Unregister the registration when it is closed. A Stats error is the
// collection's error: the reader reports it (otel.Handle, for a periodic
// reader) and the gauges have no point for that collection.
//
// The gauges are keyed by endpoint name only: report one Emitter per
// Observer, or Emitters whose endpoint names differ.
func (o *Observer) ObserveEmitter(e StatsSource) (metric.Registration, error) {
	if e == nil {
		return nil, errors.New("webhookotel: ObserveEmitter: nil Emitter")
	}
	return o.meter.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
		st, err := e.Stats(ctx)
		if err != nil {
			return err
		}
		for name, s := range st.Endpoints {
			ep := KeyEndpoint.String(name)
			ob.ObserveInt64(o.queueDepth, int64(s.Queued), metric.WithAttributes(ep, queued))
			ob.ObserveInt64(o.queueDepth, int64(s.InFlight), metric.WithAttributes(ep, inFlight))
			var open int64
			if s.Circuit != webhook.CircuitClosed {
				open = 1 // open, or half-open: a probe under way
			}
			ob.ObserveInt64(o.circuitState, open, metric.WithAttributes(ep))
		}
		return nil
	}, o.queueDepth, o.circuitState)
}

var (
	queued   = KeyQueueState.String("queued")
	inFlight = KeyQueueState.String("in_flight")
)
