package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/hookrail/webhook"
)

// exCustomer and exOrder stand for the host application's models. Their json
// tags name the fields on the wire.
type exCustomer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type exOrder struct {
	ID        string     `json:"id"`
	Reference string     `json:"reference"`
	Status    string     `json:"status"`
	Total     string     `json:"total"`
	Customer  exCustomer `json:"customer"`
}

// WebhookLabel names the model on the wire. Without it the label would be
// derived from the Go type: the package name and the type name.
func (exOrder) WebhookLabel() string { return "store.Order" }

// exSecret is the endpoint's shared secret; in production it comes
// from the environment (os.Getenv("WEBHOOK_SECRET")).
const exSecret = "secret_123"

// exReceiver is an httptest server that verifies every request, keeps the
// bodies it accepted and answers 200.
type exReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

// newExReceiver starts a receiver on 127.0.0.1. verify checks one request;
// a request it rejects gets 401 and is not kept.
func newExReceiver(verify func(http.Header, []byte) error) *exReceiver {
	rc := &exReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := verify(r.Header, body); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, body)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	return rc
}

// received returns the bodies accepted so far.
func (rc *exReceiver) received() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.bodies)
}

// exQuietLogger is a logger for examples whose failures are part of the story.
var exQuietLogger = slog.New(slog.DiscardHandler)

// An Emitter sends model events to endpoints. The host calls Emit from
// its create, update and delete hooks; the receiver checks each request
// with Verify. Close waits until everything queued has been delivered.
//
// The memory queue delivers concurrently and promises no order between
// events, so the example sorts what the receiver got before printing it.
// Receivers order events by their "timestamp" and "id".
func Example() {
	rc := newExReceiver(func(h http.Header, body []byte) error {
		return webhook.Verify(exSecret, h, body)
	})
	defer rc.Close()

	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{
			Name:   "orders",
			URL:    rc.URL + "/webhooks/",
			Secret: exSecret,
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	placed := exOrder{ID: "42", Reference: "ORD-2026-0042", Status: "pending", Total: "299.99",
		Customer: exCustomer{ID: "15", Name: "John Doe", Email: "john@example.com"}}
	shipped := placed
	shipped.Status = "shipped"

	for _, ev := range []webhook.Event{
		webhook.Create(placed),
		webhook.Update(placed, shipped),
		webhook.Delete(shipped),
	} {
		if err := emitter.Emit(ctx, ev); err != nil {
			fmt.Println("emit:", err)
		}
	}

	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := emitter.Close(closeCtx); err != nil {
		fmt.Println("close:", err)
	}

	order := map[webhook.EventType]int{webhook.Created: 0, webhook.Updated: 1, webhook.Deleted: 2}
	var got []webhook.Payload
	for _, body := range rc.received() {
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			fmt.Println(err)
			return
		}
		got = append(got, p)
	}
	slices.SortFunc(got, func(a, b webhook.Payload) int { return order[a.Event] - order[b.Event] })
	for _, p := range got {
		changes, _ := json.Marshal(p.Changes)
		fmt.Printf("%s %s status=%v changes=%s\n", p.Event, p.Model.Label, p.Object["status"], changes)
	}

	// Output:
	// created store.Order status=pending changes=null
	// updated store.Order status=shipped changes={"status":{"old":"pending","new":"shipped"}}
	// deleted store.Order status=shipped changes=null
}

// Update computes the changes between the old and the new state of an
// instance. The clock (Config.Now) and the event id (Event.ID) are fixed
// here so that the body is the same on every run; leave both unset in
// production.
//
// Config.Now also dates the signature (X-Webhook-Timestamp), so this
// receiver verifies with a Verifier on the same fixed clock: webhook.Verify
// compares the timestamp with the real time and would reject it.
func ExampleEmitter_Emit() {
	now := time.Date(2026, 1, 16, 12, 30, 0, 0, time.UTC)
	verifier := &webhook.Verifier{
		Secrets: []string{exSecret},
		Now:     func() time.Time { return now },
	}
	rc := newExReceiver(verifier.Verify)
	defer rc.Close()

	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "orders", URL: rc.URL, Secret: exSecret}},
		Now:       func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	before := exOrder{ID: "42", Reference: "ORD-2026-0042", Status: "pending", Total: "299.99",
		Customer: exCustomer{ID: "15", Name: "John Doe", Email: "john@example.com"}}
	after := before
	after.Status = "shipped"

	ev := webhook.Update(before, after)
	ev.ID = "evt_def456abc" // for example the id of an outbox row
	ctx := webhook.WithActor(context.Background(), webhook.Actor{ID: "1", Username: "admin"})
	if err := emitter.Emit(ctx, ev); err != nil {
		fmt.Println("emit:", err)
	}
	if err := emitter.Close(context.Background()); err != nil {
		fmt.Println("close:", err)
	}

	for _, body := range rc.received() {
		var out bytes.Buffer
		_ = json.Indent(&out, body, "", "  ")
		fmt.Println(out.String())
	}

	// Output:
	// {
	//   "id": "evt_def456abc",
	//   "event": "updated",
	//   "timestamp": "2026-01-16T12:30:00Z",
	//   "model": {
	//     "app": "store",
	//     "name": "Order",
	//     "label": "store.Order"
	//   },
	//   "object": {
	//     "id": "42",
	//     "reference": "ORD-2026-0042",
	//     "status": "shipped",
	//     "total": "299.99",
	//     "customer": {
	//       "id": "15",
	//       "name": "John Doe",
	//       "email": "john@example.com"
	//     }
	//   },
	//   "changes": {
	//     "status": {
	//       "old": "pending",
	//       "new": "shipped"
	//     }
	//   },
	//   "user": {
	//     "id": "1",
	//     "username": "admin"
	//   }
	// }
}

// Close stops accepting events and drains the queue: it returns once every
// delivery has been delivered or given up. When its context ends first,
// every delivery left is reported to OnFailure and Close returns an
// *UndeliveredError that wraps the context's error.
//
// Here one endpoint answers 200 and the other 503: the failed attempts are
// scheduled for a retry a minute later, which Close does not wait for.
func ExampleEmitter_Close() {
	healthy := newExReceiver(func(h http.Header, body []byte) error {
		return webhook.Verify(exSecret, h, body)
	})
	defer healthy.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()

	var mu sync.Mutex
	failed := map[string]int{}
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "crm", URL: healthy.URL, Secret: exSecret},
			{Name: "analytics", URL: down.URL, Secret: exSecret},
		},
		OnFailure: func(f webhook.Failure) {
			mu.Lock()
			failed[f.Endpoint]++
			mu.Unlock()
		},
		Logger: exQuietLogger,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	for i := range 3 {
		ev := webhook.Create(exOrder{ID: fmt.Sprint(i + 1), Status: "pending"})
		if err := emitter.Emit(ctx, ev); err != nil {
			fmt.Println("emit:", err)
		}
	}

	closeCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err = emitter.Close(closeCtx)
	var undelivered *webhook.UndeliveredError
	if errors.As(err, &undelivered) {
		fmt.Println("not delivered:", undelivered.Count)
		fmt.Println("deadline exceeded:", errors.Is(err, context.DeadlineExceeded))
	}
	fmt.Println("delivered to crm:", len(healthy.received()))
	mu.Lock()
	fmt.Println("reported to OnFailure:", failed)
	mu.Unlock()

	err = emitter.Emit(ctx, webhook.Create(exOrder{ID: "4"}))
	fmt.Println("emit after close:", errors.Is(err, webhook.ErrClosed))

	// Output:
	// not delivered: 3
	// deadline exceeded: true
	// delivered to crm: 3
	// reported to OnFailure: map[analytics:3]
	// emit after close: true
}

// WithActor puts the user who made a change into the context; every event
// emitted with that context carries it as "user". An Event's own Actor
// wins over the context's; with neither, "user" is null.
//
// Sync mode delivers inside Emit, so the receiver sees the events in the
// order they were emitted.
func ExampleWithActor() {
	rc := newExReceiver(func(h http.Header, body []byte) error {
		return webhook.Verify(exSecret, h, body)
	})
	defer rc.Close()

	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "audit", URL: rc.URL, Secret: exSecret}},
		Sync:      true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emitter.Close(context.Background())

	order := exOrder{ID: "42", Status: "pending"}
	ctx := context.Background()

	// In an HTTP handler, after authentication: one context per request.
	asAdmin := webhook.WithActor(ctx, webhook.Actor{ID: "1", Username: "admin"})
	emit := func(ctx context.Context, ev webhook.Event) {
		if err := emitter.Emit(ctx, ev); err != nil {
			fmt.Println("emit:", err)
		}
	}
	emit(asAdmin, webhook.Create(order))

	byRobot := webhook.Delete(order)
	byRobot.Actor = &webhook.Actor{ID: "7", Username: "cleanup-job"}
	emit(asAdmin, byRobot)

	emit(ctx, webhook.Create(order)) // no actor anywhere

	for _, body := range rc.received() {
		var p struct {
			Event webhook.EventType `json:"event"`
			User  json.RawMessage   `json:"user"`
		}
		_ = json.Unmarshal(body, &p)
		fmt.Printf("%s user=%s\n", p.Event, p.User)
	}

	// Output:
	// created user={"id":"1","username":"admin"}
	// deleted user={"id":"7","username":"cleanup-job"}
	// created user=null
}
