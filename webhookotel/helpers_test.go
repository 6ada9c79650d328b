package webhookotel_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookotel"
)

// secret is the endpoints' signing secret in the tests.
const secret = "otel-test-secret-0123456789abcdef"

// telemetry is an Observer on in-memory SDK providers.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	obs    *webhookotel.Observer
}

func newTelemetry(t *testing.T, opts webhookotel.Options) *telemetry {
	t.Helper()
	tm := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tm.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tm.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tm.reader))
	t.Cleanup(func() {
		ctx := context.Background()
		_ = tm.tp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
	})
	opts.TracerProvider, opts.MeterProvider = tm.tp, mp
	obs, err := webhookotel.New(opts)
	require.NoError(t, err)
	tm.obs = obs
	return tm
}

// hostSpan starts the span of the host's request, active at Emit.
func (tm *telemetry) hostSpan(ctx context.Context) (context.Context, trace.Span) {
	return tm.tp.Tracer("host").Start(ctx, "POST /orders", trace.WithSpanKind(trace.SpanKindServer))
}

// attemptSpans returns the attempt spans ended so far, by delivery and
// attempt number.
func (tm *telemetry) attemptSpans() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tm.spans.Ended() {
		if strings.HasPrefix(s.Name(), webhookotel.SpanNamePrefix) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b sdktrace.ReadOnlySpan) int {
		if c := strings.Compare(attr(a.Attributes(), webhookotel.KeyDeliveryID).AsString(), attr(b.Attributes(), webhookotel.KeyDeliveryID).AsString()); c != 0 {
			return c
		}
		return int(attr(a.Attributes(), webhookotel.KeyAttempt).AsInt64() - attr(b.Attributes(), webhookotel.KeyAttempt).AsInt64())
	})
	return out
}

// collect reads the metrics.
func (tm *telemetry) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tm.reader.Collect(context.Background(), &rm))
	return rm
}

// attr returns the value of key among kvs (the zero Value when absent).
func attr(kvs []attribute.KeyValue, key attribute.Key) attribute.Value {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// findMetric returns the metric named name, and whether there is one.
func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// matches reports whether set holds every kv of want.
func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// intValue returns the total of the int64 sum or gauge points of metric
// name whose attributes hold want; the metric must be there.
func intValue(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	n, ok := lookupInt(rm, name, want...)
	require.True(t, ok, "metric %s recorded as int64 sum or gauge", name)
	return n
}

// lookupInt is intValue, false when there is no such metric: for
// conditions polled on another goroutine, which must not fail the test.
func lookupInt(rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) (int64, bool) {
	m, ok := findMetric(rm, name)
	if !ok {
		return 0, false
	}
	var pts []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		pts = d.DataPoints
	case metricdata.Gauge[int64]:
		pts = d.DataPoints
	default:
		return 0, false
	}
	var n int64
	for _, p := range pts {
		if matches(p.Attributes, want) {
			n += p.Value
		}
	}
	return n, true
}

// collectNow reads the metrics, nothing on error: for polled conditions.
func (tm *telemetry) collectNow() metricdata.ResourceMetrics {
	var rm metricdata.ResourceMetrics
	_ = tm.reader.Collect(context.Background(), &rm)
	return rm
}

// histogramCount returns the count of the histogram points of metric
// name whose attributes hold want.
func histogramCount(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	require.True(t, ok, "metric %s recorded", name)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "metric %s is a float64 histogram, not %T", name, m.Data)
	var n uint64
	for _, p := range h.DataPoints {
		if matches(p.Attributes, want) {
			n += p.Count
		}
	}
	return n
}

// newEmitter returns an Emitter with the endpoints, observed by obs,
// closed at the end of the test.
func newEmitter(t *testing.T, obs webhook.Observer, cfg webhook.Config) *webhook.Emitter {
	t.Helper()
	cfg.Observer = obs
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e, err := webhook.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// closeEmitter closes e, waiting for its deliveries to finish.
func closeEmitter(t *testing.T, e *webhook.Emitter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.Close(ctx))
}

// failFirst is a receiver that answers the first n requests with code,
// the others 200.
func failFirst(t *testing.T, n int64, code int) *httptest.Server {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			w.WriteHeader(code)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// orderEvent is a created event of store.Order.
func orderEvent(id int, extra ...any) webhook.Event {
	obj := map[string]any{"id": id}
	for i := 0; i+1 < len(extra); i += 2 {
		obj[extra[i].(string)] = extra[i+1]
	}
	ev := webhook.Create(obj)
	ev.Model = "store.Order"
	return ev
}

// fastRetry retries n times, at once.
func fastRetry(n int) *webhook.RetryConfig {
	return &webhook.RetryConfig{MaxRetries: n, RetryDelay: 5 * time.Millisecond, NoJitter: true}
}

// statusCode is the http.response.status_code attribute.
func statusCode(code int) attribute.KeyValue {
	return attribute.Int("http.response.status_code", code)
}
