package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// BenchmarkDeliverySequential sends one delivery at a time to a receiver
// in this process, waiting for each to arrive: its allocs/op and B/op
// are what one delivery costs the library (Emit, queue, attempt, log),
// beside a plain net/http POST of the same body (the receiver's own
// share is in both).
//
//	go test -run '^$' -bench DeliverySequential -benchmem .
func BenchmarkDeliverySequential(b *testing.B) {
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		got <- struct{}{}
	}))
	defer srv.Close()
	ev := func(i int) webhook.Event {
		return webhook.Event{Type: webhook.Created, Model: "bench.Item",
			Object: map[string]any{"id": i, "pad": isoPad}}
	}
	e, err := webhook.New(webhook.Config{
		Workers:   1,
		Endpoints: []webhook.Endpoint{{Name: "healthy", URL: srv.URL + "/hook", Secret: dtSecret, Timeout: 30 * time.Second}},
		Logger:    quietLogger,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	previews, err := e.Preview(context.Background(), ev(0))
	if err != nil {
		b.Fatal(err)
	}
	body := previews[0].Body

	b.Run("raw", func(b *testing.B) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Post(srv.URL+"/hook", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			<-got
		}
	})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := e.Emit(context.Background(), ev(i)); err != nil {
				b.Fatal(err)
			}
			<-got
			i++
		}
	})
}
