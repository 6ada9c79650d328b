package webhookriver

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestQueueName(t *testing.T) {
	long := strings.Repeat("endpoint", 10)
	cases := []struct {
		endpoint string
		want     string // "" : only checked for River's rules
	}{
		{"orders", "webhook_orders"},
		{"crm-eu_2", "webhook_crm-eu_2"},
		{"Orders", "webhook_orders_"},
		{"crm.example.com", "webhook_crm_example_com_"},
		{"a__b", "webhook_a_b_"},
		{"é", "webhook_"},
		{"-", "webhook_"},
		{long, "webhook_endpointendpoint"},
		{strings.Repeat("x", 56), "webhook_" + strings.Repeat("x", 56)},
	}
	seen := map[string]string{}
	for _, c := range cases {
		got := queueName(c.endpoint)
		assert.True(t, riverName.MatchString(got), "%q → %q: River refuses it", c.endpoint, got)
		assert.LessOrEqual(t, len(got), maxQueueName, "%q → %q", c.endpoint, got)
		assert.True(t, strings.HasPrefix(got, c.want), "%q → %q, want it to start with %q", c.endpoint, got, c.want)
		assert.Equal(t, got, queueName(c.endpoint), "the same name maps to the same queue")
		if other, ok := seen[got]; ok {
			t.Errorf("%q and %q both map to %q", other, c.endpoint, got)
		}
		seen[got] = c.endpoint
	}
	assert.NotEqual(t, queueName("Orders"), queueName("ORDERS"), "names that differ only in case get different queues")
}
