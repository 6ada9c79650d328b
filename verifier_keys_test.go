package webhook_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

var keysAt = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// keysSign signs body for event evt_keys at keysAt with one secret.
func keysSign(t *testing.T, scheme webhook.SignatureScheme, secret string, body []byte) http.Header {
	t.Helper()
	h, err := webhook.Sign(scheme, []string{secret}, "evt_keys", keysAt, body)
	require.NoError(t, err)
	return h
}

// TestNewVerifier: a Verifier from NewVerifier, which keeps its secrets'
// keyed HMAC states, gives every answer a Verifier literal gives: also
// after its Secrets are replaced, reordered or edited in place, after a
// copy of it is given other Secrets, with the Standard Webhooks scheme,
// and when shared by goroutines (run with -race).
func TestNewVerifier(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_keys","event":"created"}`)
	stdSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a Standard Webhooks key, 32 B..."))
	now := func() time.Time { return keysAt.Add(time.Minute) }
	for _, tc := range []struct {
		name   string
		make   func() *webhook.Verifier
		signer string
		scheme webhook.SignatureScheme
		want   error // nil: accepted
	}{
		{"one secret", func() *webhook.Verifier { return webhook.NewVerifier("s1") }, "s1", "", nil},
		{"the second of two", func() *webhook.Verifier { return webhook.NewVerifier("s1", "s2") }, "s2", "", nil},
		{"an unknown secret", func() *webhook.Verifier { return webhook.NewVerifier("s1", "s2") }, "s3", "", webhook.ErrInvalidSignature},
		{"replaced: the new secret", func() *webhook.Verifier {
			v := webhook.NewVerifier("s1")
			v.Secrets = []string{"s2"}
			return v
		}, "s2", "", nil},
		{"replaced: the old secret", func() *webhook.Verifier {
			v := webhook.NewVerifier("s1")
			v.Secrets = []string{"s2"}
			return v
		}, "s1", "", webhook.ErrInvalidSignature},
		{"one added", func() *webhook.Verifier {
			v := webhook.NewVerifier("s1")
			v.Secrets = []string{"s1", "s2"}
			return v
		}, "s2", "", nil},
		{"reordered", func() *webhook.Verifier {
			v := webhook.NewVerifier("s1", "s2")
			v.Secrets = []string{"s2", "s1"}
			return v
		}, "s2", "", nil},
		{"edited in place: the new secret", editedInPlace, "s3", "", nil},
		{"edited in place: the old secret", editedInPlace, "s2", "", webhook.ErrInvalidSignature},
		{"a copy given another secret", func() *webhook.Verifier {
			c := *webhook.NewVerifier("s1")
			c.Secrets = []string{"s2"}
			return &c
		}, "s1", "", webhook.ErrInvalidSignature},
		{"Standard Webhooks", func() *webhook.Verifier {
			v := webhook.NewVerifier(stdSecret)
			v.Scheme = webhook.SchemeStandard
			return v
		}, stdSecret, webhook.SchemeStandard, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keyed := tc.make()
			keyed.Now = now
			plain := &webhook.Verifier{Secrets: keyed.Secrets, Scheme: keyed.Scheme, Now: now}
			h := keysSign(t, tc.scheme, tc.signer, body)
			errs := make(chan error, 8)
			for range cap(errs) {
				go func() { errs <- keyed.Verify(h, body) }()
			}
			for range cap(errs) {
				err := <-errs
				if tc.want == nil {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, tc.want)
				}
			}
			assert.Equal(t, fmt.Sprint(plain.Verify(h, body)), fmt.Sprint(keyed.Verify(h, body)), "against a Verifier literal")
			altered := bytes.Replace(body, []byte("created"), []byte("deleted"), 1)
			assert.ErrorIs(t, keyed.Verify(h, altered), webhook.ErrInvalidSignature, "an altered body")
		})
	}
}

// editedInPlace is a NewVerifier of s1 and s2 whose second secret was
// then changed to s3 in the slice it was given.
func editedInPlace() *webhook.Verifier {
	secrets := []string{"s1", "s2"}
	v := webhook.NewVerifier(secrets...)
	secrets[1] = "s3"
	v.Secrets = secrets
	return v
}

// TestNewVerifierAllocations: verifying with the kept states allocates
// nothing, with two secrets, where a Verifier literal keys an HMAC (and
// allocates) per request; so the kept states are what is used. Under
// -race, sync.Pool drops some states, and the kept states allocate less
// than half as much as the literal.
func TestNewVerifierAllocations(t *testing.T) {
	// Not parallel: AllocsPerRun.
	body := bytes.Repeat([]byte("x"), 1024)
	h := keysSign(t, webhook.SchemeHMAC, "s2", body)
	now := func() time.Time { return keysAt }
	keyed := webhook.NewVerifier("s1", "s2")
	keyed.Now = now
	plain := &webhook.Verifier{Secrets: []string{"s1", "s2"}, Now: now}
	allocs := func(v *webhook.Verifier) float64 {
		return testing.AllocsPerRun(200, func() {
			if err := v.Verify(h, body); err != nil {
				panic(err)
			}
		})
	}
	k, p := allocs(keyed), allocs(plain)
	assert.NotZero(t, p, "a Verifier literal")
	if raceDetector {
		assert.Less(t, 2*k, p, "NewVerifier against a literal, with -race")
	} else {
		assert.Zero(t, k, "NewVerifier")
	}
}

// TestReceiverKeys: the Receiver verifies with the keyed states of the
// Secrets it had when Middleware was called, the second of two included.
func TestReceiverKeys(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_keys"}`)
	rc := &webhook.Receiver{Verifier: webhook.Verifier{Secrets: []string{"new", "old"}}}
	h := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	for _, tc := range []struct {
		secret string
		want   int
	}{{"new", http.StatusOK}, {"old", http.StatusOK}, {"other", http.StatusUnauthorized}} {
		hdr, err := webhook.Sign(webhook.SchemeHMAC, []string{tc.secret}, "evt_keys", time.Now(), body)
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		for k, v := range hdr {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, tc.want, w.Code, tc.secret)
	}
}
