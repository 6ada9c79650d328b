package webhook_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// TestSign: the headers Sign makes verify with the Verifier, for both
// schemes and during a rotation; what cannot sign is refused.
func TestSign(t *testing.T) {
	t.Parallel()
	signing, public, err := webhook.GenerateSigningKey()
	require.NoError(t, err)
	body := []byte(`{"id":"evt_1","event":"created"}`)
	now := time.Now()
	tests := []struct {
		name     string
		scheme   webhook.SignatureScheme
		secrets  []string
		verifier []string
		id       string
		wantErr  string
	}{
		{name: "hmac", secrets: []string{"sign-secret-123"}, verifier: []string{"sign-secret-123"}, id: "evt_1"},
		{name: "hmac without id", secrets: []string{"sign-secret-123"}, verifier: []string{"sign-secret-123"}},
		{name: "hmac rotation", secrets: []string{"new-secret-456", "sign-secret-123"}, verifier: []string{"sign-secret-123"}, id: "evt_1"},
		{name: "standard whsec", scheme: webhook.SchemeStandard, secrets: []string{"whsec_c2lnbi1zZWNyZXQtMTIz"}, verifier: []string{"whsec_c2lnbi1zZWNyZXQtMTIz"}, id: "evt_1"},
		{name: "standard ed25519", scheme: webhook.SchemeStandard, secrets: []string{signing}, verifier: []string{public}, id: "evt_1"},
		{name: "standard needs an id", scheme: webhook.SchemeStandard, secrets: []string{signing}, wantErr: "signs the event id"},
		{name: "a public key cannot sign", scheme: webhook.SchemeStandard, secrets: []string{public}, id: "evt_1", wantErr: "cannot sign"},
		{name: "no secret", wantErr: "no secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhook.Sign(tt.scheme, tt.secrets, tt.id, now, body)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			v := &webhook.Verifier{Secrets: tt.verifier, Scheme: tt.scheme}
			require.NoError(t, v.Verify(h, body))
			require.Error(t, v.Verify(h, append([]byte(" "), body...)), "a changed body fails")
			if tt.scheme == "" && tt.id == "" {
				assert.Empty(t, h.Get(webhook.HeaderEventID))
			}
		})
	}
}

func ExampleSign() {
	body := []byte(`{"id":"evt_1","event":"created"}`)
	h, err := webhook.Sign(webhook.SchemeHMAC, []string{"receiver-test-secret"}, "evt_1", time.Unix(1767225600, 0), body)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Get(webhook.HeaderTimestamp))
	fmt.Println(h.Get(webhook.HeaderSignature)[:7])
	// Output:
	// 1767225600
	// sha256=
}
