package webhooktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhooktest"
)

const (
	hmacSecret     = "test-secret-0123456789"
	otherSecret    = "another-secret-9876543210"
	standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	otherStandard  = "whsec_c2VjcmV0LWZvci1hbm90aGVyLWVuZHBvaW50"
)

type order struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Total  string `json:"total"`
}

func (order) WebhookLabel() string { return "store.Order" }

// newEmitter returns an Emitter with one endpoint, closed when the test
// ends (before the receiver, made earlier, is).
func newEmitter(t *testing.T, cfg webhook.Config, ep webhook.Endpoint) *webhook.Emitter {
	t.Helper()
	if ep.Name == "" {
		ep.Name = "test"
	}
	cfg.Endpoints = []webhook.Endpoint{ep}
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	e, err := webhook.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

func TestReceiverEndToEnd(t *testing.T) {
	signingKey, publicKey, err := webhook.GenerateSigningKey()
	require.NoError(t, err)
	tests := []struct {
		name     string
		opts     webhooktest.Options
		endpoint webhook.Endpoint
	}{
		{
			name:     "hmac",
			opts:     webhooktest.Options{Secret: hmacSecret},
			endpoint: webhook.Endpoint{Secret: hmacSecret},
		},
		{
			name:     "hmac explicit scheme",
			opts:     webhooktest.Options{Secret: hmacSecret, Scheme: webhook.SchemeHMAC},
			endpoint: webhook.Endpoint{Secret: hmacSecret, Scheme: webhook.SchemeHMAC},
		},
		{
			name:     "standard whsec",
			opts:     webhooktest.Options{Secret: standardSecret, Scheme: webhook.SchemeStandard},
			endpoint: webhook.Endpoint{Secret: standardSecret, Scheme: webhook.SchemeStandard},
		},
		{
			name:     "standard ed25519",
			opts:     webhooktest.Options{Secret: publicKey, Scheme: webhook.SchemeStandard},
			endpoint: webhook.Endpoint{Secret: signingKey, Scheme: webhook.SchemeStandard},
		},
		{
			name: "hmac rotation, receiver still on the old secret",
			opts: webhooktest.Options{Secret: otherSecret},
			endpoint: webhook.Endpoint{Secret: hmacSecret, PreviousSecret: otherSecret,
				PreviousSecretUntil: time.Now().Add(time.Hour)},
		},
		{
			name: "hmac rotation, receiver holding both",
			opts: webhooktest.Options{Secret: "unrelated-secret-000", Secrets: []string{otherSecret, hmacSecret}},
			endpoint: webhook.Endpoint{Secret: hmacSecret, PreviousSecret: otherSecret,
				PreviousSecretUntil: time.Now().Add(time.Hour)},
		},
		{
			name: "standard rotation, receiver already on the new secret",
			opts: webhooktest.Options{Secret: standardSecret, Scheme: webhook.SchemeStandard},
			endpoint: webhook.Endpoint{Secret: standardSecret, PreviousSecret: otherStandard, Scheme: webhook.SchemeStandard,
				PreviousSecretUntil: time.Now().Add(time.Hour)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := webhooktest.NewReceiver(t, tt.opts)
			ep := tt.endpoint
			ep.URL = rec.URL
			e := newEmitter(t, webhook.Config{}, ep)

			ctx := webhook.WithActor(context.Background(), webhook.Actor{ID: "1", Username: "admin"})
			pending := order{ID: "42", Status: "pending", Total: "299.99"}
			shipped := pending
			shipped.Status = "shipped"
			for _, ev := range []webhook.Event{webhook.Create(pending), webhook.Update(pending, shipped), webhook.Delete(shipped)} {
				require.NoError(t, e.Emit(ctx, ev))
			}

			got := rec.Wait(3)
			require.Len(t, got, 3)
			assert.Empty(t, rec.Rejected())
			byType := map[webhook.EventType]webhooktest.Request{}
			for _, r := range got {
				assert.True(t, r.Verified())
				assert.NoError(t, r.Err)
				assert.Equal(t, http.MethodPost, r.Method)
				assert.Equal(t, "/webhooks/", r.Path)
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
				assert.Equal(t, 1, r.Attempt)
				assert.Equal(t, http.StatusOK, r.Status)
				require.NotNil(t, r.Payload)
				assert.Equal(t, r.Payload.ID, r.EventID)
				assert.Equal(t, "store.Order", r.Payload.Model.Label)
				assert.Equal(t, "42", r.Payload.Object["id"])
				assert.Equal(t, &webhook.Actor{ID: "1", Username: "admin"}, r.Payload.User)
				if tt.opts.Scheme == webhook.SchemeStandard {
					assert.Equal(t, r.EventID, r.Header.Get(webhook.HeaderStandardID))
				} else {
					assert.Equal(t, r.EventID, r.Header.Get(webhook.HeaderEventID))
				}
				byType[r.Payload.Event] = r
			}
			require.Len(t, byType, 3)
			assert.Equal(t, map[string]webhook.Change{"status": {Old: "pending", New: "shipped"}}, byType[webhook.Updated].Payload.Changes)
			assert.Equal(t, "shipped", byType[webhook.Deleted].Payload.Object["status"])
			assert.Len(t, rec.Events(), 3)
			assert.Len(t, rec.Requests(), 3)
			for _, r := range got {
				assert.Equal(t, []webhooktest.Request{r}, rec.Attempts(r.EventID))
			}
		})
	}
}

func TestReceiverRejects(t *testing.T) {
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	tests := []struct {
		name     string
		opts     webhooktest.Options
		endpoint webhook.Endpoint
		now      func() time.Time // the emitter's clock
		want     error
	}{
		{
			name:     "hmac wrong secret",
			opts:     webhooktest.Options{Secret: otherSecret},
			endpoint: webhook.Endpoint{Secret: hmacSecret},
			want:     webhook.ErrInvalidSignature,
		},
		{
			name:     "standard wrong secret",
			opts:     webhooktest.Options{Secret: otherStandard, Scheme: webhook.SchemeStandard},
			endpoint: webhook.Endpoint{Secret: standardSecret, Scheme: webhook.SchemeStandard},
			want:     webhook.ErrInvalidSignature,
		},
		{
			name:     "standard sender, hmac receiver",
			opts:     webhooktest.Options{Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
			endpoint: webhook.Endpoint{Secret: standardSecret, Scheme: webhook.SchemeStandard},
			want:     webhook.ErrMissingSignature,
		},
		{
			name:     "timestamp an hour old",
			opts:     webhooktest.Options{Secret: hmacSecret},
			endpoint: webhook.Endpoint{Secret: hmacSecret},
			now:      past,
			want:     webhook.ErrTimestampOutOfRange,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := webhooktest.NewReceiver(t, tt.opts)
			ep := tt.endpoint
			ep.URL = rec.URL
			ep.Retry = &webhook.RetryConfig{MaxRetries: 0}
			e := newEmitter(t, webhook.Config{Sync: true, Now: tt.now}, ep)

			err := e.Emit(context.Background(), webhook.Create(order{ID: "1"}))
			var de *webhook.DeliveryError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, http.StatusUnauthorized, de.StatusCode)

			assert.Empty(t, rec.Deliveries())
			assert.Empty(t, rec.Events())
			rejected := rec.Rejected()
			require.Len(t, rejected, 1)
			r := rejected[0]
			assert.False(t, r.Verified())
			require.ErrorIs(t, r.Err, tt.want)
			assert.Equal(t, http.StatusUnauthorized, r.Status)
			assert.Zero(t, r.Attempt)
			require.NotNil(t, r.Payload, "the envelope is decoded even when rejected")
			assert.Equal(t, webhook.Created, r.Payload.Event)
			assert.Empty(t, rec.Attempts(r.EventID))
		})
	}
}

func TestReceiverAcceptsOldTimestampWithItsClock(t *testing.T) {
	then := time.Date(2026, 1, 16, 12, 30, 0, 0, time.UTC)
	clock := func() time.Time { return then }
	rec := webhooktest.NewReceiver(t, webhooktest.Options{Secret: hmacSecret, Now: clock})
	e := newEmitter(t, webhook.Config{Sync: true, Now: clock}, webhook.Endpoint{URL: rec.URL, Secret: hmacSecret})
	require.NoError(t, e.Emit(context.Background(), webhook.Create(order{ID: "1"})))
	got := rec.Wait(1)
	assert.Equal(t, strconv.FormatInt(then.Unix(), 10), got[0].Header.Get(webhook.HeaderTimestamp))
	assert.Equal(t, then, got[0].Payload.Timestamp)
}

func TestReceiverStatusScripting(t *testing.T) {
	tests := []struct {
		name       string
		opts       webhooktest.Options
		maxRetries int
		wantStatus []int // of each attempt
		delivered  bool
	}{
		{
			name:       "default 200",
			wantStatus: []int{200},
			delivered:  true,
		},
		{
			name:       "fixed 204",
			opts:       webhooktest.Options{Status: http.StatusNoContent},
			wantStatus: []int{204},
			delivered:  true,
		},
		{
			name:       "fail the first two with 503",
			opts:       webhooktest.Options{Respond: webhooktest.FailFirst(2, http.StatusServiceUnavailable)},
			maxRetries: 3,
			wantStatus: []int{503, 503, 200},
			delivered:  true,
		},
		{
			name:       "always 500, retries exhausted",
			opts:       webhooktest.Options{Status: http.StatusInternalServerError},
			maxRetries: 2,
			wantStatus: []int{500, 500, 500},
		},
		{
			name: "a status that is not retried",
			opts: webhooktest.Options{Respond: func(r webhooktest.Request) int {
				return http.StatusBadRequest
			}},
			maxRetries: 3,
			wantStatus: []int{400},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Secret = hmacSecret
			rec := webhooktest.NewReceiver(t, tt.opts)
			var mu sync.Mutex
			var failures []webhook.Failure
			e := newEmitter(t, webhook.Config{
				OnFailure: func(f webhook.Failure) {
					mu.Lock()
					defer mu.Unlock()
					failures = append(failures, f)
				},
			}, webhook.Endpoint{
				URL: rec.URL, Secret: hmacSecret,
				Retry: &webhook.RetryConfig{MaxRetries: tt.maxRetries, RetryDelay: 5 * time.Millisecond, NoJitter: true},
			})
			require.NoError(t, e.Emit(context.Background(), webhook.Create(order{ID: "7"})))

			got := rec.Wait(len(tt.wantStatus))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, e.Close(ctx)) // every attempt made

			assert.Len(t, rec.Deliveries(), len(tt.wantStatus), "no attempt beyond those expected")
			var status []int
			for i, r := range got {
				status = append(status, r.Status)
				assert.Equal(t, i+1, r.Attempt)
				assert.Equal(t, got[0].EventID, r.EventID)
				assert.Equal(t, got[0].Body, r.Body, "every attempt sends the same body")
			}
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, got, rec.Attempts(got[0].EventID))
			if tt.delivered {
				require.Len(t, rec.Events(), 1)
				assert.Equal(t, got[0].EventID, rec.Events()[0].ID)
				assert.Empty(t, failures)
			} else {
				assert.Empty(t, rec.Events())
				require.Len(t, failures, 1)
				var de *webhook.DeliveryError
				require.ErrorAs(t, failures[0].Err, &de)
				assert.Equal(t, tt.wantStatus[len(tt.wantStatus)-1], de.StatusCode)
			}
		})
	}
}

func TestReceiverTransformedBody(t *testing.T) {
	rec := webhooktest.NewReceiver(t, webhooktest.Options{Secret: standardSecret, Scheme: webhook.SchemeStandard})
	e := newEmitter(t, webhook.Config{Sync: true}, webhook.Endpoint{
		URL: rec.URL, Secret: standardSecret, Scheme: webhook.SchemeStandard,
		Transform: func(p webhook.Payload) (any, error) {
			return map[string]any{"type": "order." + string(p.Event), "order_id": p.Object["id"]}, nil
		},
	})
	ev := webhook.Create(order{ID: "9"})
	ev.ID = "evt_transformed"
	require.NoError(t, e.Emit(context.Background(), ev))

	got := rec.Wait(1)
	assert.Nil(t, got[0].Payload, "not an envelope")
	assert.Equal(t, "evt_transformed", got[0].EventID, "from webhook-id")
	var body struct {
		Type    string `json:"type"`
		OrderID string `json:"order_id"`
	}
	require.NoError(t, got[0].Decode(&body))
	assert.Equal(t, "order.created", body.Type)
	assert.Equal(t, "9", body.OrderID)
	assert.Empty(t, rec.Events(), "Events lists envelopes only")
	assert.Error(t, webhooktest.Request{Body: []byte("{")}.Decode(&body))
}

// fakeTB records Fatalf instead of stopping the test, and hands cleanups
// to the real test.
type fakeTB struct {
	t *testing.T

	mu     sync.Mutex
	fatals []string
}

func (f *fakeTB) Helper()            {}
func (f *fakeTB) Cleanup(fn func())  { f.t.Cleanup(fn) }
func (f *fakeTB) messages() []string { f.mu.Lock(); defer f.mu.Unlock(); return f.fatals }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
}

var _ webhooktest.TB = (*fakeTB)(nil)
var _ webhooktest.TB = (testing.TB)(nil)

func TestWaitFailure(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		rejected int // requests sent without a signature
		wait     func(rec *webhooktest.Receiver) []webhooktest.Request
		want     []string
	}{
		{
			name:     "timeout",
			rejected: 1,
			wait:     func(rec *webhooktest.Receiver) []webhooktest.Request { return rec.Wait(2) },
			want: []string{
				"webhooktest: waited for 2 verified deliveries at http://127.0.0.1:",
				"got 1 (timed out); 1 rejected:\n\trequest 2: webhook: X-Webhook-Signature: header is absent or empty: missing signature",
			},
		},
		{
			name:     "context canceled",
			rejected: 0,
			wait: func(rec *webhooktest.Receiver) []webhooktest.Request {
				return rec.WaitFor(canceled, 2)
			},
			want: []string{"webhooktest: waited for 2 verified deliveries", "got 1 (context canceled)"},
		},
		{
			name:     "many rejected",
			rejected: 7,
			wait:     func(rec *webhooktest.Receiver) []webhooktest.Request { return rec.Wait(2) },
			want:     []string{"got 1 (timed out); 7 rejected:", "\trequest 6: ", "\n\t… and 2 more"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ftb := &fakeTB{t: t}
			rec := webhooktest.NewReceiver(ftb, webhooktest.Options{Secret: hmacSecret, WaitTimeout: 100 * time.Millisecond})
			e := newEmitter(t, webhook.Config{Sync: true}, webhook.Endpoint{URL: rec.URL, Secret: hmacSecret})
			require.NoError(t, e.Emit(context.Background(), webhook.Create(order{ID: "1"})))
			for range tt.rejected {
				resp, err := http.Post(rec.URL, "application/json", bytes.NewReader([]byte(`{}`)))
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			}

			start := time.Now()
			got := tt.wait(rec)
			assert.Less(t, time.Since(start), 5*time.Second)
			assert.Len(t, got, 1, "what did arrive")
			msgs := ftb.messages()
			require.Len(t, msgs, 1)
			for _, want := range tt.want {
				assert.Contains(t, msgs[0], want)
			}
		})
	}
}

func TestNewReceiverBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts webhooktest.Options
		want string
	}{
		{"no secret", webhooktest.Options{}, "webhooktest: NewReceiver: webhook: Verifier has no secrets"},
		{"empty extra secret", webhooktest.Options{Secret: hmacSecret, Secrets: []string{""}}, "secret 2 of 2 is empty"},
		{"standard secret not base64", webhooktest.Options{Secret: "whsec_!!", Scheme: webhook.SchemeStandard}, `"whsec_" followed by base64`},
		{"unknown scheme", webhooktest.Options{Secret: hmacSecret, Scheme: "md5"}, `scheme "md5" unknown`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ftb := &fakeTB{t: t}
			rec := webhooktest.NewReceiver(ftb, tt.opts)
			msgs := ftb.messages()
			require.Len(t, msgs, 1)
			assert.Contains(t, msgs[0], tt.want)
			assert.Empty(t, rec.URL)
		})
	}
}

// Many events at once, read while they arrive: run with -race.
func TestReceiverConcurrent(t *testing.T) {
	const n = 50
	rec := webhooktest.NewReceiver(t, webhooktest.Options{Secret: hmacSecret, Respond: webhooktest.FailFirst(1, http.StatusTooManyRequests)})
	e := newEmitter(t, webhook.Config{
		Workers: 8,
		// 50 refusals in a row would open the circuit for 30 s.
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
	}, webhook.Endpoint{
		URL: rec.URL, Secret: hmacSecret,
		Retry: &webhook.RetryConfig{MaxRetries: 1, RetryDelay: time.Millisecond, NoJitter: true},
	})
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				_ = rec.Events()
				_ = rec.Deliveries()
				_ = rec.Requests()
			}
		}
	})
	var emitters sync.WaitGroup
	for i := range n {
		emitters.Go(func() {
			assert.NoError(t, e.Emit(context.Background(), webhook.Create(order{ID: strconv.Itoa(i)})))
		})
	}
	emitters.Wait()
	got := rec.Wait(2 * n)
	close(done)
	readers.Wait()

	assert.Len(t, got, 2*n)
	events := rec.Events()
	require.Len(t, events, n)
	ids := map[string]bool{}
	for _, p := range events {
		ids[p.Object["id"].(string)] = true
		attempts := rec.Attempts(p.ID)
		require.Len(t, attempts, 2)
		assert.Equal(t, []int{429, 200}, []int{attempts[0].Status, attempts[1].Status})
	}
	assert.Len(t, ids, n)
	for i, r := range rec.Requests() {
		assert.Equal(t, i+1, r.Seq)
	}
}

// Numbers keep their exact text, as in webhook.Payload.
func TestReceiverNumbers(t *testing.T) {
	rec := webhooktest.NewReceiver(t, webhooktest.Options{Secret: hmacSecret})
	e := newEmitter(t, webhook.Config{Sync: true}, webhook.Endpoint{URL: rec.URL, Secret: hmacSecret})
	ev := webhook.Create(map[string]any{"id": json.Number("12345678901234567890"), "total": 1.5})
	ev.Model = "store.Order"
	require.NoError(t, e.Emit(context.Background(), ev))
	p := rec.Wait(1)[0].Payload
	assert.Equal(t, json.Number("12345678901234567890"), p.Object["id"])
	assert.Equal(t, json.Number("1.5"), p.Object["total"])
}
