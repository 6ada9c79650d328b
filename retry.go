package webhook

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryConfig says when a failed delivery is tried again. A nil
// *RetryConfig (on an Endpoint or the Config) means the defaults of Rail
// Django's settings:
// 3 retries, a first delay of 60 s doubling up to 1 h, on statuses 429,
// 500, 502, 503 and 504. In a RetryConfig you write, MaxRetries is taken as
// written and each other zero field takes its default.
//
// Network errors and timeouts are retried whatever RetryOnStatus says, and
// so is a 409, 429 or 503 answer that carries a Retry-After header (the
// receiver asks for a retry). Any other status that is neither 2xx nor
// listed fails the delivery at once. Each delay is jittered by ±20 % unless
// NoJitter is set; Retry-After is a floor for the next delay (capped by
// MaxDelay) that jitter never goes below.
type RetryConfig struct {
	// MaxRetries is the number of retries after the first attempt.
	// 0: no retries.
	MaxRetries int

	// RetryDelay is the delay before the first retry. Defaults to 60 s.
	RetryDelay time.Duration

	// BackoffFactor multiplies the delay after each retry: delay n is
	// RetryDelay × BackoffFactor^(n-1). 1 gives a fixed delay. Defaults to 2.
	BackoffFactor float64

	// MaxDelay caps one delay, Retry-After included. Defaults to 1 h.
	MaxDelay time.Duration

	// RetryOnStatus lists the HTTP statuses that are retried. Nil
	// defaults to 429, 500, 502, 503, 504; an empty non-nil slice retries
	// no status (network errors are still retried).
	RetryOnStatus []int

	// NoJitter makes every delay exact, for tests and for receivers that
	// schedule around it. Defaults to false: ±20 % jitter.
	NoJitter bool
}

// The retry defaults (those of Rail Django's settings).
const (
	DefaultMaxRetries    = 3
	DefaultRetryDelay    = 60 * time.Second
	DefaultBackoffFactor = 2
	DefaultMaxDelay      = time.Hour
)

// DefaultRetryOnStatus returns the statuses retried by default.
func DefaultRetryOnStatus() []int { return []int{429, 500, 502, 503, 504} }

const jitterFraction = 0.2

// retryPolicy is a RetryConfig with its defaults applied.
type retryPolicy struct {
	maxRetries int
	delay      time.Duration
	factor     float64
	maxDelay   time.Duration
	statuses   map[int]bool
	jitter     bool
}

// resolve applies the defaults to rc (nil: all defaults) and validates it.
func resolveRetry(rc *RetryConfig) (retryPolicy, error) {
	if rc == nil {
		rc = &RetryConfig{MaxRetries: DefaultMaxRetries}
	}
	p := retryPolicy{
		maxRetries: rc.MaxRetries,
		delay:      rc.RetryDelay,
		factor:     rc.BackoffFactor,
		maxDelay:   rc.MaxDelay,
		jitter:     !rc.NoJitter,
	}
	switch {
	case p.maxRetries < 0:
		return p, fmt.Errorf("retry: max_retries: %d is negative", p.maxRetries)
	case p.delay < 0:
		return p, fmt.Errorf("retry: retry_delay: %s is negative", p.delay)
	case p.factor < 0 || (p.factor > 0 && p.factor < 1) || math.IsNaN(p.factor) || math.IsInf(p.factor, 0):
		return p, fmt.Errorf("retry: backoff_factor: %v is not a number ≥ 1", p.factor)
	case p.maxDelay < 0:
		return p, fmt.Errorf("retry: max_delay: %s is negative", p.maxDelay)
	}
	if p.delay == 0 {
		p.delay = DefaultRetryDelay
	}
	if p.factor == 0 {
		p.factor = DefaultBackoffFactor
	}
	if p.maxDelay == 0 {
		p.maxDelay = DefaultMaxDelay
	}
	statuses := rc.RetryOnStatus
	if statuses == nil {
		statuses = DefaultRetryOnStatus()
	}
	p.statuses = make(map[int]bool, len(statuses))
	for _, s := range statuses {
		if s < 100 || s > 599 {
			return p, fmt.Errorf("retry: retry_on_status: %d is not an HTTP status", s)
		}
		p.statuses[s] = true
	}
	return p, nil
}

// backoff returns the delay before retry n (1 for the first retry), with
// retryAfter (0: none) as a floor.
func (p *retryPolicy) backoff(n int, retryAfter time.Duration) time.Duration {
	d := p.base(n)
	if p.jitter {
		d *= 1 + jitterFraction*(2*rand.Float64()-1)
	}
	delay := p.capped(d)
	if ra := min(retryAfter, p.maxDelay); ra > delay {
		delay = ra
	}
	return delay
}

// longest returns the longest delay backoff can give before retry n
// without a Retry-After.
func (p *retryPolicy) longest(n int) time.Duration {
	d := p.base(n)
	if p.jitter {
		d *= 1 + jitterFraction
	}
	return p.capped(d)
}

// base returns the delay before retry n without jitter, in nanoseconds.
func (p *retryPolicy) base(n int) float64 {
	return min(float64(p.delay)*math.Pow(p.factor, float64(n-1)), float64(p.maxDelay))
}

// capped converts a delay in nanoseconds to a Duration of at most
// maxDelay (converting a float near 2^63 would overflow).
func (p *retryPolicy) capped(d float64) time.Duration {
	if d < float64(p.maxDelay) {
		return time.Duration(d)
	}
	return p.maxDelay
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if strings.Trim(h, "0123456789") == "" {
		s, err := strconv.ParseInt(h, 10, 64)
		if err != nil { // too many digits: a very long time
			return math.MaxInt64
		}
		if s <= 0 {
			return 0
		}
		if s > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
