package webhook_test

// End-to-end tests of breaker.go: the per-endpoint circuit breaker (opens
// after Threshold down-looking failures, holds every attempt for the
// cooldown, lets one probe through, closes on its success, loses nothing)
// and the failure monitor (one alert per streak).

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// hcStateLog polls Stats for an endpoint's circuit and records every
// state it sees, with the time it first saw it, until stop is called.
type hcStateLog struct {
	mu   sync.Mutex
	seen []hcSeen
	stop func()
}

type hcSeen struct {
	state webhook.CircuitState
	at    time.Time
}

func hcWatch(e *webhook.Emitter, endpoint string) *hcStateLog {
	l := &hcStateLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last webhook.CircuitState
		for ctx.Err() == nil {
			st, _ := e.Stats(ctx)
			s := st.Endpoints[endpoint].Circuit
			if s != last {
				l.mu.Lock()
				l.seen = append(l.seen, hcSeen{s, time.Now()})
				l.mu.Unlock()
				last = s
			}
			time.Sleep(time.Millisecond)
		}
	}()
	l.stop = func() { cancel(); <-done }
	return l
}

// first returns when state was first seen (zero: never).
func (l *hcStateLog) first(state webhook.CircuitState) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.seen {
		if s.state == state {
			return s.at
		}
	}
	return time.Time{}
}

func (l *hcStateLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for i, s := range l.seen {
		if i > 0 {
			out = append(out, " → "...)
		}
		out = append(out, s.state...)
	}
	return string(out)
}

// TestCircuitOpensAndRecovers, with one worker so that every step is
// exact: three 503s open the circuit; no request during the 500 ms
// cooldown; one probe, which fails and reopens it for another cooldown;
// another; the receiver heals, the probe succeeds, the circuit closes and
// every delivery is delivered once.
func TestCircuitOpensAndRecovers(t *testing.T) {
	t.Parallel()
	const (
		threshold = 3
		cooldown  = 500 * time.Millisecond
		probeTime = 150 * time.Millisecond // how long a failing probe takes to answer
		failures  = threshold + 2          // the first two probes fail too
		events    = 3
	)
	rc := newHookReceiver(t, func(w http.ResponseWriter, _ *http.Request, req hookRequest) {
		if req.N > failures {
			w.WriteHeader(http.StatusOK)
			return
		}
		if req.N > threshold {
			time.Sleep(probeTime) // a slow failing probe: the half-open state shows in Stats
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	fails := newFailureLog()
	e := dtEmitter(t, webhook.Config{
		Workers:        1,
		Endpoints:      []webhook.Endpoint{dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 20, RetryDelay: 50 * time.Millisecond, NoJitter: true})},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: threshold, Cooldown: cooldown},
		OnFailure:      fails.record,
	})
	states := hcWatch(e, "orders")
	defer states.stop()
	for i := range events {
		dtEmit(t, e, dtEvent("", map[string]any{"id": i}))
	}

	rc.wait(t, failures+events, 10*time.Second)
	dtClose(t, e)
	states.stop()
	reqs := rc.requests()
	opened := reqs[threshold-1].At
	if at := states.first(webhook.CircuitOpen); at.IsZero() || at.Before(opened) || at.After(opened.Add(cooldown)) {
		t.Errorf("Stats showed the circuit open at %v, want within the cooldown after the 3rd failure; saw %s", at.Sub(opened), states)
	}

	if len(reqs) != failures+events {
		t.Errorf("receiver got %d requests, want %d (%d failures, then each of %d events once)", len(reqs), failures+events, failures, events)
	}
	// No request during the cooldown; then one probe at a time, each
	// failing probe reopening the circuit for a full cooldown.
	dtGap(t, "first probe after the circuit opened", opened, reqs[threshold].At, cooldown, cooldown+dtSlack)
	dtGap(t, "second probe after the first", reqs[threshold].At, reqs[threshold+1].At, probeTime+cooldown, probeTime+cooldown+dtSlack)
	dtGap(t, "third probe after the second", reqs[threshold+1].At, reqs[threshold+2].At, probeTime+cooldown, probeTime+cooldown+dtSlack)

	if f := fails.all(); len(f) != 0 {
		t.Errorf("%d deliveries failed; want none lost: %v", len(f), f[0].Err)
	}
	delivered, _ := e.Logs(context.Background(), webhook.LogQuery{Endpoint: "orders", Status: webhook.StatusDelivered})
	if len(delivered) != events {
		t.Errorf("%d deliveries delivered, want %d", len(delivered), events)
	}
	if got := dtByEvent(reqs); len(got) != events {
		t.Errorf("%d distinct events reached the receiver, want %d", len(got), events)
	}
	if s := statsOf(t, e).Endpoints["orders"].Circuit; s != webhook.CircuitClosed {
		t.Errorf("circuit %s after recovery, want closed", s)
	}
	if states.first(webhook.CircuitHalfOpen).IsZero() {
		t.Errorf("Stats never showed the probe (half-open); saw %s", states)
	}
	t.Logf("circuit states seen: %s", states)
}

// TestCircuitSingleProbe: with eight workers and eight deliveries, once
// the circuit is open only one probe at a time reaches the receiver, and
// nothing is lost.
func TestCircuitSingleProbe(t *testing.T) {
	t.Parallel()
	const (
		threshold = 3
		cooldown  = 800 * time.Millisecond
		grace     = 250 * time.Millisecond // for initial attempts admitted before the circuit opened
		probeTime = 100 * time.Millisecond
		events    = 8
	)
	var (
		mu       sync.Mutex
		arrivals []time.Time
		probes   []time.Time // requests after the first cooldown
		inFlight int
		maxProbe int // most probes in the handler at once
	)
	rc := newHookReceiver(t, func(w http.ResponseWriter, _ *http.Request, req hookRequest) {
		mu.Lock()
		arrivals = append(arrivals, req.At)
		n := len(arrivals)
		var third time.Time
		if n > threshold {
			s := append([]time.Time(nil), arrivals...)
			sort.Slice(s, func(i, j int) bool { return s[i].Before(s[j]) })
			third = s[threshold-1]
		}
		isProbePhase := !third.IsZero() && !req.At.Before(third.Add(cooldown))
		var fail bool
		if isProbePhase {
			probes = append(probes, req.At)
			fail = len(probes) <= 2 // the first two probes fail
			if fail {
				inFlight++
				maxProbe = max(maxProbe, inFlight)
			}
		} else {
			fail = true
		}
		mu.Unlock()
		if !fail {
			w.WriteHeader(http.StatusOK)
			return
		}
		if isProbePhase {
			time.Sleep(probeTime)
			mu.Lock()
			inFlight--
			mu.Unlock()
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	fails := newFailureLog()
	e := dtEmitter(t, webhook.Config{
		Workers:        events,
		Endpoints:      []webhook.Endpoint{dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 30, RetryDelay: 100 * time.Millisecond, NoJitter: true})},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: threshold, Cooldown: cooldown},
		OnFailure:      fails.record,
	})
	for i := range events {
		dtEmit(t, e, dtEvent("", map[string]any{"id": i}))
	}
	waitFor(t, 15*time.Second, "every event delivered", func() bool {
		logs, _ := e.Logs(context.Background(), webhook.LogQuery{Endpoint: "orders", Status: webhook.StatusDelivered})
		return len(logs) == events
	})
	dtClose(t, e)

	mu.Lock()
	defer mu.Unlock()
	sorted := append([]time.Time(nil), arrivals...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })
	third := sorted[threshold-1]
	for _, at := range sorted {
		if at.After(third.Add(grace)) && at.Before(third.Add(cooldown)) {
			t.Errorf("a request arrived %s after the circuit opened, inside the %s cooldown", at.Sub(third), cooldown)
		}
	}
	if len(probes) < 3 {
		t.Fatalf("%d requests after the cooldown, want at least the 3 probes", len(probes))
	}
	if maxProbe != 1 {
		t.Errorf("%d failing probes in flight at once, want 1", maxProbe)
	}
	// Each failing probe reopens the circuit: the next request waits a
	// full cooldown after its answer.
	dtGap(t, "second probe after the first", probes[0], probes[1], probeTime+cooldown, probeTime+cooldown+dtSlack)
	dtGap(t, "third probe after the second", probes[1], probes[2], probeTime+cooldown, probeTime+cooldown+dtSlack)
	if f := fails.all(); len(f) != 0 {
		t.Errorf("%d deliveries failed, want none lost", len(f))
	}
	if s := statsOf(t, e).Endpoints["orders"].Circuit; s != webhook.CircuitClosed {
		t.Errorf("circuit %s after recovery, want closed", s)
	}
}

// hcByCode answers each request with the "code" field of its object.
func hcByCode(w http.ResponseWriter, _ *http.Request, req hookRequest) {
	var p struct {
		Object struct {
			Code int `json:"code"`
		} `json:"object"`
	}
	if err := json.Unmarshal(req.Body, &p); err != nil || p.Object.Code == 0 {
		w.WriteHeader(http.StatusTeapot)
		return
	}
	w.WriteHeader(p.Object.Code)
}

// TestCircuitIgnores4xx: a 4xx shows the endpoint is alive: it neither
// counts towards the threshold nor lets a streak of 5xx continue.
func TestCircuitIgnores4xx(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, hcByCode)
	e := dtEmitter(t, webhook.Config{
		Workers:        1, // attempts in emission order
		Endpoints:      []webhook.Endpoint{dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 0})},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: 3, Cooldown: time.Minute},
	})
	codes := []int{400, 404, 401, 422, 400, 400, 503, 503, 404, 503, 503, 400}
	for i, c := range codes {
		dtEmit(t, e, dtEvent("", map[string]any{"id": i, "code": c}))
	}
	rc.wait(t, len(codes), 5*time.Second)
	waitFor(t, 5*time.Second, "every delivery finished", func() bool {
		st := statsOf(t, e)
		return st.Queued+st.InFlight == 0
	})
	if s := statsOf(t, e).Endpoints["orders"].Circuit; s != webhook.CircuitClosed {
		t.Fatalf("circuit %s after %v, want closed: 4xx answers must not open it", s, codes)
	}
	// Three down-looking failures in a row do open it.
	for i, c := range []int{503, 500, 429} {
		dtEmit(t, e, dtEvent("", map[string]any{"id": 100 + i, "code": c}))
	}
	rc.wait(t, len(codes)+3, 5*time.Second)
	waitFor(t, 5*time.Second, "the circuit to open after 503, 500, 429", func() bool {
		return statsOf(t, e).Endpoints["orders"].Circuit == webhook.CircuitOpen
	})
}

// TestMonitorAlertsOncePerStreak: AlertOnConsecutiveFailures 3 alerts
// once for a streak of ten failures, and once more for a new streak after
// a success. Every failed attempt counts, 4xx included.
func TestMonitorAlertsOncePerStreak(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, hcByCode)
	var (
		mu     sync.Mutex
		alerts []webhook.Alert
		atReq  []int // requests the receiver had seen at each alert
	)
	e := dtEmitter(t, webhook.Config{
		Workers:        1,
		Endpoints:      []webhook.Endpoint{dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 0})},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
		Monitor: webhook.Monitor{AlertOnConsecutiveFailures: 3, OnAlert: func(a webhook.Alert) {
			mu.Lock()
			alerts = append(alerts, a)
			atReq = append(atReq, rc.count())
			mu.Unlock()
		}},
	})
	var codes []int
	for range 10 {
		codes = append(codes, 500)
	}
	codes = append(codes, 200)
	codes = append(codes, 404, 400, 500, 404, 422, 503)
	for i, c := range codes {
		dtEmit(t, e, dtEvent("", map[string]any{"id": i, "code": c}))
	}
	rc.wait(t, len(codes), 5*time.Second)
	dtClose(t, e) // waits for the callbacks

	mu.Lock()
	defer mu.Unlock()
	if len(alerts) != 2 {
		t.Fatalf("%d alerts, want 2 (one per streak): %+v", len(alerts), alerts)
	}
	for i, a := range alerts {
		if a.Endpoint != "orders" || a.ConsecutiveFailures != 3 {
			t.Errorf("alert %d: %+v, want endpoint orders after 3 failures", i, a)
		}
		var de *webhook.DeliveryError
		if !errors.As(a.Err, &de) {
			t.Errorf("alert %d: Err %T %v, want a *webhook.DeliveryError", i, a.Err, a.Err)
		}
	}
	if atReq[0] != 3 || atReq[1] != 14 {
		t.Errorf("alerts after requests %v, want after the 3rd and the 14th", atReq)
	}
}
