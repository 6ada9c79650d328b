package webhook_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

type ctxKey struct{}

// recordingObserver records what an Observer hears, in order.
type recordingObserver struct {
	mu     sync.Mutex
	events []string
	ended  []webhook.AttemptRecord
	emitV  []any // the ctx value Queued saw
}

func (o *recordingObserver) add(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, s)
}

func (o *recordingObserver) Queued(ctx context.Context, d *webhook.Delivery) {
	o.mu.Lock()
	o.emitV = append(o.emitV, ctx.Value(ctxKey{}))
	o.mu.Unlock()
	o.add("queued " + d.Endpoint)
}

func (o *recordingObserver) AttemptStarted(ctx context.Context, d *webhook.Delivery, n int) context.Context {
	o.add("started")
	return context.WithValue(ctx, ctxKey{}, "attempt-span")
}

func (o *recordingObserver) AttemptEnded(ctx context.Context, d *webhook.Delivery, a webhook.AttemptRecord, r webhook.Result) {
	o.mu.Lock()
	o.ended = append(o.ended, a)
	o.mu.Unlock()
	o.add("ended " + r.Outcome.String())
}

func (o *recordingObserver) Finished(d *webhook.Delivery, status webhook.DeliveryStatus, attempts int) {
	o.add("finished " + string(status))
}

func (o *recordingObserver) CircuitChanged(c webhook.CircuitChange) {
	o.add("circuit " + string(c.State))
}

func (o *recordingObserver) snapshot() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

// spanTransport records the context value each request carries.
type spanTransport struct {
	http.RoundTripper
	seen atomic.Value
}

func (t *spanTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if v := r.Context().Value(ctxKey{}); v != nil {
		t.seen.Store(v)
	}
	return t.RoundTripper.RoundTrip(r)
}

// TestObserver: the Observer hears of each delivery queued (with Emit's
// ctx), each attempt (the request made under the context it returned,
// with its status and duration), each delivery finished, and circuits.
func TestObserver(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	obs := &recordingObserver{}
	tr := &spanTransport{RoundTripper: http.DefaultTransport.(*http.Transport).Clone()}
	e, err := webhook.New(webhook.Config{
		Endpoints:      []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: "observer-secret"}},
		Retry:          &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, NoJitter: true},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: 1, Cooldown: 20 * time.Millisecond},
		HTTPClient:     &http.Client{Transport: tr},
		Observer:       obs,
		Logger:         slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ctx := context.WithValue(context.Background(), ctxKey{}, "host-request")
	require.NoError(t, e.Emit(ctx, orderEvent(1)))
	require.Eventually(t, func() bool {
		ev := obs.snapshot()
		return len(ev) > 0 && ev[len(ev)-1] == "ended delivered"
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, e.Close(context.Background()))

	assert.Equal(t, []string{
		"queued crm",
		"started", "circuit open", "ended retry",
		"started", "circuit closed", "finished delivered", "ended delivered",
	}, obs.snapshot())
	assert.Equal(t, []any{"host-request"}, obs.emitV, "Queued sees Emit's ctx")
	assert.Equal(t, "attempt-span", tr.seen.Load(), "the request is made under AttemptStarted's context")
	require.Len(t, obs.ended, 2)
	assert.Equal(t, http.StatusBadGateway, obs.ended[0].StatusCode)
	assert.Equal(t, http.StatusOK, obs.ended[1].StatusCode)
	assert.Equal(t, 2, obs.ended[1].Attempt)
	assert.Positive(t, obs.ended[1].Duration)
}
