package webhook_test

// Leaks a review of the shaping code found: each case sends a value a rule
// should hide and fails if it reaches the receiver.

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookrail/webhook"
	store "github.com/hookrail/webhook/internal/testmodels/rvmodels"
	billing "github.com/hookrail/webhook/internal/testmodels/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRulesFollowThePackageName: a model's label is its package's name
// and its type's ("store.Customer" for package store in folder rvmodels,
// "billing.Invoice" for package billing in folder v2), so the rules
// written for those labels apply.
func TestRulesFollowThePackageName(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	ep := coreEndpoint("a", rc.URL)
	ep.ExcludeFields = map[string][]string{"store.Customer": {"email"}}
	ep.RedactFields = map[string]map[string]any{"billing.Invoice": {"card": "****"}}
	e := newEmitter(t, webhook.Config{Sync: true, Endpoints: []webhook.Endpoint{ep}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, e.Emit(ctx, webhook.Create(store.Customer{ID: 1, Name: "Ada", Email: "ada@example.com"})))
	require.NoError(t, e.Emit(ctx, webhook.Create(&billing.Invoice{ID: 2, Card: "4111 1111 1111 1111", Amount: "9.99"})))

	reqs := rc.requests()
	require.Len(t, reqs, 2)
	var customer, invoice struct {
		Model  webhook.ModelInfo `json:"model"`
		Object map[string]any    `json:"object"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &customer))
	require.NoError(t, json.Unmarshal(reqs[1].Body, &invoice))
	assert.Equal(t, "store.Customer", customer.Model.Label)
	assert.NotContains(t, customer.Object, "email", "an excluded field of store.Customer")
	assert.Equal(t, "billing.Invoice", invoice.Model.Label)
	assert.Equal(t, "****", invoice.Object["card"], "a redacted field of billing.Invoice")
}
