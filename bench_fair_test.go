package webhook_test

// The check of BenchmarkThroughput's two baselines (throughput_test.go),
// internal/benchsend's raw sender of pre-built bodies and the dispatcher a
// user would write by hand, which the bench command measures too.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/internal/benchsend"
)

// TestThroughputBaselines checks the benchmark's senders against a
// receiver that verifies: the naive dispatcher's signatures pass
// webhook.Verify, its envelope has the library's members, and the raw
// sender posts the library's bytes as they are.
func TestThroughputBaselines(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	var verifyErrs []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, body)
		if r.Header.Get(webhook.HeaderSignature) != "" {
			if err := webhook.Verify(dtSecret, r.Header, body); err != nil {
				verifyErrs = append(verifyErrs, err)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	received := func() ([][]byte, []error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got), slices.Clone(verifyErrs)
	}

	events, bodies := tpWorkload(t, 3)
	naive := benchsend.NewNaive(srv.URL, dtSecret, 2)
	defer naive.Close()
	if err := naive.Send(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	naiveGot, verifyErrs := received()
	if len(naiveGot) != 3 || len(verifyErrs) != 0 {
		t.Fatalf("naive: %d received, verify errors %v; want 3, none", len(naiveGot), verifyErrs)
	}
	var lib map[string]any
	if err := json.Unmarshal(bodies[0], &lib); err != nil {
		t.Fatal(err)
	}
	for _, body := range naiveGot {
		var hand map[string]any
		if err := json.Unmarshal(body, &hand); err != nil {
			t.Fatal(err)
		}
		if len(hand) != len(lib) || hand["event"] != lib["event"] || fmt.Sprint(hand["model"]) != fmt.Sprint(lib["model"]) {
			t.Errorf("naive envelope %s, want the members of the library's %s", body, bodies[0])
		}
	}

	raw := benchsend.NewRaw(srv.URL, 2)
	defer raw.Close()
	if err := raw.Send(context.Background(), bodies); err != nil {
		t.Fatal(err)
	}
	all, _ := received()
	rawGot := all[len(naiveGot):]
	if len(rawGot) != 3 {
		t.Fatalf("raw: %d received, want 3", len(rawGot))
	}
	for _, b := range bodies {
		found := false
		for _, g := range rawGot {
			found = found || bytes.Equal(g, b)
		}
		if !found {
			t.Errorf("raw: body %s not received as it is", b)
		}
	}
}
