package webhook_test

// The receiving side: Receiver's middleware verifies, bounds and
// deduplicates, driven by real signed requests from an Emitter and by
// hand-built ones for the error cases; MemoryDedup on a fixed clock.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

const (
	rcvSecret = "receiver_secret_123"
	rcvLimit  = 1024
)

// rcvNext is the application's handler behind the middleware. It records
// every call; answer decides the status (nil: 200).
type rcvNext struct {
	answer func(call int, r *http.Request) int

	calls atomic.Int32
	mu    sync.Mutex
	reqs  []rcvSeen
}

type rcvSeen struct {
	Body    []byte
	EventID string
}

func (n *rcvNext) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := int(n.calls.Add(1))
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(err)
	}
	n.mu.Lock()
	n.reqs = append(n.reqs, rcvSeen{Body: body, EventID: r.Header.Get(webhook.HeaderEventID)})
	n.mu.Unlock()
	status := http.StatusOK
	if n.answer != nil {
		status = n.answer(call, r)
	}
	w.WriteHeader(status)
}

// rcvFirstCall is a next whose first call answers what first returns,
// and every later call 200.
func rcvFirstCall(first func() int) *rcvNext {
	return &rcvNext{answer: func(call int, _ *http.Request) int {
		if call == 1 {
			return first()
		}
		return http.StatusOK
	}}
}

func (n *rcvNext) seen() []rcvSeen {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]rcvSeen(nil), n.reqs...)
}

// rcvCapture is a request as it reached the receiver.
type rcvCapture struct {
	Header http.Header
	Body   []byte
	Status int
}

// rcvServer is an httptest server running Receiver's middleware around
// next; it records every request and the middleware's answer.
type rcvServer struct {
	*httptest.Server
	mu  sync.Mutex
	got []rcvCapture
}

func newRcvServer(t *testing.T, rc *webhook.Receiver, next http.Handler) *rcvServer {
	t.Helper()
	s := &rcvServer{}
	h := rc.Middleware(next)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &rcvStatus{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		s.got = append(s.got, rcvCapture{Header: r.Header.Clone(), Body: body, Status: rec.code})
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *rcvServer) captures() []rcvCapture {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rcvCapture(nil), s.got...)
}

type rcvStatus struct {
	http.ResponseWriter
	code int
}

func (s *rcvStatus) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *rcvStatus) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// rcvPost sends a request to url and returns the answer's status and headers.
func rcvPost(t *testing.T, url string, h http.Header, body []byte) (int, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// rcvPostSigned sends body, signed now with rcvSecret as event eventID, to
// url and returns the answer's status and headers.
func rcvPostSigned(t *testing.T, url, eventID string, body []byte) (int, http.Header) {
	t.Helper()
	return rcvPost(t, url, seedHeader(rcvSecret, eventID, time.Now().Unix(), body), body)
}

// rcvDedup is a Receiver that verifies with rcvSecret and deduplicates in
// a fresh MemoryDedup.
func rcvDedup() *webhook.Receiver {
	return &webhook.Receiver{
		Verifier: webhook.Verifier{Secrets: []string{rcvSecret}},
		Dedup:    webhook.NewMemoryDedup(webhook.MemoryDedupConfig{}),
	}
}

func rcvBody(id string) []byte {
	return []byte(`{"id":"` + id + `","event":"created","timestamp":"2026-01-16T12:00:00Z","model":{"app":"store","name":"Order","label":"store.Order"},"object":{"id":1},"changes":null,"user":null}`)
}

// rcvNow is the receiver's fixed clock in the hand-built tests.
var rcvNow = time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)

func TestReceiverAnswers(t *testing.T) {
	t.Parallel()
	now := rcvNow.Unix()
	body := rcvBody("evt_1")
	big := append(rcvBody("evt_big"), bytes.Repeat([]byte(" "), rcvLimit)...)
	exact := append(rcvBody("evt_exact"), bytes.Repeat([]byte(" "), rcvLimit-len(rcvBody("evt_exact")))...)
	with := func(h http.Header, key, value string) http.Header {
		h = h.Clone()
		if value == "" {
			h.Del(key)
		} else {
			h.Set(key, value)
		}
		return h
	}
	valid := seedHeader(rcvSecret, "evt_1", now, body)
	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
		want   int
		next   bool // next is called
	}{
		{"valid", valid, body, http.StatusOK, true},
		{"over MaxBodyBytes", seedHeader(rcvSecret, "evt_big", now, big), big, http.StatusRequestEntityTooLarge, false},
		{"exactly MaxBodyBytes", seedHeader(rcvSecret, "evt_exact", now, exact), exact, http.StatusOK, true},
		{"malformed signature", with(valid, webhook.HeaderSignature, "sha256=zz"), body, http.StatusBadRequest, false},
		{"signature without prefix", with(valid, webhook.HeaderSignature, strings.TrimPrefix(valid.Get(webhook.HeaderSignature), "sha256=")), body, http.StatusBadRequest, false},
		{"malformed timestamp", with(valid, webhook.HeaderTimestamp, "yesterday"), body, http.StatusBadRequest, false},
		{"missing signature", with(valid, webhook.HeaderSignature, ""), body, http.StatusUnauthorized, false},
		{"missing timestamp", with(valid, webhook.HeaderTimestamp, ""), body, http.StatusUnauthorized, false},
		{"wrong secret", seedHeader("another_secret", "evt_1", now, body), body, http.StatusUnauthorized, false},
		{"altered body", valid, bytes.Replace(body, []byte(`"id":1`), []byte(`"id":2`), 1), http.StatusUnauthorized, false},
		{"timestamp of another signature", with(valid, webhook.HeaderTimestamp, strconv.FormatInt(now-1, 10)), body, http.StatusUnauthorized, false},
		{"stale replay", seedHeader(rcvSecret, "evt_1", now-int64(6*time.Minute/time.Second), body), body, http.StatusUnauthorized, false},
		{"from the future", seedHeader(rcvSecret, "evt_1", now+int64(6*time.Minute/time.Second), body), body, http.StatusUnauthorized, false},
		{"within tolerance", seedHeader(rcvSecret, "evt_1", now-int64(4*time.Minute/time.Second), body), body, http.StatusOK, true},
		{"without event id (not signed, not needed)", seedHeader(rcvSecret, "", now, body), body, http.StatusOK, true},
		{"signature header too large", with(valid, webhook.HeaderSignature, valid.Get(webhook.HeaderSignature)+strings.Repeat(" sha256="+strings.Repeat("0", 64), webhook.MaxSignatureHeaderBytes/71)), body, http.StatusBadRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := &rcvNext{}
			rc := rcvDedup()
			rc.Verifier.Now = func() time.Time { return rcvNow }
			rc.MaxBodyBytes = rcvLimit
			srv := newRcvServer(t, rc, next)
			status, _ := rcvPost(t, srv.URL, tc.header, tc.body)
			if status != tc.want {
				t.Errorf("status %d, want %d", status, tc.want)
			}
			if called := next.calls.Load() > 0; called != tc.next {
				t.Errorf("next called: %v, want %v", called, tc.next)
			}
			if tc.next {
				if seen := next.seen(); len(seen) != 1 || !bytes.Equal(seen[0].Body, tc.body) {
					t.Errorf("next got %q, want the exact body", seen)
				}
			}
		})
	}
}

// A rejected request claims nothing: the genuine one that follows is
// processed.
func TestReceiverRejectionDoesNotClaim(t *testing.T) {
	t.Parallel()
	next := &rcvNext{}
	srv := newRcvServer(t, rcvDedup(), next)
	body := rcvBody("evt_forged")
	now := time.Now().Unix()
	if status, _ := rcvPost(t, srv.URL, seedHeader("forger", "evt_forged", now, body), body); status != http.StatusUnauthorized {
		t.Fatalf("forged: status %d, want 401", status)
	}
	if status, _ := rcvPost(t, srv.URL, seedHeader(rcvSecret, "evt_forged", now, body), body); status != http.StatusOK {
		t.Fatalf("genuine: status %d, want 200", status)
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
}

// rcvEmitter returns a Sync Emitter with one endpoint at url.
func rcvEmitter(t *testing.T, url string, mod func(*webhook.Config)) *webhook.Emitter {
	cfg := webhook.Config{
		Sync:      true,
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{{Name: "receiver", URL: url + "/webhooks/", Secret: rcvSecret}},
	}
	if mod != nil {
		mod(&cfg)
	}
	return newEmitter(t, cfg)
}

func TestReceiverWithEmitterDeduplicates(t *testing.T) {
	t.Parallel()
	next := &rcvNext{}
	srv := newRcvServer(t, rcvDedup(), next)
	e := rcvEmitter(t, srv.URL, nil)
	ctx := testCtx(t, 20*time.Second)

	// First delivery: next gets the exact body once.
	if err := e.Emit(ctx, oauthEvent(1)); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	logs, _ := e.Logs(ctx, webhook.LogQuery{})
	if len(logs) != 1 || logs[0].Status != webhook.StatusDelivered {
		t.Fatalf("logs = %+v, want one delivered", logs)
	}
	seen := next.seen()
	if len(seen) != 1 || !bytes.Equal(seen[0].Body, logs[0].Payload) || seen[0].EventID != logs[0].EventID {
		t.Fatalf("next saw %q, want once the body %s of event %s", seen, logs[0].Payload, logs[0].EventID)
	}

	// The same event again, as a redelivery: 200 without next.
	if _, err := e.Redeliver(ctx, logs[0].ID); err != nil {
		t.Fatalf("Redeliver = %v, want delivered (a duplicate is answered 200)", err)
	}
	// The captured request replayed with a fresh signature: 200 without next.
	caps := srv.captures()
	first := caps[0]
	h := seedHeader(rcvSecret, first.Header.Get(webhook.HeaderEventID), time.Now().Unix(), first.Body)
	if status, _ := rcvPost(t, srv.URL, h, first.Body); status != http.StatusOK {
		t.Errorf("replay: status %d, want 200", status)
	}
	// The event emitted again with its id (an outbox re-emitting it).
	ev := oauthEvent(1)
	ev.ID = logs[0].EventID
	if err := e.Emit(ctx, ev); err != nil {
		t.Errorf("Emit again with the same Event.ID: %v", err)
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
	for i, c := range srv.captures() {
		if c.Status != http.StatusOK {
			t.Errorf("request %d: status %d, want 200", i, c.Status)
		}
	}

	// Another event is processed.
	if err := e.Emit(ctx, oauthEvent(2)); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("next called %d times after a second event, want 2", n)
	}
}

func TestReceiverConcurrentSameEvent(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	next := rcvFirstCall(func() int {
		close(entered)
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		return http.StatusOK
	})
	srv := newRcvServer(t, rcvDedup(), next)
	body := rcvBody("evt_concurrent")

	firstDone := make(chan int, 1)
	go func() {
		status, _ := rcvPostSigned(t, srv.URL, "evt_concurrent", body)
		firstDone <- status
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("next was never called")
	}
	status, h := rcvPostSigned(t, srv.URL, "evt_concurrent", body)
	if status != http.StatusConflict {
		t.Errorf("second request while the first is processed: status %d, want 409", status)
	}
	if ra := h.Get("Retry-After"); ra == "" {
		t.Error("409 without Retry-After")
	} else if n, err := strconv.Atoi(ra); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", ra)
	}
	close(release)
	if s := <-firstDone; s != http.StatusOK {
		t.Errorf("first request: status %d, want 200", s)
	}
	status, _ = rcvPostSigned(t, srv.URL, "evt_concurrent", body)
	if status != http.StatusOK {
		t.Errorf("after the first completed: status %d, want 200", status)
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
}

// next answering 500 releases the claim: the sender's retry is processed.
func TestReceiverNextFailureReleasesClaim(t *testing.T) {
	t.Parallel()
	next := rcvFirstCall(func() int { return http.StatusInternalServerError })
	srv := newRcvServer(t, rcvDedup(), next)
	e := rcvEmitter(t, srv.URL, func(c *webhook.Config) {
		c.Retry = &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, NoJitter: true}
	})
	ctx := testCtx(t, 20*time.Second)
	if err := e.Emit(ctx, oauthEvent(1)); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("next called %d times, want 2 (the 500, then the retry)", n)
	}
	seen := next.seen()
	if len(seen) == 2 && (!bytes.Equal(seen[0].Body, seen[1].Body) || seen[0].EventID != seen[1].EventID) {
		t.Errorf("the retry is not the same event: %q", seen)
	}
	logs, _ := e.Logs(ctx, webhook.LogQuery{})
	if len(logs) != 1 || logs[0].Status != webhook.StatusDelivered || logs[0].Attempts != 2 {
		t.Errorf("logs = %+v, want delivered after 2 attempts", logs)
	}
	// Now processed: a redelivery is not.
	if _, err := e.Redeliver(ctx, logs[0].ID); err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("next called %d times after a redelivery, want 2", n)
	}
}

// A panic in next releases the claim.
func TestReceiverPanicReleasesClaim(t *testing.T) {
	t.Parallel()
	next := rcvFirstCall(func() int { panic("next failed") })
	h := rcvDedup().Middleware(next)
	body := rcvBody("evt_panic")
	serve := func() (code int, panicked any) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/webhooks/", bytes.NewReader(body))
		req.Header = seedHeader(rcvSecret, "evt_panic", time.Now().Unix(), body)
		rec := httptest.NewRecorder()
		defer func() {
			panicked = recover()
			code = rec.Code
		}()
		h.ServeHTTP(rec, req)
		return rec.Code, nil
	}
	if _, p := serve(); p == nil {
		t.Fatal("the panic did not propagate to the server (which recovers it and drops the connection)")
	}
	code, p := serve()
	if p != nil || code != http.StatusOK {
		t.Errorf("the retry after a panic: status %d, panic %v; want 200", code, p)
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("next called %d times, want 2", n)
	}
	if code, _ := serve(); code != http.StatusOK || next.calls.Load() != 2 {
		t.Errorf("a duplicate after success: status %d, next called %d times; want 200 and 2", code, next.calls.Load())
	}
}

// rcvFailingStore is a DedupStore that is down.
type rcvFailingStore struct{}

func (rcvFailingStore) Acquire(context.Context, string) (webhook.Claim, error) {
	return webhook.Claim{}, errors.New("database unavailable")
}
func (rcvFailingStore) Finish(context.Context, webhook.Claim, bool) error { return nil }

func TestReceiverDedupStoreDown(t *testing.T) {
	t.Parallel()
	next := &rcvNext{}
	rc := &webhook.Receiver{Verifier: webhook.Verifier{Secrets: []string{rcvSecret}}, Dedup: rcvFailingStore{}}
	srv := newRcvServer(t, rc, next)
	body := rcvBody("evt_down")
	status, _ := rcvPostSigned(t, srv.URL, "evt_down", body)
	if status < 500 || next.calls.Load() != 0 {
		t.Errorf("status %d, next called %d times; want a 5xx (so the sender retries) and 0", status, next.calls.Load())
	}
}

func TestReceiverWithoutDedup(t *testing.T) {
	t.Parallel()
	next := &rcvNext{}
	rc := &webhook.Receiver{Verifier: webhook.Verifier{Secrets: []string{rcvSecret}}}
	srv := newRcvServer(t, rc, next)
	e := rcvEmitter(t, srv.URL, nil)
	ctx := testCtx(t, 20*time.Second)
	if err := e.Emit(ctx, oauthEvent(1)); err != nil {
		t.Fatal(err)
	}
	logs, _ := e.Logs(ctx, webhook.LogQuery{})
	if _, err := e.Redeliver(ctx, logs[0].ID); err != nil {
		t.Fatal(err)
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("next called %d times, want 2 (no deduplication)", n)
	}
}

// While next is still processing the first request of an event, the
// sender's retry (its first attempt timed out) is answered 409 with
// Retry-After. The bundled sender must treat that as "try again later",
// as the Receiver's doc promises, not as a final failure.
func TestReceiverConflictIsRetriedBySender(t *testing.T) {
	t.Parallel()
	next := rcvFirstCall(func() int {
		time.Sleep(700 * time.Millisecond) // slower than the sender's timeout
		return http.StatusOK
	})
	srv := newRcvServer(t, rcvDedup(), next)
	e := rcvEmitter(t, srv.URL, func(c *webhook.Config) {
		c.Timeout = 200 * time.Millisecond
		c.Retry = &webhook.RetryConfig{MaxRetries: 4, RetryDelay: 100 * time.Millisecond, BackoffFactor: 1, MaxDelay: 2 * time.Second, NoJitter: true}
	})
	err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1))
	if err != nil {
		t.Errorf("Emit = %v; want delivered: the 409 (event in progress) should be retried after its Retry-After, then answered 200 as a duplicate", err)
	}
	var statuses []int
	for _, c := range srv.captures() {
		statuses = append(statuses, c.Status)
	}
	t.Logf("receiver answers: %v", statuses)
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
}

func TestReceiverStandardScheme(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	next := &rcvNext{}
	rc := &webhook.Receiver{
		Verifier: webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: []string{secret}},
		Dedup:    webhook.NewMemoryDedup(webhook.MemoryDedupConfig{}),
	}
	srv := newRcvServer(t, rc, next)
	e := newEmitter(t, webhook.Config{
		Sync:      true,
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{{Name: "std", URL: srv.URL, Secret: secret, Scheme: webhook.SchemeStandard}},
	})
	ctx := testCtx(t, 20*time.Second)
	if err := e.Emit(ctx, oauthEvent(1)); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	logs, _ := e.Logs(ctx, webhook.LogQuery{})
	if _, err := e.Redeliver(ctx, logs[0].ID); err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
	caps := srv.captures()
	if len(caps) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(caps))
	}
	first := caps[0]
	if id := first.Header.Get(webhook.HeaderStandardID); id != logs[0].EventID {
		t.Errorf("webhook-id %q, want the event id %q", id, logs[0].EventID)
	}
	if first.Header.Get(webhook.HeaderEventID) != "" {
		t.Errorf("a Standard Webhooks request carries %s", webhook.HeaderEventID)
	}

	// Deduplication is by webhook-id: the same body under another id is
	// processed, the same id with a fresh signature is not.
	sign := func(id string, body []byte) http.Header {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		return standardHeader(id, ts, standardSignature(key, id, ts, body))
	}
	if status, _ := rcvPost(t, srv.URL, sign(logs[0].EventID, first.Body), first.Body); status != http.StatusOK {
		t.Errorf("same id, fresh signature: status %d, want 200", status)
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times after a replay of the same id, want 1", n)
	}
	if status, _ := rcvPost(t, srv.URL, sign("msg_other", first.Body), first.Body); status != http.StatusOK {
		t.Errorf("another id: status %d, want 200", status)
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("next called %d times after another id, want 2", n)
	}
	// A request signed with the seed's scheme is missing the Standard headers.
	body := rcvBody("evt_seed")
	if status, _ := rcvPost(t, srv.URL, seedHeader(secret, "evt_seed", time.Now().Unix(), body), body); status != http.StatusUnauthorized {
		t.Errorf("HMAC-scheme request to a Standard receiver: status %d, want 401", status)
	}
}

// rcvClaim acquires key in m, checks the state and returns the claim.
func rcvClaim(t *testing.T, m *webhook.MemoryDedup, key string, want webhook.ClaimState) webhook.Claim {
	t.Helper()
	got, err := m.Acquire(context.Background(), key)
	if err != nil || got.State != want || got.Key != key || (got.Token != "") != (want == webhook.ClaimNew) {
		t.Errorf("Acquire(%s) = %+v, %v; want state %v, a token only if new", key, got, err, want)
	}
	return got
}

func rcvDone(t *testing.T, m *webhook.MemoryDedup, key string) {
	t.Helper()
	c := rcvClaim(t, m, key, webhook.ClaimNew)
	if err := m.Finish(context.Background(), c, true); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryDedupTTL(t *testing.T) {
	t.Parallel()
	clock := newTestClock(rcvNow)
	m := webhook.NewMemoryDedup(webhook.MemoryDedupConfig{TTL: time.Hour, ClaimTimeout: time.Minute, Now: clock.Now})
	rcvDone(t, m, "a")
	clock.Add(59 * time.Minute)
	rcvClaim(t, m, "a", webhook.ClaimDone)
	clock.Add(2 * time.Minute)
	rcvClaim(t, m, "a", webhook.ClaimNew) // forgotten after the TTL: claimed anew
	rcvClaim(t, m, "a", webhook.ClaimInProgress)
}

func TestMemoryDedupClaimTimeout(t *testing.T) {
	t.Parallel()
	clock := newTestClock(rcvNow)
	m := webhook.NewMemoryDedup(webhook.MemoryDedupConfig{TTL: time.Hour, ClaimTimeout: time.Minute, Now: clock.Now})
	rcvClaim(t, m, "a", webhook.ClaimNew)
	clock.Add(30 * time.Second)
	rcvClaim(t, m, "a", webhook.ClaimInProgress)
	clock.Add(31 * time.Second)
	rcvClaim(t, m, "a", webhook.ClaimNew) // the first claimer never completed
}

func TestMemoryDedupRelease(t *testing.T) {
	t.Parallel()
	m := webhook.NewMemoryDedup(webhook.MemoryDedupConfig{})
	c := rcvClaim(t, m, "a", webhook.ClaimNew)
	if err := m.Finish(context.Background(), c, false); err != nil {
		t.Fatal(err)
	}
	c = rcvClaim(t, m, "a", webhook.ClaimNew)
	if err := m.Finish(context.Background(), c, true); err != nil {
		t.Fatal(err)
	}
	rcvClaim(t, m, "a", webhook.ClaimDone)
	if n := m.Len(); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
}

// Beyond MaxEntries the oldest ids are forgotten.
func TestMemoryDedupMaxEntriesEvicts(t *testing.T) {
	t.Parallel()
	clock := newTestClock(rcvNow)
	m := webhook.NewMemoryDedup(webhook.MemoryDedupConfig{MaxEntries: 3, Now: clock.Now})
	for _, id := range []string{"a", "b", "c", "d"} {
		clock.Add(time.Second)
		rcvDone(t, m, id)
	}
	if n := m.Len(); n > 3 {
		t.Errorf("Len = %d, want at most 3", n)
	}
	rcvClaim(t, m, "d", webhook.ClaimDone) // the newest is kept
	rcvClaim(t, m, "a", webhook.ClaimNew)  // the oldest was forgotten
	for range 100 {
		clock.Add(time.Second)
		rcvDone(t, m, fmt.Sprintf("id-%d", clock.Now().Unix()))
	}
	if n := m.Len(); n > 3 {
		t.Errorf("Len = %d after 100 more, want at most 3", n)
	}
}

// MaxEntries ids are remembered: looking one up in a full store must not
// forget it ("forgets the oldest beyond MaxEntries").
func TestMemoryDedupKeepsMaxEntries(t *testing.T) {
	t.Parallel()
	clock := newTestClock(rcvNow)
	m := webhook.NewMemoryDedup(webhook.MemoryDedupConfig{MaxEntries: 3, Now: clock.Now})
	for _, id := range []string{"a", "b", "c"} {
		clock.Add(time.Second)
		rcvDone(t, m, id)
	}
	if n := m.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	// A redelivery of the oldest of three, with MaxEntries 3.
	rcvClaim(t, m, "a", webhook.ClaimDone)
	rcvClaim(t, m, "b", webhook.ClaimDone)
	rcvClaim(t, m, "c", webhook.ClaimDone)
}

func TestMemoryDedupConcurrent(t *testing.T) {
	t.Parallel()
	m := webhook.NewMemoryDedup(webhook.MemoryDedupConfig{MaxEntries: 50})
	var wg sync.WaitGroup
	var claimed atomic.Int32
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("evt_%d", i%20)
				c, err := m.Acquire(context.Background(), id)
				if err != nil {
					t.Error(err)
					return
				}
				if c.State == webhook.ClaimNew {
					claimed.Add(1)
					m.Finish(context.Background(), c, (g+i)%3 != 0)
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > 50 {
		t.Errorf("Len = %d, want at most 50", n)
	}
	if claimed.Load() < 20 {
		t.Errorf("only %d claims for 20 ids", claimed.Load())
	}
}

// A captured request replayed within the tolerance under another
// X-Webhook-Event-Id (which the signature does not cover) is the same
// event: it does not reach next again.
func TestReceiverReplayUnderNewEventID(t *testing.T) {
	t.Parallel()
	next := &rcvNext{}
	srv := newRcvServer(t, rcvDedup(), next)
	body := rcvBody("evt_captured")
	h := seedHeader(rcvSecret, "evt_captured", time.Now().Unix(), body)
	status, _ := rcvPost(t, srv.URL, h, body)
	require.Equal(t, http.StatusOK, status, "the genuine request")
	for i, id := range []string{"evt_replay_1", "evt_replay_2", ""} {
		replay := h.Clone()
		if id == "" {
			replay.Del(webhook.HeaderEventID)
		} else {
			replay.Set(webhook.HeaderEventID, id)
		}
		status, _ := rcvPost(t, srv.URL, replay, body)
		assert.Equalf(t, http.StatusOK, status, "replay %d under id %q: answered as a duplicate", i+1, id)
	}
	assert.EqualValues(t, 1, next.calls.Load(), "next calls: the replays are the captured event")
}

// A captured request replayed under the id of an event still to come
// does not claim that id: the real event reaches next.
func TestReceiverPreclaimedEventIDDoesNotSuppress(t *testing.T) {
	t.Parallel()
	next := &rcvNext{}
	srv := newRcvServer(t, rcvDedup(), next)
	captured := rcvBody("evt_captured")
	h := seedHeader(rcvSecret, "evt_captured", time.Now().Unix(), captured)
	status, _ := rcvPost(t, srv.URL, h, captured)
	require.Equal(t, http.StatusOK, status, "the genuine request")

	// The attacker claims evt_future with the captured request.
	claim := h.Clone()
	claim.Set(webhook.HeaderEventID, "evt_future")
	status, _ = rcvPost(t, srv.URL, claim, captured)
	require.Equal(t, http.StatusOK, status, "the replay")

	future := rcvBody("evt_future")
	status, _ = rcvPostSigned(t, srv.URL, "evt_future", future)
	require.Equal(t, http.StatusOK, status, "the real evt_future")
	var bodies []string
	for _, s := range next.seen() {
		bodies = append(bodies, string(s.Body))
	}
	assert.Equal(t, []string{string(captured), string(future)}, bodies, "bodies next processed")
}

// An informational answer (1xx) from next is not its final status: the
// final one decides whether the event was processed.
func TestReceiverInformationalStatusIsNotFinal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		first       []int // next's WriteHeader calls on the first request
		wantRetried bool  // a retry of the event reaches next
	}{
		{"103 then 500", []int{http.StatusEarlyHints, http.StatusInternalServerError}, true},
		{"100 then 503", []int{http.StatusContinue, http.StatusServiceUnavailable}, true},
		{"103, 103 then 409", []int{http.StatusEarlyHints, http.StatusEarlyHints, http.StatusConflict}, true},
		{"103 then 204", []int{http.StatusEarlyHints, http.StatusNoContent}, false},
		{"103 then nothing (an implicit 200)", []int{http.StatusEarlyHints}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) > 1 {
					w.WriteHeader(http.StatusOK)
					return
				}
				for _, code := range tc.first {
					w.WriteHeader(code)
				}
			})
			srv := newRcvServer(t, rcvDedup(), next)
			body := rcvBody("evt_informational")
			rcvPostSigned(t, srv.URL, "evt_informational", body)
			status, _ := rcvPostSigned(t, srv.URL, "evt_informational", body)
			assert.Equal(t, http.StatusOK, status, "the retry")
			want := int32(1)
			if tc.wantRetried {
				want = 2
			}
			assert.Equal(t, want, calls.Load(), "next calls")
		})
	}
}

// A holder whose claim timed out cannot end its successor's claim; nor
// can a Claim that holds nothing.
func TestMemoryDedupStaleHolderCannotFinish(t *testing.T) {
	t.Parallel()
	for _, processed := range []bool{false, true} {
		t.Run(fmt.Sprintf("processed=%v", processed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := newTestClock(rcvNow)
			m := webhook.NewMemoryDedup(webhook.MemoryDedupConfig{ClaimTimeout: time.Minute, Now: clock.Now})
			first := rcvClaim(t, m, "a", webhook.ClaimNew)
			clock.Add(61 * time.Second)
			second := rcvClaim(t, m, "a", webhook.ClaimNew) // the first claim timed out
			require.NotEqual(t, first.Token, second.Token, "tokens of two claims")

			require.NoError(t, m.Finish(ctx, first, processed), "the first holder, late")
			rcvClaim(t, m, "a", webhook.ClaimInProgress) // the second still holds it
			busy := rcvClaim(t, m, "a", webhook.ClaimInProgress)
			require.NoError(t, m.Finish(ctx, busy, processed), "a Claim in progress holds nothing")
			require.NoError(t, m.Finish(ctx, webhook.Claim{Key: "a", State: webhook.ClaimNew}, processed), "no token")
			rcvClaim(t, m, "a", webhook.ClaimInProgress)

			require.NoError(t, m.Finish(ctx, second, true), "the holder")
			rcvClaim(t, m, "a", webhook.ClaimDone)
			require.NoError(t, m.Finish(ctx, second, false), "the holder again, after its claim ended")
			rcvClaim(t, m, "a", webhook.ClaimDone)
		})
	}
}

// A claim that timed out, with no one acquiring its key since, can still
// be finished by its holder.
func TestMemoryDedupFinishAfterTimeout(t *testing.T) {
	t.Parallel()
	clock := newTestClock(rcvNow)
	m := webhook.NewMemoryDedup(webhook.MemoryDedupConfig{ClaimTimeout: time.Minute, Now: clock.Now})
	c := rcvClaim(t, m, "a", webhook.ClaimNew)
	clock.Add(2 * time.Minute)
	require.NoError(t, m.Finish(context.Background(), c, true))
	rcvClaim(t, m, "a", webhook.ClaimDone)
}

// A request whose claim timed out while next was still at work, and that
// fails afterwards, does not undo the claim of the request that took over
// and processed the event.
func TestReceiverStaleClaimDoesNotUndoSuccessor(t *testing.T) {
	t.Parallel()
	clock := newTestClock(rcvNow)
	entered, release := make(chan struct{}), make(chan struct{})
	next := rcvFirstCall(func() int {
		close(entered)
		<-release
		return http.StatusInternalServerError
	})
	rc := &webhook.Receiver{
		Verifier: webhook.Verifier{Secrets: []string{rcvSecret}},
		Dedup:    webhook.NewMemoryDedup(webhook.MemoryDedupConfig{ClaimTimeout: time.Minute, Now: clock.Now}),
	}
	h := rc.Middleware(next)
	body := rcvBody("evt_slow")
	serve := func() int {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/webhooks/", bytes.NewReader(body))
		req.Header = seedHeader(rcvSecret, "evt_slow", time.Now().Unix(), body)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	first := make(chan int, 1)
	go func() { first <- serve() }()
	<-entered
	clock.Add(2 * time.Minute) // the first claim times out
	require.Equal(t, http.StatusOK, serve(), "the sender's retry, processed")
	close(release)
	require.Equal(t, http.StatusInternalServerError, <-first, "the first request, late")
	assert.Equal(t, http.StatusOK, serve(), "a redelivery")
	assert.EqualValues(t, 2, next.calls.Load(), "next calls: the redelivery is a duplicate of the processed retry")
}
