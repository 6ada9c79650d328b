package benchsend

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hookrail/webhook"
)

// item is the model the events carry: a struct with json tags, as a host
// application's model is. Notes pads the body to the size asked for.
type item struct {
	ID       int    `json:"id"`
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	Price    string `json:"price"`
	Paid     bool   `json:"paid"`
	Notes    string `json:"notes"`
}

// Workload is what every run sends: Created events of bench.Item (the
// same values to the naive sender and the library) and, for the raw
// sender, the bodies the library builds for them, byte for byte
// (Emitter.Preview; the event ids and timestamps are the preview's, so
// they differ from the library's run but have the same length), with
// their event ids for the signed sender's X-Webhook-Event-Id.
type Workload struct {
	Events   []webhook.Event
	Bodies   [][]byte
	EventIDs []string
}

// NewWorkload builds n events whose library bodies are about bodySize
// bytes.
func NewWorkload(ctx context.Context, n, bodySize int) (*Workload, error) {
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "bench", URL: "http://127.0.0.1:1/hook", Secret: "workload_secret"}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	defer e.Close(ctx)
	body := func(ev webhook.Event) ([]byte, error) {
		p, err := e.Preview(ctx, ev)
		if err != nil {
			return nil, err
		}
		if len(p) != 1 || p[0].Body == nil {
			return nil, fmt.Errorf("preview: %+v: want one body", p)
		}
		return p[0].Body, nil
	}
	newEvent := func(i int, notes string) webhook.Event {
		return webhook.Event{Type: webhook.Created, Model: "bench.Item", Object: item{
			ID: i, SKU: fmt.Sprintf("SKU-%06d", i), Name: "Bench item", Quantity: 1 + i%7,
			Price: "19.99", Paid: i%2 == 0, Notes: notes}}
	}
	bare, err := body(newEvent(n, ""))
	if err != nil {
		return nil, err
	}
	const text = "Leave the parcel with the concierge if nobody answers the door. "
	notes := strings.Repeat(text, bodySize/len(text)+1)[:max(0, bodySize-len(bare))]

	w := &Workload{Events: make([]webhook.Event, n), Bodies: make([][]byte, n), EventIDs: make([]string, n)}
	for i := range n {
		w.Events[i] = newEvent(i, notes)
		if w.Bodies[i], err = body(w.Events[i]); err != nil {
			return nil, err
		}
		var env struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(w.Bodies[i], &env); err != nil || env.ID == "" {
			return nil, fmt.Errorf("body %d: no event id: %v", i, err)
		}
		w.EventIDs[i] = env.ID
	}
	return w, nil
}
