package webhooktest_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhooktest"
)

// A test of the code that emits webhooks: it points an Emitter at a
// recording receiver, makes the receiver refuse the first attempt of
// each event with a 503, and checks what arrived, verified, and how many
// attempts it took. In a test, t is the test's *testing.T.
func Example() {
	t := &exampleT{} // stands in for the test's *testing.T
	defer t.cleanup()

	const secret = "test-secret-0123456789"
	rec := webhooktest.NewReceiver(t, webhooktest.Options{
		Secret:  secret,
		Respond: webhooktest.FailFirst(1, http.StatusServiceUnavailable),
	})
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{
			Name: "crm", URL: rec.URL, Secret: secret,
			// Retry at once, in tests.
			Retry: &webhook.RetryConfig{MaxRetries: 3, RetryDelay: time.Millisecond, NoJitter: true},
		}},
		Sync: true, // Emit returns once the event is delivered
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer emitter.Close(context.Background())

	before := map[string]any{"id": "42", "status": "pending"}
	after := map[string]any{"id": "42", "status": "shipped"}
	for _, ev := range []webhook.Event{webhook.Create(before), webhook.Update(before, after)} {
		ev.Model = "store.Order"
		if err := emitter.Emit(context.Background(), ev); err != nil {
			t.Fatalf("Emit: %v", err)
		}
	}

	for _, r := range rec.Wait(4) { // two events, two attempts each
		fmt.Println(r.Seq, r.Payload.Event, r.Payload.Model.Label, "attempt", r.Attempt, "answered", r.Status)
	}
	for _, p := range rec.Events() {
		fmt.Println(p.Event, p.Object["status"], p.Changes)
	}
	fmt.Println("rejected:", len(rec.Rejected()))
	// Output:
	// 1 created store.Order attempt 1 answered 503
	// 2 created store.Order attempt 2 answered 200
	// 3 updated store.Order attempt 1 answered 503
	// 4 updated store.Order attempt 2 answered 200
	// created pending map[]
	// updated shipped map[status:{pending shipped}]
	// rejected: 0
}

// exampleT stands in for the *testing.T that an example does not have.
type exampleT struct{ cleanups []func() }

func (t *exampleT) Helper()                           {}
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
