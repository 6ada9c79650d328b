package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/dashboard"
)

// receiver is a webhook receiver on 127.0.0.1 that fails every request
// (500, with a body) while failing is set, and counts what it accepted.
type receiver struct {
	*httptest.Server
	failing  atomic.Bool
	mu       sync.Mutex
	accepted []string // the X-Webhook-Event-Id of each accepted request
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if rc.failing.Load() {
			http.Error(w, `{"detail": "<b>receiver down</b> for maintenance"}`, http.StatusInternalServerError)
			return
		}
		rc.mu.Lock()
		rc.accepted = append(rc.accepted, r.Header.Get("X-Webhook-Event-Id"))
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.accepted)
}

// env is an Emitter with two endpoints on a receiver ("crm", and "acme-1"
// of tenant acme, neither retrying), and its dashboard mounted under
// /admin/webhooks/ on a test server.
// quiet discards the logs of the Emitter and the dashboard.
var quiet = slog.New(slog.DiscardHandler)

type env struct {
	t     *testing.T
	e     *webhook.Emitter
	rc    *receiver
	srv   *httptest.Server
	token string
}

type envOptions struct {
	dash     dashboard.Options
	store    webhook.LogStore       // nil: the memory store
	breaker  webhook.CircuitBreaker // the zero value: the default
	endpoint func(*webhook.Endpoint)
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	rc := newReceiver(t)
	noRetry := &webhook.RetryConfig{MaxRetries: 0}
	eps := []webhook.Endpoint{
		{Name: "crm", URL: rc.URL + "/hooks?token=s3cret", Secret: "secret_crm", Retry: noRetry},
		{Name: "acme-1", URL: rc.URL + "/acme", Secret: "secret_acme", Retry: noRetry, Tenant: "acme"},
	}
	if o.endpoint != nil {
		for i := range eps {
			o.endpoint(&eps[i])
		}
	}
	e, err := webhook.New(webhook.Config{Endpoints: eps, LogStore: o.store, CircuitBreaker: o.breaker, Workers: 2, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, e.Close(ctx))
	})
	if o.dash.Logger == nil {
		o.dash.Logger = quiet
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/webhooks/", http.StripPrefix("/admin/webhooks", dashboard.New(e, o.dash)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	v := &env{t: t, e: e, rc: rc, srv: srv}
	v.token = v.pageToken()
	return v
}

var tokenRE = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// pageToken loads the page and returns the CSRF token in it.
func (v *env) pageToken() string {
	v.t.Helper()
	res, body := v.do(http.MethodGet, "/", nil, nil)
	require.Equal(v.t, http.StatusOK, res.StatusCode, body)
	m := tokenRE.FindStringSubmatch(body)
	require.NotNil(v.t, m, "no CSRF token in the page")
	return m[1]
}

// do sends a request to the dashboard; path is under /admin/webhooks.
func (v *env) do(method, path string, header http.Header, body []byte) (*http.Response, string) {
	v.t.Helper()
	req, err := http.NewRequest(method, v.srv.URL+"/admin/webhooks"+path, bytes.NewReader(body))
	require.NoError(v.t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := v.srv.Client().Do(req)
	require.NoError(v.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(v.t, err)
	return res, string(b)
}

// sameOrigin is what the page's script sends with a POST.
func (v *env) sameOrigin() http.Header {
	return http.Header{
		"Origin":         {v.srv.URL},
		"Sec-Fetch-Site": {"same-origin"},
		"Content-Type":   {"application/json"},
		"X-Csrf-Token":   {v.token},
	}
}

// post sends a same-origin POST with the token, as the page does, and
// decodes the answer into out (when not nil).
func (v *env) post(path string, in, out any) int {
	v.t.Helper()
	b, err := json.Marshal(in)
	require.NoError(v.t, err)
	res, body := v.do(http.MethodPost, path, v.sameOrigin(), b)
	assert.Equal(v.t, "no-store", res.Header.Get("Cache-Control"))
	assert.Equal(v.t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
	if out != nil {
		require.NoError(v.t, json.Unmarshal([]byte(body), out), body)
	}
	return res.StatusCode
}

// get GETs path and decodes the JSON answer into out.
func (v *env) get(path string, out any) int {
	v.t.Helper()
	res, body := v.do(http.MethodGet, path, nil, nil)
	assert.Equal(v.t, "no-store", res.Header.Get("Cache-Control"))
	if out != nil {
		require.NoError(v.t, json.Unmarshal([]byte(body), out), body)
	}
	return res.StatusCode
}

// apiLog is a log as the API serves it.
type apiLog struct {
	ID            string     `json:"id"`
	EndpointName  string     `json:"endpoint_name"`
	Tenant        string     `json:"tenant"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	Status        string     `json:"status"`
	StatusCode    int        `json:"status_code"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
	CompletedAt   *time.Time `json:"completed_at"`
	ErrorMessage  string     `json:"error_message"`
	ResponseBody  string     `json:"response_body"`
	RedeliveredAs string     `json:"redelivered_as"`
	Payload       *string    `json:"payload"`
	History       []struct {
		Attempt    int       `json:"attempt"`
		At         time.Time `json:"at"`
		DurationMS float64   `json:"duration_ms"`
		StatusCode int       `json:"status_code"`
		Error      string    `json:"error"`
	} `json:"history"`
}

type apiLogs struct {
	Logs      []apiLog `json:"logs"`
	NextUntil string   `json:"next_until"`
}

type apiError struct {
	Error              string `json:"error"`
	AlreadyRedelivered bool   `json:"already_redelivered"`
	RedeliveredAs      string `json:"redelivered_as"`
	Recovered          int    `json:"recovered"`
}

type apiEndpoint struct {
	Name     string `json:"name"`
	Tenant   string `json:"tenant"`
	URL      string `json:"url"`
	Queued   int    `json:"queued"`
	InFlight int    `json:"in_flight"`
	Circuit  string `json:"circuit"`
	Disabled bool   `json:"disabled"`
	Gone     bool   `json:"gone"`
	Paused   bool   `json:"paused"`
}

// logs GETs api/logs with the query.
func (v *env) logs(query string) apiLogs {
	v.t.Helper()
	var out apiLogs
	require.Equal(v.t, http.StatusOK, v.get("/api/logs?"+query, &out))
	return out
}

// emit emits an order event for the tenant ("": every endpoint without
// one) and returns its id.
func (v *env) emit(tenant, id string) string {
	v.t.Helper()
	evID := "evt_" + id
	ev := webhook.Event{ID: evID, Type: webhook.Created, Model: "store.Order", Tenant: tenant,
		Object: map[string]any{"id": id, "total": "12.50", "note": "<script>alert(1)</script>"}}
	require.NoError(v.t, v.e.Emit(context.Background(), ev))
	return evID
}

// settle waits until no delivery is pending or retrying.
func (v *env) settle() {
	v.t.Helper()
	require.Eventually(v.t, func() bool {
		logs, err := v.e.Logs(context.Background(), webhook.LogQuery{Limit: webhook.MaxLogLimit})
		require.NoError(v.t, err)
		for _, l := range logs {
			if l.Status == webhook.StatusPending || l.Status == webhook.StatusRetrying {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
}

func ids(logs []apiLog) []string {
	out := make([]string, len(logs))
	for i, l := range logs {
		out[i] = l.ID
	}
	return out
}

func TestPage(t *testing.T) {
	v := newEnv(t, envOptions{dash: dashboard.Options{Title: "Order <webhooks>"}})
	res, body := v.do(http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	csp := res.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'self'")
	assert.Contains(t, csp, "script-src 'self';")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Equal(t, "DENY", res.Header.Get("X-Frame-Options"))
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"))
	// The title is escaped; the only script is a file.
	assert.Contains(t, body, "<title>Order &lt;webhooks&gt;</title>")
	assert.Equal(t, 1, strings.Count(body, "<script"))
	assert.Contains(t, body, `<script src="static/app.js" defer></script>`)
	assert.NotContains(t, body, "style=")
	assert.Len(t, v.token, 43) // 32 random bytes

	// The files it loads, relative to it.
	for path, ctype := range map[string]string{
		"/static/app.js":      "text/javascript; charset=utf-8",
		"/static/app.css":     "text/css; charset=utf-8",
		"/static/favicon.svg": "image/svg+xml",
	} {
		res, body := v.do(http.MethodGet, path, nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Equal(t, ctype, res.Header.Get("Content-Type"), path)
		assert.NotEmpty(t, body, path)
		assert.NotEmpty(t, res.Header.Get("Content-Security-Policy"), path)
		etag := res.Header.Get("ETag")
		require.NotEmpty(t, etag, path)
		res, _ = v.do(http.MethodGet, path, http.Header{"If-None-Match": {etag}}, nil)
		assert.Equal(t, http.StatusNotModified, res.StatusCode, path)
	}
	js := func() string { _, b := v.do(http.MethodGet, "/static/app.js", nil, nil); return b }()
	assert.NotContains(t, js, "innerHTML")
	assert.NotContains(t, js, "insertAdjacentHTML")
	assert.NotContains(t, js, "document.write")

	// Without the slash, a redirect to it (the page's links are
	// relative), by the handler when the mux does not.
	mounted := http.StripPrefix("/admin/webhooks", dashboard.New(v.e, dashboard.Options{}))
	for target, location := range map[string]string{
		"/admin/webhooks":     "/admin/webhooks/",
		"/admin/webhooks?x=1": "/admin/webhooks/?x=1",
	} {
		rec := httptest.NewRecorder()
		mounted.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		assert.Equal(t, http.StatusMovedPermanently, rec.Code, target)
		assert.Equal(t, location, rec.Header().Get("Location"), target)
	}
	res, body = v.do(http.MethodGet, "", nil, nil) // the mux's redirect
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "csrf-token")

	res, _ = v.do(http.MethodGet, "/nope", nil, nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = v.do(http.MethodPost, "/", v.sameOrigin(), nil)
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)

	// Each handler has its own token.
	other := httptest.NewRecorder()
	dashboard.New(v.e, dashboard.Options{}).ServeHTTP(other, httptest.NewRequest(http.MethodGet, "/", nil))
	m := tokenRE.FindStringSubmatch(other.Body.String())
	require.NotNil(t, m)
	assert.NotEqual(t, v.token, m[1])
}

func TestReadOnlyPage(t *testing.T) {
	v := newEnv(t, envOptions{dash: dashboard.Options{ReadOnly: true}})
	_, body := v.do(http.MethodGet, "/", nil, nil)
	assert.Contains(t, body, `<meta name="read-only" content="true">`)
	var e apiError
	assert.Equal(t, http.StatusForbidden, v.post("/api/pause", map[string]string{"endpoint": "crm"}, &e))
	assert.Contains(t, e.Error, "read-only")
	st, err := v.e.Stats(context.Background())
	require.NoError(t, err)
	assert.False(t, st.Endpoints["crm"].Paused)
}

func TestLogsAPI(t *testing.T) {
	v := newEnv(t, envOptions{})
	v.rc.failing.Store(true)
	v.emit("", "1")     // crm; acme-1 has a tenant
	v.emit("acme", "2") // crm and acme-1
	v.settle()
	v.rc.failing.Store(false)
	v.emit("", "3")
	v.settle()

	all := v.logs("")
	require.Len(t, all.Logs, 4)
	assert.Empty(t, all.NextUntil)
	for i := 1; i < len(all.Logs); i++ {
		assert.False(t, all.Logs[i].CreatedAt.After(all.Logs[i-1].CreatedAt), "newest first")
	}
	newest := all.Logs[0]
	assert.Equal(t, "evt_3", newest.EventID)
	assert.Equal(t, "crm", newest.EndpointName)
	assert.Equal(t, "delivered", newest.Status)
	assert.Equal(t, 200, newest.StatusCode)
	assert.Equal(t, 1, newest.Attempts)
	assert.Equal(t, "created", newest.EventType)
	assert.NotNil(t, newest.CompletedAt)
	require.NotNil(t, newest.Payload)
	// Pretty-printed, exactly the body sent.
	assert.Contains(t, *newest.Payload, "\n  \"event\": \"created\"")
	assert.Contains(t, *newest.Payload, `"note": "\u003cscript\u003ealert(1)\u003c/script\u003e"`)
	require.Len(t, newest.History, 1)
	assert.Equal(t, 200, newest.History[0].StatusCode)
	assert.Positive(t, newest.History[0].DurationMS)

	// A failure: its error, response body and attempt.
	var failed apiLog
	for _, l := range all.Logs {
		if l.EventID == "evt_2" && l.EndpointName == "acme-1" {
			failed = l
		}
	}
	require.NotEmpty(t, failed.ID)
	assert.Equal(t, "failed", failed.Status)
	assert.Equal(t, "acme", failed.Tenant)
	assert.Equal(t, 500, failed.StatusCode)
	assert.NotEmpty(t, failed.ErrorMessage)
	assert.Contains(t, failed.ResponseBody, "<b>receiver down</b>")
	require.Len(t, failed.History, 1)
	assert.Equal(t, 500, failed.History[0].StatusCode)

	// Filters.
	assert.Len(t, v.logs("endpoint=crm").Logs, 3)
	assert.Equal(t, []string{failed.ID}, ids(v.logs("tenant=acme").Logs))
	assert.Empty(t, v.logs("tenant=nobody").Logs)
	assert.Len(t, v.logs("status=failed").Logs, 3)
	assert.Len(t, v.logs("status=failed&endpoint=crm").Logs, 2)
	assert.Len(t, v.logs("event_id=evt_2").Logs, 2)
	assert.Len(t, v.logs("event_id=+evt_2+").Logs, 2, "trimmed")
	assert.Len(t, v.logs("unresolved=true&status=failed").Logs, 3)

	// Pages of two: the next page's until is the oldest creation time of
	// this one, which takes every log created then (evt_2's two).
	p1 := v.logs("limit=2")
	require.Len(t, p1.Logs, 3)
	require.NotEmpty(t, p1.NextUntil)
	until, err := time.Parse(time.RFC3339Nano, p1.NextUntil)
	require.NoError(t, err)
	assert.Equal(t, p1.Logs[2].CreatedAt, until)
	assert.Equal(t, p1.Logs[1].CreatedAt, until)
	assert.Equal(t, "evt_2", p1.Logs[2].EventID)
	p2 := v.logs("limit=2&until=" + url.QueryEscape(p1.NextUntil))
	require.Len(t, p2.Logs, 1)
	assert.Empty(t, p2.NextUntil)
	seen := map[string]bool{}
	for _, l := range append(p1.Logs, p2.Logs...) {
		seen[l.ID] = true
	}
	assert.Len(t, seen, 4)

	// Bad input.
	for _, q := range []string{"status=lost", "limit=0", "limit=1001", "limit=x", "until=yesterday", "unresolved=maybe", "colour=red"} {
		var e apiError
		assert.Equal(t, http.StatusBadRequest, v.get("/api/logs?"+q, &e), q)
		assert.NotEmpty(t, e.Error, q)
	}
	res, _ := v.do(http.MethodPost, "/api/logs", v.sameOrigin(), []byte("{}"))
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	assert.Equal(t, "GET, HEAD", res.Header.Get("Allow"))
	var e apiError
	assert.Equal(t, http.StatusNotFound, v.get("/api/nothing", &e))
	assert.NotEmpty(t, e.Error)
}

func TestEndpointsAndStatsAPI(t *testing.T) {
	v := newEnv(t, envOptions{})
	var eps struct {
		Queued    int           `json:"queued"`
		InFlight  int           `json:"in_flight"`
		Endpoints []apiEndpoint `json:"endpoints"`
		Tenants   []string      `json:"tenants"`
	}
	require.Equal(t, http.StatusOK, v.get("/api/endpoints", &eps))
	require.Len(t, eps.Endpoints, 2)
	assert.Equal(t, "crm", eps.Endpoints[0].Name)
	assert.Equal(t, v.rc.URL+"/hooks?[REDACTED]", eps.Endpoints[0].URL, "no query: it may hold a token")
	assert.Equal(t, "closed", eps.Endpoints[0].Circuit)
	assert.Equal(t, "acme", eps.Endpoints[1].Tenant)
	assert.Equal(t, []string{"acme"}, eps.Tenants)

	_, body := v.do(http.MethodGet, "/api/endpoints", nil, nil)
	assert.NotContains(t, body, "secret_")
	assert.NotContains(t, body, "s3cret")

	require.Equal(t, http.StatusOK, v.get("/api/endpoints?tenant=acme", &eps))
	require.Len(t, eps.Endpoints, 1)
	assert.Equal(t, "acme-1", eps.Endpoints[0].Name)

	var st webhook.Stats
	require.Equal(t, http.StatusOK, v.get("/api/stats", &st))
	assert.Len(t, st.Endpoints, 2)
	assert.Equal(t, "acme", st.Endpoints["acme-1"].Tenant)
	var e apiError
	assert.Equal(t, http.StatusBadRequest, v.get("/api/endpoints?name=crm", &e))
}

// logStore is a LogStore that is not the MemoryLogStore: the dashboard
// works on any, through the Emitter.
type logStore struct{ m *webhook.MemoryLogStore }

func (s logStore) Record(ctx context.Context, l webhook.DeliveryLog) error { return s.m.Record(ctx, l) }
func (s logStore) Query(ctx context.Context, q webhook.LogQuery) ([]webhook.DeliveryLog, error) {
	return s.m.Query(ctx, q)
}
func (s logStore) Get(ctx context.Context, id string) (webhook.DeliveryLog, error) {
	return s.m.Get(ctx, id)
}

func TestRedeliver(t *testing.T) {
	for name, store := range map[string]func() webhook.LogStore{
		"memory": func() webhook.LogStore { return nil },
		"custom": func() webhook.LogStore { return logStore{webhook.NewMemoryLogStore(100)} },
	} {
		t.Run(name, func(t *testing.T) {
			v := newEnv(t, envOptions{store: store()})
			v.rc.failing.Store(true)
			v.emit("", "1")
			v.emit("", "2")
			v.settle()
			failed := v.logs("status=failed&event_id=evt_1").Logs
			require.Len(t, failed, 1)
			first := failed[0]
			assert.Empty(t, v.rc.got())

			// The receiver is back: send it again.
			v.rc.failing.Store(false)
			var ok struct {
				ID            string `json:"id"`
				RedeliveredAs string `json:"redelivered_as"`
			}
			require.Equal(t, http.StatusOK, v.post("/api/redeliver", map[string]any{"id": first.ID}, &ok))
			assert.Equal(t, first.ID, ok.ID)
			require.NotEmpty(t, ok.RedeliveredAs)
			assert.NotEqual(t, first.ID, ok.RedeliveredAs)
			v.settle()
			assert.Equal(t, []string{"evt_1"}, v.rc.got())
			again := v.logs("event_id=evt_1").Logs
			require.Len(t, again, 2)
			assert.Equal(t, ok.RedeliveredAs, again[0].ID)
			assert.Equal(t, "delivered", again[0].Status)
			assert.Equal(t, ok.RedeliveredAs, again[1].RedeliveredAs)

			// Resolved: unresolved leaves it out; the other failure stays.
			unresolved := v.logs("unresolved=true&status=failed").Logs
			require.Len(t, unresolved, 1)
			assert.Equal(t, "evt_2", unresolved[0].EventID)
			assert.Len(t, v.logs("unresolved=true").Logs, 2, "the other failure and the redelivery")

			// A second click: 409, then "send again".
			var e apiError
			require.Equal(t, http.StatusConflict, v.post("/api/redeliver", map[string]any{"id": first.ID}, &e))
			assert.True(t, e.AlreadyRedelivered)
			assert.Contains(t, e.Error, "sent again already")
			require.Equal(t, http.StatusOK, v.post("/api/redeliver", map[string]any{"id": first.ID, "again": true}, &ok))
			v.settle()
			assert.Equal(t, []string{"evt_1", "evt_1"}, v.rc.got())
			latest := v.logs("event_id=evt_1").Logs
			require.Len(t, latest, 3)
			assert.Equal(t, ok.RedeliveredAs, latest[2].RedeliveredAs, "the log links to the newest")

			// An unknown delivery is not found; bad bodies are refused.
			e = apiError{}
			assert.Equal(t, http.StatusNotFound, v.post("/api/redeliver", map[string]any{"id": "dlv_nope"}, &e))
			assert.Contains(t, e.Error, "not found")
			assert.Equal(t, http.StatusBadRequest, v.post("/api/redeliver", map[string]any{}, &e))
			assert.Equal(t, http.StatusBadRequest, v.post("/api/redeliver", map[string]any{"id": first.ID, "colour": "red"}, &e))
			assert.Equal(t, http.StatusBadRequest, v.post("/api/redeliver", "dlv_1", &e))
		})
	}
}

func TestRecover(t *testing.T) {
	v := newEnv(t, envOptions{})
	start := time.Now().Add(-time.Second)
	v.rc.failing.Store(true)
	for i := range 3 {
		v.emit("", fmt.Sprint(i))
	}
	v.emit("acme", "a") // crm and acme-1
	v.settle()
	v.rc.failing.Store(false)

	var out struct {
		Endpoint  string    `json:"endpoint"`
		Since     time.Time `json:"since"`
		Recovered int       `json:"recovered"`
	}
	require.Equal(t, http.StatusOK, v.post("/api/recover", map[string]string{"endpoint": "crm", "since": start.Format(time.RFC3339Nano)}, &out))
	assert.Equal(t, 4, out.Recovered)
	assert.Equal(t, "crm", out.Endpoint)
	assert.True(t, start.Equal(out.Since))
	v.settle()
	assert.Len(t, v.rc.got(), 4)
	assert.Len(t, v.logs("unresolved=true&status=failed").Logs, 1, "acme-1's")

	// Once each.
	require.Equal(t, http.StatusOK, v.post("/api/recover", map[string]string{"endpoint": "crm", "since": start.Format(time.RFC3339)}, &out))
	assert.Zero(t, out.Recovered)

	var e apiError
	assert.Equal(t, http.StatusNotFound, v.post("/api/recover", map[string]string{"endpoint": "nope", "since": start.Format(time.RFC3339)}, &e))
	assert.Equal(t, http.StatusBadRequest, v.post("/api/recover", map[string]string{"endpoint": "crm", "since": "an hour ago"}, &e))
	assert.Contains(t, e.Error, "since")
	assert.Equal(t, http.StatusBadRequest, v.post("/api/recover", map[string]string{"since": start.Format(time.RFC3339)}, &e))
}

func TestEndpointActions(t *testing.T) {
	v := newEnv(t, envOptions{breaker: webhook.CircuitBreaker{Threshold: 1, Cooldown: time.Hour}})
	endpoint := func(name string) apiEndpoint {
		var eps struct {
			Endpoints []apiEndpoint `json:"endpoints"`
		}
		require.Equal(t, http.StatusOK, v.get("/api/endpoints", &eps))
		for _, ep := range eps.Endpoints {
			if ep.Name == name {
				return ep
			}
		}
		t.Fatalf("no endpoint %q", name)
		return apiEndpoint{}
	}

	var ep apiEndpoint
	require.Equal(t, http.StatusOK, v.post("/api/pause", map[string]string{"endpoint": "crm"}, &ep))
	assert.True(t, ep.Paused)
	assert.True(t, endpoint("crm").Paused)
	assert.False(t, endpoint("acme-1").Paused)
	require.Equal(t, http.StatusOK, v.post("/api/resume", map[string]string{"endpoint": "crm"}, &ep))
	assert.False(t, ep.Paused)
	assert.False(t, endpoint("crm").Paused)

	// A failure opens crm's circuit (threshold 1); reset closes it.
	v.rc.failing.Store(true)
	v.emit("", "1")
	v.settle()
	assert.Equal(t, "open", endpoint("crm").Circuit)
	require.Equal(t, http.StatusOK, v.post("/api/reset-circuit", map[string]string{"endpoint": "crm"}, &ep))
	assert.Equal(t, "closed", ep.Circuit)
	assert.Equal(t, "closed", endpoint("crm").Circuit)

	require.Equal(t, http.StatusOK, v.post("/api/enable", map[string]string{"endpoint": "crm"}, &ep))
	assert.False(t, ep.Disabled)

	for _, action := range []string{"pause", "resume", "reset-circuit", "enable"} {
		var e apiError
		assert.Equal(t, http.StatusNotFound, v.post("/api/"+action, map[string]string{"endpoint": "nope"}, &e), action)
		assert.Contains(t, e.Error, "not configured", action)
		assert.Equal(t, http.StatusBadRequest, v.post("/api/"+action, map[string]string{}, &e), action)
	}
	res, _ := v.do(http.MethodGet, "/api/pause", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "GET never changes anything")
	assert.Equal(t, "POST", res.Header.Get("Allow"))
}

func TestGoneEndpoint(t *testing.T) {
	v := newEnv(t, envOptions{})
	// crm answers 410 Gone: disabled until enabled.
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer gone.Close()
	ep, ok := v.e.Endpoint("crm")
	require.True(t, ok)
	ep.URL = gone.URL
	require.NoError(t, v.e.UpdateEndpoint(context.Background(), ep))
	v.emit("", "1")
	v.settle()
	failed := v.logs("endpoint=crm").Logs
	require.Len(t, failed, 1)

	var eps struct {
		Endpoints []apiEndpoint `json:"endpoints"`
	}
	require.Equal(t, http.StatusOK, v.get("/api/endpoints", &eps))
	assert.True(t, eps.Endpoints[0].Disabled)
	assert.True(t, eps.Endpoints[0].Gone)

	var e apiError
	assert.Equal(t, http.StatusConflict, v.post("/api/redeliver", map[string]string{"id": failed[0].ID}, &e))
	assert.False(t, e.AlreadyRedelivered)
	var out apiEndpoint
	require.Equal(t, http.StatusOK, v.post("/api/enable", map[string]string{"endpoint": "crm"}, &out))
	assert.False(t, out.Disabled)
	assert.False(t, out.Gone)
}

func TestCSRF(t *testing.T) {
	v := newEnv(t, envOptions{dash: dashboard.Options{TrustedOrigins: []string{"https://admin.example.com"}}})
	body := []byte(`{"endpoint": "crm"}`)
	with := func(change func(http.Header)) http.Header {
		h := v.sameOrigin()
		change(h)
		return h
	}
	paused := func() bool {
		st, err := v.e.Stats(context.Background())
		require.NoError(t, err)
		return st.Endpoints["crm"].Paused
	}

	for name, h := range map[string]http.Header{
		"cross-site fetch": with(func(h http.Header) { h.Set("Origin", "https://evil.example"); h.Set("Sec-Fetch-Site", "cross-site") }),
		"same-site fetch": with(func(h http.Header) {
			h.Set("Origin", "https://other.127.0.0.1.example")
			h.Set("Sec-Fetch-Site", "same-site")
		}),
		"cross-site, lying Origin":          with(func(h http.Header) { h.Set("Sec-Fetch-Site", "cross-site") }),
		"old browser, other Origin":         with(func(h http.Header) { h.Del("Sec-Fetch-Site"); h.Set("Origin", "https://evil.example") }),
		"old browser, Origin null":          with(func(h http.Header) { h.Del("Sec-Fetch-Site"); h.Set("Origin", "null") }),
		"neither Origin nor Sec-Fetch-Site": with(func(h http.Header) { h.Del("Sec-Fetch-Site"); h.Del("Origin") }),
		"no token":                          with(func(h http.Header) { h.Del("X-Csrf-Token") }),
		"wrong token":                       with(func(h http.Header) { h.Set("X-Csrf-Token", strings.Repeat("A", len(v.token))) }),
		"short token":                       with(func(h http.Header) { h.Set("X-Csrf-Token", v.token[:10]) }),
		"token as a form field":             with(func(h http.Header) { h.Del("X-Csrf-Token"); h.Set("Content-Type", "application/x-www-form-urlencoded") }),
	} {
		res, answer := v.do(http.MethodPost, "/api/pause", h, body)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, name)
		assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"), name)
		var e apiError
		require.NoError(t, json.Unmarshal([]byte(answer), &e), name)
		assert.NotEmpty(t, e.Error, name)
		assert.False(t, paused(), name)
	}

	// A token from another dashboard is no good here.
	other := httptest.NewRecorder()
	dashboard.New(v.e, dashboard.Options{}).ServeHTTP(other, httptest.NewRequest(http.MethodGet, "/", nil))
	m := tokenRE.FindStringSubmatch(other.Body.String())
	require.NotNil(t, m)
	res, _ := v.do(http.MethodPost, "/api/pause", with(func(h http.Header) { h.Set("X-Csrf-Token", m[1]) }), body)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.False(t, paused())

	// Same origin with the token: by Sec-Fetch-Site, by Origin alone (an
	// older browser), from a trusted origin.
	for name, h := range map[string]http.Header{
		"Sec-Fetch-Site same-origin": with(func(h http.Header) { h.Del("Origin") }),
		"Origin alone":               with(func(h http.Header) { h.Del("Sec-Fetch-Site") }),
		"trusted origin": with(func(h http.Header) {
			h.Set("Origin", "https://admin.example.com")
			h.Set("Sec-Fetch-Site", "cross-site")
		}),
	} {
		require.NoError(t, v.e.ResumeEndpoint(context.Background(), "crm"))
		res, answer := v.do(http.MethodPost, "/api/pause", h, body)
		assert.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", name, answer)
		assert.True(t, paused(), name)
	}

	// The right token, but not JSON: 415; too large: 413.
	res, _ = v.do(http.MethodPost, "/api/pause", with(func(h http.Header) { h.Set("Content-Type", "text/plain") }), body)
	assert.Equal(t, http.StatusUnsupportedMediaType, res.StatusCode)
	big := []byte(`{"endpoint": "` + strings.Repeat("x", 70<<10) + `"}`)
	res, _ = v.do(http.MethodPost, "/api/pause", v.sameOrigin(), big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
}

func TestTrustedOriginsChecked(t *testing.T) {
	e, err := webhook.New(webhook.Config{Endpoints: []webhook.Endpoint{{Name: "crm", URL: "http://127.0.0.1:1/", Secret: "secret_crm"}}, Logger: quiet})
	require.NoError(t, err)
	defer e.Close(context.Background())
	defer func() {
		p := recover()
		require.NotNil(t, p, "New accepted an origin without a scheme")
		assert.Contains(t, fmt.Sprint(p), `dashboard: New: Options.TrustedOrigins: invalid origin "admin.example.com"`)
	}()
	dashboard.New(e, dashboard.Options{TrustedOrigins: []string{"admin.example.com"}})
}

func TestAPIHeaders(t *testing.T) {
	v := newEnv(t, envOptions{})
	for _, path := range []string{"/api/logs", "/api/endpoints", "/api/stats", "/api/nothing", "/api/logs?status=x"} {
		res, _ := v.do(http.MethodGet, path, nil, nil)
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"), path)
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), path)
		assert.Equal(t, "DENY", res.Header.Get("X-Frame-Options"), path)
		assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"), path)
		assert.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'", path)
	}
}

func TestLogsUnresolvedPages(t *testing.T) {
	v := newEnv(t, envOptions{})
	v.rc.failing.Store(true)
	for i := range 3 {
		v.emit("", fmt.Sprint(i)) // crm only
		time.Sleep(2 * time.Millisecond)
	}
	v.settle()
	failed := v.logs("status=failed").Logs
	require.Len(t, failed, 3)
	v.rc.failing.Store(false)
	_, err := v.e.Redeliver(context.Background(), failed[1].ID) // evt_1's, in the middle
	require.NoError(t, err)
	v.settle()

	// A page at a time: the page that holds only the resolved failure
	// is empty, and says where the next one starts.
	var got []string
	empty := 0
	for q, pages := "unresolved=true&status=failed&limit=1", 0; q != ""; pages++ {
		require.Less(t, pages, 10)
		p := v.logs(q)
		if len(p.Logs) == 0 && p.NextUntil != "" {
			empty++
		}
		for _, l := range p.Logs {
			got = append(got, l.EventID)
		}
		q = ""
		if p.NextUntil != "" {
			q = "unresolved=true&status=failed&limit=1&until=" + url.QueryEscape(p.NextUntil)
		}
	}
	assert.Equal(t, []string{"evt_2", "evt_0"}, got)
	assert.Equal(t, 1, empty)
}

func TestRedeliverSyncFailure(t *testing.T) {
	rc := newReceiver(t)
	rc.failing.Store(true)
	e, err := webhook.New(webhook.Config{Sync: true, Logger: quiet, Endpoints: []webhook.Endpoint{{
		Name: "crm", URL: rc.URL, Secret: "secret_crm", Retry: &webhook.RetryConfig{MaxRetries: 0},
	}}})
	require.NoError(t, err)
	defer e.Close(context.Background())
	require.Error(t, e.Emit(context.Background(), webhook.Event{Type: webhook.Created, Model: "store.Order", Object: map[string]any{"id": "1"}}))
	logs, err := e.Logs(context.Background(), webhook.LogQuery{})
	require.NoError(t, err)
	require.Len(t, logs, 1)

	srv := httptest.NewServer(dashboard.New(e, dashboard.Options{Logger: quiet}))
	defer srv.Close()
	v := &env{t: t, e: e, rc: rc, srv: srv}
	// Mounted at the root.
	res, err := srv.Client().Get(srv.URL + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	v.token = tokenRE.FindStringSubmatch(string(page))[1]

	// In Sync mode the redelivery is attempted at once: it failed, and
	// the answer names it.
	b, _ := json.Marshal(map[string]string{"id": logs[0].ID})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/redeliver", bytes.NewReader(b))
	req.Header = v.sameOrigin()
	res, err = srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out apiError
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	assert.Equal(t, http.StatusBadGateway, res.StatusCode)
	assert.Contains(t, out.Error, "status 500")
	require.NotEmpty(t, out.RedeliveredAs)
	again, err := e.Logs(context.Background(), webhook.LogQuery{Status: webhook.StatusFailed})
	require.NoError(t, err)
	assert.Len(t, again, 2)
}
