package webhook_test

// The design's invariant: excluded or redacted fields never leave the
// process, not in "object", not in "changes", not in logs of failures, not
// in error messages. This test sends secrets through every path a failing
// endpoint takes and looks for them everywhere the library writes.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// The secrets. The old values, sent as "old" in changes, are secrets too.
var leakSecrets = []string{
	"123-45-6789", "hunter2-very-secret", "leak@example.com",
	"987-65-4321", "old-password-secret", "old-leak@example.com",
}

type leakCustomer struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	SSN      string `json:"ssn"`
	Password string `json:"password"`
}

func leakCustomers() (old, cur leakCustomer) {
	cur = leakCustomer{ID: "15", Name: "John Doe", Email: "leak@example.com", SSN: "123-45-6789", Password: "hunter2-very-secret"}
	old = leakCustomer{ID: "15", Name: "John Doe", Email: "old-leak@example.com", SSN: "987-65-4321", Password: "old-password-secret"}
	return old, cur
}

// leakRules are the field rules of endpoints A and C.
var (
	leakExclude = map[string][]string{"*": {"ssn"}, "store.Customer": {"password"}}
	leakRedact  = map[string]map[string]any{"store.Customer": {"email": "[redacted]"}}
)

// leakSink collects everything the library wrote for endpoint A.
type leakSink struct {
	mu    sync.Mutex
	items map[string][]string // what → texts
}

func (s *leakSink) add(what, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.items == nil {
		s.items = map[string][]string{}
	}
	s.items[what] = append(s.items[what], text)
}

func (s *leakSink) get(what string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.items[what]...)
}

func TestSecretsDoNotLeak(t *testing.T) {
	t.Parallel()
	eachSyncMode(t, testSecretsDoNotLeak)
}

func testSecretsDoNotLeak(t *testing.T, syncMode bool) {
	var sink leakSink
	var logs logBuffer

	// A answers 500 with a body that names nothing secret; B and C 200.
	recv := func(name string, status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			sink.add(name+" body", string(body))
			sink.add(name+" header", fmt.Sprint(r.Header))
			w.WriteHeader(status)
			io.WriteString(w, "internal error")
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	a := recv("A", http.StatusInternalServerError)
	b := recv("B", http.StatusOK)
	c := recv("C", http.StatusOK)

	cfg := webhook.Config{
		Sync:   syncMode,
		Logger: logs.debugLogger(),
		Endpoints: []webhook.Endpoint{
			{
				Name: "A", URL: a.URL, Secret: "secret_a",
				ExcludeFields: leakExclude,
				RedactFields:  leakRedact,
				Retry:         &webhook.RetryConfig{MaxRetries: 1, RetryDelay: 5 * time.Millisecond, NoJitter: true},
			},
			{Name: "B", URL: b.URL, Secret: "secret_b"},
			{
				Name: "C", URL: c.URL, Secret: "secret_c",
				ExcludeFields: leakExclude,
				RedactFields:  leakRedact,
				Transform: func(p webhook.Payload) (any, error) {
					sink.add("C payload", fmt.Sprintf("%+v", p))
					sink.add("C payload", fmt.Sprintf("%#v", p))
					j, err := json.Marshal(p)
					sink.add("C payload", string(j))
					return p, err
				},
			},
		},
		OnFailure: func(f webhook.Failure) {
			if f.Endpoint != "A" {
				t.Errorf("failure of endpoint %q: %v", f.Endpoint, f.Err)
			}
			sink.add("A failure", fmt.Sprintf("%+v", f))
			sink.add("A failure", string(f.Body))
			if f.Err != nil {
				sink.add("A failure", f.Err.Error())
			}
		},
	}
	e := newEmitter(t, cfg)
	ctx := webhook.WithActor(context.Background(), webhook.Actor{ID: "1", Username: "admin"})
	old, cur := leakCustomers()
	events := []webhook.Event{
		webhook.Create(cur),
		webhook.Update(old, cur), // secrets as "new"
		webhook.Update(cur, old), // secrets as "old"
		webhook.Delete(cur),
		// A nested email, and hand-written changes.
		{Type: webhook.Updated, Object: cur, Changes: map[string]webhook.Change{
			"email":    {Old: "old-leak@example.com", New: "leak@example.com"},
			"password": {Old: "old-password-secret", New: "hunter2-very-secret"},
			"ssn":      {Old: "987-65-4321", New: "123-45-6789"},
		}},
	}
	for _, ev := range events {
		ev.Model = "store.Customer"
		err := e.Emit(ctx, ev)
		if syncMode {
			if err == nil {
				t.Errorf("Sync Emit(%s): nil error, want A's failure", ev.Type)
			} else {
				sink.add("A error", err.Error())
				sink.add("A error", fmt.Sprintf("%+v", err))
			}
		} else if err != nil {
			t.Errorf("Emit(%s): %v", ev.Type, err)
		}
	}
	closeEmitter(t, e, 10*time.Second)

	dl, err := e.Logs(context.Background(), webhook.LogQuery{Endpoint: "A", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != len(events) {
		t.Errorf("A has %d delivery logs, want %d", len(dl), len(events))
	}
	for _, l := range dl {
		if l.Status != webhook.StatusFailed || l.Attempts != 2 {
			t.Errorf("A's delivery %s: status %s after %d attempts, want failed after 2", l.ID, l.Status, l.Attempts)
		}
		j, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		sink.add("A delivery log", string(j))
	}
	sink.add("log line", logs.String())

	// The failure paths ran: two attempts per event, one Failure each.
	if n := len(sink.get("A body")); n != 2*len(events) {
		t.Errorf("A received %d bodies, want %d (an attempt and a retry per event)", n, 2*len(events))
	}
	if n := len(sink.get("A failure")); n < 3*len(events) {
		t.Errorf("OnFailure reported %d texts, want %d", n, 3*len(events))
	}
	if !strings.Contains(logs.String(), `"level":"DEBUG"`) || !strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("the retry (debug) and failure (error) log lines are missing:\n%s", logs.String())
	}
	if n := len(sink.get("C payload")); n != 3*len(events) {
		t.Errorf("C's transform ran %d times, want %d", n/3, len(events))
	}

	for _, what := range []string{"A body", "A header", "A failure", "A error", "A delivery log", "log line", "C payload", "C body"} {
		for _, text := range sink.get(what) {
			for _, s := range leakSecrets {
				if strings.Contains(text, s) {
					t.Errorf("%s contains the secret %q:\n%s", what, s, text)
				}
			}
		}
	}
	// A's rules were applied, not skipped: the redaction is visible.
	for _, body := range sink.get("A body") {
		if !strings.Contains(body, `"email":"[redacted]"`) {
			t.Errorf("A body without the redacted email: %s", body)
		}
	}

	// B gets everything: the check above would have seen a leak.
	var bAll string
	for _, body := range sink.get("B body") {
		bAll += body
	}
	if n := len(sink.get("B body")); n != len(events) {
		t.Errorf("B received %d bodies, want %d", n, len(events))
	}
	for _, s := range leakSecrets {
		if !strings.Contains(bAll, s) {
			t.Errorf("B's bodies do not contain %q: the test cannot see a leak", s)
		}
	}
}
