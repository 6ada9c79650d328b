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

// changeLog collects CircuitBreaker.OnChange calls.
type changeLog struct {
	mu  sync.Mutex
	got []webhook.CircuitChange
}

func (c *changeLog) add(ch webhook.CircuitChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, ch)
}

func (c *changeLog) states() []webhook.CircuitState {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s []webhook.CircuitState
	for _, ch := range c.got {
		s = append(s, ch.State)
	}
	return s
}

// TestCircuitOnChange: a circuit that opens and closes is reported, with
// the failure that opened it; a probe that fails again is no change; an
// operator's ResetCircuit closes an open circuit and is reported too.
func TestCircuitOnChange(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	changes := &changeLog{}
	e, err := webhook.New(webhook.Config{
		Endpoints:      []webhook.Endpoint{{Name: "crm", URL: srv.URL, Secret: "circuit-secret-123"}},
		Retry:          &webhook.RetryConfig{MaxRetries: 50, RetryDelay: 20 * time.Millisecond, MaxDelay: 20 * time.Millisecond, NoJitter: true},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: 2, Cooldown: 150 * time.Millisecond, OnChange: changes.add},
		Logger:         slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, e.Emit(ctx, orderEvent(1)))

	require.Eventually(t, func() bool { return len(changes.states()) >= 1 }, 5*time.Second, 5*time.Millisecond)
	// Probes fail a while: still one change.
	time.Sleep(400 * time.Millisecond)
	assert.Equal(t, []webhook.CircuitState{webhook.CircuitOpen}, changes.states())
	changes.mu.Lock()
	opened := changes.got[0]
	changes.mu.Unlock()
	assert.Equal(t, "crm", opened.Endpoint)
	var derr *webhook.DeliveryError
	require.ErrorAs(t, opened.Err, &derr)
	assert.Equal(t, http.StatusServiceUnavailable, derr.StatusCode)
	assert.False(t, opened.At.IsZero())

	up.Store(true)
	require.Eventually(t, func() bool { return len(changes.states()) == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, []webhook.CircuitState{webhook.CircuitOpen, webhook.CircuitClosed}, changes.states())

	// An operator's reset: open it again, then close it by hand.
	up.Store(false)
	require.NoError(t, e.Emit(ctx, orderEvent(2)))
	require.Eventually(t, func() bool { return len(changes.states()) == 3 }, 5*time.Second, 5*time.Millisecond)
	st, err := e.Stats(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, webhook.CircuitClosed, st.Endpoints["crm"].Circuit)
	up.Store(true)
	require.NoError(t, e.ResetCircuit(ctx, "crm"))
	assert.Equal(t, webhook.CircuitClosed, changes.states()[3])
	st, err = e.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, webhook.CircuitClosed, st.Endpoints["crm"].Circuit)
	require.NoError(t, e.ResetCircuit(ctx, "crm"), "resetting a closed circuit is no change")
	assert.Len(t, changes.states(), 4)
	assert.ErrorIs(t, e.ResetCircuit(ctx, "nope"), webhook.ErrEndpointNotFound)

	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, e.Close(cctx))
}

// TestPauseEndpoint: a paused endpoint's deliveries wait, neither sent nor
// given up, while another endpoint's flow; a pause outlives an update;
// resumed, they are delivered.
func TestPauseEndpoint(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path]++
		mu.Unlock()
	}))
	defer srv.Close()
	count := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return got[path]
	}
	var failed atomic.Int64
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "crm", URL: srv.URL + "/crm", Secret: "pause-secret-1234"},
			{Name: "erp", URL: srv.URL + "/erp", Secret: "pause-secret-1234"},
		},
		OnFailure: func(webhook.Failure) { failed.Add(1) },
		Logger:    slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, e.PauseEndpoint(ctx, "crm"))
	for i := range 5 {
		require.NoError(t, e.Emit(ctx, orderEvent(i)))
	}
	require.Eventually(t, func() bool { return count("/erp") == 5 }, 5*time.Second, 5*time.Millisecond)
	// A pause outlives an update.
	require.NoError(t, e.UpdateEndpoint(ctx, webhook.Endpoint{Name: "crm", URL: srv.URL + "/crm2", Secret: "pause-secret-1234"}))
	time.Sleep(1200 * time.Millisecond) // past a recheck
	assert.Zero(t, count("/crm")+count("/crm2"), "a paused endpoint gets nothing")
	st, err := e.Stats(ctx)
	require.NoError(t, err)
	assert.True(t, st.Endpoints["crm"].Paused)
	assert.Equal(t, 5, st.Endpoints["crm"].Queued)

	require.NoError(t, e.ResumeEndpoint(ctx, "crm"))
	require.Eventually(t, func() bool { return count("/crm2") == 5 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, failed.Load())
	assert.ErrorIs(t, e.PauseEndpoint(ctx, "nope"), webhook.ErrEndpointNotFound)

	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, e.Close(cctx))
}

// orderEvent is a created store.Order event.
func orderEvent(id int) webhook.Event {
	ev := webhook.Create(map[string]any{"id": id})
	ev.Model = "store.Order"
	return ev
}

// TestEndpointRedactedURL: the URL as an operator's page may show it,
// without credentials or the query's token.
func TestEndpointRedactedURL(t *testing.T) {
	t.Parallel()
	ep := webhook.Endpoint{URL: "https://hooks.example.com/in?token=s3cret#frag"}
	assert.Equal(t, "https://hooks.example.com/in?[REDACTED]", ep.RedactedURL())
	assert.Equal(t, "https://hooks.example.com/in", webhook.Endpoint{URL: "https://hooks.example.com/in"}.RedactedURL())
}
