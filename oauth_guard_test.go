package webhook_test

// The OAuth2 token URL gets the protections the endpoint URL gets:
// Config.HTTPSOnly refuses an http token URL in New (the client secret
// would go out in clear text), and a token URL whose address the SSRF
// guard refuses fails the delivery at once, like a blocked endpoint.

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

func TestOAuthTokenURLHTTPSOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tokenURL  string
		httpsOnly bool
		wantErr   bool
	}{
		{"http with https_only", "http://auth.example.com/token?k=v", true, true},
		{"HTTP upper case with https_only", "HTTP://auth.example.com/token", true, true},
		{"https with https_only", "https://auth.example.com/token", true, false},
		{"http without https_only", "http://auth.example.com/token", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := webhook.New(webhook.Config{
				HTTPSOnly: tc.httpsOnly,
				Logger:    quietLogger,
				Endpoints: []webhook.Endpoint{{Name: "oauth2", URL: "https://example.com/webhooks/", Secret: oauthSigSecret,
					OAuth2: &webhook.OAuth2{ClientID: oauthClientID, ClientSecret: oauthClientSecret, TokenURL: tc.tokenURL}}},
			})
			if !tc.wantErr {
				require.NoError(t, err)
				closeEmitter(t, e, 10*time.Second)
				return
			}
			require.ErrorIs(t, err, webhook.ErrInvalidConfig)
			msg := err.Error()
			assert.Contains(t, msg, `endpoint "oauth2"`)
			assert.Contains(t, msg, "oauth2.token_url")
			assert.Contains(t, msg, "https_only")
			assert.NotContains(t, msg, oauthClientSecret)
			assert.NotContains(t, msg, "k=v", "the token URL's query")
		})
	}
}

// A token request the SSRF guard refuses is not retried: the delivery
// fails on its first attempt with an error wrapping ErrBlockedAddress,
// and the token server (on 127.0.0.1, which the guard blocks) is never
// reached.
func TestOAuthTokenURLBlockedFailsAtOnce(t *testing.T) {
	t.Parallel()
	eachSyncMode(t, func(t *testing.T, syncMode bool) {
		ts := newOAuthTokenServer(t, 3600)
		rx := newOAuthEndpoint(t, nil)
		fails := newFailureLog()
		const delay = 2 * time.Second
		e := newEmitter(t, webhook.Config{
			Sync:      syncMode,
			SSRFGuard: &webhook.SSRFGuard{},
			// Retries on: a blocked token URL must still not be retried.
			Retry:     &webhook.RetryConfig{MaxRetries: 3, RetryDelay: delay, NoJitter: true},
			OnFailure: fails.record,
			Endpoints: []webhook.Endpoint{ts.endpoint(rx.URL)},
		})
		start := time.Now()
		err := e.Emit(testCtx(t, 30*time.Second), oauthEvent(1))
		if syncMode {
			require.ErrorIs(t, err, webhook.ErrBlockedAddress)
			var de *webhook.DeliveryError
			require.True(t, errors.As(err, &de), "Emit = %v, want a DeliveryError", err)
			assert.Equal(t, "oauth2", de.Endpoint)
			assert.Equal(t, 1, de.Attempt, "attempts made")
			assert.Contains(t, err.Error(), "token")
			assert.NotContains(t, err.Error(), oauthClientSecret)
		} else {
			require.NoError(t, err)
		}
		f := fails.next(t, 30*time.Second)
		assert.Less(t, time.Since(start), delay, "the delivery waited for a retry")
		assert.Equal(t, 1, f.Attempts)
		assert.ErrorIs(t, f.Err, webhook.ErrBlockedAddress)
		assert.Zero(t, ts.hits.Load(), "token server hits")
		assert.Empty(t, rx.requests(), "endpoint requests")
	})
}
