package webhook_test

// End-to-end tests of the delivery path: the retry schedule, Retry-After,
// which answers are retried, redirects, 410 Gone, fresh signatures, network
// errors and timeouts, and OnFailure. Every receiver is an httptest server
// on 127.0.0.1. The helpers prefixed dt are shared by health_test.go,
// log_test.go and fault_test.go; the others are in helpers_test.go.
//
// Timing assertions use exact lower bounds (the library must never fire
// early) and generous upper bounds (the machine is shared and noisy).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

const dtSecret = "whsec_delivery_test"

// dtSlack is the generous upper bound added to every expected time.
const dtSlack = 1500 * time.Millisecond

// dtByEvent groups requests by X-Webhook-Event-Id, in arrival order.
func dtByEvent(reqs []hookRequest) map[string][]hookRequest {
	m := make(map[string][]hookRequest)
	for _, r := range reqs {
		m[r.eventID()] = append(m[r.eventID()], r)
	}
	return m
}

// dtEndpoint is an endpoint of rc with the test secret.
func dtEndpoint(name string, rc *hookReceiver, retry *webhook.RetryConfig) webhook.Endpoint {
	return webhook.Endpoint{Name: name, URL: rc.URL + "/hooks/" + name, Secret: dtSecret, Retry: retry}
}

// dtEmitter makes an Emitter with a quiet logger; it is closed when the
// test ends, before the receivers made earlier, and Close must not fail.
func dtEmitter(t testing.TB, cfg webhook.Config) *webhook.Emitter {
	t.Helper()
	e := newEmitter(t, cfg)
	t.Cleanup(func() { dtClose(t, e) })
	return e
}

// dtClose closes e, waiting up to 30 s.
func dtClose(t testing.TB, e *webhook.Emitter) {
	t.Helper()
	if err := closeWithin(e, 30*time.Second); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// dtEvent is a created event of model "test.Item" (or model, if set).
func dtEvent(model string, fields map[string]any) webhook.Event {
	if model == "" {
		model = "test.Item"
	}
	return webhook.Event{Type: webhook.Created, Model: model, Object: fields}
}

// dtEmit emits ev or fails the test.
func dtEmit(t testing.TB, e *webhook.Emitter, ev webhook.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Emit(ctx, ev); err != nil {
		t.Fatalf("Emit: %v", err)
	}
}

// dtLog returns the delivery log with the id, if any.
func dtLog(t testing.TB, e *webhook.Emitter, endpoint, id string) (webhook.DeliveryLog, bool) {
	t.Helper()
	logs, err := e.Logs(context.Background(), webhook.LogQuery{Endpoint: endpoint, Limit: 10000})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	for _, l := range logs {
		if l.ID == id {
			return l, true
		}
	}
	return webhook.DeliveryLog{}, false
}

// dtGap asserts lo ≤ b−a ≤ hi.
func dtGap(t testing.TB, what string, a, b time.Time, lo, hi time.Duration) {
	t.Helper()
	gap := b.Sub(a)
	if gap < lo {
		t.Errorf("%s: %s, want at least %s (fired early)", what, gap, lo)
	}
	if gap > hi {
		t.Errorf("%s: %s, want at most %s", what, gap, hi)
	}
}

// TestRetryScheduleTiming: MaxRetries 2, RetryDelay 400 ms, factor 2,
// no jitter, a receiver that always answers 500: attempts arrive at 0,
// ≥ 400 ms and ≥ 1200 ms, and the delivery then fails.
func TestRetryScheduleTiming(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, answerStatus(http.StatusInternalServerError))
	fails := newFailureLog()
	e := dtEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc,
			&webhook.RetryConfig{MaxRetries: 2, RetryDelay: 400 * time.Millisecond, BackoffFactor: 2, NoJitter: true})},
		OnFailure: fails.record,
	})
	dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
	f := fails.next(t, 10*time.Second)
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3 (1 + MaxRetries 2)", len(reqs))
	}
	t0 := reqs[0].At
	dtGap(t, "first retry after first attempt", t0, reqs[1].At, 400*time.Millisecond, 400*time.Millisecond+dtSlack)
	dtGap(t, "second retry after first attempt", t0, reqs[2].At, 1200*time.Millisecond, 1200*time.Millisecond+dtSlack)
	dtGap(t, "second retry after first retry", reqs[1].At, reqs[2].At, 800*time.Millisecond, 800*time.Millisecond+dtSlack)
	if f.Attempts != 3 || f.StatusCode != http.StatusInternalServerError {
		t.Errorf("Failure: attempts %d status %d, want 3 and 500", f.Attempts, f.StatusCode)
	}
}

// TestRetryScheduleJitter: with jitter on, each delay stays within
// [0.8, 1.2]× the nominal one (lower bound exact, upper bound generous).
func TestRetryScheduleJitter(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, answerStatus(http.StatusServiceUnavailable))
	fails := newFailureLog()
	const events = 5
	e := dtEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc,
			&webhook.RetryConfig{MaxRetries: 2, RetryDelay: 300 * time.Millisecond, BackoffFactor: 2})},
		OnFailure:      fails.record,
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
	})
	for i := range events {
		dtEmit(t, e, dtEvent("", map[string]any{"id": i}))
	}
	for range events {
		fails.next(t, 10*time.Second)
	}
	byEvent := dtByEvent(rc.requests())
	if len(byEvent) != events {
		t.Fatalf("receiver got %d events, want %d", len(byEvent), events)
	}
	for id, reqs := range byEvent {
		if len(reqs) != 3 {
			t.Errorf("event %s: %d attempts, want 3", id, len(reqs))
			continue
		}
		for i, nominal := range []time.Duration{300 * time.Millisecond, 600 * time.Millisecond} {
			lo := time.Duration(0.8 * float64(nominal))
			hi := time.Duration(1.2*float64(nominal)) + dtSlack
			dtGap(t, fmt.Sprintf("event %s: delay %d (nominal %s)", id, i+1, nominal), reqs[i].At, reqs[i+1].At, lo, hi)
		}
	}
}

// TestRetryDoesNotHoldWorker: with a single worker, a retry due in 2 s
// for endpoint A does not keep B's 20 events waiting.
func TestRetryDoesNotHoldWorker(t *testing.T) {
	t.Parallel()
	const retryDelay = 2 * time.Second
	a := newHookReceiver(t, answerStatus(http.StatusServiceUnavailable))
	b := newHookReceiver(t, nil)
	epA := dtEndpoint("a", a, &webhook.RetryConfig{MaxRetries: 1, RetryDelay: retryDelay, NoJitter: true})
	epA.IncludeModels = []string{"test.A"}
	epB := dtEndpoint("b", b, nil)
	epB.IncludeModels = []string{"test.B"}
	e := dtEmitter(t, webhook.Config{Workers: 1, Endpoints: []webhook.Endpoint{epA, epB}})

	dtEmit(t, e, dtEvent("test.A", map[string]any{"id": "a"}))
	first := a.wait(t, 1, 5*time.Second)[0]
	for i := range 20 {
		dtEmit(t, e, dtEvent("test.B", map[string]any{"id": i}))
	}
	bReqs := b.wait(t, 20, 10*time.Second)
	last := bReqs[19].At
	aReqs := a.wait(t, 2, 10*time.Second)

	if !last.Before(first.At.Add(retryDelay)) {
		t.Errorf("B's 20th delivery arrived %s after A's first attempt, at or after A's retry was due (%s): a worker slept through the delay",
			last.Sub(first.At), retryDelay)
	}
	if !last.Before(aReqs[1].At) {
		t.Errorf("B's 20th delivery arrived after A's retry")
	}
	dtGap(t, "A's retry", first.At, aReqs[1].At, retryDelay, retryDelay+dtSlack)
	t.Logf("B's 20 deliveries done %s after A's first failure; A retried after %s",
		last.Sub(first.At).Round(time.Millisecond), aReqs[1].At.Sub(first.At).Round(time.Millisecond))
}

// TestRetryAfter: a Retry-After on 503 or 429 is a floor for the next
// delay, in seconds or as an HTTP date, capped by MaxDelay.
func TestRetryAfter(t *testing.T) {
	t.Parallel()

	// firstThenOK answers the first request with code and the header, then 200.
	firstThenOK := func(code int, header func() string) func(http.ResponseWriter, *http.Request, hookRequest) {
		return func(w http.ResponseWriter, _ *http.Request, req hookRequest) {
			if req.N == 1 {
				w.Header().Set("Retry-After", header())
				w.WriteHeader(code)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
	}
	run := func(t *testing.T, respond func(http.ResponseWriter, *http.Request, hookRequest), retry *webhook.RetryConfig) [2]hookRequest {
		rc := newHookReceiver(t, respond)
		fails := newFailureLog()
		e := dtEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc, retry)}, OnFailure: fails.record})
		dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
		reqs := rc.wait(t, 2, 10*time.Second)
		dtClose(t, e)
		if f := fails.all(); len(f) != 0 {
			t.Errorf("OnFailure called: %v", f[0].Err)
		}
		if n := rc.count(); n != 2 {
			t.Errorf("receiver got %d requests, want 2", n)
		}
		return [2]hookRequest{reqs[0], reqs[1]}
	}

	t.Run("503 seconds", func(t *testing.T) {
		t.Parallel()
		reqs := run(t, firstThenOK(http.StatusServiceUnavailable, func() string { return "1" }),
			&webhook.RetryConfig{MaxRetries: 3, RetryDelay: 50 * time.Millisecond})
		dtGap(t, "retry after Retry-After: 1", reqs[0].At, reqs[1].At, time.Second, time.Second+dtSlack)
	})

	t.Run("429 HTTP date", func(t *testing.T) {
		t.Parallel()
		var date time.Time
		reqs := run(t, firstThenOK(http.StatusTooManyRequests, func() string {
			// Whole seconds: 1 to 2 s from now.
			date = time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
			return date.Format(http.TimeFormat)
		}), &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 50 * time.Millisecond})
		if reqs[1].At.Before(date) {
			t.Errorf("retry at %s, before the Retry-After date %s", reqs[1].At.UTC().Format(time.StampMilli), date.Format(time.StampMilli))
		}
		if late := reqs[1].At.Sub(date); late > dtSlack {
			t.Errorf("retry %s after the Retry-After date, want at most %s", late, dtSlack)
		}
		if gap := reqs[1].At.Sub(reqs[0].At); gap < 900*time.Millisecond {
			t.Errorf("retry %s after the 429, want about 1–2 s", gap)
		}
	})

	t.Run("capped by MaxDelay", func(t *testing.T) {
		t.Parallel()
		reqs := run(t, firstThenOK(http.StatusServiceUnavailable, func() string { return "3600" }),
			&webhook.RetryConfig{MaxRetries: 3, RetryDelay: 50 * time.Millisecond, MaxDelay: 300 * time.Millisecond})
		dtGap(t, "retry after Retry-After: 3600 with MaxDelay 300ms", reqs[0].At, reqs[1].At, 300*time.Millisecond, 300*time.Millisecond+dtSlack)
	})
}

// TestNoRetryOnClientError: a 4xx that is not listed fails the delivery
// after one attempt, at once, with its status in OnFailure.
func TestNoRetryOnClientError(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			rc := newHookReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ hookRequest) {
				http.Error(w, "no such thing", code)
			})
			fails := newFailureLog()
			e := dtEmitter(t, webhook.Config{
				Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 5, RetryDelay: 20 * time.Millisecond})},
				OnFailure: fails.record,
			})
			dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
			f := fails.next(t, 5*time.Second)
			first := rc.requests()[0]
			if d := time.Since(first.At); d > time.Second+dtSlack {
				t.Errorf("OnFailure came %s after the only attempt, want at once", d)
			}
			dtClose(t, e)
			if n := rc.count(); n != 1 {
				t.Errorf("receiver got %d requests, want 1 (no retry on %d)", n, code)
			}
			if f.StatusCode != code || f.Attempts != 1 {
				t.Errorf("Failure: status %d attempts %d, want %d and 1", f.StatusCode, f.Attempts, code)
			}
			var de *webhook.DeliveryError
			if !errors.As(f.Err, &de) {
				t.Fatalf("Failure.Err %T %v: not a *webhook.DeliveryError", f.Err, f.Err)
			}
			if de.StatusCode != code || de.Attempt != 1 || de.Endpoint != "orders" || de.EventID != f.EventID {
				t.Errorf("DeliveryError %+v, want status %d attempt 1 endpoint orders event %s", de, code, f.EventID)
			}
			if l, ok := dtLog(t, e, "orders", f.DeliveryID); !ok || l.Status != webhook.StatusFailed || l.StatusCode != code || l.Attempts != 1 {
				t.Errorf("log %+v, want failed with status %d after 1 attempt", l, code)
			}
		})
	}
}

// TestRedirectNotFollowed: a 3xx is a failed attempt; the Location is
// never requested, so the signature goes nowhere else.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			rc := newHookReceiver(t, func(w http.ResponseWriter, r *http.Request, req hookRequest) {
				if req.Path == "/elsewhere" {
					w.WriteHeader(http.StatusOK)
					return
				}
				http.Redirect(w, r, "/elsewhere", code)
			})
			fails := newFailureLog()
			e := dtEmitter(t, webhook.Config{
				Endpoints: []webhook.Endpoint{dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 20 * time.Millisecond})},
				OnFailure: fails.record,
			})
			dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
			f := fails.next(t, 5*time.Second)
			dtClose(t, e)
			for _, r := range rc.requests() {
				if r.Path == "/elsewhere" {
					t.Fatalf("the redirect was followed: %s got a request (signature %q)", r.Path, r.Header.Get(webhook.HeaderSignature))
				}
			}
			if n := rc.count(); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
			if f.StatusCode != code || !errors.Is(f.Err, webhook.ErrRedirect) {
				t.Errorf("Failure: status %d err %v, want %d and ErrRedirect", f.StatusCode, f.Err, code)
			}
		})
	}
}

// TestGoneDisablesEndpoint: a 410 disables the endpoint until
// EnableEndpoint; meanwhile its events are not sent to it.
func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	gone := newHookReceiver(t, answerStatus(http.StatusGone, http.StatusOK))
	other := newHookReceiver(t, nil)
	fails := newFailureLog()
	e := dtEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{
			dtEndpoint("gone", gone, &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 20 * time.Millisecond, RetryOnStatus: []int{410, 500}}),
			dtEndpoint("other", other, nil),
		},
		OnFailure: fails.record,
	})
	dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
	f := fails.next(t, 5*time.Second)
	if f.Endpoint != "gone" || f.StatusCode != http.StatusGone || f.Attempts != 1 || !errors.Is(f.Err, webhook.ErrEndpointGone) {
		t.Errorf("Failure %+v, want endpoint gone, status 410 after 1 attempt (even though 410 is in RetryOnStatus), ErrEndpointGone", f)
	}
	st := statsOf(t, e).Endpoints
	if !st["gone"].Disabled || st["other"].Disabled {
		t.Fatalf("Stats: gone disabled %v, other disabled %v; want true, false", st["gone"].Disabled, st["other"].Disabled)
	}

	dtEmit(t, e, dtEvent("", map[string]any{"id": 2}))
	dtEmit(t, e, dtEvent("", map[string]any{"id": 3}))
	other.wait(t, 3, 5*time.Second)
	if logs, _ := e.Logs(context.Background(), webhook.LogQuery{Endpoint: "gone"}); len(logs) != 1 {
		t.Errorf("%d delivery logs for the disabled endpoint, want 1 (later events are not queued for it)", len(logs))
	}
	if n := gone.count(); n != 1 {
		t.Errorf("disabled endpoint got %d requests, want 1", n)
	}

	if _, err := e.Redeliver(context.Background(), f.DeliveryID); !errors.Is(err, webhook.ErrEndpointGone) {
		t.Errorf("Redeliver while the endpoint is disabled: %v, want ErrEndpointGone", err)
	}

	if err := e.EnableEndpoint(context.Background(), "gone"); err != nil {
		t.Fatalf("EnableEndpoint: %v", err)
	}
	if statsOf(t, e).Endpoints["gone"].Disabled {
		t.Error("Stats: still disabled after EnableEndpoint")
	}
	dtEmit(t, e, dtEvent("", map[string]any{"id": 4}))
	reqs := gone.wait(t, 2, 5*time.Second)
	if !bytes.Contains(reqs[1].Body, []byte(`"id":4`)) {
		t.Errorf("re-enabled endpoint got %s, want the event emitted after EnableEndpoint", reqs[1].Body)
	}
	// The delivery the 410 failed can now be sent again.
	if _, err := e.Redeliver(context.Background(), f.DeliveryID); err != nil {
		t.Errorf("Redeliver after EnableEndpoint: %v", err)
	}
	reqs = gone.wait(t, 3, 5*time.Second)
	dtClose(t, e)
	if n := gone.count(); n != 3 {
		t.Errorf("re-enabled endpoint got %d requests, want 3", n)
	}
	if reqs[2].eventID() != f.EventID {
		t.Errorf("redelivery carried event %s, want %s", reqs[2].eventID(), f.EventID)
	}
	if len(fails.all()) != 1 {
		t.Errorf("%d OnFailure calls, want 1", len(fails.all()))
	}
	if err := e.EnableEndpoint(context.Background(), "nope"); err == nil {
		t.Error("EnableEndpoint of an unknown endpoint: nil error")
	}
}

// TestFreshSignatureSameEventID: each attempt is signed anew with the
// current time; the event id and body are the same on every attempt, and
// the body is fixed at Emit.
func TestFreshSignatureSameEventID(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, answerStatus(http.StatusInternalServerError, http.StatusOK))
	e := dtEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{
		dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 1100 * time.Millisecond, NoJitter: true}),
	}})
	obj := map[string]any{"id": 1, "name": "original"}
	dtEmit(t, e, dtEvent("", obj))
	obj["name"] = "changed after Emit" // must not reach the body
	reqs := rc.wait(t, 2, 10*time.Second)

	var ts [2]int64
	for i, r := range reqs[:2] {
		if err := webhook.Verify(dtSecret, r.Header, r.Body); err != nil {
			t.Errorf("attempt %d does not verify: %v", i+1, err)
		}
		var err error
		if ts[i], err = strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64); err != nil {
			t.Fatalf("attempt %d: %s %q: %v", i+1, webhook.HeaderTimestamp, r.Header.Get(webhook.HeaderTimestamp), err)
		}
		if d := r.At.Unix() - ts[i]; d < -1 || d > 2 {
			t.Errorf("attempt %d: timestamp %d is %ds from the time it arrived", i+1, ts[i], d)
		}
		var p struct {
			ID     string         `json:"id"`
			Object map[string]any `json:"object"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("attempt %d body: %v", i+1, err)
		}
		if p.ID != r.eventID() || !strings.HasPrefix(p.ID, "evt_") {
			t.Errorf("attempt %d: %s %q, body id %q", i+1, webhook.HeaderEventID, r.eventID(), p.ID)
		}
		if p.Object["name"] != "original" {
			t.Errorf("attempt %d: name %v, want the value at Emit", i+1, p.Object["name"])
		}
	}
	if ts[1] <= ts[0] {
		t.Errorf("timestamps %d then %d: the retry 1.1 s later must be signed with a later time", ts[0], ts[1])
	}
	if reqs[0].Header.Get(webhook.HeaderSignature) == reqs[1].Header.Get(webhook.HeaderSignature) {
		t.Error("both attempts carry the same signature")
	}
	if reqs[0].eventID() != reqs[1].eventID() {
		t.Errorf("event id %q then %q: must be the same on every attempt", reqs[0].eventID(), reqs[1].eventID())
	}
	if !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Errorf("bodies differ between attempts:\n%s\n%s", reqs[0].Body, reqs[1].Body)
	}
}

// TestTimeoutRetried: an attempt the receiver does not answer within
// Endpoint.Timeout is retried, and the next one delivers.
func TestTimeoutRetried(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	rc := newHookReceiver(t, func(w http.ResponseWriter, r *http.Request, req hookRequest) {
		if req.N == 1 {
			select { // hang until the sender gives up (bounded)
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	fails := newFailureLog()
	ep := dtEndpoint("orders", rc, &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 50 * time.Millisecond, NoJitter: true})
	ep.Timeout = timeout
	e := dtEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{ep}, OnFailure: fails.record})
	dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
	reqs := rc.wait(t, 2, 10*time.Second)
	dtClose(t, e)
	dtGap(t, "retry after the timed-out attempt", reqs[0].At, reqs[1].At, timeout, timeout+50*time.Millisecond+dtSlack)
	if f := fails.all(); len(f) != 0 {
		t.Fatalf("OnFailure: %v", f[0].Err)
	}
	logs, _ := e.Logs(context.Background(), webhook.LogQuery{Endpoint: "orders"})
	// Normally 2 attempts; on a loaded machine the prompt answer may miss
	// the 200 ms timeout too, and a third attempt delivers.
	if len(logs) != 1 || logs[0].Status != webhook.StatusDelivered || logs[0].Attempts < 2 || logs[0].StatusCode != 200 {
		t.Fatalf("logs %+v, want one delivered on a later attempt", logs)
	}
}

// TestConnectionRefusedRetried: a closed port is retried, then failed
// with a *DeliveryError without status.
func TestConnectionRefusedRetried(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	fails := newFailureLog()
	e := dtEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "closed", URL: "http://" + addr + "/hook", Secret: dtSecret,
			Retry: &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 20 * time.Millisecond}}},
		OnFailure: fails.record,
	})
	dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
	f := fails.next(t, 10*time.Second)
	if f.Attempts != 3 || f.StatusCode != 0 || f.Endpoint != "closed" {
		t.Errorf("Failure: endpoint %q attempts %d status %d, want closed, 3 and 0", f.Endpoint, f.Attempts, f.StatusCode)
	}
	var de *webhook.DeliveryError
	if !errors.As(f.Err, &de) {
		t.Fatalf("Failure.Err %T %v: not a *webhook.DeliveryError", f.Err, f.Err)
	}
	if de.StatusCode != 0 || de.Attempt != 3 || de.Err == nil {
		t.Errorf("DeliveryError %+v: want StatusCode 0, Attempt 3 and the network error", de)
	}
	if !errors.Is(f.Err, syscall.ECONNREFUSED) {
		t.Errorf("Failure.Err %v does not wrap ECONNREFUSED", f.Err)
	}
	l, ok := dtLog(t, e, "closed", f.DeliveryID)
	if !ok || l.Status != webhook.StatusFailed || l.StatusCode != 0 || l.Attempts != 3 || l.ErrorMessage == "" || l.CompletedAt == nil {
		t.Errorf("log %+v, want failed, status 0, 3 attempts, an error message and completed_at", l)
	}
}

// TestOnFailureOncePerDelivery: every given-up delivery is reported
// exactly once, with everything needed to act on it.
func TestOnFailureOncePerDelivery(t *testing.T) {
	t.Parallel()
	bad := newHookReceiver(t, answerStatus(http.StatusInternalServerError))
	good := newHookReceiver(t, nil)
	fails := newFailureLog()
	const events = 6
	e := dtEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{
			dtEndpoint("bad", bad, &webhook.RetryConfig{MaxRetries: 1, RetryDelay: 10 * time.Millisecond}),
			dtEndpoint("good", good, nil),
		},
		OnFailure:      fails.record,
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
	})
	for i := range events {
		dtEmit(t, e, dtEvent("", map[string]any{"id": i}))
	}
	dtClose(t, e)

	got := fails.all()
	if len(got) != events {
		t.Fatalf("%d OnFailure calls, want %d (one per failed delivery)", len(got), events)
	}
	sent := dtByEvent(bad.requests())
	if len(good.requests()) != events {
		t.Errorf("good endpoint got %d requests, want %d", len(good.requests()), events)
	}
	failedLogs, _ := e.Logs(context.Background(), webhook.LogQuery{Endpoint: "bad", Status: webhook.StatusFailed})
	logByID := make(map[string]webhook.DeliveryLog)
	for _, l := range failedLogs {
		logByID[l.ID] = l
	}
	seenEvent := make(map[string]bool)
	seenDelivery := make(map[string]bool)
	for _, f := range got {
		if f.Endpoint != "bad" {
			t.Errorf("Failure for endpoint %q", f.Endpoint)
		}
		if seenEvent[f.EventID] || seenDelivery[f.DeliveryID] {
			t.Errorf("event %s / delivery %s reported twice", f.EventID, f.DeliveryID)
		}
		seenEvent[f.EventID], seenDelivery[f.DeliveryID] = true, true
		reqs := sent[f.EventID]
		if len(reqs) != 2 {
			t.Errorf("event %q: receiver got %d attempts, want 2", f.EventID, len(reqs))
			continue
		}
		if !bytes.Equal(f.Body, reqs[0].Body) {
			t.Errorf("Failure.Body %s, want the body sent %s", f.Body, reqs[0].Body)
		}
		if f.Attempts != 2 || f.StatusCode != http.StatusInternalServerError {
			t.Errorf("Failure: attempts %d status %d, want 2 and 500", f.Attempts, f.StatusCode)
		}
		if !strings.HasPrefix(f.DeliveryID, "dlv_") {
			t.Errorf("DeliveryID %q", f.DeliveryID)
		}
		if l, ok := logByID[f.DeliveryID]; !ok || l.EventID != f.EventID || l.Attempts != 2 {
			t.Errorf("no failed log %s for event %s after 2 attempts (%+v)", f.DeliveryID, f.EventID, l)
		}
		var de *webhook.DeliveryError
		if !errors.As(f.Err, &de) {
			t.Errorf("Failure.Err %T %v: not a *webhook.DeliveryError", f.Err, f.Err)
			continue
		}
		if de.Endpoint != "bad" || de.EventID != f.EventID || de.Attempt != 2 || de.StatusCode != http.StatusInternalServerError {
			t.Errorf("DeliveryError %+v", de)
		}
		if msg := de.Error(); !strings.HasPrefix(msg, "webhook: ") || !strings.Contains(msg, "500") {
			t.Errorf("DeliveryError message %q", msg)
		}
	}
}

// TestLastAnswerKept: an attempt without an answer does not erase the last
// answer there was. A delivery answered 503 ("busy") and then timed out,
// or closed out by Close while its retry waited, reports 503 and "busy" in
// its Failure and its DeliveryLog; the DeliveryError is the last attempt's.
func TestLastAnswerKept(t *testing.T) {
	t.Parallel()
	busy := func(w http.ResponseWriter, r *http.Request, req hookRequest) {
		if req.N == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		select { // past the attempt's timeout, then give up by itself
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	check := func(t *testing.T, e *webhook.Emitter, f webhook.Failure, attempts int) {
		t.Helper()
		if f.StatusCode != http.StatusServiceUnavailable || f.Attempts != attempts {
			t.Errorf("Failure: status %d attempts %d, want 503 and %d", f.StatusCode, f.Attempts, attempts)
		}
		l, ok := dtLog(t, e, f.Endpoint, f.DeliveryID)
		if !ok || l.Status != webhook.StatusFailed || l.StatusCode != http.StatusServiceUnavailable || !strings.Contains(l.ResponseBody, "busy") {
			t.Errorf("DeliveryLog %+v (found %v): want failed, 503 and the body \"busy\"", l, ok)
		}
	}

	for _, tc := range []struct {
		name  string
		store webhook.LogStore
	}{
		{"timeout after 503", nil},
		// The Emitter keeps the answer: the store need not read it back.
		{"timeout after 503, a LogStore that does not read back", writeOnlyLogs{webhook.NewMemoryLogStore(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := newHookReceiver(t, busy)
			fails := newFailureLog()
			e := dtEmitter(t, webhook.Config{
				Timeout:   200 * time.Millisecond,
				Endpoints: []webhook.Endpoint{dtEndpoint("slow", rc, &webhook.RetryConfig{MaxRetries: 1, RetryDelay: 10 * time.Millisecond, NoJitter: true})},
				LogStore:  tc.store,
				OnFailure: fails.record,
			})
			dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
			f := fails.next(t, 10*time.Second)
			check(t, e, f, 2)
			var de *webhook.DeliveryError
			if !errors.As(f.Err, &de) || de.StatusCode != 0 || de.Attempt != 2 {
				t.Errorf("Failure.Err %v: want the second attempt's *DeliveryError, without status", f.Err)
			}
		})
	}

	t.Run("Close gives up during the retry wait", func(t *testing.T) {
		t.Parallel()
		rc := newHookReceiver(t, busy)
		fails := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Endpoints: []webhook.Endpoint{dtEndpoint("waiting", rc, &webhook.RetryConfig{MaxRetries: 3, RetryDelay: time.Hour, MaxDelay: time.Hour})},
			OnFailure: fails.record,
		})
		dtEmit(t, e, dtEvent("", map[string]any{"id": 1}))
		waitFor(t, 10*time.Second, "a retry scheduled", func() bool {
			logs, err := e.Logs(context.Background(), webhook.LogQuery{Status: webhook.StatusRetrying})
			return err == nil && len(logs) == 1
		})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v, want it to give up", err)
		}
		f := fails.next(t, time.Second)
		if !errors.Is(f.Err, webhook.ErrClosed) {
			t.Errorf("Failure.Err %v: want ErrClosed", f.Err)
		}
		check(t, e, f, 1)
	})
}

// writeOnlyLogs is a LogStore that ships logs elsewhere: Get finds none.
type writeOnlyLogs struct{ *webhook.MemoryLogStore }

func (writeOnlyLogs) Get(context.Context, string) (webhook.DeliveryLog, error) {
	return webhook.DeliveryLog{}, webhook.ErrLogNotFound
}
