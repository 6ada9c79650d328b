package webhookotel_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookotel"
)

// TestNoSecretOrPayload: no span (name, attributes, status, events,
// links) and no metric point holds an endpoint's secret, a token in its
// URL's query, a header it sends, a value of the payload, or the
// receiver's answer, whether the attempt was delivered, answered 500 or
// refused (a network error, whose Go error names the URL).
func TestNoSecretOrPayload(t *testing.T) {
	t.Parallel()
	const (
		secretMarker   = "SECRET-MARKER-9c1e4b7a2d"
		previousMarker = "PREVIOUS-MARKER-3f8d2a6c1b"
		tokenMarker    = "URLTOKEN-MARKER-5a7e0c3d"
		headerMarker   = "HEADER-MARKER-8b2f6e1a"
		payloadMarker  = "PAYLOAD-MARKER-4d9a7c2e"
		responseMarker = "RESPONSE-MARKER-1e6b3f9d"
	)
	markers := []string{secretMarker, previousMarker, tokenMarker, headerMarker, payloadMarker, responseMarker}

	tm := newTelemetry(t, webhookotel.Options{})
	ok := failFirst(t, 0, 0)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, responseMarker)
	}))
	t.Cleanup(failing.Close)
	// A port nothing listens on: the attempt is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	ep := func(name, base string) webhook.Endpoint {
		return webhook.Endpoint{
			Name:                name,
			URL:                 base + "/hooks?token=" + tokenMarker,
			Secret:              secretMarker,
			PreviousSecret:      previousMarker,
			PreviousSecretUntil: time.Now().Add(time.Hour),
			Headers:             map[string]string{"X-Api-Key": headerMarker},
		}
	}
	e := newEmitter(t, tm.obs, webhook.Config{
		Endpoints:      []webhook.Endpoint{ep("ok", ok.URL), ep("failing", failing.URL), ep("refused", refused)},
		Retry:          fastRetry(1),
		CircuitBreaker: webhook.CircuitBreaker{Threshold: 1, Cooldown: 10 * time.Millisecond},
	})

	ctx, host := tm.hostSpan(context.Background())
	require.NoError(t, e.Emit(ctx, orderEvent(1, "note", payloadMarker, "nested", map[string]any{"deep": payloadMarker})))
	host.End()
	rmOpen := tm.collect(t) // while deliveries may be under way: the gauges' points
	closeEmitter(t, e)
	rm := tm.collect(t)

	spans := tm.attemptSpans()
	var texts []string
	var failures int
	for _, s := range spans {
		texts = append(texts, s.Name(), s.Status().Description)
		texts = append(texts, attrTexts(s.Attributes())...)
		for _, ev := range s.Events() {
			texts = append(texts, ev.Name)
			texts = append(texts, attrTexts(ev.Attributes)...)
		}
		for _, l := range s.Links() {
			texts = append(texts, attrTexts(l.Attributes)...)
		}
		if s.Status().Code == codes.Error {
			failures++
			assert.NotEmpty(t, s.Status().Description)
		}
	}
	texts = append(texts, metricTexts(t, rmOpen)...)
	texts = append(texts, metricTexts(t, rm)...)

	endpoints := map[string]bool{}
	for _, s := range spans {
		endpoints[attr(s.Attributes(), webhookotel.KeyEndpoint).AsString()] = true
	}
	assert.Equal(t, map[string]bool{"ok": true, "failing": true, "refused": true}, endpoints, "every endpoint was attempted")
	assert.GreaterOrEqual(t, failures, 2, "failed attempts, whose errors were checked too")
	assert.Contains(t, strings.Join(texts, "\n"), `webhook: endpoint "refused"`, "the refused attempt's error is among the texts checked")
	for _, s := range texts {
		for _, m := range markers {
			assert.NotContains(t, s, m)
		}
		assert.NotContains(t, s, "token=")
		assert.NotContains(t, s, "/hooks")
	}
}

// attrTexts returns the values of kvs as text, keys included.
func attrTexts(kvs []attribute.KeyValue) []string {
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, string(kv.Key)+"="+kv.Value.String())
	}
	return out
}

// metricTexts returns the names and the attributes of every point of rm.
func metricTexts(t *testing.T, rm metricdata.ResourceMetrics) []string {
	t.Helper()
	var out []string
	add := func(s attribute.Set) { out = append(out, attrTexts(s.ToSlice())...) }
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name, m.Description)
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes)
				}
			default:
				t.Fatalf("metric %s: data %T not checked", m.Name, m.Data)
			}
		}
	}
	return out
}
