package webhook_test

// Response bodies in the delivery logs: with the SSRF guard on (endpoint
// URLs from users), an endpoint's answer is not kept, so that the logs
// cannot read an internal service back; SSRFGuard.LogResponseBodies keeps
// it. No traffic leaves 127.0.0.1.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// lrSecret is what the "internal service" answers: it must not reach the
// logs unless asked for.
const lrSecret = "internal-service-secret-7f3a9c"

// lrLoopback lets the guard reach the test's receiver on 127.0.0.1, as an
// Allow entry for an internal service would.
var lrLoopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// lrLogs emits one event to a receiver answering 500 with lrSecret, with
// guard and Sync mode, and returns the delivery logs and what the logs
// handler serves.
func lrLogs(t *testing.T, guard *webhook.SSRFGuard) (webhook.DeliveryLog, string) {
	t.Helper()
	rc := newHookReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ hookRequest) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, lrSecret)
	})
	e := newEmitter(t, webhook.Config{
		Sync:      true,
		SSRFGuard: guard,
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{{Name: "user-supplied", URL: localhostURL(t, rc.Server, "/in"), Secret: dtSecret}},
	})
	err := e.Emit(testCtx(t, 10*time.Second), webhook.Event{Type: webhook.Created, Model: "store.Order", Object: map[string]any{"id": 1}})
	require.Error(t, err)
	require.Equal(t, 1, rc.count(), "the receiver was not reached")

	logs, err := e.Logs(context.Background(), webhook.LogQuery{})
	require.NoError(t, err)
	require.Len(t, logs, 1)

	rec := httptest.NewRecorder()
	e.LogsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/logs", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return logs[0], rec.Body.String()
}

// TestLogResponseBodyWithGuard: with the guard on, a failed answer's
// status is logged but not its body, in the LogStore and in what the logs
// handler serves.
func TestLogResponseBodyWithGuard(t *testing.T) {
	t.Parallel()
	l, served := lrLogs(t, &webhook.SSRFGuard{Allow: lrLoopback})
	assert.Equal(t, webhook.StatusFailed, l.Status)
	assert.Equal(t, http.StatusInternalServerError, l.StatusCode)
	assert.Empty(t, l.ResponseBody)
	assert.NotContains(t, l.ErrorMessage, lrSecret)
	assert.NotContains(t, served, lrSecret)
}

// TestLogResponseBodyWithoutGuard: without the guard (URLs from the
// configuration), the start of a failed answer is logged, as before.
func TestLogResponseBodyWithoutGuard(t *testing.T) {
	t.Parallel()
	l, served := lrLogs(t, nil)
	assert.Equal(t, http.StatusInternalServerError, l.StatusCode)
	assert.Equal(t, lrSecret, l.ResponseBody)
	assert.Contains(t, served, lrSecret)
}

// TestLogResponseBodyOptIn: SSRFGuard.LogResponseBodies keeps the start
// of a failed answer in the logs, as without the guard.
func TestLogResponseBodyOptIn(t *testing.T) {
	t.Parallel()
	l, served := lrLogs(t, &webhook.SSRFGuard{Allow: lrLoopback, LogResponseBodies: true})
	assert.Equal(t, http.StatusInternalServerError, l.StatusCode)
	assert.Equal(t, lrSecret, l.ResponseBody)
	assert.Contains(t, served, lrSecret)
}
