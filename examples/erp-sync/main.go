// Command erp-sync is Rail Django's "ERP Synchronization" example in Go: one
// endpoint that gets created and updated events of three models, only the
// listed fields of products and orders, and an X-API-Key header.
//
//	go run ./examples/erp-sync
//
// The ERP is played by a receiver on 127.0.0.1 that checks the API key and
// the signature and prints what it got. The program exits 0 when exactly
// the expected events arrived, and 1 otherwise.
//
// The secret and the API key are read from ERP_WEBHOOK_SECRET and
// ERP_API_KEY; without them demo values are used.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookrail/webhook"
)

// The host application's models. Each names its label (app.Name), since
// this program's package is main.

type Product struct {
	ID            string `json:"id"`
	SKU           string `json:"sku"`
	Name          string `json:"name"`
	Price         string `json:"price"`
	StockQuantity int    `json:"stock_quantity"`
	CostPrice     string `json:"cost_price"` // internal: not in include_fields
	Supplier      string `json:"supplier"`   // internal: not in include_fields
}

func (Product) WebhookLabel() string { return "store.Product" }

type OrderItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	Price    string `json:"price"`
}

type Order struct {
	ID            string      `json:"id"`
	Reference     string      `json:"reference"`
	Status        string      `json:"status"`
	Total         string      `json:"total"`
	Items         []OrderItem `json:"items"`
	CustomerEmail string      `json:"customer_email"` // not in include_fields
	Notes         string      `json:"notes"`          // not in include_fields
}

func (Order) WebhookLabel() string { return "store.Order" }

type StockMovement struct {
	ID       string `json:"id"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	Reason   string `json:"reason"`
}

func (StockMovement) WebhookLabel() string { return "inventory.StockMovement" }

type Customer struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func (Customer) WebhookLabel() string { return "store.Customer" }

// erpSync is Rail Django's WebhookEndpoint(name="erp_sync", …), field for field.
func erpSync(url, secret, apiKey string) webhook.Endpoint {
	return webhook.Endpoint{
		Name:   "erp_sync",
		URL:    url,
		Secret: secret,
		IncludeModels: []string{
			"store.Product",
			"store.Order",
			"inventory.StockMovement",
		},
		Events: []webhook.EventType{webhook.Created, webhook.Updated},
		IncludeFields: map[string][]string{
			"store.Product": {"id", "sku", "name", "price", "stock_quantity"},
			"store.Order":   {"id", "reference", "status", "total", "items"},
		},
		Headers: map[string]string{
			"X-API-Key": apiKey,
		},
	}
}

func main() {
	os.Exit(run())
}

func run() int {
	secret := envOr("ERP_WEBHOOK_SECRET", "erp-demo-secret")
	apiKey := envOr("ERP_API_KEY", "erp-demo-api-key")

	erp := &erpReceiver{secret: secret, apiKey: apiKey}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "erp-sync: listen:", err)
		return 1
	}
	srv := &http.Server{Handler: erp, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/api/webhooks/"

	var mu sync.Mutex
	var failed []webhook.Failure
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{erpSync(url, secret, apiKey)},
		OnFailure: func(f webhook.Failure) {
			mu.Lock()
			failed = append(failed, f)
			mu.Unlock()
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "erp-sync:", err)
		return 1
	}

	product := Product{ID: "7", SKU: "KB-101", Name: "Keyboard", Price: "49.90",
		StockQuantity: 120, CostPrice: "21.00", Supplier: "ACME"}
	order := Order{ID: "42", Reference: "ORD-2026-0042", Status: "pending", Total: "99.80",
		Items:         []OrderItem{{SKU: "KB-101", Quantity: 2, Price: "49.90"}},
		CustomerEmail: "john@example.com", Notes: "leave at the door"}
	paid := order
	paid.Status = "paid"
	movement := StockMovement{ID: "900", SKU: "KB-101", Quantity: -2, Reason: "order ORD-2026-0042"}

	ctx := context.Background()
	for _, ev := range []webhook.Event{
		webhook.Create(product),                          // sent
		webhook.Update(order, paid),                      // sent: status changed
		webhook.Create(movement),                         // sent
		webhook.Delete(product),                          // not sent: events are created and updated
		webhook.Create(Customer{ID: "15", Email: "x@y"}), // not sent: store.Customer is not included
	} {
		if err := emitter.Emit(ctx, ev); err != nil {
			fmt.Fprintln(os.Stderr, "erp-sync: emit:", err)
			return 1
		}
	}

	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := emitter.Close(closeCtx); err != nil {
		fmt.Fprintln(os.Stderr, "erp-sync: close:", err)
		return 1
	}

	// The memory queue delivers concurrently: sort for a stable listing.
	got, rejected := erp.result()
	slices.SortFunc(got, func(a, b received) int { return strings.Compare(a.what, b.what) })
	fmt.Println("ERP received:")
	var what []string
	for _, g := range got {
		fmt.Println(" ", g.what, g.detail)
		what = append(what, g.what)
	}
	want := []string{
		"created inventory.StockMovement",
		"created store.Product",
		"updated store.Order",
	}
	leaked := false
	for _, g := range got {
		for _, field := range []string{"cost_price", "supplier", "customer_email", "notes"} {
			if strings.Contains(g.detail, `"`+field+`"`) {
				fmt.Printf("FAIL: %s: field %q is not in include_fields but was sent\n", g.what, field)
				leaked = true
			}
		}
	}
	if leaked || rejected > 0 || len(failed) > 0 || !slices.Equal(what, want) {
		fmt.Printf("FAIL: got %q, want %q; rejected %d; failed deliveries %d\n", what, want, rejected, len(failed))
		return 1
	}
	fmt.Println("OK: 3 of 5 events went to the ERP, with only the listed fields")
	return 0
}

// erpReceiver plays the ERP: it checks the API key and the signature.
type erpReceiver struct {
	secret, apiKey string

	mu       sync.Mutex
	got      []received
	rejected int
}

// received is one webhook the ERP accepted.
type received struct {
	what   string // "created store.Product"
	detail string // the object, and the changes of an update
}

func (rc *erpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Header.Get("X-API-Key") != rc.apiKey {
		rc.rejected++
		http.Error(w, "bad API key", http.StatusUnauthorized)
		return
	}
	if err := webhook.Verify(rc.secret, r.Header, body); err != nil {
		rc.rejected++
		fmt.Println("ERP: rejected:", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	var p struct {
		Event   webhook.EventType `json:"event"`
		Model   webhook.ModelInfo `json:"model"`
		Object  json.RawMessage   `json:"object"`
		Changes json.RawMessage   `json:"changes"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	g := received{what: fmt.Sprintf("%s %s", p.Event, p.Model.Label), detail: fmt.Sprintf("object=%s", p.Object)}
	if p.Event == webhook.Updated {
		g.detail += fmt.Sprintf(" changes=%s", p.Changes)
	}
	rc.got = append(rc.got, g)
	w.WriteHeader(http.StatusOK)
}

func (rc *erpReceiver) result() ([]received, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got), rc.rejected
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
