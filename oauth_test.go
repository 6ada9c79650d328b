package webhook_test

// OAuth2 client credentials against a real token server (httptest on
// 127.0.0.1): one shared token for every worker, refreshed before it
// expires, invalidated by a 401 (once per token generation), token
// failures that wrap ErrToken and never show the client secret, and the
// static headers of Rail Django's "Static Token" section.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

const (
	oauthClientID     = "client_abc"
	oauthClientSecret = "oauth-client-secret-DO-NOT-LEAK"
	oauthSigSecret    = "signature_secret"
)

// oauthTokenServer is a client-credentials token server. It accepts the
// client's credentials as HTTP basic auth (x/oauth2 sends them there
// first, URL-encoded) or as client_id/client_secret form parameters (its
// fallback), and issues "tok-1", "tok-2", … .
type oauthTokenServer struct {
	*httptest.Server
	expiresIn  int  // seconds; 0: no expires_in
	paramsOnly bool // refuse credentials sent as basic auth

	hits   atomic.Int32  // every request
	issued atomic.Int32  // tokens issued
	fail   atomic.Int32  // status to answer instead of a token; 0: none
	hang   chan struct{} // non-nil: requests wait until it is closed

	mu       sync.Mutex
	styles   []string // "header" or "params", per request
	scopes   []string
	problems []string // protocol violations seen
	secrets  []string // client secrets received
}

func newOAuthTokenServer(t *testing.T, expiresIn int, opts ...func(*oauthTokenServer)) *oauthTokenServer {
	t.Helper()
	s := &oauthTokenServer{expiresIn: expiresIn}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.problems {
			t.Errorf("token server: %s", p)
		}
	})
	return s
}

func (s *oauthTokenServer) problem(format string, args ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *oauthTokenServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	if s.hang != nil {
		select {
		case <-s.hang:
		case <-r.Context().Done():
		}
		return
	}
	if r.Method != http.MethodPost {
		s.problem("method %s, want POST", r.Method)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		s.problem("Content-Type %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		s.problem("form: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		s.problem("grant_type %q", g)
		writeJSON(http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok && s.paramsOnly {
		writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	style := "header"
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret, style = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), "params"
	}
	s.mu.Lock()
	s.styles = append(s.styles, style)
	s.scopes = append(s.scopes, r.PostForm.Get("scope"))
	s.secrets = append(s.secrets, secret)
	s.mu.Unlock()

	if status := int(s.fail.Load()); status != 0 {
		// A careless server echoes what it got: the library must still
		// keep the secret out of its errors and logs.
		writeJSON(status, map[string]string{
			"error":             "invalid_client",
			"error_description": fmt.Sprintf("client %s with secret %s is not allowed", id, secret),
		})
		return
	}
	if id != oauthClientID || secret != oauthClientSecret {
		writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	resp := map[string]any{
		"access_token": fmt.Sprintf("tok-%d", s.issued.Add(1)),
		"token_type":   "Bearer",
	}
	if s.expiresIn > 0 {
		resp["expires_in"] = s.expiresIn
	}
	writeJSON(http.StatusOK, resp)
}

func (s *oauthTokenServer) oauth2() *webhook.OAuth2 {
	return &webhook.OAuth2{
		ClientID:     oauthClientID,
		ClientSecret: oauthClientSecret,
		TokenURL:     s.URL + "/oauth/token",
		Scopes:       []string{"webhooks:write"},
	}
}

// endpoint is the endpoint "oauth2" at url, signed with oauthSigSecret,
// that gets its tokens from s.
func (s *oauthTokenServer) endpoint(url string) webhook.Endpoint {
	return webhook.Endpoint{Name: "oauth2", URL: url, Secret: oauthSigSecret, OAuth2: s.oauth2()}
}

// oauthRequest is one request an oauthEndpoint received.
type oauthRequest struct {
	Auth, APIKey                      string
	Signature, Timestamp, EventID     string
	ContentType                       string
	Body                              []byte
	VerifyErr                         error // the signature check, on the real clock
	SawClientSecret, SawBasicAuthBlob bool
}

// oauthEndpoint is a receiver that records every request and answers
// what answer says (nil: 200).
type oauthEndpoint struct {
	*httptest.Server
	answer func(oauthRequest) int

	mu   sync.Mutex
	reqs []oauthRequest
}

func newOAuthEndpoint(t *testing.T, answer func(oauthRequest) int) *oauthEndpoint {
	t.Helper()
	v := webhook.Verifier{Secrets: []string{oauthSigSecret}}
	blob := base64.StdEncoding.EncodeToString([]byte(oauthClientID + ":" + oauthClientSecret))
	e := &oauthEndpoint{answer: answer}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		all := fmt.Sprint(r.Header) + string(body)
		rq := oauthRequest{
			Auth:             r.Header.Get("Authorization"),
			APIKey:           r.Header.Get("X-API-Key"),
			Signature:        r.Header.Get(webhook.HeaderSignature),
			Timestamp:        r.Header.Get(webhook.HeaderTimestamp),
			EventID:          r.Header.Get(webhook.HeaderEventID),
			ContentType:      r.Header.Get("Content-Type"),
			Body:             body,
			VerifyErr:        v.Verify(r.Header, body),
			SawClientSecret:  strings.Contains(all, oauthClientSecret),
			SawBasicAuthBlob: strings.Contains(all, blob),
		}
		status := http.StatusOK
		if e.answer != nil {
			status = e.answer(rq)
		}
		e.mu.Lock()
		e.reqs = append(e.reqs, rq)
		e.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *oauthEndpoint) requests() []oauthRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]oauthRequest(nil), e.reqs...)
}

// oauthEvent is a created event of the model "store.Order" with id i.
func oauthEvent(i int) webhook.Event {
	return webhook.Event{Type: webhook.Created, Model: "store.Order", Object: map[string]any{"id": i, "total": "10.00"}}
}

// oauthEmitRange emits oauthEvent(i) for i from lo up to hi, excluded.
func oauthEmitRange(t *testing.T, ctx context.Context, e *webhook.Emitter, lo, hi int) {
	t.Helper()
	for i := lo; i < hi; i++ {
		if err := e.Emit(ctx, oauthEvent(i)); err != nil {
			t.Fatalf("Emit %d: %v", i, err)
		}
	}
}

// oauthCheckDeliveredOnce checks that every delivery log of e says
// delivered after one attempt.
func oauthCheckDeliveredOnce(t *testing.T, e *webhook.Emitter) {
	t.Helper()
	logs, err := e.Logs(context.Background(), webhook.LogQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		if l.Status != webhook.StatusDelivered || l.Attempts != 1 {
			t.Errorf("log %s: status %s after %d attempts, want delivered after 1", l.ID, l.Status, l.Attempts)
		}
	}
}

// checkOAuthRequest checks what every request to an OAuth2 endpoint must
// be: signed, JSON, without the client's credentials.
func checkOAuthRequest(t *testing.T, i int, rq oauthRequest) {
	t.Helper()
	if rq.VerifyErr != nil {
		t.Errorf("request %d: signature: %v", i, rq.VerifyErr)
	}
	if rq.ContentType != "application/json" {
		t.Errorf("request %d: Content-Type %q", i, rq.ContentType)
	}
	if rq.SawClientSecret || rq.SawBasicAuthBlob {
		t.Errorf("request %d: the endpoint received the client's credentials", i)
	}
}

// (a) One token, fetched once, shared by every worker.
func TestOAuthSharedTokenAcrossWorkers(t *testing.T) {
	t.Parallel()
	ts := newOAuthTokenServer(t, 3600)
	rx := newOAuthEndpoint(t, nil)
	e := newEmitter(t, webhook.Config{
		Workers:   8,
		Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL + "/webhooks/")},
	})
	const n = 50
	oauthEmitRange(t, testCtx(t, 20*time.Second), e, 0, n)
	closeEmitter(t, e, 20*time.Second)

	reqs := rx.requests()
	if len(reqs) != n {
		t.Fatalf("endpoint got %d requests, want %d", len(reqs), n)
	}
	for i, rq := range reqs {
		if rq.Auth != "Bearer tok-1" {
			t.Errorf("request %d: Authorization %q, want %q", i, rq.Auth, "Bearer tok-1")
		}
		checkOAuthRequest(t, i, rq)
	}
	if got := ts.hits.Load(); got != 1 {
		t.Errorf("token server hit %d times, want 1", got)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.scopes) != 1 || ts.scopes[0] != "webhooks:write" {
		t.Errorf("scope sent: %q, want [webhooks:write]", ts.scopes)
	}
	oauthCheckDeliveredOnce(t, e)
}

// The token server may want the credentials as form parameters only;
// x/oauth2 falls back to them after the basic-auth request fails, and
// remembers it.
func TestOAuthCredentialsInForm(t *testing.T) {
	t.Parallel()
	ts := newOAuthTokenServer(t, 3600, func(s *oauthTokenServer) { s.paramsOnly = true })
	rx := newOAuthEndpoint(t, nil)
	e := newEmitter(t, webhook.Config{
		Sync:      true,
		Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL)},
	})
	oauthEmitRange(t, testCtx(t, 20*time.Second), e, 0, 3)
	for i, rq := range rx.requests() {
		if rq.Auth != "Bearer tok-1" {
			t.Errorf("request %d: Authorization %q, want Bearer tok-1", i, rq.Auth)
		}
		checkOAuthRequest(t, i, rq)
	}
	if got := ts.hits.Load(); got != 2 { // basic auth refused, then the form
		t.Errorf("token server hit %d times, want 2", got)
	}
}

// (b) clientcredentials refreshes 10 s before expiry: a 12 s token is
// refreshed after about 2 s, and later deliveries carry the new one.
func TestOAuthRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	ts := newOAuthTokenServer(t, 12)
	rx := newOAuthEndpoint(t, nil)
	e := newEmitter(t, webhook.Config{
		Sync:      true,
		Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL)},
	})
	ctx := testCtx(t, 20*time.Second)
	oauthEmitRange(t, ctx, e, 0, 3)
	time.Sleep(2500 * time.Millisecond)
	oauthEmitRange(t, ctx, e, 3, 6)
	reqs := rx.requests()
	if len(reqs) != 6 {
		t.Fatalf("endpoint got %d requests, want 6", len(reqs))
	}
	for i, rq := range reqs {
		want := "Bearer tok-1"
		if i >= 3 {
			want = "Bearer tok-2"
		}
		if rq.Auth != want {
			t.Errorf("request %d: Authorization %q, want %q", i, rq.Auth, want)
		}
		checkOAuthRequest(t, i, rq)
	}
	if got := ts.hits.Load(); got != 2 {
		t.Errorf("token server hit %d times, want 2", got)
	}
}

// oauthClock is a clock that moves one second on every reading, so that
// every signature has its own timestamp.
func oauthClock() func() time.Time {
	base := time.Now().Truncate(time.Second)
	var n atomic.Int64
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

// (c) A 401 forces one refresh and one immediate retry inside the same
// attempt, re-signed, with the new token.
func TestOAuth401RefreshesOnceWithinAttempt(t *testing.T) {
	t.Parallel()
	ts := newOAuthTokenServer(t, 3600)
	rx := newOAuthEndpoint(t, func(rq oauthRequest) int {
		if rq.Auth == "Bearer tok-1" {
			return http.StatusUnauthorized // revoked on the endpoint's side
		}
		return http.StatusOK
	})
	e := newEmitter(t, webhook.Config{
		Sync:      true,
		Now:       oauthClock(),
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL)},
	})
	if err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1)); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	reqs := rx.requests()
	if len(reqs) != 2 {
		t.Fatalf("endpoint got %d requests, want 2 (the 401, then the retry)", len(reqs))
	}
	first, retry := reqs[0], reqs[1]
	if first.Auth != "Bearer tok-1" || retry.Auth != "Bearer tok-2" {
		t.Errorf("Authorization: %q then %q, want Bearer tok-1 then Bearer tok-2", first.Auth, retry.Auth)
	}
	for i, rq := range reqs {
		checkOAuthRequest(t, i, rq)
	}
	if string(retry.Body) != string(first.Body) {
		t.Errorf("the retry's body differs:\n%s\n%s", first.Body, retry.Body)
	}
	if retry.EventID != first.EventID || retry.EventID == "" {
		t.Errorf("event id %q then %q, want the same", first.EventID, retry.EventID)
	}
	if retry.Timestamp <= first.Timestamp || retry.Signature == first.Signature {
		t.Errorf("the retry was not re-signed: timestamp %s → %s, signature %s → %s",
			first.Timestamp, retry.Timestamp, first.Signature, retry.Signature)
	}
	if got := ts.hits.Load(); got != 2 {
		t.Errorf("token server hit %d times, want 2", got)
	}
	logs, _ := e.Logs(context.Background(), webhook.LogQuery{})
	if len(logs) != 1 || logs[0].Status != webhook.StatusDelivered || logs[0].Attempts != 1 {
		t.Errorf("logs = %+v, want one delivered after 1 attempt", logs)
	}
}

// A 401 that persists with the fresh token is not retried again within
// the attempt: two requests, two token fetches, a failed attempt.
func TestOAuth401Persisting(t *testing.T) {
	t.Parallel()
	ts := newOAuthTokenServer(t, 3600)
	rx := newOAuthEndpoint(t, func(oauthRequest) int { return http.StatusUnauthorized })
	fails := newFailureLog()
	e := newEmitter(t, webhook.Config{
		Sync:      true,
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		OnFailure: fails.record,
		Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL)},
	})
	err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1))
	var de *webhook.DeliveryError
	if !errors.As(err, &de) || de.StatusCode != http.StatusUnauthorized || de.Attempt != 1 {
		t.Fatalf("Emit = %v, want a DeliveryError with status 401 on attempt 1", err)
	}
	if n := len(rx.requests()); n != 2 {
		t.Errorf("endpoint got %d requests, want 2", n)
	}
	if got := ts.hits.Load(); got != 2 {
		t.Errorf("token server hit %d times, want 2", got)
	}
	if fs := fails.all(); len(fs) != 1 || fs[0].Attempts != 1 || fs[0].StatusCode != http.StatusUnauthorized {
		t.Errorf("failures = %+v, want one after 1 attempt with status 401", fs)
	}
}

// Concurrent 401s for the same token cause one refresh: invalidation is by
// token generation, so the workers that come second use the token the first
// one fetched.
func TestOAuthConcurrent401sRefreshOnce(t *testing.T) {
	t.Parallel()
	const n = 8
	ts := newOAuthTokenServer(t, 3600)
	var arrived atomic.Int32
	var maxWaiting atomic.Int32
	all := make(chan struct{})
	var once sync.Once
	rx := newOAuthEndpoint(t, func(rq oauthRequest) int {
		if rq.Auth != "Bearer tok-1" {
			return http.StatusOK
		}
		// Hold the stale-token requests until all n are in flight, so
		// that their 401s come together.
		k := arrived.Add(1)
		for {
			m := maxWaiting.Load()
			if k <= m || maxWaiting.CompareAndSwap(m, k) {
				break
			}
		}
		if k == n {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
		return http.StatusUnauthorized
	})
	e := newEmitter(t, webhook.Config{
		Workers:   n,
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL)},
	})
	oauthEmitRange(t, testCtx(t, 20*time.Second), e, 0, n)
	closeEmitter(t, e, 20*time.Second)

	if got := maxWaiting.Load(); got != n {
		t.Errorf("only %d requests with the stale token were in flight together, want %d", got, n)
	}
	var stale, fresh int
	for i, rq := range rx.requests() {
		switch rq.Auth {
		case "Bearer tok-1":
			stale++
		case "Bearer tok-2":
			fresh++
		default:
			t.Errorf("request %d: Authorization %q", i, rq.Auth)
		}
		checkOAuthRequest(t, i, rq)
	}
	if stale != n || fresh != n {
		t.Errorf("requests: %d with tok-1, %d with tok-2; want %d and %d", stale, fresh, n, n)
	}
	if got := ts.hits.Load(); got != 2 {
		t.Errorf("token server hit %d times, want 2 (one refresh for %d concurrent 401s)", got, n)
	}
	oauthCheckDeliveredOnce(t, e)
}

// oauthSecretForms are the forms in which the client secret could leak.
func oauthSecretForms() []string {
	return []string{
		oauthClientSecret,
		url.QueryEscape(oauthClientSecret),
		base64.StdEncoding.EncodeToString([]byte(oauthClientID + ":" + oauthClientSecret)),
	}
}

// (d) A token server that fails: the attempt fails with an error wrapping
// ErrToken and is retried; the client secret is nowhere.
func TestOAuthTokenFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
	}{
		{"server error", http.StatusInternalServerError},
		{"invalid_client", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newOAuthTokenServer(t, 3600)
			ts.fail.Store(int32(tc.status))
			rx := newOAuthEndpoint(t, nil)
			var logs logBuffer
			fails := newFailureLog()
			e := newEmitter(t, webhook.Config{
				Sync:      true,
				Logger:    logs.debugLogger(),
				Retry:     &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 5 * time.Millisecond, NoJitter: true},
				OnFailure: fails.record,
				Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL)},
			})
			err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1))
			if !errors.Is(err, webhook.ErrToken) {
				t.Fatalf("Emit = %v, want an error wrapping ErrToken", err)
			}
			var de *webhook.DeliveryError
			if !errors.As(err, &de) || de.Endpoint != "oauth2" || de.Attempt != 3 {
				t.Errorf("Emit = %#v, want a DeliveryError for endpoint oauth2 on attempt 3", err)
			}
			if n := len(rx.requests()); n != 0 {
				t.Errorf("endpoint got %d requests without a token, want 0", n)
			}
			ts.mu.Lock()
			sawSecret := len(ts.secrets) > 0 && ts.secrets[0] == oauthClientSecret
			ts.mu.Unlock()
			if !sawSecret {
				t.Fatal("the token server never got the secret: the leak checks below would prove nothing")
			}

			fs := fails.all()
			if len(fs) != 1 || fs[0].Attempts != 3 || !errors.Is(fs[0].Err, webhook.ErrToken) {
				t.Errorf("failures = %+v, want one after 3 attempts wrapping ErrToken", fs)
			}
			dl, _ := e.Logs(context.Background(), webhook.LogQuery{})
			if len(dl) != 1 || dl[0].Status != webhook.StatusFailed || dl[0].Attempts != 3 {
				t.Errorf("logs = %+v, want one failed after 3 attempts", dl)
			}
			texts := map[string]string{
				"error":   err.Error(),
				"error%+": fmt.Sprintf("%+v", err),
				"log":     logs.String(),
			}
			for i, f := range fs {
				texts[fmt.Sprintf("failure[%d]", i)] = fmt.Sprintf("%+v %v", f, f.Err)
			}
			for i, l := range dl {
				b, _ := json.Marshal(l)
				texts[fmt.Sprintf("deliverylog[%d]", i)] = fmt.Sprintf("%+v %s", l, b)
			}
			if !strings.Contains(logs.String(), "oauth2") {
				t.Errorf("the failure was not logged: %s", logs.String())
			}
			for where, text := range texts {
				for _, s := range oauthSecretForms() {
					if strings.Contains(text, s) {
						t.Errorf("%s contains the client secret (%q):\n%s", where, s, text)
					}
				}
			}
		})
	}
}

// A token server that fails only when the 401 asks for a new token:
// PrepareRetry's error wraps ErrToken too.
func TestOAuthRefreshFailureAfter401(t *testing.T) {
	t.Parallel()
	ts := newOAuthTokenServer(t, 3600)
	rx := newOAuthEndpoint(t, func(rq oauthRequest) int {
		ts.fail.Store(http.StatusInternalServerError) // from now on
		return http.StatusUnauthorized
	})
	e := newEmitter(t, webhook.Config{
		Sync:      true,
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL)},
	})
	err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1))
	if !errors.Is(err, webhook.ErrToken) {
		t.Fatalf("Emit = %v, want an error wrapping ErrToken", err)
	}
	for _, s := range oauthSecretForms() {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error contains the client secret: %v", err)
		}
	}
	if n := len(rx.requests()); n != 1 {
		t.Errorf("endpoint got %d requests, want 1", n)
	}
}

// A token server that never answers must not hold a delivery beyond its
// endpoint's Timeout (the token fetch is part of the attempt), nor Close
// beyond its ctx.
func TestOAuthTokenServerHangIsBounded(t *testing.T) {
	t.Parallel()
	t.Run("sync emit", func(t *testing.T) {
		t.Parallel()
		e, unhang := oauthHangingEmitter(t, true)
		done := make(chan error, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		go func() { done <- e.Emit(ctx, oauthEvent(1)) }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("Emit = nil, want an error")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Emit took %s with a 300ms endpoint timeout", d)
			}
			if !errors.Is(err, webhook.ErrToken) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Emit = %v, want ErrToken or a timeout", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Emit still blocked after 5s on a token server that never answers (endpoint Timeout 300ms, Emit ctx 30s): the token fetch is not bounded by the attempt's timeout")
			cancel()
			select {
			case <-done:
				t.Logf("Emit returned %s after its ctx was cancelled", time.Since(start))
			case <-time.After(3 * time.Second):
				t.Errorf("Emit ignores its cancelled ctx too while the token fetch hangs")
				unhang()
				<-done
			}
		}
	})
	t.Run("async close", func(t *testing.T) {
		t.Parallel()
		e, unhang := oauthHangingEmitter(t, false)
		if err := e.Emit(context.Background(), oauthEvent(1)); err != nil {
			t.Fatalf("Emit: %v", err)
		}
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			done <- e.Close(ctx)
		}()
		select {
		case <-done:
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Close took %s with a 1s ctx", d)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Close(ctx with 1s deadline) still blocked after 5s: a worker is stuck in the token fetch")
			unhang()
			<-done
		}
	})
}

// oauthHangingTokenServer is a token server that never answers until
// unhang is called (at the latest when the test ends).
func oauthHangingTokenServer(t *testing.T) (ts *oauthTokenServer, unhang func()) {
	ts = newOAuthTokenServer(t, 3600, func(s *oauthTokenServer) { s.hang = make(chan struct{}) })
	var once sync.Once
	unhang = func() { once.Do(func() { close(ts.hang) }) }
	t.Cleanup(unhang) // before the server's Close
	return ts, unhang
}

// oauthHangingEmitter is an Emitter (Sync or not, no retries) whose one
// endpoint, with a 300 ms Timeout, gets its token from an
// oauthHangingTokenServer.
func oauthHangingEmitter(t *testing.T, sync bool) (e *webhook.Emitter, unhang func()) {
	ts, unhang := oauthHangingTokenServer(t)
	rx := newOAuthEndpoint(t, nil)
	ep := ts.endpoint(rx.URL)
	ep.Timeout = 300 * time.Millisecond
	e = newEmitter(t, webhook.Config{
		Sync:      sync,
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{ep},
	})
	return e, unhang
}

// (e) Rail Django's static token: Headers are sent as they are; OAuth2 wins
// over a static Authorization.
func TestOAuthStaticHeaders(t *testing.T) {
	t.Parallel()
	rx := newOAuthEndpoint(t, nil)
	ts := newOAuthTokenServer(t, 3600)
	e := newEmitter(t, webhook.Config{
		Sync: true,
		Endpoints: []webhook.Endpoint{
			{Name: "with_token", URL: rx.URL + "/static", Secret: oauthSigSecret,
				Headers: map[string]string{"Authorization": "Bearer static_token_xyz", "X-API-Key": "key_123"}},
			{Name: "both", URL: rx.URL + "/both", Secret: oauthSigSecret, OAuth2: ts.oauth2(),
				Headers: map[string]string{"Authorization": "Bearer static_token_xyz", "X-API-Key": "key_456"}},
		},
	})
	if err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1)); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	got := map[string]oauthRequest{}
	for i, rq := range rx.requests() {
		checkOAuthRequest(t, i, rq)
		got[rq.APIKey] = rq
	}
	if rq, ok := got["key_123"]; !ok || rq.Auth != "Bearer static_token_xyz" {
		t.Errorf("static endpoint: got %+v, want Authorization %q and X-API-Key key_123", rq, "Bearer static_token_xyz")
	}
	if rq, ok := got["key_456"]; !ok || rq.Auth != "Bearer tok-1" {
		t.Errorf("OAuth2 endpoint with a static Authorization: got %+v, want the OAuth2 token", rq)
	}
}

func TestOAuthHeadersCannotReplaceReserved(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"X-Webhook-Signature", "x-webhook-signature", "X-Webhook-Timestamp", "X-Webhook-Event-Id",
		"Webhook-Signature", "webhook-signature", "Webhook-Id", "Webhook-Timestamp",
		"Content-Type", "content-type",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const value = "header-value-secret-42"
			_, err := webhook.New(webhook.Config{
				Logger: quietLogger,
				Endpoints: []webhook.Endpoint{{Name: "crm", URL: "https://crm.example.com/hooks", Secret: oauthSigSecret,
					Headers: map[string]string{name: value}}},
			})
			if !errors.Is(err, webhook.ErrInvalidConfig) {
				t.Fatalf("New = %v, want ErrInvalidConfig", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, `endpoint "crm"`) || !strings.Contains(msg, "headers") || !strings.Contains(msg, name) {
				t.Errorf("error %q should name the endpoint, the field and the header", msg)
			}
			if strings.Contains(msg, value) {
				t.Errorf("error %q shows the header's value", msg)
			}
		})
	}
}

func TestOAuthConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		oauth webhook.OAuth2
		want  string
	}{
		{"no client id", webhook.OAuth2{ClientSecret: oauthClientSecret, TokenURL: "https://auth.example.com/token"}, "client_id"},
		{"no token url", webhook.OAuth2{ClientID: "id", ClientSecret: oauthClientSecret}, "token_url"},
		{"bad token url", webhook.OAuth2{ClientID: "id", ClientSecret: oauthClientSecret, TokenURL: "ftp://auth.example.com/token"}, "token_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := tc.oauth
			_, err := webhook.New(webhook.Config{
				Logger:    quietLogger,
				Endpoints: []webhook.Endpoint{{Name: "oauth2", URL: "https://example.com/webhooks/", Secret: oauthSigSecret, OAuth2: &o}},
			})
			if !errors.Is(err, webhook.ErrInvalidConfig) {
				t.Fatalf("New = %v, want ErrInvalidConfig", err)
			}
			if msg := err.Error(); !strings.Contains(msg, `endpoint "oauth2"`) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q should name the endpoint and %s", msg, tc.want)
			}
			if strings.Contains(err.Error(), oauthClientSecret) {
				t.Errorf("error shows the client secret: %v", err)
			}
		})
	}
}
