package webhook_test

// Golden tests of the bodies the seed specification (seed/webhooks.md)
// describes: one input event in, the exact body out, compared byte for byte
// with testdata/golden/<name>.json. Refresh the files with
//
//	go test -run 'TestGolden' -update .
//
// and review the diff: every change of a golden file is a change of the wire
// format that receivers see.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// The fixed clock, event id and actor that make bodies deterministic.
var (
	goldenNow   = time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
	goldenActor = webhook.Actor{ID: "1", Username: "admin"}
)

const goldenEventID = "evt_abc123xyz"

// Order, Customer, LineItem and Product stand for the host's models
// (the seed's store app). Types of package webhook_test get the derived
// label "webhook_test.Order"; events set Event.Model, or use LabeledOrder.
type Order struct {
	ID        string     `json:"id"`
	Reference string     `json:"reference"`
	Status    string     `json:"status"`
	Total     string     `json:"total"`
	Customer  *Customer  `json:"customer,omitempty"`
	Items     []LineItem `json:"items,omitempty"`
	CreatedAt string     `json:"created_at,omitempty"`
}

type Customer struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	SSN        string `json:"ssn,omitempty"`
	CreditCard string `json:"credit_card,omitempty"`
	Password   string `json:"password,omitempty"`
	Token      string `json:"token,omitempty"`
}

type LineItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	Price    string `json:"price"`
}

type Product struct {
	ID            string `json:"id"`
	SKU           string `json:"sku"`
	Name          string `json:"name"`
	Price         string `json:"price"`
	StockQuantity int    `json:"stock_quantity"`
	Description   string `json:"description"`
}

// LabeledOrder is an Order that names its label through ModelLabeler. The
// embedded struct's fields are promoted: it marshals exactly as Order.
type LabeledOrder struct{ Order }

func (LabeledOrder) WebhookLabel() string { return "store.Order" }

// MetaOrder is an Order that declares the seed's WebhookMeta in code:
// events created and updated, updates sent only for completed orders.
type MetaOrder struct{ Order }

func (MetaOrder) WebhookLabel() string           { return "store.Order" }
func (MetaOrder) WebhookMeta() webhook.ModelMeta { return completedOnly() }

// completedOnly is the seed's per-model configuration of Order.
func completedOnly() webhook.ModelMeta {
	return webhook.ModelMeta{
		Events: []webhook.EventType{webhook.Created, webhook.Updated},
		ShouldSend: func(ev webhook.Event) bool {
			if ev.Type == webhook.Updated {
				return orderStatus(ev.Object) == "completed"
			}
			return true
		},
	}
}

func orderStatus(obj any) string {
	switch o := obj.(type) {
	case Order:
		return o.Status
	case *Order:
		return o.Status
	case MetaOrder:
		return o.Status
	case LabeledOrder:
		return o.Status
	}
	return ""
}

// seedOrder is the order of the seed's created payload example.
func seedOrder() Order {
	return Order{
		ID:        "42",
		Reference: "ORD-2026-0042",
		Status:    "pending",
		Total:     "299.99",
		Customer:  &Customer{ID: "15", Name: "John Doe"},
		CreatedAt: "2026-01-16T11:59:00Z",
	}
}

// fullOrder is an order with every nested part the field rules reach into.
func fullOrder() Order {
	o := seedOrder()
	o.Customer = &Customer{ID: "15", Name: "John Doe", Email: "john@example.com", Phone: "555-0100"}
	o.Items = []LineItem{{SKU: "A-1", Quantity: 2, Price: "10.00"}, {SKU: "B-2", Quantity: 1, Price: "279.99"}}
	return o
}

func seedCustomer() Customer {
	return Customer{ID: "15", Name: "John Doe", Email: "john@example.com", Phone: "555-0100"}
}

// shapingEndpoint is the name of the endpoint r went to: shapingEmitter
// points each endpoint at its receiver's URL+"/"+name.
func shapingEndpoint(r hookRequest) string { return strings.TrimPrefix(r.Path, "/") }

// endpointsOf returns the sorted names of the endpoints reqs went to.
func endpointsOf(reqs []hookRequest) []string {
	names := []string{}
	for _, r := range reqs {
		names = append(names, shapingEndpoint(r))
	}
	slices.Sort(names)
	return names
}

// shapingEmitter returns a Sync emitter with the fixed clock whose endpoints
// point at rc; an endpoint without URL gets rc's URL for its name, and one
// without Secret gets a test secret.
func shapingEmitter(t testing.TB, rc *hookReceiver, cfg webhook.Config) *webhook.Emitter {
	t.Helper()
	cfg.Sync = true
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return goldenNow }
	}
	cfg.Endpoints = slices.Clone(cfg.Endpoints)
	for i := range cfg.Endpoints {
		ep := &cfg.Endpoints[i]
		if ep.URL == "" {
			ep.URL = rc.URL + "/" + ep.Name
		}
		if ep.Secret == "" {
			ep.Secret = "secret_" + ep.Name
		}
	}
	e := newEmitter(t, cfg)
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// actorCtx is the context every golden event is emitted with.
func actorCtx(t testing.TB) context.Context {
	return webhook.WithActor(t.Context(), goldenActor)
}

// emitOne emits ev (with the fixed id unless it has one) and returns the
// requests it caused.
func emitOne(t testing.TB, e *webhook.Emitter, rc *hookReceiver, ev webhook.Event) []hookRequest {
	t.Helper()
	if ev.ID == "" {
		ev.ID = goldenEventID
	}
	if err := e.Emit(actorCtx(t), ev); err != nil {
		t.Fatalf("Emit(%s %s): %v", ev.Type, ev.Model, err)
	}
	return rc.takeNew()
}

// bodyFor returns the single body sent to the endpoint named name.
func bodyFor(t testing.TB, reqs []hookRequest, name string) []byte {
	t.Helper()
	var found []byte
	n := 0
	for _, r := range reqs {
		if shapingEndpoint(r) == name {
			found = r.Body
			n++
		}
	}
	if n != 1 {
		t.Fatalf("endpoint %q got %d requests, want 1 (requests went to %v)", name, n, endpointsOf(reqs))
	}
	return found
}

// checkGolden compares got with testdata/golden/<name>.json byte for byte,
// or rewrites the file with -update.
func checkGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".json")
	if !json.Valid(got) {
		t.Errorf("%s: body is not valid JSON: %s", name, got)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to create it)", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: body differs from %s\n got: %s\nwant: %s", name, path, got, want)
	}
}

// compact returns the compact form of a JSON text written for humans.
func compact(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact %q: %v", s, err)
	}
	return b.Bytes()
}

// parts returns a body's "object" and "changes" exactly as sent.
func parts(t testing.TB, body []byte) (object, changes string) {
	t.Helper()
	var env struct {
		Object  json.RawMessage `json:"object"`
		Changes json.RawMessage `json:"changes"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return string(env.Object), string(env.Changes)
}

// The seed's two payload examples, verbatim.
const (
	seedCreatedPayload = `{
  "id": "evt_abc123xyz",
  "event": "created",
  "timestamp": "2026-01-16T12:00:00Z",
  "model": {
    "app": "store",
    "name": "Order",
    "label": "store.Order"
  },
  "object": {
    "id": "42",
    "reference": "ORD-2026-0042",
    "status": "pending",
    "total": "299.99",
    "customer": {
      "id": "15",
      "name": "John Doe"
    },
    "created_at": "2026-01-16T11:59:00Z"
  },
  "changes": null,
  "user": {
    "id": "1",
    "username": "admin"
  }
}`
	seedUpdatedPayload = `{
  "id": "evt_def456abc",
  "event": "updated",
  "timestamp": "2026-01-16T12:30:00Z",
  "model": {
    "app": "store",
    "name": "Order",
    "label": "store.Order"
  },
  "object": {
    "id": "42",
    "reference": "ORD-2026-0042",
    "status": "shipped",
    "total": "299.99"
  },
  "changes": {
    "status": {
      "old": "pending",
      "new": "shipped"
    }
  },
  "user": {
    "id": "1",
    "username": "admin"
  }
}`
	// seedRedactedObject is the seed's "Redact Sensitive Fields" result.
	seedRedactedObject = `{
    "id": "15",
    "name": "John Doe",
    "email": "***@***.com",
    "phone": "***-***-****"
}`
)

// TestGoldenSeedPayloads: the seed's two payload examples come out exactly,
// byte for byte, as the seed prints them (compacted).
func TestGoldenSeedPayloads(t *testing.T) {
	t.Parallel()
	// The seed's update example has its own id and timestamp.
	old := Order{ID: "42", Reference: "ORD-2026-0042", Status: "pending", Total: "299.99"}
	cur := old
	cur.Status = "shipped"
	for _, tc := range []struct {
		name   string
		cfg    webhook.Config
		ev     webhook.Event
		id     string // "": the fixed id
		golden string
		seed   string
	}{
		{
			name:   "created",
			cfg:    webhook.Config{Endpoints: []webhook.Endpoint{{Name: "main", Events: []webhook.EventType{webhook.Created, webhook.Updated, webhook.Deleted}}}},
			ev:     webhook.Create(seedOrder()),
			golden: "payload_created",
			seed:   seedCreatedPayload,
		},
		{
			name: "updated",
			cfg: webhook.Config{
				Now:       func() time.Time { return time.Date(2026, 1, 16, 12, 30, 0, 0, time.UTC) },
				Endpoints: []webhook.Endpoint{{Name: "main"}},
			},
			ev:     webhook.Update(old, cur),
			id:     "evt_def456abc",
			golden: "payload_updated",
			seed:   seedUpdatedPayload,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := newHookReceiver(t, nil)
			e := shapingEmitter(t, rc, tc.cfg)
			ev := tc.ev
			ev.Model = "store.Order"
			ev.ID = tc.id
			body := bodyFor(t, emitOne(t, e, rc, ev), "main")
			checkGolden(t, tc.golden, body)
			if want := compact(t, tc.seed); !bytes.Equal(body, want) {
				t.Errorf("body is not the seed's example\n got: %s\nwant: %s", body, want)
			}
		})
	}
	t.Run("pointers and maps give the same body", func(t *testing.T) {
		t.Parallel()
		rc := newHookReceiver(t, nil)
		e := shapingEmitter(t, rc, webhook.Config{Endpoints: []webhook.Endpoint{{Name: "main"}}})
		o := seedOrder()
		ev := webhook.Create(&o)
		ev.Model = "store.Order"
		checkGolden(t, "payload_created", bodyFor(t, emitOne(t, e, rc, ev), "main"))
		// A map marshals with sorted keys: same members, another order.
		m := map[string]any{"id": "42", "reference": "ORD-2026-0042", "status": "pending", "total": "299.99",
			"customer": map[string]any{"id": "15", "name": "John Doe"}, "created_at": "2026-01-16T11:59:00Z"}
		ev = webhook.Create(m)
		ev.Model = "store.Order"
		body := bodyFor(t, emitOne(t, e, rc, ev), "main")
		var got, want any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(seedCreatedPayload), &want); err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(got, want) {
			t.Errorf("map object: body %s does not mean the seed's example", body)
		}
	})
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// The seed's webhooks.py endpoints.
var (
	crmEndpoint = webhook.Endpoint{
		Name:          "crm",
		Secret:        "secret_crm_123",
		IncludeModels: []string{"store.Customer", "store.Order"},
		Events:        []webhook.EventType{webhook.Created, webhook.Updated},
	}
	analyticsEndpoint = webhook.Endpoint{
		Name:          "analytics",
		Secret:        "secret_analytics_456",
		IncludeModels: []string{"store.Order"},
		Events:        []webhook.EventType{webhook.Created},
		IncludeFields: map[string][]string{"*": {"id", "total", "status", "created_at"}},
	}
)

func TestGoldenWebhooksPy(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	e := shapingEmitter(t, rc, webhook.Config{Endpoints: []webhook.Endpoint{crmEndpoint, analyticsEndpoint}})

	ev := webhook.Create(seedOrder())
	ev.Model = "store.Order"
	reqs := emitOne(t, e, rc, ev)
	checkGolden(t, "crm_order_created", bodyFor(t, reqs, "crm"))
	analytics := bodyFor(t, reqs, "analytics")
	checkGolden(t, "analytics_order_created", analytics)
	if obj, _ := parts(t, analytics); obj != `{"id":"42","status":"pending","total":"299.99","created_at":"2026-01-16T11:59:00Z"}` {
		t.Errorf("analytics object = %s", obj)
	}

	old := seedCustomer()
	cur := old
	cur.Name = "John A. Doe"
	ev = webhook.Update(old, cur)
	ev.Model = "store.Customer"
	reqs = emitOne(t, e, rc, ev)
	if got := endpointsOf(reqs); !slices.Equal(got, []string{"crm"}) {
		t.Fatalf("customer update went to %v, want [crm]", got)
	}
	checkGolden(t, "crm_customer_updated", bodyFor(t, reqs, "crm"))

	// An order update goes to crm only: analytics takes created events.
	o := seedOrder()
	o2 := o
	o2.Status = "shipped"
	ev = webhook.Update(o, o2)
	ev.Model = "store.Order"
	if got := endpointsOf(emitOne(t, e, rc, ev)); !slices.Equal(got, []string{"crm"}) {
		t.Errorf("order update went to %v, want [crm]", got)
	}
	ev = webhook.Delete(o)
	ev.Model = "store.Order"
	if got := endpointsOf(emitOne(t, e, rc, ev)); len(got) != 0 {
		t.Errorf("order delete went to %v, want nowhere", got)
	}
}

func TestGoldenFieldFiltering(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	e := shapingEmitter(t, rc, webhook.Config{Endpoints: []webhook.Endpoint{
		{
			Name: "minimal",
			IncludeFields: map[string][]string{
				"store.Order":    {"id", "reference", "status", "total"},
				"store.Customer": {"id", "name", "email"},
			},
		},
		{
			Name: "safe",
			ExcludeFields: map[string][]string{
				"*":              {"password", "token", "secret"},
				"store.Customer": {"ssn", "credit_card"},
			},
		},
		{
			Name: "redacted",
			RedactFields: map[string]map[string]any{
				"store.Customer": {"email": "***@***.com", "phone": "***-***-****"},
			},
		},
	}})

	sensitive := Customer{ID: "15", Name: "John Doe", Email: "john@example.com", Phone: "555-0100",
		SSN: "123-45-6789", CreditCard: "4111111111111111", Password: "pw", Token: "tok"}
	ev := webhook.Create(sensitive)
	ev.Model = "store.Customer"
	reqs := emitOne(t, e, rc, ev)

	minimal := bodyFor(t, reqs, "minimal")
	checkGolden(t, "minimal_customer_created", minimal)
	if obj, _ := parts(t, minimal); obj != `{"id":"15","name":"John Doe","email":"john@example.com"}` {
		t.Errorf("minimal: object = %s", obj)
	}
	safe := bodyFor(t, reqs, "safe")
	checkGolden(t, "safe_customer_created", safe)
	if obj, _ := parts(t, safe); obj != `{"id":"15","name":"John Doe","email":"john@example.com","phone":"555-0100"}` {
		t.Errorf("safe: object = %s", obj)
	}
	redacted := bodyFor(t, reqs, "redacted")
	checkGolden(t, "redacted_customer_created", redacted)

	// The seed's redaction example: exactly its result.
	ev = webhook.Create(seedCustomer())
	ev.Model = "store.Customer"
	body := bodyFor(t, emitOne(t, e, rc, ev), "redacted")
	if obj, _ := parts(t, body); obj != string(compact(t, seedRedactedObject)) {
		t.Errorf("redacted: object = %s, want the seed's %s", obj, compact(t, seedRedactedObject))
	}

	// An order: minimal's own list; safe's "*" entries apply, Customer's do
	// not (ssn stays); redacted has no rule for orders.
	ev = webhook.Create(map[string]any{"id": "42", "reference": "ORD-2026-0042", "status": "pending", "total": "299.99",
		"secret": "s3cr3t", "token": "t0k3n", "ssn": "order-ssn"})
	ev.Model = "store.Order"
	reqs = emitOne(t, e, rc, ev)
	checkGolden(t, "minimal_order_created", bodyFor(t, reqs, "minimal"))
	checkGolden(t, "safe_order_created", bodyFor(t, reqs, "safe"))
	if obj, _ := parts(t, bodyFor(t, reqs, "safe")); obj != `{"id":"42","reference":"ORD-2026-0042","ssn":"order-ssn","status":"pending","total":"299.99"}` {
		t.Errorf("safe order: object = %s", obj)
	}
	if obj, _ := parts(t, bodyFor(t, reqs, "redacted")); !strings.Contains(obj, `"secret":"s3cr3t"`) {
		t.Errorf("redacted order: object = %s, want it untouched", obj)
	}
}

func TestGoldenERPSync(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	const secret = "erp_secret"
	e := shapingEmitter(t, rc, webhook.Config{Endpoints: []webhook.Endpoint{{
		Name:          "erp_sync",
		Secret:        secret,
		IncludeModels: []string{"store.Product", "store.Order", "inventory.StockMovement"},
		Events:        []webhook.EventType{webhook.Created, webhook.Updated},
		IncludeFields: map[string][]string{
			"store.Product": {"id", "sku", "name", "price", "stock_quantity"},
			"store.Order":   {"id", "reference", "status", "total", "items"},
		},
		Headers: map[string]string{"X-API-Key": "erp_api_key_789"},
	}}})
	verifier := webhook.Verifier{Secrets: []string{secret}, Now: func() time.Time { return goldenNow }}
	check := func(name string, reqs []hookRequest) {
		t.Helper()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests, want 1", name, len(reqs))
		}
		r := reqs[0]
		if got := r.Header.Get("X-API-Key"); got != "erp_api_key_789" {
			t.Errorf("%s: X-API-Key = %q, want erp_api_key_789", name, got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("%s: Content-Type = %q", name, got)
		}
		if got := r.Header.Get(webhook.HeaderEventID); got != goldenEventID {
			t.Errorf("%s: %s = %q, want %q", name, webhook.HeaderEventID, got, goldenEventID)
		}
		if err := verifier.Verify(r.Header, r.Body); err != nil {
			t.Errorf("%s: signature: %v", name, err)
		}
		checkGolden(t, name, r.Body)
	}

	ev := webhook.Create(fullOrder())
	ev.Model = "store.Order"
	reqs := emitOne(t, e, rc, ev)
	check("erp_sync_order_created", reqs)
	if obj, _ := parts(t, reqs[0].Body); obj != `{"id":"42","reference":"ORD-2026-0042","status":"pending","total":"299.99","items":[{"sku":"A-1","quantity":2,"price":"10.00"},{"sku":"B-2","quantity":1,"price":"279.99"}]}` {
		t.Errorf("order object = %s", obj)
	}

	p := Product{ID: "7", SKU: "SKU-7", Name: "Lamp", Price: "49.90", StockQuantity: 12, Description: "A lamp."}
	p2 := p
	p2.Price = "44.90"
	p2.Description = "A lamp, on sale."
	ev = webhook.Update(p, p2)
	ev.Model = "store.Product"
	reqs = emitOne(t, e, rc, ev)
	check("erp_sync_product_updated", reqs)
	if _, ch := parts(t, reqs[0].Body); ch != `{"price":{"old":"49.90","new":"44.90"}}` {
		t.Errorf("product changes = %s, want only price (description is not included)", ch)
	}

	ev = webhook.Create(map[string]any{"id": 901, "product_id": "7", "quantity": -2, "reason": "sale"})
	ev.Model = "inventory.StockMovement"
	check("erp_sync_stock_movement_created", emitOne(t, e, rc, ev))

	for _, ev := range []webhook.Event{
		{Type: webhook.Deleted, Model: "store.Order", Object: fullOrder()},
		{Type: webhook.Created, Model: "store.Customer", Object: seedCustomer()},
		{Type: webhook.Created, Model: "store.OrderItem", Object: map[string]any{"id": 1}},
	} {
		if reqs := emitOne(t, e, rc, ev); len(reqs) != 0 {
			t.Errorf("%s %s: sent to %v, want nowhere", ev.Type, ev.Model, endpointsOf(reqs))
		}
	}
}

// notification is the shape of the seed's notifications transform, in its
// key order.
type notification struct {
	Type          string `json:"type"`
	OrderID       any    `json:"order_id"`
	CustomerEmail any    `json:"customer_email"`
	Status        any    `json:"status"`
}

func notificationTransform(p webhook.Payload) (any, error) {
	customer, ok := p.Object["customer"].(map[string]any)
	if !ok {
		return nil, errors.New("order has no customer")
	}
	return notification{
		Type:          "order_" + string(p.Event),
		OrderID:       p.Object["id"],
		CustomerEmail: customer["email"],
		Status:        p.Object["status"],
	}, nil
}

func TestGoldenNotifications(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	e := shapingEmitter(t, rc, webhook.Config{Endpoints: []webhook.Endpoint{{
		Name:          "notifications",
		IncludeModels: []string{"store.Order"},
		Events:        []webhook.EventType{webhook.Created, webhook.Updated},
		Transform:     notificationTransform,
	}}})

	o := fullOrder()
	ev := webhook.Create(o)
	ev.Model = "store.Order"
	reqs := emitOne(t, e, rc, ev)
	body := bodyFor(t, reqs, "notifications")
	checkGolden(t, "notifications_order_created", body)
	if want := `{"type":"order_created","order_id":"42","customer_email":"john@example.com","status":"pending"}`; string(body) != want {
		t.Errorf("body = %s, want %s", body, want)
	}
	if got := reqs[0].Header.Get(webhook.HeaderEventID); got != goldenEventID {
		t.Errorf("a transformed body keeps the event id header: got %q", got)
	}

	o2 := o
	o2.Status = "shipped"
	ev = webhook.Update(o, o2)
	ev.Model = "store.Order"
	body = bodyFor(t, emitOne(t, e, rc, ev), "notifications")
	checkGolden(t, "notifications_order_updated", body)
	if want := `{"type":"order_updated","order_id":"42","customer_email":"john@example.com","status":"shipped"}`; string(body) != want {
		t.Errorf("body = %s, want %s", body, want)
	}

	ev = webhook.Delete(o)
	ev.Model = "store.Order"
	if reqs := emitOne(t, e, rc, ev); len(reqs) != 0 {
		t.Errorf("delete sent to %v, want nowhere", endpointsOf(reqs))
	}
	ev = webhook.Create(seedCustomer())
	ev.Model = "store.Customer"
	if reqs := emitOne(t, e, rc, ev); len(reqs) != 0 {
		t.Errorf("customer sent to %v, want nowhere", endpointsOf(reqs))
	}

	// A transform error fails this endpoint's delivery: Sync returns it.
	noCustomer := seedOrder()
	noCustomer.Customer = nil
	ev = webhook.Create(noCustomer)
	ev.Model = "store.Order"
	ev.ID = goldenEventID
	err := e.Emit(actorCtx(t), ev)
	if err == nil || !strings.Contains(err.Error(), "order has no customer") || !strings.Contains(err.Error(), `"notifications"`) {
		t.Errorf("Emit with a failing transform = %v, want an error naming the endpoint and the transform's error", err)
	}
	if reqs := rc.takeNew(); len(reqs) != 0 {
		t.Errorf("failed transform still sent %d requests", len(reqs))
	}
}

// shouldSendCase is one event of the seed's per-model rule and whether it
// is sent.
type shouldSendCase struct {
	name   string
	ev     webhook.Event
	sent   bool
	golden string
}

// shouldSendCases builds the events with wrap turning an Order into the
// object emitted.
func shouldSendCases(wrap func(Order) any) []shouldSendCase {
	o := seedOrder()
	shipped, completed := o, o
	shipped.Status = "shipped"
	completed.Status = "completed"
	return []shouldSendCase{
		{"created", webhook.Create(wrap(o)), true, "should_send_created"},
		{"updated to shipped", webhook.Update(wrap(o), wrap(shipped)), false, ""},
		{"updated to completed", webhook.Update(wrap(o), wrap(completed)), true, "should_send_updated"},
		{"deleted", webhook.Delete(wrap(completed)), false, ""},
	}
}

func TestGoldenShouldSend(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, cfg webhook.Config, wrap func(Order) any, model string) {
		rc := newHookReceiver(t, nil)
		cfg.Endpoints = []webhook.Endpoint{{Name: "main"}}
		e := shapingEmitter(t, rc, cfg)
		for _, c := range shouldSendCases(wrap) {
			c.ev.Model = model
			reqs := emitOne(t, e, rc, c.ev)
			if got := len(reqs) == 1; got != c.sent || len(reqs) > 1 {
				t.Errorf("%s: %d requests, want sent=%v", c.name, len(reqs), c.sent)
				continue
			}
			if c.golden != "" {
				checkGolden(t, c.golden, reqs[0].Body)
			}
		}
	}
	t.Run("Config.Models", func(t *testing.T) {
		t.Parallel()
		run(t, webhook.Config{Models: map[string]webhook.ModelMeta{"store.Order": completedOnly()}},
			func(o Order) any { return o }, "store.Order")
	})
	t.Run("MetaProvider", func(t *testing.T) {
		t.Parallel()
		// MetaOrder names its label and its meta: the same bodies.
		run(t, webhook.Config{}, func(o Order) any { return MetaOrder{o} }, "")
	})
	t.Run("Config.Models replaces MetaProvider", func(t *testing.T) {
		t.Parallel()
		rc := newHookReceiver(t, nil)
		e := shapingEmitter(t, rc, webhook.Config{
			Endpoints: []webhook.Endpoint{{Name: "main"}},
			Models: map[string]webhook.ModelMeta{
				"store.Order": {Events: []webhook.EventType{webhook.Deleted}},
			},
		})
		want := map[string]bool{"created": false, "updated to shipped": false, "updated to completed": false, "deleted": true}
		for _, c := range shouldSendCases(func(o Order) any { return MetaOrder{o} }) {
			if got := len(emitOne(t, e, rc, c.ev)) == 1; got != want[c.name] {
				t.Errorf("%s: sent=%v, want %v (the Config.Models entry replaces WebhookMeta)", c.name, got, want[c.name])
			}
		}
	})
	t.Run("empty Config.Models entry sends everything", func(t *testing.T) {
		t.Parallel()
		rc := newHookReceiver(t, nil)
		e := shapingEmitter(t, rc, webhook.Config{
			Endpoints: []webhook.Endpoint{{Name: "main"}},
			Models:    map[string]webhook.ModelMeta{"store.Order": {}},
		})
		for _, c := range shouldSendCases(func(o Order) any { return MetaOrder{o} }) {
			if n := len(emitOne(t, e, rc, c.ev)); n != 1 {
				t.Errorf("%s: %d requests, want 1", c.name, n)
			}
		}
	})
	t.Run("disabled model", func(t *testing.T) {
		t.Parallel()
		rc := newHookReceiver(t, nil)
		e := shapingEmitter(t, rc, webhook.Config{
			Endpoints: []webhook.Endpoint{{Name: "main"}},
			Models:    map[string]webhook.ModelMeta{"store.Order": {Disabled: true}},
		})
		for _, c := range shouldSendCases(func(o Order) any { return o }) {
			c.ev.Model = "store.Order"
			if n := len(emitOne(t, e, rc, c.ev)); n != 0 {
				t.Errorf("%s: %d requests, want 0", c.name, n)
			}
		}
		// Other models are unaffected.
		ev := webhook.Create(seedCustomer())
		ev.Model = "store.Customer"
		if n := len(emitOne(t, e, rc, ev)); n != 1 {
			t.Errorf("customer: %d requests, want 1", n)
		}
	})
}

// TestModelRouting: an event goes to the endpoints whose Events,
// IncludeModels and ExcludeModels admit it, and to no other.
func TestModelRouting(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	e := shapingEmitter(t, rc, webhook.Config{Endpoints: []webhook.Endpoint{
		crmEndpoint,
		analyticsEndpoint,
		{Name: "orders", IncludeModels: []string{"store.Order", "store.OrderItem"}},
		{Name: "all_except_logs", ExcludeModels: []string{"audit.AuditEvent", "sessions.Session"}},
		{Name: "deletes", Events: []webhook.EventType{webhook.Deleted}},
		{Name: "exclude_wins", IncludeModels: []string{"store.Order"}, ExcludeModels: []string{"store.Order"}},
		{Name: "off", Disabled: true},
	}})
	obj := map[string]any{"id": "1"}
	for _, c := range []struct {
		typ   webhook.EventType
		model string
		want  []string
	}{
		{webhook.Created, "store.Order", []string{"all_except_logs", "analytics", "crm", "orders"}},
		{webhook.Updated, "store.Order", []string{"all_except_logs", "crm", "orders"}},
		{webhook.Deleted, "store.Order", []string{"all_except_logs", "deletes", "orders"}},
		{webhook.Created, "store.Customer", []string{"all_except_logs", "crm"}},
		{webhook.Deleted, "store.Customer", []string{"all_except_logs", "deletes"}},
		{webhook.Updated, "store.OrderItem", []string{"all_except_logs", "orders"}},
		{webhook.Created, "audit.AuditEvent", []string{}},
		{webhook.Deleted, "sessions.Session", []string{"deletes"}},
		{webhook.Created, "inventory.StockMovement", []string{"all_except_logs"}},
	} {
		ev := webhook.Event{Type: c.typ, Model: c.model, Object: obj}
		if got := endpointsOf(emitOne(t, e, rc, ev)); !slices.Equal(got, c.want) {
			t.Errorf("%s %s: sent to %v, want %v", c.typ, c.model, got, c.want)
		}
	}
}

// TestModelLabel: the label from Event.Model, from WebhookLabel, and the
// one derived from the Go type.
func TestModelLabel(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	e := shapingEmitter(t, rc, webhook.Config{Endpoints: []webhook.Endpoint{
		{Name: "all"},
		{Name: "orders", IncludeModels: []string{"store.Order"}},
	}})
	ev := webhook.Create(seedOrder())
	ev.Model = "store.Order"
	explicit := bodyFor(t, emitOne(t, e, rc, ev), "all")

	reqs := emitOne(t, e, rc, webhook.Create(LabeledOrder{seedOrder()}))
	if got := endpointsOf(reqs); !slices.Equal(got, []string{"all", "orders"}) {
		t.Errorf("LabeledOrder went to %v", got)
	}
	if labeled := bodyFor(t, reqs, "all"); !bytes.Equal(labeled, explicit) {
		t.Errorf("WebhookLabel body differs from Event.Model's\n got: %s\nwant: %s", labeled, explicit)
	}

	reqs = emitOne(t, e, rc, webhook.Create(seedOrder()))
	if got := endpointsOf(reqs); !slices.Equal(got, []string{"all"}) {
		t.Errorf("plain Order went to %v, want [all]: its label is not store.Order", got)
	}
	var env struct{ Model webhook.ModelInfo }
	if err := json.Unmarshal(bodyFor(t, reqs, "all"), &env); err != nil {
		t.Fatal(err)
	}
	if want := (webhook.ModelInfo{App: "webhook_test", Name: "Order", Label: "webhook_test.Order"}); env.Model != want {
		t.Errorf("derived model = %+v, want %+v", env.Model, want)
	}
	// Event.Model wins over WebhookLabel.
	ev = webhook.Create(LabeledOrder{seedOrder()})
	ev.Model = "shop.Order"
	if got := endpointsOf(emitOne(t, e, rc, ev)); !slices.Equal(got, []string{"all"}) {
		t.Errorf("Model shop.Order went to %v, want [all]", got)
	}
}

// TestDottedPaths: include, exclude and redact rules with dotted paths, on
// nested objects and through arrays, in "object" and in "changes".
func TestDottedPaths(t *testing.T) {
	t.Parallel()
	order := fullOrder()
	withEmail := func(email string) Order {
		o := fullOrder()
		c := *o.Customer
		c.Email = email
		o.Customer = &c
		return o
	}
	emailChanged := webhook.Update(order, withEmail("new@example.com"))
	emailAndStatus := func() webhook.Event {
		n := withEmail("new@example.com")
		n.Status = "shipped"
		return webhook.Update(order, n)
	}()
	emailAndName := func() webhook.Event {
		n := withEmail("new@example.com")
		n.Customer.Name = "Jane Doe"
		return webhook.Update(order, n)
	}()
	priceChanged := func() webhook.Event {
		n := fullOrder()
		n.Items = slices.Clone(n.Items)
		n.Items[0].Price = "12.00"
		return webhook.Update(order, n)
	}()
	statusChanged := func() webhook.Event {
		n := fullOrder()
		n.Status = "shipped"
		return webhook.Update(order, n)
	}()
	const (
		fullCustomer = `{"id":"15","name":"John Doe","email":"john@example.com","phone":"555-0100"}`
		items        = `[{"sku":"A-1","quantity":2,"price":"10.00"},{"sku":"B-2","quantity":1,"price":"279.99"}]`
		head         = `"id":"42","reference":"ORD-2026-0042","status":"pending","total":"299.99"`
		tail         = `"created_at":"2026-01-16T11:59:00Z"`
	)
	for _, c := range []struct {
		name        string
		ep          webhook.Endpoint
		ev          webhook.Event
		wantObject  string // "" : not checked
		wantChanges string
	}{
		{
			name:        "include customer.name",
			ep:          webhook.Endpoint{IncludeFields: map[string][]string{"store.Order": {"id", "customer.name"}}},
			ev:          webhook.Create(order),
			wantObject:  `{"id":"42","customer":{"name":"John Doe"}}`,
			wantChanges: `null`,
		},
		{
			name:        "exclude customer.email",
			ep:          webhook.Endpoint{ExcludeFields: map[string][]string{"store.Order": {"customer.email"}}},
			ev:          webhook.Create(order),
			wantObject:  `{` + head + `,"customer":{"id":"15","name":"John Doe","phone":"555-0100"},"items":` + items + `,` + tail + `}`,
			wantChanges: `null`,
		},
		{
			name:       "redact customer.phone",
			ep:         webhook.Endpoint{RedactFields: map[string]map[string]any{"store.Order": {"customer.phone": "***-***-****"}}},
			ev:         webhook.Create(order),
			wantObject: `{` + head + `,"customer":{"id":"15","name":"John Doe","email":"john@example.com","phone":"***-***-****"},"items":` + items + `,` + tail + `}`,
		},
		{
			name:       "include items.price",
			ep:         webhook.Endpoint{IncludeFields: map[string][]string{"*": {"id", "items.price"}}},
			ev:         webhook.Create(order),
			wantObject: `{"id":"42","items":[{"price":"10.00"},{"price":"279.99"}]}`,
		},
		{
			name:       "exclude items.price",
			ep:         webhook.Endpoint{ExcludeFields: map[string][]string{"*": {"items.price", "customer", "created_at"}}},
			ev:         webhook.Create(order),
			wantObject: `{` + head + `,"items":[{"sku":"A-1","quantity":2},{"sku":"B-2","quantity":1}]}`,
		},
		{
			name:       "redact items.price",
			ep:         webhook.Endpoint{RedactFields: map[string]map[string]any{"*": {"items.price": nil}}},
			ev:         webhook.Create(order),
			wantObject: `{` + head + `,"customer":` + fullCustomer + `,"items":[{"sku":"A-1","quantity":2,"price":null},{"sku":"B-2","quantity":1,"price":null}],` + tail + `}`,
		},
		{
			name:        "no rules: the email change is sent",
			ep:          webhook.Endpoint{},
			ev:          emailChanged,
			wantChanges: `{"customer":{"old":` + fullCustomer + `,"new":{"id":"15","name":"John Doe","email":"new@example.com","phone":"555-0100"}}}`,
		},
		{
			name:        "exclude customer.email: an email-only change disappears",
			ep:          webhook.Endpoint{ExcludeFields: map[string][]string{"store.Order": {"customer.email"}}, SendFilteredUpdates: true},
			ev:          emailChanged,
			wantChanges: `{}`,
		},
		{
			name:        "exclude customer.email: other changes stay",
			ep:          webhook.Endpoint{ExcludeFields: map[string][]string{"store.Order": {"customer.email"}}},
			ev:          emailAndStatus,
			wantChanges: `{"status":{"old":"pending","new":"shipped"}}`,
		},
		{
			name:        "exclude customer.email: a customer change without the email",
			ep:          webhook.Endpoint{ExcludeFields: map[string][]string{"*": {"customer.email"}}},
			ev:          emailAndName,
			wantObject:  `{` + head + `,"customer":{"id":"15","name":"Jane Doe","phone":"555-0100"},"items":` + items + `,` + tail + `}`,
			wantChanges: `{"customer":{"old":{"id":"15","name":"John Doe","phone":"555-0100"},"new":{"id":"15","name":"Jane Doe","phone":"555-0100"}}}`,
		},
		{
			name:        "include customer.name: an email-only change disappears",
			ep:          webhook.Endpoint{IncludeFields: map[string][]string{"store.Order": {"id", "customer.name"}}, SendFilteredUpdates: true},
			ev:          emailChanged,
			wantObject:  `{"id":"42","customer":{"name":"John Doe"}}`,
			wantChanges: `{}`,
		},
		{
			name:        "redact customer.email in changes",
			ep:          webhook.Endpoint{RedactFields: map[string]map[string]any{"store.Order": {"customer.email": "***"}}},
			ev:          emailChanged,
			wantChanges: `{"customer":{"old":{"id":"15","name":"John Doe","email":"***","phone":"555-0100"},"new":{"id":"15","name":"John Doe","email":"***","phone":"555-0100"}}}`,
		},
		{
			name:        "redact a top-level field: the replacement as old and new",
			ep:          webhook.Endpoint{RedactFields: map[string]map[string]any{"store.Order": {"status": "[hidden]"}}},
			ev:          statusChanged,
			wantObject:  `{"id":"42","reference":"ORD-2026-0042","status":"[hidden]","total":"299.99","customer":` + fullCustomer + `,"items":` + items + `,` + tail + `}`,
			wantChanges: `{"status":{"old":"[hidden]","new":"[hidden]"}}`,
		},
		{
			name:        "exclude a top-level field: its change disappears",
			ep:          webhook.Endpoint{ExcludeFields: map[string][]string{"store.Order": {"status"}}, SendFilteredUpdates: true},
			ev:          statusChanged,
			wantChanges: `{}`,
		},
		{
			name:        "exclude items.price: a price-only change disappears",
			ep:          webhook.Endpoint{ExcludeFields: map[string][]string{"store.Order": {"items.price"}}, SendFilteredUpdates: true},
			ev:          priceChanged,
			wantChanges: `{}`,
		},
		{
			name:        "redact items.price in changes",
			ep:          webhook.Endpoint{RedactFields: map[string]map[string]any{"store.Order": {"items.price": "x"}}},
			ev:          priceChanged,
			wantChanges: `{"items":{"old":[{"sku":"A-1","quantity":2,"price":"x"},{"sku":"B-2","quantity":1,"price":"x"}],"new":[{"sku":"A-1","quantity":2,"price":"x"},{"sku":"B-2","quantity":1,"price":"x"}]}}`,
		},
		{
			name: "hand-written Changes are filtered too",
			ep: webhook.Endpoint{
				ExcludeFields: map[string][]string{"*": {"password", "customer.email"}},
				RedactFields:  map[string]map[string]any{"*": {"token": "***"}},
			},
			ev: webhook.Event{Type: webhook.Updated, Object: map[string]any{"id": "42"}, Changes: map[string]webhook.Change{
				"password": {Old: "a", New: "b"},
				"token":    {Old: "t1", New: "t2"},
				"customer": {Old: map[string]any{"email": "a@x", "name": "A"}, New: map[string]any{"email": "b@x", "name": "A"}},
				"status":   {Old: "pending", New: "shipped"},
			}},
			wantObject:  `{"id":"42"}`,
			wantChanges: `{"status":{"old":"pending","new":"shipped"},"token":{"old":"***","new":"***"}}`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rc := newHookReceiver(t, nil)
			ep := c.ep
			ep.Name = "ep"
			e := shapingEmitter(t, rc, webhook.Config{Endpoints: []webhook.Endpoint{ep}})
			ev := c.ev
			ev.Model = "store.Order"
			body := bodyFor(t, emitOne(t, e, rc, ev), "ep")
			obj, ch := parts(t, body)
			if c.wantObject != "" && obj != c.wantObject {
				t.Errorf("object\n got: %s\nwant: %s", obj, c.wantObject)
			}
			if c.wantChanges != "" && ch != c.wantChanges {
				t.Errorf("changes\n got: %s\nwant: %s", ch, c.wantChanges)
			}
		})
	}
}

// TestEnvelopeDetails: the envelope's id, timestamp and user.
func TestEnvelopeDetails(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	// A clock in another zone, with fractions of a second.
	paris := time.FixedZone("CET", 3600)
	e := shapingEmitter(t, rc, webhook.Config{
		Now:       func() time.Time { return time.Date(2026, 1, 16, 13, 0, 0, 789_000_000, paris) },
		Endpoints: []webhook.Endpoint{{Name: "main"}},
	})
	type envelope struct {
		ID        string          `json:"id"`
		Timestamp string          `json:"timestamp"`
		Changes   json.RawMessage `json:"changes"`
		User      json.RawMessage `json:"user"`
	}
	emit := func(ctx context.Context, ev webhook.Event) (envelope, hookRequest) {
		t.Helper()
		ev.Model = "store.Order"
		if err := e.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		reqs := rc.takeNew()
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		var env envelope
		if err := json.Unmarshal(reqs[0].Body, &env); err != nil {
			t.Fatal(err)
		}
		return env, reqs[0]
	}

	env, req := emit(t.Context(), webhook.Create(seedOrder()))
	if env.Timestamp != "2026-01-16T12:00:00Z" {
		t.Errorf("timestamp = %q, want whole seconds in UTC", env.Timestamp)
	}
	if !strings.HasPrefix(env.ID, "evt_") || len(env.ID) < 20 {
		t.Errorf("generated id = %q, want evt_…", env.ID)
	}
	if got := req.Header.Get(webhook.HeaderEventID); got != env.ID {
		t.Errorf("%s = %q, body id %q", webhook.HeaderEventID, got, env.ID)
	}
	if string(env.User) != "null" || string(env.Changes) != "null" {
		t.Errorf("no actor: user = %s, changes = %s; want null, null", env.User, env.Changes)
	}
	env2, _ := emit(t.Context(), webhook.Create(seedOrder()))
	if env2.ID == env.ID {
		t.Errorf("two events got the same id %q", env.ID)
	}

	own := &webhook.Actor{ID: "7", Username: "<bot>"}
	ev := webhook.Delete(seedOrder())
	ev.Actor = own
	env, _ = emit(actorCtx(t), ev)
	if want := `{"id":"7","username":"\u003cbot\u003e"}`; string(env.User) != want {
		t.Errorf("Event.Actor: user = %s, want %s (the event's actor wins over the context's)", env.User, want)
	}
	if string(env.Changes) != "null" {
		t.Errorf("deleted: changes = %s, want null", env.Changes)
	}
	env, _ = emit(actorCtx(t), webhook.Update(seedOrder(), seedOrder()))
	if string(env.Changes) != "{}" || string(env.User) != `{"id":"1","username":"admin"}` {
		t.Errorf("update without a difference: changes = %s, user = %s; want {} and the context's actor", env.Changes, env.User)
	}
}
