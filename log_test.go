package webhook_test

// Tests of log.go and Redeliver: queries of the delivery logs (filters,
// newest first, limit), the statuses a delivery goes through, the bound of
// MemoryLogStore, the JSON handler, and redelivery of a failed delivery.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/hookrail/webhook"
)

// lgCall is a request held by a scripted receiver until the test answers.
type lgCall struct {
	req   hookRequest
	reply chan int
}

// lgScripted returns a receiver whose every request waits on calls for
// the test to choose its status.
func lgScripted(t *testing.T) (*hookReceiver, chan lgCall) {
	calls := make(chan lgCall)
	rc := newHookReceiver(t, func(w http.ResponseWriter, r *http.Request, req hookRequest) {
		c := lgCall{req: req, reply: make(chan int, 1)}
		select {
		case calls <- c:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		select {
		case code := <-c.reply:
			w.WriteHeader(code)
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	return rc, calls
}

func lgNext(t *testing.T, calls chan lgCall) lgCall {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no request within 10s")
		return lgCall{}
	}
}

// lgEventIDs returns the event ids of logs, in order.
func lgEventIDs(logs []webhook.DeliveryLog) []string {
	ids := make([]string, len(logs))
	for i, l := range logs {
		ids[i] = l.EventID
	}
	return ids
}

func lgQuery(t *testing.T, e *webhook.Emitter, q webhook.LogQuery) []webhook.DeliveryLog {
	t.Helper()
	logs, err := e.Logs(context.Background(), q)
	if err != nil {
		t.Fatalf("Logs(%+v): %v", q, err)
	}
	return logs
}

// TestLogsFilterAndOrder: Logs filters by endpoint and status, orders
// newest first and honours the limit.
func TestLogsFilterAndOrder(t *testing.T) {
	t.Parallel()
	orders := newHookReceiver(t, nil)
	billing := newHookReceiver(t, answerStatus(http.StatusInternalServerError))
	e := dtEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{
		dtEndpoint("orders", orders, nil),
		dtEndpoint("billing", billing, &webhook.RetryConfig{MaxRetries: 0}),
	}})
	var ids []string // event ids, oldest first
	for i := range 5 {
		id := fmt.Sprintf("evt_log_%d", i)
		ids = append(ids, id)
		ev := dtEvent("", map[string]any{"n": i})
		ev.ID = id
		dtEmit(t, e, ev)
		time.Sleep(2 * time.Millisecond) // distinct created_at
	}
	dtClose(t, e)
	newestFirst := slices.Clone(ids)
	slices.Reverse(newestFirst)

	tests := []struct {
		q      webhook.LogQuery
		events []string
		status webhook.DeliveryStatus
	}{
		{webhook.LogQuery{Endpoint: "orders"}, newestFirst, webhook.StatusDelivered},
		{webhook.LogQuery{Endpoint: "orders", Limit: 2}, newestFirst[:2], webhook.StatusDelivered},
		{webhook.LogQuery{Endpoint: "billing"}, newestFirst, webhook.StatusFailed},
		{webhook.LogQuery{Status: webhook.StatusFailed}, newestFirst, webhook.StatusFailed},
		{webhook.LogQuery{Status: webhook.StatusFailed, Limit: 1}, newestFirst[:1], webhook.StatusFailed},
		{webhook.LogQuery{Endpoint: "orders", Status: webhook.StatusDelivered, Limit: 50}, newestFirst, webhook.StatusDelivered},
		{webhook.LogQuery{Endpoint: "billing", Status: webhook.StatusDelivered}, nil, ""},
		{webhook.LogQuery{Endpoint: "orders", Status: webhook.StatusPending}, nil, ""},
		{webhook.LogQuery{Endpoint: "nope"}, nil, ""},
	}
	for _, tt := range tests {
		logs := lgQuery(t, e, tt.q)
		if got := lgEventIDs(logs); !slices.Equal(got, tt.events) {
			t.Errorf("Logs(%+v) events %v, want %v", tt.q, got, tt.events)
		}
		for _, l := range logs {
			if tt.q.Endpoint != "" && l.EndpointName != tt.q.Endpoint {
				t.Errorf("Logs(%+v) returned a log of %q", tt.q, l.EndpointName)
			}
			if l.Status != tt.status {
				t.Errorf("Logs(%+v) returned a log with status %s, want %s", tt.q, l.Status, tt.status)
			}
		}
	}

	all := lgQuery(t, e, webhook.LogQuery{})
	if len(all) != 10 {
		t.Fatalf("Logs({}) returned %d logs, want 10", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Errorf("Logs({}) not newest first: %s before %s", all[i-1].CreatedAt, all[i].CreatedAt)
		}
	}
}

// TestLogStatusLifecycle: a delivery's log goes pending → retrying →
// delivered (or failed), with attempts, status code, error message and
// completed_at at each step.
func TestLogStatusLifecycle(t *testing.T) {
	t.Parallel()
	rc, calls := lgScripted(t)
	e := dtEmitter(t, webhook.Config{
		Workers:   1,
		Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 1, RetryDelay: 50 * time.Millisecond, NoJitter: true})},
	})
	before := time.Now()
	ev1 := dtEvent("", map[string]any{"n": 1})
	ev1.ID = "evt_lifecycle_1"
	ev2 := dtEvent("", map[string]any{"n": 2})
	ev2.ID = "evt_lifecycle_2"
	dtEmit(t, e, ev1)
	dtEmit(t, e, ev2)

	byEvent := func() map[string]webhook.DeliveryLog {
		m := make(map[string]webhook.DeliveryLog)
		for _, l := range lgQuery(t, e, webhook.LogQuery{Endpoint: "orders"}) {
			m[l.EventID] = l
		}
		return m
	}
	check := func(step string, l webhook.DeliveryLog, status webhook.DeliveryStatus, attempts, code int, wantMsg, completed bool) {
		t.Helper()
		if l.Status != status || l.Attempts != attempts || l.StatusCode != code {
			t.Errorf("%s: status %s attempts %d status_code %d, want %s %d %d", step, l.Status, l.Attempts, l.StatusCode, status, attempts, code)
		}
		if (l.ErrorMessage != "") != wantMsg {
			t.Errorf("%s: error_message %q", step, l.ErrorMessage)
		}
		if (l.CompletedAt != nil) != completed {
			t.Errorf("%s: completed_at %v, want set: %v", step, l.CompletedAt, completed)
		}
		if l.CreatedAt.Before(before.Add(-time.Second)) || l.CreatedAt.After(time.Now()) || l.EventType != webhook.Created || len(l.Payload) == 0 {
			t.Errorf("%s: created_at %s event_type %q payload %d bytes", step, l.CreatedAt, l.EventType, len(l.Payload))
		}
	}
	waitStatus := func(id string, status webhook.DeliveryStatus) webhook.DeliveryLog {
		t.Helper()
		var l webhook.DeliveryLog
		waitFor(t, 5*time.Second, id+" "+string(status), func() bool {
			l = byEvent()[id]
			return l.Status == status
		})
		return l
	}

	// ev1 is in flight (held by the receiver), ev2 waits: both pending.
	c := lgNext(t, calls)
	if c.req.eventID() != ev1.ID {
		t.Fatalf("first request for %s, want %s", c.req.eventID(), ev1.ID)
	}
	logs := byEvent()
	check("ev1 in flight", logs[ev1.ID], webhook.StatusPending, 0, 0, false, false)
	check("ev2 queued", logs[ev2.ID], webhook.StatusPending, 0, 0, false, false)
	created1 := logs[ev1.ID].CreatedAt
	var payload map[string]any
	if err := json.Unmarshal(logs[ev1.ID].Payload, &payload); err != nil || payload["id"] != ev1.ID {
		t.Errorf("ev1 log payload %s: want the body with id %s (%v)", logs[ev1.ID].Payload, ev1.ID, err)
	}

	c.reply <- http.StatusInternalServerError
	l := waitStatus(ev1.ID, webhook.StatusRetrying)
	check("ev1 after a 500", l, webhook.StatusRetrying, 1, 500, true, false)
	if !l.CreatedAt.Equal(created1) {
		t.Errorf("created_at changed from %s to %s", created1, l.CreatedAt)
	}

	// Answer by event: ev2 500 then 503 (failed), ev1's retry 200.
	answers := map[string][]int{ev1.ID: {http.StatusOK}, ev2.ID: {http.StatusInternalServerError, http.StatusServiceUnavailable}}
	for range 3 {
		c := lgNext(t, calls)
		id := c.req.eventID()
		if len(answers[id]) == 0 {
			t.Fatalf("unexpected request for %s", id)
		}
		code := answers[id][0]
		answers[id] = answers[id][1:]
		c.reply <- code
		if id == ev2.ID && code == http.StatusInternalServerError {
			check("ev2 after a 500", waitStatus(ev2.ID, webhook.StatusRetrying), webhook.StatusRetrying, 1, 500, true, false)
		}
	}
	check("ev1 delivered", waitStatus(ev1.ID, webhook.StatusDelivered), webhook.StatusDelivered, 2, 200, false, true)
	l = waitStatus(ev2.ID, webhook.StatusFailed)
	check("ev2 failed", l, webhook.StatusFailed, 2, 503, true, true)
	if !strings.Contains(l.ErrorMessage, "503") {
		t.Errorf("ev2 error_message %q does not mention 503", l.ErrorMessage)
	}
	if l.CompletedAt.Before(l.CreatedAt) {
		t.Errorf("completed_at %s before created_at %s", l.CompletedAt, l.CreatedAt)
	}
}

// TestMemoryLogStoreBound: a MemoryLogStore of size 3 keeps the newest 3.
func TestMemoryLogStoreBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	ids := func(t *testing.T, s *webhook.MemoryLogStore) []string {
		t.Helper()
		logs, err := s.Query(ctx, webhook.LogQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range logs {
			out = append(out, l.ID)
		}
		return out
	}
	record := func(t *testing.T, s *webhook.MemoryLogStore, id string, st webhook.DeliveryStatus) {
		t.Helper()
		if err := s.Record(ctx, webhook.DeliveryLog{ID: id, EndpointName: "orders", Status: st}); err != nil {
			t.Fatal(err)
		}
	}

	// Logs of deliveries under way are always kept (the queue bounds
	// them); finished ones are kept up to the size, oldest forgotten first.
	t.Run("store", func(t *testing.T) {
		t.Parallel()
		s := webhook.NewMemoryLogStore(3)
		for i := 1; i <= 5; i++ {
			record(t, s, fmt.Sprintf("dlv_%d", i), webhook.StatusPending)
		}
		if got := ids(t, s); !slices.Equal(got, []string{"dlv_5", "dlv_4", "dlv_3", "dlv_2", "dlv_1"}) {
			t.Fatalf("pending kept %v, want all 5, newest first", got)
		}
		for i := 1; i <= 5; i++ {
			record(t, s, fmt.Sprintf("dlv_%d", i), webhook.StatusDelivered)
		}
		if got := ids(t, s); !slices.Equal(got, []string{"dlv_5", "dlv_4", "dlv_3"}) {
			t.Fatalf("kept %v, want the newest 3, newest first", got)
		}
		for _, id := range []string{"dlv_1", "dlv_2"} {
			if _, err := s.Get(ctx, id); !errors.Is(err, webhook.ErrLogNotFound) {
				t.Errorf("Get(%s) of an evicted log: %v, want ErrLogNotFound", id, err)
			}
		}
		// An update of a finished log replaces it in place.
		record(t, s, "dlv_3", webhook.StatusFailed)
		if got := ids(t, s); !slices.Equal(got, []string{"dlv_5", "dlv_4", "dlv_3"}) {
			t.Fatalf("after an update kept %v", got)
		}
		if l, err := s.Get(ctx, "dlv_3"); err != nil || l.Status != webhook.StatusFailed {
			t.Errorf("Get(dlv_3) = %+v, %v; want the update", l, err)
		}
		if logs, _ := s.Query(ctx, webhook.LogQuery{Limit: 2}); len(logs) != 2 {
			t.Errorf("Limit 2 returned %d", len(logs))
		}
		if logs, _ := s.Query(ctx, webhook.LogQuery{Status: webhook.StatusFailed}); len(logs) != 1 || logs[0].ID != "dlv_3" {
			t.Errorf("status filter returned %+v", logs)
		}
	})

	// A delivery that fails after newer ones finished (a long retry) keeps
	// its log: its failure must be queryable, and Redeliver needs it.
	t.Run("a late failure is kept", func(t *testing.T) {
		t.Parallel()
		s := webhook.NewMemoryLogStore(3)
		for i := 1; i <= 5; i++ {
			record(t, s, fmt.Sprintf("dlv_%d", i), webhook.StatusPending)
		}
		for i := 2; i <= 5; i++ {
			record(t, s, fmt.Sprintf("dlv_%d", i), webhook.StatusDelivered)
		}
		record(t, s, "dlv_1", webhook.StatusFailed)
		if got := ids(t, s); !slices.Equal(got, []string{"dlv_5", "dlv_4", "dlv_1"}) {
			t.Errorf("kept %v, want [dlv_5 dlv_4 dlv_1]: the failure finished last, newest first by first record", got)
		}
		if l, err := s.Get(ctx, "dlv_1"); err != nil || l.Status != webhook.StatusFailed {
			t.Errorf("Get(dlv_1) = %+v, %v; want the failure", l, err)
		}
	})

	// Finished logs are also bounded by bytes: payloads are kept with them.
	t.Run("byte budget", func(t *testing.T) {
		t.Parallel()
		s := webhook.NewMemoryLogStore(1000).WithMaxBytes(10 << 10)
		body := bytes.Repeat([]byte("x"), 1<<10)
		for i := 1; i <= 100; i++ {
			id := fmt.Sprintf("dlv_%03d", i)
			if err := s.Record(ctx, webhook.DeliveryLog{ID: id, Status: webhook.StatusDelivered, Payload: body}); err != nil {
				t.Fatal(err)
			}
		}
		got := ids(t, s)
		if len(got) == 0 || len(got) > 10 || got[0] != "dlv_100" {
			t.Errorf("kept %d logs (%v), want at most 10 of 1 KiB in a 10 KiB budget, the newest first", len(got), got)
		}
	})

	t.Run("emitter, in order", func(t *testing.T) {
		t.Parallel()
		rc := newHookReceiver(t, nil)
		e := dtEmitter(t, webhook.Config{
			Workers:   1, // each delivery finishes before the next starts
			Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc, nil)},
			LogStore:  webhook.NewMemoryLogStore(3),
		})
		var ids []string
		for i := range 5 {
			ev := dtEvent("", map[string]any{"n": i})
			ev.ID = fmt.Sprintf("evt_bound_%d", i)
			ids = append(ids, ev.ID)
			dtEmit(t, e, ev)
		}
		rc.wait(t, 5, 5*time.Second)
		dtClose(t, e)
		if got := lgEventIDs(lgQuery(t, e, webhook.LogQuery{})); !slices.Equal(got, []string{ids[4], ids[3], ids[2]}) {
			t.Errorf("kept %v, want the newest 3 events, newest first", got)
		}
	})

	// The oldest delivery finishes last: its log is kept (finished last),
	// the store holds 3 finished logs, newest first by first record. With a
	// fixed clock (Config.Now) every log has the same created_at.
	fixed := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
	for _, clock := range []struct {
		name string
		now  func() time.Time
	}{{"real clock", nil}, {"fixed clock", func() time.Time { return fixed }}} {
		t.Run("emitter, oldest finishes last, "+clock.name, func(t *testing.T) {
			t.Parallel()
			rc, calls := lgScripted(t)
			e := dtEmitter(t, webhook.Config{
				Workers:   5,
				Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc, nil)},
				LogStore:  webhook.NewMemoryLogStore(3),
				Now:       clock.now,
			})
			var ids []string
			for i := range 5 {
				ev := dtEvent("", map[string]any{"n": i})
				ev.ID = fmt.Sprintf("evt_late_%d", i)
				ids = append(ids, ev.ID)
				dtEmit(t, e, ev)
				time.Sleep(2 * time.Millisecond) // distinct created_at on the real clock
			}
			held := make(map[string]lgCall)
			for range 5 {
				c := lgNext(t, calls)
				held[c.req.eventID()] = c
			}
			for _, id := range ids[1:] {
				held[id].reply <- http.StatusOK
			}
			waitFor(t, 5*time.Second, "four deliveries finished", func() bool { return statsOf(t, e).InFlight == 1 })
			held[ids[0]].reply <- http.StatusOK
			dtClose(t, e)
			logs := lgQuery(t, e, webhook.LogQuery{})
			// Which two of the others finished last depends on scheduling;
			// the one that finished last is kept, and the order is by event.
			if got := lgEventIDs(logs); len(got) != 3 || got[2] != ids[0] {
				t.Errorf("kept %v, want 3 logs ending with %s, which finished last", got, ids[0])
			}
			for i := 1; i < len(logs); i++ {
				if logs[i].CreatedAt.After(logs[i-1].CreatedAt) {
					t.Errorf("not newest first: %s (created %s) before %s (created %s)",
						logs[i-1].EventID, logs[i-1].CreatedAt.Format(time.StampMicro), logs[i].EventID, logs[i].CreatedAt.Format(time.StampMicro))
				}
			}
		})
	}
}

// TestLogsHandler: the JSON endpoint over the logs, its parameters and
// its errors.
func TestLogsHandler(t *testing.T) {
	t.Parallel()
	orders := newHookReceiver(t, answerStatus(http.StatusInternalServerError))
	crm := newHookReceiver(t, nil)
	e := dtEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{
		dtEndpoint("orders", orders, &webhook.RetryConfig{MaxRetries: 0}),
		dtEndpoint("crm", crm, nil),
	}})
	for i := range 3 {
		dtEmit(t, e, dtEvent("", map[string]any{"n": i}))
	}
	dtClose(t, e)
	srv := httptest.NewServer(e.LogsHandler())
	t.Cleanup(srv.Close)

	get := func(t *testing.T, method, query string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/webhooks/logs?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, body
	}

	t.Run("query", func(t *testing.T) {
		code, h, body := get(t, http.MethodGet, "endpoint=orders&status=failed&limit=50")
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Fatalf("status %d content type %q: %s", code, h.Get("Content-Type"), body)
		}
		var logs []map[string]any
		if err := json.Unmarshal(body, &logs); err != nil {
			t.Fatalf("body is not a JSON array: %v\n%s", err, body)
		}
		if len(logs) != 3 {
			t.Fatalf("%d logs, want 3", len(logs))
		}
		for _, l := range logs {
			for _, k := range []string{"id", "endpoint_name", "event_id", "event_type", "payload", "status",
				"status_code", "error_message", "attempts", "created_at", "completed_at"} {
				if _, ok := l[k]; !ok {
					t.Errorf("log has no %q field: %v", k, l)
				}
			}
			if l["endpoint_name"] != "orders" || l["status"] != "failed" || l["status_code"] != 500.0 ||
				l["attempts"] != 1.0 || l["event_type"] != "created" || l["error_message"] == "" {
				t.Errorf("log %v", l)
			}
			p, ok := l["payload"].(map[string]any)
			if !ok || p["id"] != l["event_id"] {
				t.Errorf("payload %v is not the body of event %v", l["payload"], l["event_id"])
			}
			for _, k := range []string{"created_at", "completed_at"} {
				s, _ := l[k].(string)
				if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
					t.Errorf("%s %v: %v", k, l[k], err)
				}
			}
		}
		if code, _, body := get(t, http.MethodGet, "endpoint=orders&limit=2"); code != 200 || strings.Count(string(body), `"endpoint_name"`) != 2 {
			t.Errorf("limit=2: %d %s", code, body)
		}
		if code, _, body := get(t, http.MethodGet, "endpoint=nope"); code != 200 || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("no match: %d %q, want 200 []", code, body)
		}
		if code, _, body := get(t, http.MethodGet, ""); code != 200 || strings.Count(string(body), `"endpoint_name"`) != 6 {
			t.Errorf("no parameters: %d %s", code, body)
		}
	})

	t.Run("bad parameters", func(t *testing.T) {
		tests := []struct{ query, names string }{
			{"status=bogus", "status"},
			{"endpoint=orders&status=DELIVERED", "status"},
			{"limit=abc", "limit"},
			{"limit=0", "limit"},
			{"limit=-1", "limit"},
			{"limit=100000", "limit"},
			{"limit=1.5", "limit"},
			{"foo=bar", "foo"},
			{"endpoint=orders&Limit=5", "Limit"},
		}
		for _, tt := range tests {
			code, _, body := get(t, http.MethodGet, tt.query)
			var resp struct{ Error string }
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Errorf("%s: body %q is not a JSON error: %v", tt.query, body, err)
			}
			if code != http.StatusBadRequest || !strings.Contains(resp.Error, tt.names) {
				t.Errorf("?%s: %d %q, want 400 with an error naming %q", tt.query, code, resp.Error, tt.names)
			}
		}
	})

	t.Run("methods", func(t *testing.T) {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			code, h, _ := get(t, m, url.Values{"endpoint": {"orders"}}.Encode())
			if code != http.StatusMethodNotAllowed || !strings.Contains(h.Get("Allow"), "GET") {
				t.Errorf("%s: %d Allow %q, want 405 allowing GET", m, code, h.Get("Allow"))
			}
		}
	})
}

// TestRedeliver: a failed delivery is sent again after the receiver heals,
// as a new delivery of the same event and body; a pending or unknown one
// cannot be.
func TestRedeliver(t *testing.T) {
	t.Parallel()
	var healed atomic.Bool
	rc := newHookReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ hookRequest) {
		if healed.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	held, calls := lgScripted(t)
	fails := newFailureLog()
	epHeld := dtEndpoint("held", held, nil)
	epHeld.IncludeModels = []string{"test.Held"}
	e := dtEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 0}), epHeld},
		OnFailure: fails.record,
	})
	ctx := context.Background()

	dtEmit(t, e, dtEvent("", map[string]any{"n": 1}))
	f := fails.next(t, 5*time.Second)
	first := rc.requests()[0]
	healed.Store(true)

	id, err := e.Redeliver(ctx, f.DeliveryID)
	if err != nil {
		t.Fatalf("Redeliver(%s): %v", f.DeliveryID, err)
	}
	if id == f.DeliveryID || !strings.HasPrefix(id, "dlv_") {
		t.Errorf("Redeliver returned id %q (old %q), want a new delivery id", id, f.DeliveryID)
	}
	second := rc.wait(t, 2, 5*time.Second)[1]
	if second.eventID() != first.eventID() || second.eventID() != f.EventID {
		t.Errorf("redelivered event id %q, want %q", second.eventID(), first.eventID())
	}
	if string(second.Body) != string(first.Body) {
		t.Errorf("redelivered body differs:\n%s\n%s", first.Body, second.Body)
	}
	if err := webhook.Verify(dtSecret, second.Header, second.Body); err != nil {
		t.Errorf("redelivery does not verify: %v", err)
	}
	waitFor(t, 5*time.Second, "the new delivery's log to show delivered", func() bool {
		l, ok := dtLog(t, e, "orders", id)
		return ok && l.Status == webhook.StatusDelivered && l.Attempts == 1 && l.EventID == f.EventID
	})
	if l, ok := dtLog(t, e, "orders", f.DeliveryID); !ok || l.Status != webhook.StatusFailed {
		t.Errorf("old log %+v, want it still failed", l)
	}
	// A delivered delivery may be sent again too.
	if _, err := e.Redeliver(ctx, id); err != nil {
		t.Errorf("Redeliver of a delivered delivery: %v", err)
	}
	rc.wait(t, 3, 5*time.Second)

	// A delivery still pending cannot be redelivered.
	dtEmit(t, e, dtEvent("test.Held", map[string]any{"n": 2}))
	c := lgNext(t, calls)
	pending := lgQuery(t, e, webhook.LogQuery{Endpoint: "held", Status: webhook.StatusPending})
	if len(pending) != 1 {
		t.Fatalf("%d pending logs for held, want 1", len(pending))
	}
	if _, err := e.Redeliver(ctx, pending[0].ID); err == nil {
		t.Error("Redeliver of a pending delivery: nil error")
	}
	c.reply <- http.StatusOK

	if _, err := e.Redeliver(ctx, "dlv_unknown"); !errors.Is(err, webhook.ErrLogNotFound) {
		t.Errorf("Redeliver of an unknown id: %v, want ErrLogNotFound", err)
	}
	dtClose(t, e)
	if _, err := e.Redeliver(ctx, f.DeliveryID); !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("Redeliver after Close: %v, want ErrClosed", err)
	}
	if n := len(fails.all()); n != 1 {
		t.Errorf("%d OnFailure calls, want 1", n)
	}
}

// TestMemoryLogStoreRoundTrip: a log recorded through Record comes back
// from Get and Query as it went in, every field, updates included.
func TestMemoryLogStoreRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := webhook.NewMemoryLogStore(10)
	created := time.Date(2026, 1, 16, 12, 0, 0, 123, time.UTC)
	completed := created.Add(1500 * time.Millisecond)
	logs := []webhook.DeliveryLog{
		{ID: "dlv_a", EndpointName: "crm", EventID: "evt_1", EventType: webhook.Updated, Payload: []byte(`{"id":1}`),
			Status: webhook.StatusPending, CreatedAt: created},
		{ID: "dlv_a", EndpointName: "crm", EventID: "evt_1", EventType: webhook.Updated, Payload: []byte(`{"id":1}`),
			Status: webhook.StatusRetrying, StatusCode: 503, ErrorMessage: "webhook: 503", ResponseBody: "busy", Attempts: 1, CreatedAt: created},
		{ID: "dlv_a", EndpointName: "crm", EventID: "evt_1", EventType: webhook.Updated, Payload: []byte(`{"id":1}`),
			Status: webhook.StatusFailed, StatusCode: 500, ErrorMessage: "webhook: 500", Attempts: 4, CreatedAt: created, CompletedAt: &completed},
		{ID: "dlv_b", EndpointName: "erp", EventID: "evt_2", EventType: webhook.Created, Payload: nil,
			Status: webhook.StatusDelivered, StatusCode: 204, Attempts: 1, CreatedAt: created, CompletedAt: &completed},
	}
	for _, l := range logs {
		if err := s.Record(ctx, l); err != nil {
			t.Fatalf("Record(%s %s): %v", l.ID, l.Status, err)
		}
		got, err := s.Get(ctx, l.ID)
		if err != nil || !reflect.DeepEqual(got, l) {
			t.Fatalf("Get(%s) after Record:\n got  %+v (%v)\n want %+v", l.ID, got, err, l)
		}
	}
	all, err := s.Query(ctx, webhook.LogQuery{})
	if err != nil || len(all) != 2 || !reflect.DeepEqual(all[0], logs[3]) || !reflect.DeepEqual(all[1], logs[2]) {
		t.Fatalf("Query = %+v, %v; want dlv_b then dlv_a as last recorded", all, err)
	}
}

// TestMemoryLogStoreRecordRejects: a status other than the four, or a
// status code that is no HTTP status, is an error naming the log and the
// value; nothing is stored.
func TestMemoryLogStoreRecordRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := webhook.NewMemoryLogStore(10)
	for _, tc := range []struct {
		l    webhook.DeliveryLog
		want string
	}{
		{webhook.DeliveryLog{ID: "dlv_x", Status: "done"}, `"dlv_x": status "done" unknown`},
		{webhook.DeliveryLog{ID: "dlv_y", Status: ""}, `"dlv_y": status "" unknown`},
		{webhook.DeliveryLog{ID: "dlv_z", Status: webhook.StatusFailed, StatusCode: 1000}, `"dlv_z": status code 1000 is not 0 to 999`},
		{webhook.DeliveryLog{ID: "dlv_w", Status: webhook.StatusFailed, StatusCode: -1}, `"dlv_w": status code -1 is not 0 to 999`},
		{webhook.DeliveryLog{ID: "dlv_v", Status: webhook.StatusRetrying, Attempts: -2}, `"dlv_v": attempts -2 is negative`},
	} {
		err := s.Record(ctx, tc.l)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Record(%+v) = %v, want an error with %q", tc.l, err, tc.want)
		}
		if _, err := s.Get(ctx, tc.l.ID); !errors.Is(err, webhook.ErrLogNotFound) {
			t.Errorf("Get(%s) after a rejected Record: %v, want ErrLogNotFound", tc.l.ID, err)
		}
	}
}

// slotQueue is a Queue that runs each delivery at once, in Enqueue, on a
// copy in one slot it reuses: allowed by the Queue contract, and fatal to
// a log store that kept the *Delivery it was handed.
type slotQueue struct {
	mu   sync.Mutex
	run  webhook.Runner
	slot webhook.Delivery
}

func (q *slotQueue) Start(r webhook.Runner) error { q.run = r; return nil }
func (q *slotQueue) Enqueue(ctx context.Context, ds []*webhook.Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, d := range ds {
		q.slot = *d
		for range 3 {
			res := q.run.Attempt(ctx, &q.slot)
			if res.Counts() {
				q.slot.Attempts++
			}
			if res.Finished() {
				break
			}
		}
	}
	return nil
}
func (q *slotQueue) Close(context.Context) error { return nil }
func (q *slotQueue) Stats(context.Context) (webhook.QueueStats, error) {
	return webhook.QueueStats{}, nil
}

// TestLogsWithAQueueThatReusesDeliveries: with a queue of its own that
// reuses its Delivery storage, every delivery keeps a log of its own (id,
// payload), and the store's bound evicts the right ones.
func TestLogsWithAQueueThatReusesDeliveries(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	store := webhook.NewMemoryLogStore(3)
	e := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{dtEndpoint("crm", rc, nil)},
		Queue:     &slotQueue{}, LogStore: store,
	})
	for i := range 5 {
		dtEmit(t, e, dtEvent("", map[string]any{"id": i}))
	}
	logs, err := e.Logs(context.Background(), webhook.LogQuery{})
	if err != nil || len(logs) != 3 {
		t.Fatalf("Logs = %d logs, %v; want the 3 newest", len(logs), err)
	}
	for i, l := range logs {
		want := fmt.Sprintf(`"id":%d`, 4-i)
		if !strings.Contains(string(l.Payload), want) || l.Status != webhook.StatusDelivered {
			t.Errorf("log %d: %s %s, want delivered with %s", i, l.Status, l.Payload, want)
		}
		if got, err := store.Get(context.Background(), l.ID); err != nil || got.ID != l.ID || !bytes.Equal(got.Payload, l.Payload) {
			t.Errorf("Get(%s) = %s %s, %v", l.ID, got.ID, got.Payload, err)
		}
	}
	if logs[0].ID == logs[1].ID || logs[1].ID == logs[2].ID {
		t.Errorf("log ids %s %s %s: want three different", logs[0].ID, logs[1].ID, logs[2].ID)
	}
}

// TestLogQueryMatches: the exact check a LogStore makes of a log it
// selected coarsely, by endpoint, event id and creation time; Status is
// not part of it.
func TestLogQueryMatches(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	l := webhook.DeliveryLog{EndpointName: "orders", EventID: "evt_1", CreatedAt: at, Status: webhook.StatusFailed}
	for _, tc := range []struct {
		name string
		q    webhook.LogQuery
		want bool
	}{
		{"empty", webhook.LogQuery{}, true},
		{"endpoint", webhook.LogQuery{Endpoint: "orders"}, true},
		{"another endpoint", webhook.LogQuery{Endpoint: "billing"}, false},
		{"among endpoints", webhook.LogQuery{Endpoints: []string{"billing", "orders"}}, true},
		{"not among endpoints", webhook.LogQuery{Endpoints: []string{"billing"}}, false},
		{"no endpoints", webhook.LogQuery{Endpoints: []string{}}, false},
		{"endpoint not among endpoints", webhook.LogQuery{Endpoint: "orders", Endpoints: []string{"billing"}}, false},
		{"event", webhook.LogQuery{EventID: "evt_1"}, true},
		{"another event", webhook.LogQuery{EventID: "evt_2"}, false},
		{"since, at it", webhook.LogQuery{Since: at}, true},
		{"since, after it", webhook.LogQuery{Since: at.Add(time.Nanosecond)}, false},
		{"until, at it", webhook.LogQuery{Until: at}, false},
		{"until, after it", webhook.LogQuery{Until: at.Add(time.Nanosecond)}, true},
		{"status is the store's", webhook.LogQuery{Status: webhook.StatusDelivered}, true},
	} {
		assert.Equal(t, tc.want, tc.q.Matches(l), tc.name)
	}
}
