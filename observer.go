package webhook

import "context"

// Observer watches deliveries, for metrics and traces: the module
// github.com/hookrail/webhook/webhookotel is one, for OpenTelemetry. Set
// it in Config.Observer. Its methods run on the delivery path, on the
// goroutines that do the work (Emit's, a queue worker's): they must be
// quick, must not block and must not panic, and are called concurrently.
// None of them may modify the Delivery.
type Observer interface {
	// Queued is called for each delivery Emit, Redeliver or Recover
	// hands to the queue, just before (in Sync mode its attempts run
	// inside the hand-over), with their ctx: the caller's, whose trace the
	// delivery's attempts may link to. One the queue then refuses (full,
	// closed) is Finished at once, as failed. (A durable queue's EmitTx reaches
	// the Observer only at the attempts, with the queue's own context:
	// River's otelriver carries the trace there.)
	Queued(ctx context.Context, d *Delivery)

	// AttemptStarted is called before attempt n of d is sent, with the
	// queue's context for it; the context it returns is the attempt's (a
	// span's), under which the request is made.
	AttemptStarted(ctx context.Context, d *Delivery, n int) context.Context

	// AttemptEnded is called once the attempt is recorded, with the
	// context AttemptStarted returned, what the attempt was (status code,
	// duration, error) and its result.
	AttemptEnded(ctx context.Context, d *Delivery, a AttemptRecord, r Result)

	// Finished is called once for each delivery that ends: delivered, or
	// given up (status StatusFailed), after its last attempt or without
	// one.
	Finished(d *Delivery, status DeliveryStatus, attempts int)

	// CircuitChanged is called for every circuit that opens or closes.
	CircuitChanged(c CircuitChange)
}

// AttachingObserver is an Observer that also reads the Emitter itself
// (gauges read from Stats, say). New calls Attach once the Emitter runs,
// so that installing it stays one option; Close calls the function
// Attach returned once the queue is closed.
type AttachingObserver interface {
	Observer
	Attach(e *Emitter) (detach func())
}
