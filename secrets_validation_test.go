package webhook_test

// New refuses what would fail every delivery or weaken every signature:
// header values with control characters (tab is allowed, as RFC 9110
// allows it in field values), header names that are not tokens, and HMAC
// secrets shorter than 8 bytes. Errors name the endpoint, the field and,
// for headers, the header's name, never a value.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

const valHeaderValue = "val-header-S3CRET-abcd"

func TestValidationHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		header  string
		value   string
		wantErr []string // nil: New accepts it
	}{
		{"plain", "X-API-Key", valHeaderValue, nil},
		{"tab", "X-API-Key", "a\t" + valHeaderValue, nil},
		{"obs-text", "X-Note", "caf\xc3\xa9 " + valHeaderValue, nil},
		{"empty value", "X-Empty", "", nil},
		{"CR", "X-API-Key", valHeaderValue + "\r", []string{"headers", `"X-API-Key"`, "control character"}},
		{"LF", "X-API-Key", valHeaderValue + "\n", []string{"headers", `"X-API-Key"`, "control character"}},
		{"CRLF injection", "Authorization", "Bearer " + valHeaderValue + "\r\nX-Evil: 1", []string{"headers", `"Authorization"`}},
		{"NUL", "X-API-Key", valHeaderValue + "\x00", []string{"headers", `"X-API-Key"`, "control character"}},
		{"SOH", "X-API-Key", "\x01" + valHeaderValue, []string{"headers", `"X-API-Key"`, "control character"}},
		{"ESC", "X-API-Key", valHeaderValue + "\x1b[0m", []string{"headers", `"X-API-Key"`, "control character"}},
		{"US", "X-API-Key", valHeaderValue + "\x1f", []string{"headers", `"X-API-Key"`, "control character"}},
		{"vertical tab", "X-API-Key", valHeaderValue + "\v", []string{"headers", `"X-API-Key"`, "control character"}},
		{"DEL", "X-API-Key", valHeaderValue + "\x7f", []string{"headers", `"X-API-Key"`, "control character"}},
		{"name with space", "X API Key", valHeaderValue, []string{"headers", `"X API Key"`, "not a valid header name"}},
		{"name with colon", "X-Key:", valHeaderValue, []string{"headers", `"X-Key:"`, "not a valid header name"}},
		{"name non-ASCII", "X-Clé", valHeaderValue, []string{"headers", "not a valid header name"}},
		{"empty name", "", valHeaderValue, []string{"headers", "not a valid header name"}},
		{"name with newline", "X-Key\n", valHeaderValue, []string{"headers", "not a valid header name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := webhook.New(webhook.Config{
				Logger: quietLogger,
				Endpoints: []webhook.Endpoint{{Name: "crm", URL: "https://crm.example.com/hooks", Secret: "secret_123",
					Headers: map[string]string{tc.header: tc.value}}},
			})
			if tc.wantErr == nil {
				require.NoError(t, err)
				closeEmitter(t, e, 10*time.Second)
				return
			}
			require.ErrorIs(t, err, webhook.ErrInvalidConfig)
			msg := err.Error()
			assert.Contains(t, msg, `endpoint "crm"`)
			for _, w := range tc.wantErr {
				assert.Contains(t, msg, w)
			}
			assert.NotContains(t, msg, valHeaderValue)
		})
	}
}

func TestValidationSecretLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		scheme   webhook.SignatureScheme
		secret   string
		previous string
		wantErr  []string // nil: New accepts it
	}{
		{"Rail Django's example", "", "secret_123", "", nil},
		{"8 bytes", "", "12345678", "", nil},
		{"8 bytes, explicit scheme", webhook.SchemeHMAC, "12345678", "", nil},
		{"1 byte", "", "s", "", []string{"secret:", "1 byte", "at least 8 bytes", "32 random bytes"}},
		{"7 bytes", webhook.SchemeHMAC, "1234567", "", []string{"secret:", "7 bytes", "at least 8 bytes", "32 random bytes"}},
		{"7 bytes of UTF-8, 3 runes", "", "dé€", "", []string{"secret:", "6 bytes"}},
		{"previous 8 bytes", "", "secret_123", "abcdefgh", nil},
		{"previous 3 bytes", "", "secret_123", "old", []string{"previous_secret:", "3 bytes", "at least 8 bytes", "32 random bytes"}},
		// Standard Webhooks keys keep their own rules (whsec_ + base64 of
		// 24 to 64 bytes; whsk_ ed25519 keys).
		{"standard secret", webhook.SchemeStandard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", nil},
		{"standard short secret", webhook.SchemeStandard, "whsec_c2VjcmV0", "", nil},
		{"standard bad secret", webhook.SchemeStandard, "whsec_!!", "", []string{"secret:", "base64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := webhook.Endpoint{Name: "crm", URL: "https://crm.example.com/hooks", Scheme: tc.scheme, Secret: tc.secret}
			if tc.previous != "" {
				ep.PreviousSecret = tc.previous
				ep.PreviousSecretUntil = time.Now().Add(time.Hour)
			}
			e, err := webhook.New(webhook.Config{Logger: quietLogger, Endpoints: []webhook.Endpoint{ep}})
			if tc.wantErr == nil {
				require.NoError(t, err)
				closeEmitter(t, e, 10*time.Second)
				return
			}
			require.ErrorIs(t, err, webhook.ErrInvalidConfig)
			msg := err.Error()
			assert.Contains(t, msg, `endpoint "crm"`)
			for _, w := range tc.wantErr {
				assert.Contains(t, msg, w)
			}
			for _, s := range []string{tc.secret, tc.previous} {
				if s != "" && len(s) >= 3 {
					// Short test secrets are words of the message ("s"):
					// check the quoted forms.
					assert.NotContains(t, msg, `"`+s+`"`)
					assert.NotContains(t, msg, ": "+s)
				}
			}
			assert.False(t, errors.Is(err, webhook.ErrInvalidConfig) && strings.Count(msg, "secret:") > 2, "one error per field: %s", msg)
		})
	}
}
