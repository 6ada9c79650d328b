package webhook_test

// The two baselines of BenchmarkThroughput (throughput_test.go), the
// test twins of bench/raw.go and bench/naive.go: a raw sender of
// pre-built bodies and the dispatcher a user would write by hand.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// tpTransport is http.DefaultTransport's settings with an idle
// connection kept for each of conc senders (the default keeps two per
// host and dials again for the others).
func tpTransport(conc int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conc
	t.MaxIdleConns = max(t.MaxIdleConns, conc)
	return t
}

// tpRawSender is the baseline: plain net/http POSTs of bodies built
// before the run (the library's bytes, from Emitter.Preview), unsigned,
// with conc goroutines sharing one client whose tuned transport serves
// every run at that concurrency. Each response is read to EOF and closed.
// No client Timeout: what net/http alone costs to move the bytes.
type tpRawSender struct {
	url    string
	conc   int
	client *http.Client
}

func newTPRawSender(url string, conc int) *tpRawSender {
	return &tpRawSender{url: url, conc: conc, client: &http.Client{Transport: tpTransport(conc)}}
}

var tpContentType = []string{"application/json"}

// send posts every body and returns when every response has been read.
func (s *tpRawSender) send(bodies [][]byte) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, s.conc)
	for g := range s.conc {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(bodies)); i = next.Add(1) - 1 {
				req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(bodies[i]))
				if err != nil {
					errs[g] = err
					return
				}
				req.Header["Content-Type"] = tpContentType
				resp, err := s.client.Do(req)
				if err != nil {
					errs[g] = err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					errs[g] = fmt.Errorf("raw: %s", resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	return tpFirstError(errs)
}

// tpNaiveSender is the dispatcher a user would write instead of the
// library: conc goroutines take events from a channel and, for each,
// build the envelope as a map[string]any, json.Marshal it, sign
// "<unix>.<body>" with HMAC-SHA256 (the library's scheme: webhook.Verify
// accepts it), set the content type and three headers and POST it
// through their own tuned transport, with a client Timeout.
type tpNaiveSender struct {
	url    string
	conc   int
	key    []byte
	client *http.Client
}

func newTPNaiveSender(url, secret string, conc int) *tpNaiveSender {
	return &tpNaiveSender{url: url, conc: conc, key: []byte(secret),
		client: &http.Client{Transport: tpTransport(conc), Timeout: 30 * time.Second}}
}

// send delivers every event and returns when every response has been read.
func (s *tpNaiveSender) send(events []webhook.Event) error {
	jobs := make(chan webhook.Event, s.conc)
	var wg sync.WaitGroup
	errs := make([]error, s.conc)
	for g := range s.conc {
		wg.Go(func() {
			for ev := range jobs {
				if errs[g] == nil {
					errs[g] = s.post(ev)
				}
			}
		})
	}
	for _, ev := range events {
		jobs <- ev
	}
	close(jobs)
	wg.Wait()
	return tpFirstError(errs)
}

func (s *tpNaiveSender) post(ev webhook.Event) error {
	var rnd [16]byte
	rand.Read(rnd[:])
	id := "evt_" + hex.EncodeToString(rnd[:])
	app, name, _ := strings.Cut(ev.Model, ".")
	body, err := json.Marshal(map[string]any{
		"id":        id,
		"event":     ev.Type,
		"timestamp": time.Now().UTC().Format(time.RFC3339),
		"model":     map[string]any{"app": app, "name": name, "label": ev.Model},
		"object":    ev.Object,
		"changes":   nil,
		"user":      nil,
	})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderSignature, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderEventID, id)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("naive: %s", resp.Status)
	}
	return nil
}

func tpFirstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

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
	naive := newTPNaiveSender(srv.URL, dtSecret, 2)
	if err := naive.send(events); err != nil {
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

	if err := newTPRawSender(srv.URL, 2).send(bodies); err != nil {
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

// tpPreviewEmitter makes the Emitter whose Preview gives the raw bodies:
// the benchmark's one endpoint (no rules), so Preview's body is the one
// Emit sends, but for the event id and timestamp.
func tpPreviewEmitter(t testing.TB) *webhook.Emitter {
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "healthy", URL: "http://127.0.0.1:1/hook", Secret: dtSecret}},
		Logger:    quietLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}
