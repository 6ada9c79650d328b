// Package webhookotel records OpenTelemetry traces and metrics of the
// webhooks a [webhook.Emitter] sends: a span per delivery attempt, linked
// to the span active where the event was emitted, and metrics of
// deliveries, attempts, retries, the queue and the circuit breakers.
//
// It is a module of its own (github.com/hookrail/webhook/webhookotel), so
// that the root package keeps its few dependencies.
//
// # Installation
//
// An [Observer] is a [webhook.Observer]: give it to the Emitter's Config.
// New then attaches it to the Emitter (see [Observer.Attach]), whose queue
// and circuits its gauges read, until Close:
//
//	obs, err := webhookotel.New(webhookotel.Options{}) // the global providers
//	if err != nil {
//		return err
//	}
//	emitter, err := webhook.New(webhook.Config{
//		Endpoints: endpoints,
//		Observer:  obs,
//	})
//	if err != nil {
//		return err
//	}
//	defer emitter.Close(ctx)
//
// Options.TracerProvider and Options.MeterProvider default to
// otel.GetTracerProvider() and otel.GetMeterProvider(). The instrumentation
// scope is [ScopeName]. Use one Observer per Emitter (the metrics are
// keyed by endpoint name), or Emitters whose endpoint names differ.
//
// # Spans
//
// Each attempt is a span of kind Client named "webhook.attempt " and the
// endpoint's name ("webhook.attempt crm"), started just before the request
// is signed and sent and ended once the attempt is recorded; the request
// is made under it, so an instrumented HTTP client's spans (Config.HTTPClient)
// are its children. Its attributes:
//
//	webhook.endpoint           the endpoint's name
//	webhook.event.type         created, updated or deleted
//	webhook.event.id           the event's id, the same on every endpoint
//	webhook.delivery.id        the delivery's id ("dlv_…"), the same on every attempt
//	webhook.attempt            the attempt's number, from 1
//	http.request.method        POST
//	http.response.status_code  the answer's status; absent when none came
//	webhook.outcome            delivered, retry (failed, retried later), failed
//	                           (given up), interrupted (cut short by Close or a
//	                           Sync caller's ctx: it does not count)
//	error.type                 when not delivered: the status code ("503"), or
//	                           timeout, interrupted, oauth2_token,
//	                           blocked_address, _OTHER
//
// A delivered attempt's status is left Unset; any other's is Error, with
// the attempt's [webhook.DeliveryError] text as its description: it names
// the endpoint, the event id, the attempt and the status code, and the
// network error stripped of the URL (the Emitter removes it: a URL may
// carry a token). No attribute holds a URL, a header, a secret, the
// payload or the receiver's answer; TestNoSecretOrPayload checks it.
//
// Deferred tries (an open circuit, a paused endpoint, a RateLimit) and
// deliveries given up before any attempt (no room in the queue, a removed
// endpoint, a circuit open past the deadline) make no span; they are
// counted by webhook.deliveries.
//
// # The span at Emit: link and parent
//
// Deliveries are asynchronous: an attempt may run long after the request
// that emitted the event (retries, an open circuit), on a queue worker
// whose context carries no span. [Observer.Queued] keeps the span context
// active at Emit (Redeliver, Recover), by delivery id, and each attempt
// span is:
//
//   - linked to it, always (the usual relation of asynchronous work to
//     what caused it);
//   - the child of the span in the attempt's own context, when there is
//     one: a Sync caller's (in Sync mode the attempts run inside Emit,
//     under its ctx), or River's work span (otelriver, below);
//   - otherwise, the child of the Emit span, so that the host's trace
//     shows its webhooks' attempts, retries included. Options.LinkOnly
//     turns this off: such an attempt span then starts a trace of its own,
//     linked to the Emit span only.
//
// A delivery that Queued never saw (a durable queue's delivery emitted by
// another process, or with EmitTx, which reaches the Observer only at the
// attempts) has no Emit span here: its attempt span is the child of the
// span in the attempt's context, if any, and is not linked.
//
// The Emit span context is forgotten when the delivery finishes
// ([Observer.Finished]: every delivery queued in this process finishes
// exactly once, delivered or given up). A durable queue may leave
// deliveries stored at Close, or finish them in another process: their
// entries stay until the process ends, or until Options.MaxLinks (default
// [DefaultMaxLinks], 100,000) is reached, when the oldest half is
// forgotten. Nothing is kept for a delivery emitted without an active
// span, and nothing at all with a negative MaxLinks.
//
// # Metrics
//
//	webhook.deliveries        counter {delivery}  webhook.endpoint, webhook.outcome (delivered, failed)
//	webhook.attempt.duration  histogram s         webhook.endpoint, webhook.outcome, http.response.status_code (if any)
//	webhook.retries           counter {attempt}   webhook.endpoint
//	webhook.circuit.changes   counter {change}    webhook.endpoint, webhook.circuit.state (open, closed)
//	webhook.queue.depth       gauge {delivery}    webhook.endpoint, webhook.queue.state (queued, in_flight)
//	webhook.circuit.state     gauge 1             webhook.endpoint: 0 closed, 1 open (or half-open)
//
// webhook.deliveries counts each delivery once, when it finishes;
// webhook.attempt.duration has a point per attempt made (its count is the
// attempts, by outcome); webhook.retries counts the attempts after which a
// retry was scheduled. The two gauges are read from Emitter.Stats at each
// collection, once [Observer.ObserveEmitter] has registered the Emitter:
// "queued" counts the deliveries waiting (due, scheduled for a retry, or
// held by an open circuit), "in_flight" those being attempted. With a
// durable queue each collection asks the database, within the reader's
// context; a failure is the collection's error.
//
// # An instrumented HTTP client
//
// Config.HTTPClient may carry an instrumented transport (otelhttp); its
// client spans are then children of the attempt spans. Beware that
// otelhttp records the request's full URL (url.full): an endpoint whose URL
// carries a token in its query would leak it there. Send such a token in
// a header (Endpoint.Headers) rather than in the URL, or leave otelhttp
// out.
//
// # River
//
// River's own instrumentation, github.com/riverqueue/rivercontrib/otelriver
// (v0.12.0), fits beside this package with the durable queue of
// github.com/hookrail/webhook/webhookriver: otelriver traces River's side
// (river.insert_many, a Producer span, when a delivery is stored;
// river.work, a Consumer span, around each job run, with River's metrics),
// webhookotel the webhook's (the attempt, its outcome, its retries). With
// otelriver's EnableTracePropagation, the trace context of the insert is
// stored in the job's metadata and the work span is linked to it, which
// carries the Emit trace across processes and through EmitTx. The
// attempt span is then the river.work span's child (its context's span),
// and also linked to the Emit span when this process emitted the
// delivery:
//
//	POST /orders                       the host's span, active at Emit
//	└─ river.insert_many               otelriver, Producer
//	river.work/webhook_delivery        otelriver, Consumer, a root linked to river.insert_many
//	└─ webhook.attempt crm             webhookotel, Client, linked to POST /orders (same process)
//
// otelriver's Middleware is a River plugin (it embeds river.PluginDefaults:
// its InsertMany and Work are middleware, its MetricEmit a hook) that goes
// in the River client's Config; webhookriver builds its River client
// itself, so it takes the plugins in webhookriver.Config.Plugins:
//
//	tp, mp := otel.GetTracerProvider(), otel.GetMeterProvider()
//	mw := otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
//		TracerProvider:              tp,
//		MeterProvider:               mp,
//		EnableTracePropagation:      true, // the job carries the insert's trace
//		EnableSemanticMetrics:       true,
//		EnableWorkSpanJobKindSuffix: true, // river.work/webhook_delivery
//	})
//	queue, err := webhookriver.New(riverpgxv5.New(pool), webhookriver.Config{
//		Schema: "webhooks",
//		Plugins: []rivertype.Plugin{mw},
//	})
//	if err != nil {
//		return err
//	}
//	obs, err := webhookotel.New(webhookotel.Options{TracerProvider: tp, MeterProvider: mp})
//	if err != nil {
//		return err
//	}
//	emitter, err := webhook.New(webhook.Config{Endpoints: endpoints, Queue: queue, Observer: obs})
//	if err != nil {
//		return err
//	}
//
//	// The host's own River client, for its own jobs, takes it as usual.
//	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
//		Plugins: []rivertype.Plugin{mw},
//		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
//		Workers: workers,
//	})
//
// Without otelriver, an attempt in the process that emitted the delivery
// (Emit, not EmitTx) is the Emit span's child and linked to it, as with
// the memory queue; an attempt of a delivery stored by another process
// (an insert-only web tier), or by EmitTx, is a root span, not linked.
package webhookotel
