package webhook_test

// Fault injection: 10,000 events to 4 endpoints whose receivers answer at
// random with 200, 500, 503 + Retry-After, a hang past the endpoint's
// timeout, or a dropped connection. Nothing may be lost, and a receiver may
// see an event twice only when one of its answers never reached the sender.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

const (
	ftEvents    = 10000
	ftEndpoints = 4
	ftTimeout   = 100 * time.Millisecond // Endpoint.Timeout
	ftHang      = 300 * time.Millisecond // how long a hanging handler sleeps
)

// ftOutcome is what a receiver does with one request.
type ftOutcome int

const (
	ftOK ftOutcome = iota
	ft500
	ft503Now   // 503, Retry-After: 0
	ft503Later // 503, Retry-After: 1 (capped by MaxDelay)
	ftHangs    // answers 200 only after the sender gave up
	ftDrop     // hijacks the connection and closes it
	ftOutcomes
)

var ftOutcomeNames = [ftOutcomes]string{"200", "500", "503+RA:0", "503+RA:1", "hang", "drop"}

// ftWeights are the outcomes' chances, in percent.
var ftWeights = [ftOutcomes]int{50, 12, 10, 8, 8, 12}

func ftPick() ftOutcome {
	n := rand.IntN(100)
	for o, w := range ftWeights {
		if n < w {
			return ftOutcome(o)
		}
		n -= w
	}
	return ftOK
}

// ftKey is one event at one endpoint.
type ftKey struct {
	endpoint int
	event    string
}

// ftCounts is what happened to one key.
type ftCounts struct {
	served     int // 200 answers written promptly
	unanswered int // requests seen whose answer never arrived: hangs and drops
	hangs      int // of which hangs: their late 200 arrives only if the sender stalled past its timeout
	requests   int
	received   int // 200 answers the sender's transport returned to the library
}

type ftBook struct {
	mu       sync.Mutex
	keys     map[ftKey]*ftCounts
	outcomes [ftOutcomes]atomic.Int64
}

func (b *ftBook) update(k ftKey, f func(c *ftCounts)) {
	b.mu.Lock()
	c := b.keys[k]
	if c == nil {
		c = &ftCounts{}
		b.keys[k] = c
	}
	f(c)
	b.mu.Unlock()
}

// ftHandler is receiver i.
func ftHandler(b *ftBook, i int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := ftKey{i, r.Header.Get(webhook.HeaderEventID)}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		o := ftPick()
		b.outcomes[o].Add(1)
		switch o {
		case ftOK:
			b.update(k, func(c *ftCounts) { c.requests++; c.served++ })
			w.WriteHeader(http.StatusOK)
		case ft500:
			b.update(k, func(c *ftCounts) { c.requests++ })
			w.WriteHeader(http.StatusInternalServerError)
		case ft503Now, ft503Later:
			b.update(k, func(c *ftCounts) { c.requests++ })
			w.Header().Set("Retry-After", map[bool]string{true: "0", false: "1"}[o == ft503Now])
			w.WriteHeader(http.StatusServiceUnavailable)
		case ftHangs:
			// Processed, but the answer comes after the sender's timeout.
			b.update(k, func(c *ftCounts) { c.requests++; c.unanswered++; c.hangs++ })
			time.Sleep(ftHang)
			w.WriteHeader(http.StatusOK)
		case ftDrop:
			b.update(k, func(c *ftCounts) { c.requests++; c.unanswered++ })
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic("no hijacker")
			}
			conn, _, err := hj.Hijack()
			if err == nil {
				conn.Close()
			}
		}
	})
}

// ftTransport counts the 200 answers that reach the library: when the
// library gets one, the delivery is delivered and must not be sent again.
type ftTransport struct {
	http.RoundTripper
	book   *ftBook
	byHost map[string]int // receiver index by host:port
}

func (t *ftTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusOK {
		t.book.update(ftKey{t.byHost[r.URL.Host], r.Header.Get(webhook.HeaderEventID)}, func(c *ftCounts) { c.received++ })
	}
	return resp, err
}

func TestFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection sends ~80,000 requests")
	}
	// Not parallel: it saturates the CPU, and the timing tests that run
	// in parallel after the sequential ones must not share the machine
	// with it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()

	book := &ftBook{keys: make(map[ftKey]*ftCounts, ftEvents*ftEndpoints)}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	base.MaxIdleConns = 256
	tr := &ftTransport{RoundTripper: base, book: book, byHost: make(map[string]int)}

	var endpoints []webhook.Endpoint
	for i := range ftEndpoints {
		srv := httptest.NewServer(ftHandler(book, i))
		t.Cleanup(srv.Close)
		tr.byHost[srv.Listener.Addr().String()] = i
		endpoints = append(endpoints, webhook.Endpoint{
			Name: fmt.Sprintf("ep%d", i), URL: srv.URL + "/hook", Secret: dtSecret, Timeout: ftTimeout,
		})
	}
	t.Cleanup(base.CloseIdleConnections)

	var failures atomic.Int64
	e := newEmitter(t, webhook.Config{
		Endpoints:      endpoints,
		Workers:        64,
		QueueSize:      48000, // 12,000 per endpoint: room for every delivery
		Retry:          &webhook.RetryConfig{MaxRetries: 30, RetryDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
		HTTPClient:     &http.Client{Transport: tr},
		LogStore:       webhook.NewMemoryLogStore(ftEvents * ftEndpoints),
		OnFailure: func(f webhook.Failure) {
			if failures.Add(1) <= 5 {
				t.Errorf("OnFailure: endpoint %s event %s after %d attempts: %v", f.Endpoint, f.EventID, f.Attempts, f.Err)
			}
		},
	})

	ids := make([]string, ftEvents)
	for i := range ftEvents {
		ids[i] = fmt.Sprintf("evt_fault_%05d", i)
		ev := dtEvent("", map[string]any{"n": i, "pad": "fault injection"})
		ev.ID = ids[i]
		if err := e.Emit(ctx, ev); err != nil {
			t.Fatalf("Emit %d: %v", i, err)
		}
	}
	emitted := time.Since(start)
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	elapsed := time.Since(start)

	book.mu.Lock()
	defer book.mu.Unlock()
	var delivered, duplicated, lost, dupWithoutCause, multiReceived, unanswered, late200, lateArrived, requests int
	for ep := range ftEndpoints {
		for _, id := range ids {
			c := book.keys[ftKey{ep, id}]
			if c == nil {
				c = &ftCounts{}
			}
			requests += c.requests
			unanswered += c.unanswered
			late200 += max(c.served-c.received, 0)
			switch {
			case c.served == 0 && c.received == 0:
				lost++
				if lost <= 5 {
					t.Errorf("lost: event %s never answered 200 at ep%d (%d requests)", id, ep, c.requests)
				}
				continue
			case c.received > c.served+c.hangs:
				t.Errorf("event %s at ep%d: the sender got more 200s than were written (%+v)", id, ep, *c)
			}
			// A hang's late 200 reaches the sender only when the machine
			// stalled it past its own timeout (net/http then sees the
			// answer and the deadline at once); it is a real answer.
			lateArrived += max(c.received-c.served, 0)
			delivered++
			if c.received != 1 {
				multiReceived++
				if multiReceived <= 5 {
					t.Errorf("event %s at ep%d: the library received %d 200 answers, want exactly 1 (it sent again after a 200)", id, ep, c.received)
				}
			}
			if c.served > 1 {
				duplicated++
				// A duplicate needs an earlier request whose answer never
				// arrived: a hang, a drop, or a 200 lost to the timeout.
				if c.unanswered == 0 && c.served-c.received <= 0 {
					dupWithoutCause++
					if dupWithoutCause <= 5 {
						t.Errorf("event %s at ep%d: %d 200s served without any unanswered request (%+v)", id, ep, c.served, *c)
					}
				}
			}
		}
	}
	var outcomes string
	for o := range ftOutcomes {
		outcomes += fmt.Sprintf(" %s=%d", ftOutcomeNames[o], book.outcomes[o].Load())
	}
	summary := fmt.Sprintf("fault injection: %d events × %d endpoints: delivered=%d duplicated=%d lost=%d; "+
		"requests=%d seen-but-unanswered=%d (hangs and drops) + %d (prompt 200s lost to the sender's timeout); late 200s that arrived=%d; failures=%d; emit %s, total %s; outcomes:%s",
		ftEvents, ftEndpoints, delivered, duplicated, lost, requests, unanswered, late200, lateArrived, failures.Load(),
		emitted.Round(time.Millisecond), elapsed.Round(time.Millisecond), outcomes)
	t.Log(summary)
	fmt.Println(summary)

	if lost != 0 {
		t.Errorf("lost = %d, want 0", lost)
	}
	if failures.Load() != 0 {
		t.Errorf("%d deliveries failed, want 0", failures.Load())
	}
	if n, _ := e.Logs(ctx, webhook.LogQuery{Status: webhook.StatusDelivered, Limit: ftEvents * ftEndpoints}); len(n) != ftEvents*ftEndpoints {
		t.Errorf("%d delivery logs delivered, want %d", len(n), ftEvents*ftEndpoints)
	}
}
