// This file checks our Standard Webhooks signatures with the reference
// Go library (github.com/standard-webhooks/standard-webhooks/libraries), a
// test-only dependency: the root package does not import it.

package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookrail/webhook"
)

// TestStandardReferenceGo has the reference Go library of Standard Webhooks
// (github.com/standard-webhooks/standard-webhooks/libraries/go) verify
// every request an Emitter with SchemeStandard sends, including during a
// secret rotation, reject a changed body and a wrong secret, and agree with
// our signing vector; and our Verifier accept what the reference signs.
//
// The reference library compares timestamps with time.Now, so the Emitter
// runs on the real clock. It implements v1 (HMAC) only: a v1a (ed25519)
// request is rejected by it, which the test records.
func TestStandardReferenceGo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	signingKey, _ := newSigningKey(t)
	rc := newHookReceiver(t, nil)
	events := stdEvents()
	stdEmitAll(t, ctx, []webhook.Endpoint{
		{Name: "hmac", URL: rc.URL + "/v1", Secret: stdSecret, Scheme: webhook.SchemeStandard},
		{Name: "rotating", URL: rc.URL + "/rotating", Secret: stdSecret2, PreviousSecret: stdSecret,
			PreviousSecretUntil: time.Now().Add(time.Hour), Scheme: webhook.SchemeStandard},
		{Name: "ed25519", URL: rc.URL + "/v1a", Secret: signingKey, Scheme: webhook.SchemeStandard},
	}, events)

	ref := func(secret string) *standardwebhooks.Webhook {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatalf("standardwebhooks.NewWebhook: %v", err)
		}
		return wh
	}

	v1 := rc.take("/v1")
	stdCheckRequests(t, "v1", v1, len(events), stdV1Pattern)
	rotating := rc.take("/rotating")
	if len(rotating) != len(events) {
		t.Fatalf("rotating: %d requests, want %d", len(rotating), len(events))
	}
	for i, r := range v1 {
		if err := ref(stdSecret).Verify(r.Body, r.Header); err != nil {
			t.Errorf("v1 request %d: reference Verify: %v", i, err)
		}
		tampered := bytes.Clone(r.Body)
		tampered[len(tampered)/2] ^= 0x01
		if err := ref(stdSecret).Verify(tampered, r.Header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("v1 request %d, one byte changed: reference Verify = %v, want %v", i, err, standardwebhooks.ErrNoMatchingSignature)
		}
		if err := ref(stdWrongSecret).Verify(r.Body, r.Header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("v1 request %d, wrong secret: reference Verify = %v, want %v", i, err, standardwebhooks.ErrNoMatchingSignature)
		}
	}
	for i, r := range rotating {
		for _, secret := range []string{stdSecret, stdSecret2} {
			if err := ref(secret).Verify(r.Body, r.Header); err != nil {
				t.Errorf("rotating request %d (%q): reference Verify with one of the secrets: %v", i, r.Header.Get(webhook.HeaderStandardSignature), err)
			}
		}
		if err := ref(stdWrongSecret).Verify(r.Body, r.Header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("rotating request %d, wrong secret: reference Verify = %v", i, err)
		}
	}
	for i, r := range rc.take("/v1a") {
		if err := ref(stdSecret).Verify(r.Body, r.Header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("v1a request %d: reference Verify = %v; it has no v1a support, want %v", i, err, standardwebhooks.ErrNoMatchingSignature)
		}
	}

	// The reference signs our vector alike.
	got, err := ref(stdSecret).Sign(stdVectorID, time.Unix(stdNow, 0), []byte(stdVectorBody))
	if err != nil || got != stdVectorSig1 {
		t.Errorf("reference Sign(vector) = %q, %v; want %q", got, err, stdVectorSig1)
	}

	// And our Verifier accepts what the reference signs.
	body := []byte(stdVectorBody)
	now := time.Now()
	sig, err := ref(stdSecret).Sign("msg_ref", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "msg_ref")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	v := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: []string{stdSecret}, Now: func() time.Time { return now }}
	if err := v.Verify(h, body); err != nil {
		t.Errorf("Verify(request signed by the reference) = %v", err)
	}
	v.Secrets = []string{stdWrongSecret}
	stdCheckSentinel(t, v.Verify(h, body), webhook.ErrInvalidSignature)
}

// TestStandardMalformedEntriesLikeReference: a signature header whose
// entries are partly malformed is accepted or rejected by our Verifier as
// by the reference library: a malformed entry is passed over, and a valid
// one beside it verifies.
func TestStandardMalformedEntriesLikeReference(t *testing.T) {
	t.Parallel()
	wh, err := standardwebhooks.NewWebhook(stdSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"evt_1","event":"created"}`)
	now := time.Now()
	valid, err := wh.Sign("evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	wrong := "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	for _, sigs := range []string{
		valid,
		"v1,n0t~base64! " + valid,
		valid + " v1,n0t~base64!",
		"nocomma " + valid,
		"v2,whatever v1b,x " + valid,
		"v1,n0t~base64!",
		"nocomma",
		"v1,n0t~base64! " + wrong,
		wrong,
	} {
		h := standardHeader("evt_1", strconv.FormatInt(now.Unix(), 10), sigs)
		refErr := wh.Verify(body, h)
		v := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: []string{stdSecret}}
		ourErr := v.Verify(h, body)
		if (refErr == nil) != (ourErr == nil) {
			t.Errorf("signatures %q: reference %v, ours %v", sigs, refErr, ourErr)
		}
	}
}
