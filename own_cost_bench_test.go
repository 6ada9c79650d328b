package webhook_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/internal/benchsend"
)

// answerRT answers every request 204 in this process, after reading its
// body, as a receiver would: no network, no other process.
type answerRT struct{}

func (answerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
}

// BenchmarkOwnCost is the library's own work per delivery, without
// the network: Emit (marshal, envelope, ids), the queue, the attempt
// (timeout, headers, signature, request) and the delivery log, with an
// http.RoundTripper that answers 204 in this process. Run it on one
// processor, so that ns/op is CPU time per delivery:
//
//	go test -run '^$' -bench OwnCost -cpu 1 -count 6 .
func BenchmarkOwnCost(b *testing.B) {
	ctx := context.Background()
	w, err := benchsend.NewWorkload(ctx, 4096, 1024)
	if err != nil {
		b.Fatal(err)
	}
	e, err := webhook.New(webhook.Config{
		Workers:    8,
		Endpoints:  []webhook.Endpoint{{Name: "bench", URL: "http://127.0.0.1:1/hook", Secret: dtSecret}},
		HTTPClient: &http.Client{Transport: answerRT{}},
		Logger:     quietLogger,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	// Timed to the last delivery's end, not to the last Emit's.
	for i := range b.N {
		if err := e.Emit(ctx, w.Events[i%len(w.Events)]); err != nil {
			b.Fatal(err)
		}
	}
	for {
		st, err := e.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Queued == 0 && st.InFlight == 0 {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
}
