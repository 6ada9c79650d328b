package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookrail/webhook"
)

// logJSON is a delivery log as the API serves it: webhook.DeliveryLog's
// fields, with the endpoint's tenant, durations in milliseconds and the
// payload as indented JSON text.
type logJSON struct {
	ID            string                 `json:"id"`
	EndpointName  string                 `json:"endpoint_name"`
	Tenant        string                 `json:"tenant,omitempty"` // the endpoint's, now
	EventID       string                 `json:"event_id"`
	EventType     webhook.EventType      `json:"event_type"`
	Status        webhook.DeliveryStatus `json:"status"`
	StatusCode    int                    `json:"status_code"`
	Attempts      int                    `json:"attempts"`
	CreatedAt     time.Time              `json:"created_at"`
	CompletedAt   *time.Time             `json:"completed_at"`
	NextAttemptAt *time.Time             `json:"next_attempt_at,omitempty"`
	ErrorMessage  string                 `json:"error_message"`
	ResponseBody  string                 `json:"response_body"`
	RedeliveredAs string                 `json:"redelivered_as,omitempty"`
	History       []attemptJSON          `json:"history"`

	// Payload is the body as sent, indented (as it was when it is not
	// JSON); null when no body was built.
	Payload *string `json:"payload"`
}

// attemptJSON is one attempt of a delivery.
type attemptJSON struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	DurationMS float64   `json:"duration_ms"`
	StatusCode int       `json:"status_code"`
	Error      string    `json:"error,omitempty"`
}

// logsJSON is a page of logs.
type logsJSON struct {
	Logs []logJSON `json:"logs"`

	// NextUntil is the until of the next page, older; "" when this page
	// is the last. It is the oldest creation time of this page, which
	// holds every log created in that instant (and so may hold more than
	// the limit).
	NextUntil string `json:"next_until,omitempty"`
}

// endpointJSON is an endpoint and its stats.
type endpointJSON struct {
	Name     string               `json:"name"`
	Tenant   string               `json:"tenant,omitempty"`
	URL      string               `json:"url"` // without query and user information
	Queued   int                  `json:"queued"`
	InFlight int                  `json:"in_flight"`
	Circuit  webhook.CircuitState `json:"circuit"`
	Disabled bool                 `json:"disabled"` // configured disabled, or gone
	Gone     bool                 `json:"gone"`     // disabled by a 410 answer: api/enable enables it
	Paused   bool                 `json:"paused"`
}

// endpointsJSON lists endpoints.
type endpointsJSON struct {
	Queued    int            `json:"queued"`
	InFlight  int            `json:"in_flight"`
	Endpoints []endpointJSON `json:"endpoints"`
	Tenants   []string       `json:"tenants"` // every tenant's, sorted
}

// maxBody bounds a POST's body.
const maxBody = 64 << 10

// serveAPI serves api/…; path is what follows "/api".
func (h *handler) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	var get func(http.ResponseWriter, *http.Request)
	var post func(http.ResponseWriter, *http.Request) // after the checks
	switch path {
	case "/logs":
		get = h.apiLogs
	case "/endpoints":
		get = h.apiEndpoints
	case "/stats":
		get = h.apiStats
	case "/redeliver":
		post = h.apiRedeliver
	case "/recover":
		post = h.apiRecover
	case "/pause", "/resume", "/reset-circuit", "/enable":
		post = h.apiEndpointAction(strings.TrimPrefix(path, "/"))
	default:
		writeError(w, http.StatusNotFound, "no such API: "+path)
		return
	}
	if get != nil {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hd.Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed: use GET")
			return
		}
		get(w, r)
		return
	}
	if r.Method != http.MethodPost {
		hd.Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	if why := h.checkPost(r); why != "" {
		h.log.Warn("dashboard: request refused", "path", "api"+path, "reason", why, "remote_addr", r.RemoteAddr,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		writeError(w, http.StatusForbidden, why)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	post(w, r)
}

// apiLogs serves GET api/logs.
func (h *handler) apiLogs(w http.ResponseWriter, r *http.Request) {
	q, err := h.parseLogQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	// The page is read without Unresolved, so that the next page starts
	// after what the store returned, whatever Unresolved leaves out.
	unresolved := q.Unresolved
	q.Unresolved = false
	logs, err := h.e.Logs(ctx, q)
	if err != nil {
		h.fail(w, "reading the delivery logs", err)
		return
	}
	var out logsJSON
	if len(logs) > 0 {
		oldest, newest := logs[0].CreatedAt, logs[0].CreatedAt
		for _, l := range logs {
			if l.CreatedAt.Before(oldest) {
				oldest = l.CreatedAt
			}
			if l.CreatedAt.After(newest) {
				newest = l.CreatedAt
			}
		}
		if len(logs) == q.Limit {
			// There may be older logs. The next page is those created
			// before this one's oldest, so that none is read twice: this
			// one takes every log created in that instant (an event to
			// several endpoints makes them together).
			tie := q
			tie.Since, tie.Until, tie.Limit = oldest, oldest.Add(time.Nanosecond), webhook.MaxLogLimit
			same, err := h.e.Logs(ctx, tie)
			if err != nil {
				h.fail(w, "reading the delivery logs", err)
				return
			}
			for _, l := range same {
				if !slices.ContainsFunc(logs, func(k webhook.DeliveryLog) bool { return k.ID == l.ID }) {
					logs = append(logs, l)
				}
			}
			out.NextUntil = oldest.Format(time.RFC3339Nano)
		}
		if unresolved {
			// The unresolved logs of the same span of time: the page's
			// (and maybe a few more created in the same instants).
			span := q
			span.Unresolved, span.Since, span.Until, span.Limit = true, oldest, newest.Add(time.Nanosecond), webhook.MaxLogLimit
			open, err := h.e.Logs(ctx, span)
			if err != nil {
				h.fail(w, "reading the delivery logs", err)
				return
			}
			keep := make(map[string]bool, len(open))
			for _, l := range open {
				keep[l.ID] = true
			}
			logs = slices.DeleteFunc(logs, func(l webhook.DeliveryLog) bool { return !keep[l.ID] })
		}
	}
	tenants := map[string]string{}
	out.Logs = make([]logJSON, len(logs))
	for i, l := range logs {
		t, ok := tenants[l.EndpointName]
		if !ok {
			ep, _ := h.e.Endpoint(l.EndpointName)
			t = ep.Tenant
			tenants[l.EndpointName] = t
		}
		out.Logs[i] = toLogJSON(l, t)
	}
	writeJSON(w, http.StatusOK, out)
}

// toLogJSON converts a log for the API.
func toLogJSON(l webhook.DeliveryLog, tenant string) logJSON {
	j := logJSON{
		ID: l.ID, EndpointName: l.EndpointName, Tenant: tenant, EventID: l.EventID, EventType: l.EventType,
		Status: l.Status, StatusCode: l.StatusCode, Attempts: l.Attempts,
		CreatedAt: l.CreatedAt, CompletedAt: l.CompletedAt, NextAttemptAt: l.NextAttemptAt,
		ErrorMessage: l.ErrorMessage, ResponseBody: l.ResponseBody, RedeliveredAs: l.RedeliveredAs,
		History: make([]attemptJSON, len(l.History)),
	}
	for i, a := range l.History {
		j.History[i] = attemptJSON{
			Attempt: a.Attempt, At: a.At, DurationMS: float64(a.Duration) / float64(time.Millisecond),
			StatusCode: a.StatusCode, Error: a.Error,
		}
	}
	if l.Payload != nil {
		var buf bytes.Buffer
		s := string(l.Payload)
		if json.Indent(&buf, l.Payload, "", "  ") == nil {
			s = buf.String()
		}
		j.Payload = &s
	}
	return j
}

// parseLogQuery reads api/logs's parameters, those of the library's
// LogsHandler; a page is pageSize logs unless limit says otherwise, and
// an event id pasted with spaces around it is trimmed.
func (h *handler) parseLogQuery(v url.Values) (webhook.LogQuery, error) {
	q, err := webhook.ParseLogQuery(v)
	if err != nil {
		return q, err
	}
	q.EventID = strings.TrimSpace(q.EventID)
	if q.Limit == 0 {
		q.Limit = h.pageSize
	}
	return q, nil
}

// apiEndpoints serves GET api/endpoints: every endpoint (or a tenant's)
// with its stats.
func (h *handler) apiEndpoints(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	for k := range v {
		if k != "tenant" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q (want tenant)", k))
			return
		}
	}
	st, err := h.e.Stats(r.Context())
	if err != nil {
		h.fail(w, "reading the stats", err)
		return
	}
	var eps []webhook.Endpoint
	if t := v.Get("tenant"); t != "" {
		eps = h.e.TenantEndpoints(t)
	} else {
		eps = h.e.Endpoints()
	}
	out := endpointsJSON{Queued: st.Queued, InFlight: st.InFlight, Endpoints: make([]endpointJSON, 0, len(eps)), Tenants: []string{}}
	for _, ep := range eps {
		out.Endpoints = append(out.Endpoints, toEndpointJSON(ep, st.Endpoints[ep.Name]))
	}
	seen := map[string]bool{}
	for _, s := range st.Endpoints {
		if s.Tenant != "" && !seen[s.Tenant] {
			seen[s.Tenant] = true
			out.Tenants = append(out.Tenants, s.Tenant)
		}
	}
	slices.Sort(out.Tenants)
	writeJSON(w, http.StatusOK, out)
}

func toEndpointJSON(ep webhook.Endpoint, s webhook.EndpointStats) endpointJSON {
	return endpointJSON{
		Name: ep.Name, Tenant: ep.Tenant, URL: ep.RedactedURL(),
		Queued: s.Queued, InFlight: s.InFlight, Circuit: s.Circuit,
		Disabled: s.Disabled, Gone: s.Disabled && !ep.Disabled, Paused: s.Paused,
	}
}

// apiStats serves GET api/stats: webhook.Stats.
func (h *handler) apiStats(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		writeError(w, http.StatusBadRequest, "api/stats takes no parameters")
		return
	}
	st, err := h.e.Stats(r.Context())
	if err != nil {
		h.fail(w, "reading the stats", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// apiRedeliver serves POST api/redeliver {"id", "again"}.
func (h *handler) apiRedeliver(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID    string `json:"id"`
		Again bool   `json:"again"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.ID == "" {
		writeError(w, http.StatusBadRequest, `"id" is required: the id of the delivery to send again`)
		return
	}
	redeliver, verb := h.e.Redeliver, "redeliver"
	if in.Again {
		redeliver, verb = h.e.RedeliverAgain, "redeliver again"
	}
	newID, err := redeliver(r.Context(), in.ID)
	h.log.Info("dashboard: "+verb, "delivery_id", in.ID, "redelivered_as", newID, "error", err, "remote_addr", r.RemoteAddr)
	if err != nil {
		// With an id, the new delivery exists (and is logged) but could
		// not be queued, or failed (in Sync mode).
		code := statusOf(err)
		if newID != "" && code == http.StatusInternalServerError {
			code = http.StatusBadGateway
		}
		writeJSON(w, code, struct {
			Error              string `json:"error"`
			AlreadyRedelivered bool   `json:"already_redelivered,omitempty"` // RedeliverAgain ("again": true) sends it anyway
			RedeliveredAs      string `json:"redelivered_as,omitempty"`
		}{err.Error(), errors.Is(err, webhook.ErrAlreadyRedelivered), newID})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": in.ID, "redelivered_as": newID})
}

// apiRecover serves POST api/recover {"endpoint", "since"}.
func (h *handler) apiRecover(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Endpoint string `json:"endpoint"`
		Since    string `json:"since"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Endpoint == "" {
		writeError(w, http.StatusBadRequest, `"endpoint" is required`)
		return
	}
	since, err := time.Parse(time.RFC3339Nano, in.Since)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`"since": %q is not an RFC 3339 time (2006-01-02T15:04:05Z)`, in.Since))
		return
	}
	n, err := h.e.Recover(r.Context(), in.Endpoint, since)
	h.log.Info("dashboard: recover", "endpoint", in.Endpoint, "since", since, "recovered", n, "error", err, "remote_addr", r.RemoteAddr)
	if err != nil {
		writeJSON(w, statusOf(err), struct {
			Error     string `json:"error"`
			Recovered int    `json:"recovered"`
		}{err.Error(), n})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Endpoint  string    `json:"endpoint"`
		Since     time.Time `json:"since"`
		Recovered int       `json:"recovered"`
	}{in.Endpoint, since, n})
}

// apiEndpointAction serves POST api/pause, resume, reset-circuit and
// enable, {"endpoint"}: it answers with the endpoint as it is then.
func (h *handler) apiEndpointAction(action string) func(http.ResponseWriter, *http.Request) {
	var do func(context.Context, string) error
	switch action {
	case "pause":
		do = h.e.PauseEndpoint
	case "resume":
		do = h.e.ResumeEndpoint
	case "reset-circuit":
		do = h.e.ResetCircuit
	case "enable":
		do = h.e.EnableEndpoint
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Endpoint string `json:"endpoint"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if in.Endpoint == "" {
			writeError(w, http.StatusBadRequest, `"endpoint" is required`)
			return
		}
		err := do(r.Context(), in.Endpoint)
		h.log.Info("dashboard: "+action, "endpoint", in.Endpoint, "error", err, "remote_addr", r.RemoteAddr)
		if err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		ep, ok := h.e.Endpoint(in.Endpoint)
		st, err := h.e.Stats(r.Context())
		if !ok || err != nil {
			// Done, but the endpoint cannot be shown: removed meanwhile,
			// or the queue cannot say.
			writeJSON(w, http.StatusOK, map[string]string{"name": in.Endpoint})
			return
		}
		writeJSON(w, http.StatusOK, toEndpointJSON(ep, st.Endpoints[ep.Name]))
	}
}

// statusOf is the status code of an error of the Emitter.
func statusOf(err error) int {
	switch {
	case errors.Is(err, webhook.ErrLogNotFound), errors.Is(err, webhook.ErrEndpointNotFound),
		errors.Is(err, webhook.ErrEndpointRemoved):
		return http.StatusNotFound
	case errors.Is(err, webhook.ErrAlreadyRedelivered), errors.Is(err, webhook.ErrEndpointGone),
		errors.Is(err, webhook.ErrEndpointDisabled), errors.Is(err, webhook.ErrNotFinished),
		errors.Is(err, webhook.ErrNoPayload):
		return http.StatusConflict
	case errors.Is(err, webhook.ErrClosed), errors.Is(err, webhook.ErrQueueFull),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// readJSON decodes the request's body, a single JSON object, into v;
// it answers 400 and returns false when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", tooBig.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

// fail answers 500 for an error of the Emitter's stores, and logs it.
func (h *handler) fail(w http.ResponseWriter, what string, err error) {
	h.log.Error("dashboard: "+what, "error", err)
	writeError(w, statusOf(err), what+": "+err.Error())
}

// writeError answers code with {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// writeJSON answers code with v as JSON; the headers are set.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
