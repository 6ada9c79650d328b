// Command quickstart sends signed webhooks to a receiver in the same
// process and checks every one of them.
//
//	go run ./examples/quickstart
//
// It starts a receiver on 127.0.0.1 (a random port), creates an Emitter
// with one endpoint pointing at it, and emits a created, an updated and a
// deleted event for an order. The receiver verifies each request with
// webhook.Verify and prints its event type, event id and body. Close waits
// for the three deliveries; the program then prints a summary and exits 0,
// or 1 if a signature did not verify or a delivery failed.
//
// The shared secret is read from WEBHOOK_SECRET; without it a demo secret
// is used.
//
// With -url it sends to a receiver of yours instead, such as
// "hookrail listen", which verifies and prints each request:
//
//	go run ./cmd/hookrail listen --secret S &
//	go run ./examples/quickstart -url http://127.0.0.1:8787/webhooks/ -secret S
//
// It then exits 0 when the three events were delivered (answered 2xx);
// checking their signatures is that receiver's job.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hookrail/webhook"
)

// Customer and Order are the host application's models. The json tags
// name the fields on the wire.
type Customer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type Order struct {
	ID        string    `json:"id"`
	Reference string    `json:"reference"`
	Status    string    `json:"status"`
	Total     string    `json:"total"`
	Customer  Customer  `json:"customer"`
	CreatedAt time.Time `json:"created_at"`
}

// WebhookLabel gives the model label "store.Order". Without it the label
// would come from the Go type: "main.Order" for this program.
func (Order) WebhookLabel() string { return "store.Order" }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	secret := os.Getenv("WEBHOOK_SECRET")
	if secret == "" {
		secret = "quickstart-demo-secret"
	}
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	external := fs.String("url", "", "send to this receiver instead of one of the program's own (e.g. hookrail listen)")
	fs.StringVar(&secret, "secret", secret, "shared secret (default: WEBHOOK_SECRET, else a demo secret)")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	// The receiver: in real life another service.
	var rcv *receiver
	url := *external
	if url == "" {
		rcv = &receiver{secret: secret, seen: map[string]bool{}}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "quickstart: listen:", err)
			return 1
		}
		srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		url = "http://" + ln.Addr().String() + "/webhooks/"
		fmt.Println("receiver listening on", url)
	} else {
		fmt.Println("sending to", url)
	}

	// The sender: an Emitter with one endpoint.
	var mu sync.Mutex
	var failures []webhook.Failure
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{
			Name:   "quickstart",
			URL:    url,
			Secret: secret,
			// Short retries so that a hiccup is retried within Close's
			// timeout below; the default is 3 retries from 60 s.
			Retry: &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 200 * time.Millisecond},
		}},
		Timeout: 5 * time.Second,
		// Called once for every delivery that is given up.
		OnFailure: func(f webhook.Failure) {
			mu.Lock()
			failures = append(failures, f)
			mu.Unlock()
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		return 1
	}

	// Who made the changes: in a web service, set from the authenticated
	// request's user.
	ctx := webhook.WithActor(context.Background(), webhook.Actor{ID: "1", Username: "admin"})

	order := Order{
		ID:        "42",
		Reference: "ORD-2026-0042",
		Status:    "pending",
		Total:     "299.99",
		Customer:  Customer{ID: "15", Name: "John Doe"},
		CreatedAt: time.Now().UTC().Truncate(time.Second),
	}
	shipped := order
	shipped.Status = "shipped"

	emitted := 0
	for _, ev := range []webhook.Event{
		webhook.Create(order),
		webhook.Update(order, shipped), // changes: status pending → shipped
		webhook.Delete(shipped),
	} {
		if err := emitter.Emit(ctx, ev); err != nil {
			fmt.Fprintln(os.Stderr, "quickstart: emit:", err)
			return 1
		}
		emitted++
	}

	// Close drains the queue: it returns when every delivery has been
	// delivered or given up, or when its context ends.
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closeErr := emitter.Close(closeCtx)

	logs, err := emitter.Logs(context.Background(), webhook.LogQuery{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart: logs:", err)
		return 1
	}
	delivered := 0
	for _, l := range logs {
		if l.Status == webhook.StatusDelivered {
			delivered++
		}
	}

	fmt.Println("---")
	verified, rejected := emitted, 0 // an external receiver verifies them
	if rcv != nil {
		verified, rejected = rcv.counts()
		fmt.Printf("emitted %d events, delivered %d, verified %d, rejected %d, failed %d\n",
			emitted, delivered, verified, rejected, len(failures))
	} else {
		fmt.Printf("emitted %d events, delivered %d, failed %d\n", emitted, delivered, len(failures))
	}

	ok := true
	if closeErr != nil {
		fmt.Fprintln(os.Stderr, "quickstart: close:", closeErr)
		ok = false
	}
	for _, f := range failures {
		fmt.Fprintf(os.Stderr, "quickstart: delivery failed: %v\n", f.Err)
		ok = false
	}
	if rejected > 0 || verified != emitted || delivered != emitted {
		ok = false
	}
	if !ok {
		fmt.Println("FAIL")
		return 1
	}
	if rcv == nil {
		fmt.Println("OK: every webhook was delivered to", url)
		return 0
	}
	fmt.Println("OK: every webhook was delivered and its signature verified")
	return 0
}

// receiver verifies each request, deduplicates on the event id of the
// signed body and prints what it got.
type receiver struct {
	secret string

	mu       sync.Mutex
	seen     map[string]bool
	verified int
	rejected int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Verify the raw body, before any JSON decoding.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(rc.secret, r.Header, body); err != nil {
		rc.rejected++
		fmt.Println("receiver: rejected:", err)
		status := http.StatusUnauthorized
		if !errors.Is(err, webhook.ErrInvalidSignature) && !errors.Is(err, webhook.ErrMissingSignature) {
			status = http.StatusBadRequest
		}
		http.Error(w, "invalid signature", status)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	// Deduplicate on the id inside the signed body: the
	// X-Webhook-Event-Id header is not covered by the signature.
	if rc.seen[p.ID] { // a retry of an event already processed
		w.WriteHeader(http.StatusOK)
		return
	}
	rc.seen[p.ID] = true
	rc.verified++

	var pretty bytes.Buffer
	json.Indent(&pretty, body, "", "  ")
	fmt.Printf("receiver: %s %s (signature ok)\n%s\n", p.Event, p.ID, pretty.String())
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) counts() (verified, rejected int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.verified, rc.rejected
}
