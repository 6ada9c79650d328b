package webhook_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// TestStatsJSON: Stats encodes with snake_case names, as the delivery
// logs do.
func TestStatsJSON(t *testing.T) {
	st := webhook.Stats{Queued: 3, InFlight: 1, Endpoints: map[string]webhook.EndpointStats{
		"crm": {Queued: 3, InFlight: 1, Circuit: webhook.CircuitClosed},
	}}
	b, err := json.Marshal(st)
	require.NoError(t, err)
	assert.JSONEq(t, `{"queued":3,"in_flight":1,"endpoints":{"crm":{"queued":3,"in_flight":1,"circuit":"closed","disabled":false,"paused":false}}}`, string(b))

	qs, err := json.Marshal(webhook.QueueStats{Queued: 2, Endpoints: map[string]webhook.EndpointQueueStats{"crm": {InFlight: 2}}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"queued":2,"in_flight":0,"endpoints":{"crm":{"queued":0,"in_flight":2}}}`, string(qs))
}
