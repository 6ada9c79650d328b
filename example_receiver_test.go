package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/hookrail/webhook"
)

// receiverOrder stands for the sending application's model.
type receiverOrder struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (receiverOrder) WebhookLabel() string { return "store.Order" }

// A Receiver's middleware verifies each request (signature, timestamp,
// body size) and hands each event to the application's handler once:
// a delivery of an event already processed is answered 200 without
// calling it, so the sender stops retrying. Here an Emitter in Sync mode
// sends to an httptest server wrapped by the middleware; the sender's
// outbox emits the first event a second time (the same Event.ID, as after
// a crash), and the receiver recognises it.
func ExampleReceiver() {
	const secret = "secret_123" // in production: os.Getenv("WEBHOOK_SECRET")

	var processed atomic.Int32
	rc := &webhook.Receiver{
		Verifier: webhook.Verifier{Secrets: []string{secret}},
		Dedup:    webhook.NewMemoryDedup(webhook.MemoryDedupConfig{}),
	}
	handler := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p webhook.Payload // r.Body is the verified body
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		processed.Add(1)
		fmt.Printf("processing %s %s %s\n", p.Event, p.Model.Label, p.ID)
		w.WriteHeader(http.StatusNoContent)
	}))
	srv := httptest.NewServer(handler)
	defer srv.Close()

	emitter, err := webhook.New(webhook.Config{
		Sync:      true,
		Endpoints: []webhook.Endpoint{{Name: "orders", URL: srv.URL + "/webhooks/", Secret: secret}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emitter.Close(context.Background())

	ctx := context.Background()
	placed := receiverOrder{ID: "42", Status: "pending"}
	shipped := receiverOrder{ID: "42", Status: "shipped"}
	created := webhook.Create(placed)
	created.ID = "evt_order_42_created"
	updated := webhook.Update(placed, shipped)
	updated.ID = "evt_order_42_updated"

	for _, ev := range []webhook.Event{created, updated, created} {
		if err := emitter.Emit(ctx, ev); err != nil {
			fmt.Println("emit:", err)
		}
	}
	delivered, _ := emitter.Logs(ctx, webhook.LogQuery{Status: webhook.StatusDelivered})
	fmt.Printf("deliveries: %d, processed: %d\n", len(delivered), processed.Load())

	// Output:
	// processing created store.Order evt_order_42_created
	// processing updated store.Order evt_order_42_updated
	// deliveries: 3, processed: 2
}
