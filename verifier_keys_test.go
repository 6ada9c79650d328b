package webhook_test

import (
	"bytes"
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

// TestNewVerifier: a Verifier from NewVerifier, which keeps its secrets'
// keyed HMAC states, gives every answer a Verifier literal gives, also
// after its Secrets are replaced (the states kept are then unused: a
// request signed with the old secret is refused), and when shared by
// goroutines (run with -race).
func TestNewVerifier(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_keys","event":"created"}`)
	sign := func(secret string) http.Header {
		h, err := webhook.Sign(webhook.SchemeHMAC, []string{secret}, "evt_keys", at, body)
		require.NoError(t, err)
		return h
	}
	now := func() time.Time { return at.Add(time.Minute) }
	for _, tc := range []struct {
		name    string
		secrets []string // NewVerifier's
		replace []string // then Secrets, if set
		signer  string
		want    error // nil: accepted
	}{
		{"one secret", []string{"s1"}, nil, "s1", nil},
		{"the second of two", []string{"s1", "s2"}, nil, "s2", nil},
		{"an unknown secret", []string{"s1", "s2"}, nil, "s3", webhook.ErrInvalidSignature},
		{"replaced: the new secret", []string{"s1"}, []string{"s2"}, "s2", nil},
		{"replaced: the old secret", []string{"s1"}, []string{"s2"}, "s1", webhook.ErrInvalidSignature},
		{"one added", []string{"s1"}, []string{"s1", "s2"}, "s2", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keyed := webhook.NewVerifier(tc.secrets...)
			keyed.Now = now
			if tc.replace != nil {
				keyed.Secrets = tc.replace
			}
			plain := &webhook.Verifier{Secrets: keyed.Secrets, Now: now}
			h := sign(tc.signer)
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

// TestReceiverSecretsReplaced: the Receiver keeps the keyed states of the
// Secrets it had when Middleware was called; Secrets replaced afterwards
// are used, and the old one is refused.
func TestReceiverSecretsReplaced(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_rotate"}`)
	rc := &webhook.Receiver{Verifier: webhook.Verifier{Secrets: []string{"old"}}}
	h := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	post := func(secret string) int {
		hdr, err := webhook.Sign(webhook.SchemeHMAC, []string{secret}, "evt_rotate", time.Now(), body)
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		for k, v := range hdr {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	assert.Equal(t, http.StatusOK, post("old"))
	rc.Verifier.Secrets = []string{"new"}
	assert.Equal(t, http.StatusOK, post("new"))
	assert.Equal(t, http.StatusUnauthorized, post("old"))
}
