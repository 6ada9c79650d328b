package webhookotel_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookotel"
)

// An Emitter observed by OpenTelemetry: the Observer goes in the Config,
// and once the Emitter exists its queue and circuits are observed too.
// In a service the providers are the ones the service sets up (or the
// globals, with the zero Options); here they record in memory.
func Example() {
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer receiver.Close()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	obs, err := webhookotel.New(webhookotel.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		log.Fatal(err)
	}
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "crm", URL: receiver.URL, Secret: "example-secret-0123456789"}},
		Observer:  obs,
	})
	if err != nil {
		log.Fatal(err)
	}
	// New attached obs: its gauges (webhook.queue.depth,
	// webhook.circuit.state) read the Emitter until it is closed.

	// The host's request span, active at Emit: the attempts link to it.
	ctx, span := tp.Tracer("shop").Start(context.Background(), "POST /orders")
	ev := webhook.Create(map[string]any{"id": 42})
	ev.Model = "store.Order"
	if err := emitter.Emit(ctx, ev); err != nil {
		log.Fatal(err)
	}
	span.End()
	if err := emitter.Close(context.Background()); err != nil { // drains the queue
		log.Fatal(err)
	}

	for _, s := range spans.Ended() {
		if len(s.Links()) > 0 {
			fmt.Println(s.Name(), s.SpanKind(), "linked to", s.Links()[0].SpanContext.SpanID() == span.SpanContext().SpanID())
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == webhookotel.MetricDeliveries {
			for _, p := range sum.DataPoints {
				ep, _ := p.Attributes.Value(webhookotel.KeyEndpoint)
				outcome, _ := p.Attributes.Value(webhookotel.KeyOutcome)
				fmt.Println(m.Name, ep.AsString(), outcome.AsString(), p.Value)
			}
		}
	}
	// Output:
	// webhook.attempt crm client linked to true
	// webhook.deliveries crm delivered 1
}
