package webhook_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/hookrail/webhook"
)

// A preview shows what each endpoint would receive, before anything is
// sent: check rules in a test, or show them on an operator's page. Here
// the "crm" endpoint's rule names "emial", a typo that would send every
// customer's email: the preview says so.
func ExampleEmitter_Preview() {
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{
			{
				Name: "crm", URL: "https://crm.example.com/hooks", Secret: exSecret,
				ExcludeFields: map[string][]string{"store.Order": {"customer.emial"}},
				RedactFields:  map[string]map[string]any{"*": {"customer.name": "***"}},
			},
			{
				Name: "shipping", URL: "https://ship.example.com/hooks", Secret: exSecret,
				Events: []webhook.EventType{webhook.Updated},
			},
		},
		Now: func() time.Time { return time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close(context.Background())

	ev := webhook.Create(exOrder{ID: "42", Reference: "ORD-42", Status: "pending", Total: "9.99",
		Customer: exCustomer{ID: "15", Name: "John Doe", Email: "john@example.com"}})
	ev.ID = "evt_preview"
	previews, err := e.Preview(context.Background(), ev)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range previews {
		fmt.Println(p.Endpoint)
		for _, w := range p.Warnings {
			fmt.Println("  warning:", w)
		}
		if p.Skipped != "" {
			fmt.Println("  skipped:", p.Skipped)
			continue
		}
		fmt.Printf("  body: %s\n", p.Body)
	}
	// Output:
	// crm
	//   warning: exclude_fields["store.Order"]: "customer.emial" matches no key webhook_test.exOrder writes (did you mean "customer.email"?)
	//   body: {"id":"evt_preview","event":"created","timestamp":"2026-01-16T12:00:00Z","model":{"app":"store","name":"Order","label":"store.Order"},"object":{"id":"42","reference":"ORD-42","status":"pending","total":"9.99","customer":{"id":"15","name":"***","email":"john@example.com"}},"changes":null,"user":null}
	// shipping
	//   skipped: events does not list created
}
