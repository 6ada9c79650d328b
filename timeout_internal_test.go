package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttemptDeadlines: a worker's attempts share one context until a
// timeout cancels it, with context.DeadlineExceeded as its cause; a timer
// firing late for an attempt already over cancels nothing; releasing the
// deadlines, or cancelling the worker, ends the context without blaming
// a timeout.
func TestAttemptDeadlines(t *testing.T) {
	// Not parallel: AllocsPerRun.
	parent, cancelParent := context.WithCancel(context.Background())
	wctx, release := withAttemptDeadlines(parent)
	d, _ := wctx.Value(deadlinesKey{}).(*attemptDeadlines)
	require.NotNil(t, d)

	// Attempts within their timeout: one context, nothing allocated.
	first := d.start(time.Hour)
	d.stop()
	second := d.start(time.Hour)
	d.stop()
	assert.True(t, first == second, "a context that did not time out is reused")
	allocs := testing.AllocsPerRun(100, func() {
		ctx := d.start(time.Hour)
		if ctx.Err() != nil {
			panic("ended")
		}
		d.stop()
	})
	assert.Zero(t, allocs, "allocations per attempt")

	// A timer firing after its attempt, while the next runs.
	ctx := d.start(time.Hour)
	d.expire()
	assert.NoError(t, ctx.Err(), "a late timer cancelled an attempt within its deadline")
	d.stop()
	d.expire()
	assert.NoError(t, ctx.Err(), "a timer cancelled the context with no attempt running")

	// A timeout: the cause says so, and the next attempt gets a new context.
	ctx = d.start(20 * time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the attempt's context did not end after its timeout")
	}
	assert.True(t, timedOut(ctx), "cause %v, want context.DeadlineExceeded", context.Cause(ctx))
	d.stop()
	next := d.start(time.Hour)
	assert.NoError(t, next.Err(), "the attempt after a timeout")
	assert.False(t, next == ctx, "the timed-out context is not reused")
	d.stop()

	// The worker's own end.
	cancelParent()
	ended := d.start(time.Hour)
	assert.Error(t, ended.Err(), "an attempt after the worker's context ended")
	assert.False(t, timedOut(ended), "the worker's end blamed on a timeout")
	d.stop()
	release()
	assert.ErrorIs(t, d.ctx.Err(), context.Canceled)
}

// TestAttemptContextReuse: the worker's context is reused only by
// attempts made under that very context (not one an Observer derived
// from it) to an endpoint whose requests go straight to net/http's
// Transport; every other attempt gets a context of its own, which ends
// with its timeout too.
func TestAttemptContextReuse(t *testing.T) {
	t.Parallel()
	wctx, release := withAttemptDeadlines(context.Background())
	defer release()
	own := &endpoint{timeout: time.Hour, ownTransport: true}
	theirs := &endpoint{timeout: 10 * time.Millisecond}
	type spanKey struct{}
	derived := context.WithValue(wctx, spanKey{}, "an Observer's span")
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		ep    *endpoint
		reuse bool
	}{
		{"worker context, own transport", wctx, own, true},
		{"worker context, another RoundTripper", wctx, theirs, false},
		{"a context derived from the worker's", derived, own, false},
		{"no worker", context.Background(), own, false},
	} {
		actx, reused, cancel := attemptContext(tc.ctx, tc.ep)
		if tc.reuse {
			assert.NotNil(t, reused, tc.name)
			assert.Nil(t, cancel, tc.name)
			reused.stop()
			continue
		}
		assert.Nil(t, reused, tc.name)
		require.NotNil(t, cancel, tc.name)
		if tc.ep == theirs {
			<-actx.Done()
			assert.True(t, timedOut(actx), tc.name)
		}
		cancel()
	}
	assert.True(t, isOwnTransport(noCloseIdle{RoundTripper: &http.Transport{}}))
	assert.False(t, isOwnTransport(noCloseIdle{RoundTripper: roundTripFunc(nil)}))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTimeoutThenReuse: one worker, an endpoint whose first answer comes
// after its Timeout. The attempt is logged as a timeout; the worker's
// next attempts, on a new context, deliver it and two more events.
func TestTimeoutThenReuse(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read to the end: the server then watches the connection, and
		// ends r's context when the sender gives up.
		_, _ = io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 {
			select { // past the 100 ms timeout (bounded)
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	e, err := New(Config{
		Workers: 1,
		Endpoints: []Endpoint{{Name: "slow-first", URL: srv.URL, Secret: "whsec_timeout_reuse_secret",
			Timeout: 100 * time.Millisecond, Retry: &RetryConfig{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, NoJitter: true}}},
	})
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, e.Emit(ctx, Event{Type: Created, Model: "shop.Order", Object: map[string]any{"id": i}}))
	}
	require.NoError(t, e.Close(ctx))

	logs, err := e.Logs(ctx, LogQuery{Endpoint: "slow-first"})
	require.NoError(t, err)
	require.Len(t, logs, 3)
	timedOutOnce := 0
	for _, l := range logs {
		assert.Equal(t, StatusDelivered, l.Status, "log %s", l.ID)
		for _, a := range l.History {
			if a.StatusCode == 0 {
				assert.Contains(t, a.Error, "timeout after 100ms", "log %s attempt %d", l.ID, a.Attempt)
				timedOutOnce++
			}
		}
	}
	assert.Equal(t, 1, timedOutOnce, "attempts that timed out")
}
