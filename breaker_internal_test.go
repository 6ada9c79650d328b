package webhook

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWindow: a delivery's deadline is its retries at their longest plus
// a Timeout per attempt, at least a cooldown and a Timeout, and never
// overflows or takes long to work out, whatever the RetryConfig.
func TestWindow(t *testing.T) {
	t.Parallel()
	breaker := resolveBreaker(CircuitBreaker{Cooldown: time.Millisecond})
	tests := []struct {
		name    string
		retry   *RetryConfig
		timeout time.Duration
		want    time.Duration
	}{
		// 4 × 30 s + (60 + 120 + 240) s × 1.2
		{"defaults", nil, 30 * time.Second, 4*30*time.Second + 504*time.Second},
		{"no jitter", &RetryConfig{MaxRetries: 2, RetryDelay: time.Second, NoJitter: true}, time.Second, 3*time.Second + 3*time.Second},
		{"no retries: a cooldown and a timeout", &RetryConfig{MaxRetries: 0}, time.Second, time.Millisecond + time.Second},
		{"capped delays", &RetryConfig{MaxRetries: 3, RetryDelay: time.Minute, BackoffFactor: 10, MaxDelay: 5 * time.Minute, NoJitter: true},
			time.Second, 4*time.Second + 11*time.Minute},
		{"many retries at a fixed delay", &RetryConfig{MaxRetries: 1_000_000_000, RetryDelay: time.Nanosecond, BackoffFactor: 1, MaxDelay: time.Nanosecond, NoJitter: true},
			time.Millisecond, 1_000_000_001*time.Millisecond + 1_000_000_000*time.Nanosecond},
		{"MaxInt retries", &RetryConfig{MaxRetries: math.MaxInt, RetryDelay: time.Nanosecond, MaxDelay: time.Nanosecond}, 2*time.Second + 1, maxWindow},
		{"MaxInt retries of an hour", &RetryConfig{MaxRetries: math.MaxInt}, time.Hour, maxWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := resolveRetry(tc.retry)
			require.NoError(t, err)
			start := time.Now()
			got := window(&p, tc.timeout, breaker)
			assert.Less(t, time.Since(start), time.Second, "working out the window")
			assert.InDelta(t, float64(tc.want), float64(got), float64(tc.want)*1e-9+1, "window = %s, want %s", got, tc.want)
		})
	}
}
