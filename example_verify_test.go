package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/hookrail/webhook"
)

// A receiver checks each request with Verify before it trusts the body.
// The signed request here is built by hand, as a sender would, with the
// current time: Verify compares the timestamp with time.Now.
func ExampleVerify() {
	secret := "whsec_example" // in production: os.Getenv("WEBHOOK_SECRET")

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Verify the raw bytes, before any JSON decoding.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := webhook.Verify(secret, r.Header, body); err != nil {
			fmt.Println("rejected:", err)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("accepted", r.Header.Get(webhook.HeaderEventID))
		w.WriteHeader(http.StatusOK) // respond quickly; process later
	})

	// What the sender does: HMAC-SHA256 over "<timestamp>.<body>".
	body := []byte(`{"id":"evt_abc123xyz","event":"created","object":{"id":"42"}}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	send := func(body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(webhook.HeaderSignature, signature)
		req.Header.Set(webhook.HeaderTimestamp, ts)
		req.Header.Set(webhook.HeaderEventID, "evt_abc123xyz")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	send(body)
	send(bytes.Replace(body, []byte(`"42"`), []byte(`"43"`), 1)) // altered in transit

	// Output:
	// accepted evt_abc123xyz
	// 200
	// rejected: webhook: X-Webhook-Signature: no signature matches: invalid signature
	// 401
}

// A Verifier holds several secrets while the sender rotates from the old one
// to the new one, and takes its tolerance and clock from its fields. The
// clock is fixed here so that the output does not depend on the time of day;
// leave Now nil in production.
func ExampleVerifier() {
	const signedAt = 1705405200 // 2024-01-16T11:40:00Z
	v := &webhook.Verifier{
		Secrets:   []string{"new-secret", "old-secret"},
		Tolerance: 5 * time.Minute,
		Now:       func() time.Time { return time.Unix(signedAt+30, 0) },
	}

	body := []byte(`{"id":"evt_def456abc","event":"updated"}`)
	sign := func(secret string, unix int64) http.Header {
		ts := strconv.FormatInt(unix, 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		h := http.Header{}
		h.Set(webhook.HeaderSignature, "sha256="+hex.EncodeToString(mac.Sum(nil)))
		h.Set(webhook.HeaderTimestamp, ts)
		return h
	}

	for _, c := range []struct {
		name   string
		header http.Header
	}{
		{"new secret", sign("new-secret", signedAt)},
		{"old secret", sign("old-secret", signedAt)},
		{"unknown secret", sign("someone-else", signedAt)},
		{"replayed later", sign("new-secret", signedAt-600)},
		{"no headers", http.Header{}},
	} {
		err := v.Verify(c.header, body)
		switch {
		case err == nil:
			fmt.Printf("%s: ok\n", c.name)
		case errors.Is(err, webhook.ErrTimestampOutOfRange):
			fmt.Printf("%s: too old or too new: %v\n", c.name, err)
		case errors.Is(err, webhook.ErrInvalidSignature):
			fmt.Printf("%s: forged or altered: %v\n", c.name, err)
		default: // ErrMissingSignature, ErrMalformedSignature
			fmt.Printf("%s: not a signed webhook: %v\n", c.name, err)
		}
	}

	// Output:
	// new secret: ok
	// old secret: ok
	// unknown secret: forged or altered: webhook: X-Webhook-Signature: no signature matches: invalid signature
	// replayed later: too old or too new: webhook: X-Webhook-Timestamp: 1705404600 is 10m30s in the past, tolerance 5m0s: timestamp out of range
	// no headers: not a signed webhook: webhook: X-Webhook-Signature: header is absent or empty: missing signature
}

// A handler that verifies every request itself keeps one Verifier from
// NewVerifier for its life: the secrets are keyed once, not per request.
// (Receiver.Middleware does the same for the Verifier it is given.)
func ExampleNewVerifier() {
	verifier := webhook.NewVerifier("new-secret", "old-secret")
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := verifier.Verify(r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})

	body := []byte(`{"id":"evt_ghi789def","event":"deleted"}`)
	for _, secret := range []string{"old-secret", "unknown-secret"} {
		h, err := webhook.Sign(webhook.SchemeHMAC, []string{secret}, "evt_ghi789def", time.Now(), body)
		if err != nil {
			fmt.Println(err)
			return
		}
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		for k, v := range h {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		hook.ServeHTTP(w, r)
		fmt.Println(secret, w.Code)
	}

	// Output:
	// old-secret 204
	// unknown-secret 401
}
