package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hookrail/webhook"
)

// A sender that signs with an ed25519 key gives its receivers only the
// public key: they can check signatures but cannot make them. The signing
// key goes into the Endpoint's Secret with SchemeStandard; the receiver's
// Verifier holds the "whpk_" public key.
func ExampleGenerateSigningKey() {
	signingKey, publicKey, err := webhook.GenerateSigningKey()
	if err != nil {
		log.Fatal(err)
	}
	// Store signingKey as a secret of the sender; publish publicKey.
	fmt.Println(strings.HasPrefix(signingKey, "whsk_"), strings.HasPrefix(publicKey, "whpk_"))

	// The receiver.
	verifier := &webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: []string{publicKey}}
	_, otherKey, err := webhook.GenerateSigningKey()
	if err != nil {
		log.Fatal(err)
	}
	impostor := &webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: []string{otherKey}}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		fmt.Println("with the sender's public key:", exStdResult(verifier.Verify(r.Header, body)))
		fmt.Println("with another public key:", exStdResult(impostor.Verify(r.Header, body)))
	}))
	defer receiver.Close()

	// The sender.
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{
			Name:   "partner",
			URL:    receiver.URL + "/webhooks",
			Secret: signingKey,
			Scheme: webhook.SchemeStandard,
		}},
		Sync: true, // deliver inside Emit, so that the output is in order
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ev := webhook.Create(map[string]any{"id": "42", "status": "paid"})
	ev.Model = "store.Order"
	if err := emitter.Emit(ctx, ev); err != nil {
		log.Fatal(err)
	}
	if err := emitter.Close(ctx); err != nil {
		log.Fatal(err)
	}

	// Output:
	// true true
	// with the sender's public key: ok
	// with another public key: invalid signature
}

// exStdResult names the outcome of a verification by its sentinel.
func exStdResult(err error) string {
	for _, s := range []error{webhook.ErrMissingSignature, webhook.ErrMalformedSignature,
		webhook.ErrTimestampOutOfRange, webhook.ErrInvalidSignature} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}

// A receiver of Standard Webhooks (webhook-id, webhook-timestamp and
// webhook-signature headers) verifies with Scheme set to SchemeStandard and
// its "whsec_" secret. Listing the old and the new secret accepts both
// while the sender rotates. The clocks are fixed here so that the output
// does not depend on the time of day; leave Config.Now and Verifier.Now
// nil in production.
func ExampleVerifier_standard() {
	const (
		oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // in production: os.Getenv(…)
		newSecret = "whsec_aG9va3JhaWwgc3RhbmRhcmQgd2ViaG9va3Mga2V5IDI="
	)
	sentAt := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)

	// Capture one request as the receiver gets it.
	var header http.Header
	var body []byte
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
	}))
	defer receiver.Close()

	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{
			Name:   "billing",
			URL:    receiver.URL + "/webhooks",
			Secret: newSecret,
			Scheme: webhook.SchemeStandard,
		}},
		Sync: true,
		Now:  func() time.Time { return sentAt },
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ev := webhook.Create(map[string]any{"id": "42", "total": "299.99"})
	ev.ID, ev.Model = "evt_42", "store.Order"
	if err := emitter.Emit(ctx, ev); err != nil {
		log.Fatal(err)
	}
	if err := emitter.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("webhook-id:", header.Get("webhook-id"))
	fmt.Println("webhook-timestamp:", header.Get("webhook-timestamp"))

	receivedAt := sentAt.Add(2 * time.Second)
	v := &webhook.Verifier{
		Scheme:  webhook.SchemeStandard,
		Secrets: []string{newSecret, oldSecret},
		Now:     func() time.Time { return receivedAt },
	}
	fmt.Println("as sent:", exStdResult(v.Verify(header, body)))
	fmt.Println("body altered:", exStdResult(v.Verify(header, []byte(strings.Replace(string(body), "299.99", "2.99", 1)))))
	fmt.Println("no headers:", exStdResult(v.Verify(http.Header{}, body)))

	oldOnly := &webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: []string{oldSecret}, Now: v.Now}
	fmt.Println("old secret only:", exStdResult(oldOnly.Verify(header, body)))

	receivedAt = sentAt.Add(10 * time.Minute) // a replay, past the 5-minute tolerance
	fmt.Println("replayed later:", exStdResult(v.Verify(header, body)))

	// Output:
	// webhook-id: evt_42
	// webhook-timestamp: 1768564800
	// as sent: ok
	// body altered: invalid signature
	// no headers: missing signature
	// old secret only: invalid signature
	// replayed later: timestamp out of range
}
