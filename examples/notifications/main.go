// Command notifications is Rail Django's "Notification Service" example in
// Go: an endpoint that gets created and updated orders, with a Transform
// that replaces the envelope by the small message the service wants:
//
//	{"type": "order_created", "order_id": "42",
//	 "customer_email": "john@example.com", "status": "pending"}
//
//	go run ./examples/notifications
//
// The notification service is played by a receiver on 127.0.0.1 that
// verifies each signature and prints the body. The program exits 0 when
// exactly the expected notifications arrived, and 1 otherwise.
//
// The secret is read from NOTIF_SECRET; without it a demo value is used.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/hookrail/webhook"
)

// The host application's models.

type Customer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func (Customer) WebhookLabel() string { return "store.Customer" }

type Order struct {
	ID        string   `json:"id"`
	Reference string   `json:"reference"`
	Status    string   `json:"status"`
	Total     string   `json:"total"`
	Customer  Customer `json:"customer"`
}

func (Order) WebhookLabel() string { return "store.Order" }

// Notification is the body the notification service wants.
type Notification struct {
	Type          string `json:"type"`
	OrderID       any    `json:"order_id"`
	CustomerEmail any    `json:"customer_email"`
	Status        any    `json:"status"`
}

// toNotification is Rail Django's transform lambda. It receives the envelope
// after field filtering and redaction; what it returns is marshalled to
// JSON, signed and sent instead of the envelope. An error fails this
// endpoint's delivery of the event (reported to OnFailure), nothing else.
func toNotification(p webhook.Payload) (any, error) {
	customer, ok := p.Object["customer"].(map[string]any)
	if !ok {
		return nil, errors.New("order has no customer object")
	}
	return Notification{
		Type:          "order_" + string(p.Event),
		OrderID:       p.Object["id"],
		CustomerEmail: customer["email"],
		Status:        p.Object["status"],
	}, nil
}

// notifications is Rail Django's WebhookEndpoint(name="notifications", …).
func notifications(url, secret string) webhook.Endpoint {
	return webhook.Endpoint{
		Name:          "notifications",
		URL:           url,
		Secret:        secret,
		IncludeModels: []string{"store.Order"},
		Events:        []webhook.EventType{webhook.Created, webhook.Updated},
		Transform:     toNotification,
	}
}

func main() {
	os.Exit(run())
}

func run() int {
	secret := os.Getenv("NOTIF_SECRET")
	if secret == "" {
		secret = "notifications-demo-secret"
	}

	svc := &notificationService{secret: secret}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "notifications: listen:", err)
		return 1
	}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	var mu sync.Mutex
	var failed []webhook.Failure
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{notifications("http://"+ln.Addr().String()+"/events/", secret)},
		OnFailure: func(f webhook.Failure) {
			mu.Lock()
			failed = append(failed, f)
			mu.Unlock()
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notifications:", err)
		return 1
	}

	john := Customer{ID: "15", Name: "John Doe", Email: "john@example.com"}
	order := Order{ID: "42", Reference: "ORD-2026-0042", Status: "pending", Total: "299.99", Customer: john}
	shipped := order
	shipped.Status = "shipped"

	ctx := context.Background()
	for _, ev := range []webhook.Event{
		webhook.Create(order),          // sent
		webhook.Update(order, shipped), // sent
		webhook.Delete(shipped),        // not sent: events are created and updated
		webhook.Create(john),           // not sent: only store.Order is included
	} {
		if err := emitter.Emit(ctx, ev); err != nil {
			fmt.Fprintln(os.Stderr, "notifications: emit:", err)
			return 1
		}
	}

	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := emitter.Close(closeCtx); err != nil {
		fmt.Fprintln(os.Stderr, "notifications: close:", err)
		return 1
	}

	// The memory queue delivers concurrently: sort for a stable listing.
	got, rejected := svc.result()
	slices.Sort(got)
	fmt.Println("notification service received:")
	for _, body := range got {
		fmt.Println(" ", body)
	}
	want := []string{
		`{"type":"order_created","order_id":"42","customer_email":"john@example.com","status":"pending"}`,
		`{"type":"order_updated","order_id":"42","customer_email":"john@example.com","status":"shipped"}`,
	}
	if rejected > 0 || len(failed) > 0 || !slices.Equal(got, want) {
		fmt.Printf("FAIL: want %q; rejected %d; failed deliveries %d\n", want, rejected, len(failed))
		for _, f := range failed {
			fmt.Println("  ", f.Err)
		}
		return 1
	}
	fmt.Println("OK: 2 of 4 events became notifications")
	return 0
}

// notificationService verifies each request and keeps its body.
type notificationService struct {
	secret string

	mu       sync.Mutex
	got      []string
	rejected int
}

func (s *notificationService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := webhook.Verify(s.secret, r.Header, body); err != nil {
		s.rejected++
		fmt.Println("notification service: rejected:", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	if !json.Valid(body) {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	s.got = append(s.got, string(body))
	w.WriteHeader(http.StatusOK)
}

func (s *notificationService) result() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got), s.rejected
}
