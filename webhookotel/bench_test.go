package webhookotel_test

import (
	"context"
	"strconv"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookotel"
)

// BenchmarkDelivery is what the Observer adds to a delivery of one
// attempt emitted under a span, with the SDK's providers (spans sampled,
// exported nowhere).
func BenchmarkDelivery(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer tp.Shutdown(context.Background())
	defer mp.Shutdown(context.Background())
	obs, err := webhookotel.New(webhookotel.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	ctx, span := tp.Tracer("host").Start(context.Background(), "host")
	defer span.End()
	ds := make([]*webhook.Delivery, 1024)
	for i := range ds {
		ds[i] = &webhook.Delivery{ID: "dlv_" + strconv.Itoa(i), EventID: "evt_1", EventType: webhook.Created, Endpoint: "crm"}
	}
	rec := webhook.AttemptRecord{Attempt: 1, StatusCode: 200}
	res := webhook.Result{Outcome: webhook.OutcomeDelivered}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d := ds[i%len(ds)]
		obs.Queued(ctx, d)
		actx := obs.AttemptStarted(context.Background(), d, 1)
		obs.AttemptEnded(actx, d, rec, res)
		obs.Finished(d, webhook.StatusDelivered, 1)
	}
}
