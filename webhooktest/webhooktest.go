// Package webhooktest is a recording webhook receiver for tests.
//
// [NewReceiver] starts an HTTP server on 127.0.0.1 that checks every
// request's signature with the library's own [webhook.Verifier], so it
// accepts exactly what a real receiver would (several secrets during a
// rotation, either signature scheme), records every request, and answers
// with a status you choose. A test points a [webhook.Emitter] at its URL,
// emits, waits for the deliveries and inspects them:
//
//	rec := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret})
//	emitter, err := webhook.New(webhook.Config{Endpoints: []webhook.Endpoint{
//		{Name: "test", URL: rec.URL, Secret: secret},
//	}})
//	require.NoError(t, err)
//	require.NoError(t, emitter.Emit(ctx, webhook.Create(order)))
//	got := rec.Wait(1)
//	assert.Equal(t, webhook.Created, got[0].Payload.Event)
//
// A request whose signature does not verify is recorded as rejected
// (Request.Err says why) and answered 401 Unauthorized; it is never
// counted as a delivery.
package webhooktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/hookrail/webhook"
)

// DefaultWaitTimeout is how long [Receiver.Wait] waits when
// Options.WaitTimeout is zero.
const DefaultWaitTimeout = 10 * time.Second

// TB is the part of [testing.TB] a Receiver uses: *testing.T,
// *testing.B and *testing.F implement it.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Options configures a Receiver. Secret (or Secrets) is required.
type Options struct {
	// Secret is the secret the endpoint signs with: an HMAC secret with
	// webhook.SchemeHMAC, a "whsec_…" secret or a "whpk_…" public key
	// with webhook.SchemeStandard.
	Secret string

	// Secrets are further secrets a signature may match, as during a
	// rotation (see webhook.Verifier.Secrets): a request verifies when
	// any of its signatures matches Secret or any of these.
	Secrets []string

	// Scheme is the signature scheme. "": webhook.SchemeHMAC.
	Scheme webhook.SignatureScheme

	// Tolerance is how far a request's timestamp may be from Now.
	// 0: webhook.DefaultTolerance.
	Tolerance time.Duration

	// Now is the verifier's clock. Nil: time.Now. Set it to the
	// emitter's Config.Now when that is a fixed clock.
	Now func() time.Time

	// Status is the answer to every verified request. 0: 200 OK.
	Status int

	// Respond, if set, chooses the answer to each verified request,
	// instead of Status (see [FailFirst]). It is called concurrently,
	// with the request as it will be recorded, Status not yet set.
	Respond func(Request) int

	// WaitTimeout bounds [Receiver.Wait]. 0: DefaultWaitTimeout.
	WaitTimeout time.Duration
}

// Request is one request the Receiver got. Header, Body and Payload are
// shared by every copy: do not modify them.
type Request struct {
	// Seq numbers the requests in the order they were recorded, from 1.
	Seq int

	// Time is when the request arrived.
	Time time.Time

	// Method, Path (the request URI) and Header are the request's.
	Method string
	Path   string
	Header http.Header

	// Body is the raw body, as signed.
	Body []byte

	// Err is nil when the signature verified; otherwise why it did not,
	// as webhook.Verifier.Verify returned it (it wraps
	// webhook.ErrInvalidSignature, webhook.ErrMissingSignature,
	// webhook.ErrTimestampOutOfRange, …), or the error reading the body.
	Err error

	// Payload is the decoded envelope (id, event, timestamp, model,
	// object, changes, user); nil when the body is not one, as with an
	// Endpoint.Transform that reshapes it (use Decode). Numbers in
	// Object and Changes are json.Number, as in webhook.Payload.
	Payload *webhook.Payload

	// EventID is the envelope's id, else the event id header of the
	// scheme (X-Webhook-Event-Id or webhook-id).
	EventID string

	// Attempt counts the verified requests for EventID, this one
	// included: 1 for the first attempt, 2 for the first retry, and so
	// on. 0 for a rejected request.
	Attempt int

	// Status is what the Receiver answered.
	Status int
}

// Verified reports whether the request's signature verified.
func (r Request) Verified() bool { return r.Err == nil }

// Decode unmarshals the body into v.
func (r Request) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("webhooktest: decoding request %d: %w", r.Seq, err)
	}
	return nil
}

// Receiver is a recording webhook receiver; see the package doc. Its
// methods are safe for concurrent use.
type Receiver struct {
	// URL is where to send webhooks: "http://127.0.0.1:PORT/webhooks/".
	URL string

	t        TB
	verifier *webhook.Verifier
	opts     Options
	srv      *httptest.Server

	mu       sync.Mutex
	reqs     []Request
	attempts map[string]int // verified requests per event id
	verified int
	changed  chan struct{} // closed and replaced when a request is recorded
}

// NewReceiver starts a Receiver on 127.0.0.1, closed when the test ends
// (t.Cleanup). It fails the test at once when opts has no usable secret
// or an unknown scheme.
func NewReceiver(t TB, opts Options) *Receiver {
	t.Helper()
	secrets := opts.Secrets
	if opts.Secret != "" {
		secrets = append([]string{opts.Secret}, secrets...)
	}
	v := webhook.NewVerifier(secrets...)
	v.Scheme, v.Tolerance, v.Now = opts.Scheme, opts.Tolerance, opts.Now
	rec := &Receiver{
		t:        t,
		verifier: v,
		opts:     opts,
		attempts: map[string]int{},
		changed:  make(chan struct{}),
	}
	if err := checkVerifier(rec.verifier); err != nil {
		t.Fatalf("webhooktest: NewReceiver: %v", err)
		return rec
	}
	rec.srv = httptest.NewServer(http.HandlerFunc(rec.serveHTTP))
	rec.URL = rec.srv.URL + "/webhooks/"
	t.Cleanup(rec.srv.Close)
	return rec
}

// checkVerifier reports a Verifier's configuration errors (no secret, a
// malformed one, an unknown scheme): those are the errors Verify returns
// for a request without headers that wrap none of its sentinels.
func checkVerifier(v *webhook.Verifier) error {
	err := v.Verify(http.Header{}, nil)
	if err == nil || errors.Is(err, webhook.ErrMissingSignature) {
		return nil
	}
	return err
}

func (rec *Receiver) serveHTTP(w http.ResponseWriter, r *http.Request) {
	req := Request{
		Time:   time.Now(),
		Method: r.Method,
		Path:   r.URL.RequestURI(),
		Header: r.Header.Clone(),
	}
	body, err := io.ReadAll(r.Body)
	req.Body = body
	if err != nil {
		req.Err = fmt.Errorf("webhooktest: reading body: %w", err)
	} else {
		req.Err = rec.verifier.Verify(r.Header, body)
	}
	req.Payload = decodeEnvelope(body)
	req.EventID = rec.eventID(req)

	if !req.Verified() {
		req.Status = http.StatusUnauthorized
		rec.record(req)
		http.Error(w, req.Err.Error(), req.Status)
		return
	}
	rec.mu.Lock()
	rec.attempts[req.EventID]++
	req.Attempt = rec.attempts[req.EventID]
	rec.mu.Unlock()

	switch {
	case rec.opts.Respond != nil:
		req.Status = rec.opts.Respond(req)
	case rec.opts.Status != 0:
		req.Status = rec.opts.Status
	}
	if req.Status == 0 {
		req.Status = http.StatusOK
	}
	rec.record(req)
	w.WriteHeader(req.Status)
}

// eventID returns the envelope's id, else the scheme's id header.
func (rec *Receiver) eventID(req Request) string {
	if req.Payload != nil {
		return req.Payload.ID
	}
	if rec.opts.Scheme == webhook.SchemeStandard {
		return req.Header.Get(webhook.HeaderStandardID)
	}
	return req.Header.Get(webhook.HeaderEventID)
}

// decodeEnvelope decodes body as an envelope, nil when it is not one
// (no id or no event).
func decodeEnvelope(body []byte) *webhook.Payload {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var p webhook.Payload
	if err := dec.Decode(&p); err != nil || p.ID == "" || p.Event == "" {
		return nil
	}
	return &p
}

// record appends req and wakes the waiters.
func (rec *Receiver) record(req Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	req.Seq = len(rec.reqs) + 1
	rec.reqs = append(rec.reqs, req)
	if req.Verified() {
		rec.verified++
	}
	close(rec.changed)
	rec.changed = make(chan struct{})
}

// Wait blocks until n verified requests have arrived and returns them (the
// first n), or fails the test when Options.WaitTimeout (10 s by default)
// passes first. Every verified request counts, whatever the Receiver
// answered: with [FailFirst](2, 503), one event takes Wait(3). Like
// t.Fatalf, call it from the test's goroutine.
func (rec *Receiver) Wait(n int) []Request {
	rec.t.Helper()
	timeout := rec.opts.WaitTimeout
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return rec.WaitFor(ctx, n)
}

// WaitFor is Wait until ctx ends: it fails the test when ctx ends before
// n verified requests have arrived, saying how many did and why any were
// rejected. When the test's TB does not stop the goroutine on Fatalf, it
// then returns the verified requests that did arrive.
func (rec *Receiver) WaitFor(ctx context.Context, n int) []Request {
	rec.t.Helper()
	for {
		rec.mu.Lock()
		got, changed := rec.verified, rec.changed
		rec.mu.Unlock()
		if got >= n {
			return rec.Deliveries()[:n]
		}
		select {
		case <-changed:
		case <-ctx.Done():
			rec.t.Fatalf("%s", rec.timeoutMessage(ctx, n))
			return rec.Deliveries()
		}
	}
}

// timeoutMessage says what WaitFor waited for and what arrived.
func (rec *Receiver) timeoutMessage(ctx context.Context, n int) string {
	deliveries, rejected := rec.Deliveries(), rec.Rejected()
	var b strings.Builder
	fmt.Fprintf(&b, "webhooktest: waited for %d verified %s at %s, got %d", n, plural(n, "delivery", "deliveries"), rec.URL, len(deliveries))
	if err := context.Cause(ctx); errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(&b, " (timed out)")
	} else {
		fmt.Fprintf(&b, " (%v)", err)
	}
	if len(rejected) > 0 {
		fmt.Fprintf(&b, "; %d rejected:", len(rejected))
		const shown = 5
		for i, r := range rejected {
			if i == shown {
				fmt.Fprintf(&b, "\n\t… and %d more", len(rejected)-shown)
				break
			}
			fmt.Fprintf(&b, "\n\trequest %d: %v", r.Seq, r.Err)
		}
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Requests returns every request recorded so far, verified or not, in
// the order they were recorded.
func (rec *Receiver) Requests() []Request {
	return rec.filter(func(Request) bool { return true })
}

// Deliveries returns the verified requests recorded so far, in order:
// every attempt, whatever the Receiver answered.
func (rec *Receiver) Deliveries() []Request {
	return rec.filter(Request.Verified)
}

// Rejected returns the requests whose signature did not verify, in order.
func (rec *Receiver) Rejected() []Request {
	return rec.filter(func(r Request) bool { return !r.Verified() })
}

// Attempts returns the verified requests for the event id, in order: its
// first attempt, then each retry or redelivery.
func (rec *Receiver) Attempts(eventID string) []Request {
	return rec.filter(func(r Request) bool { return r.Verified() && r.EventID == eventID })
}

// Events returns the envelopes of the events accepted so far: one per
// event id, from its first verified request answered 2xx, in the order
// they were accepted. Bodies that are not envelopes (an
// Endpoint.Transform's) are left out; see Deliveries for them.
func (rec *Receiver) Events() []webhook.Payload {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []webhook.Payload
	seen := map[string]bool{}
	for _, r := range rec.reqs {
		if r.Verified() && r.Payload != nil && r.Status >= 200 && r.Status < 300 && !seen[r.EventID] {
			seen[r.EventID] = true
			out = append(out, *r.Payload)
		}
	}
	return out
}

func (rec *Receiver) filter(keep func(Request) bool) []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []Request
	for _, r := range rec.reqs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// FailFirst returns an Options.Respond that answers status to the first n
// attempts of every event, and 200 OK from then on: with a retry policy
// that retries status, each event arrives n+1 times.
//
// Refusals count towards the emitter's circuit breaker (10 in a row open
// it for 30 s by default): when many events are refused, set
// Config.CircuitBreaker.Threshold to -1, or the later ones wait.
func FailFirst(n, status int) func(Request) int {
	return func(r Request) int {
		if r.Attempt <= n {
			return status
		}
		return http.StatusOK
	}
}
