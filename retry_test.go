package webhook

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// Unit tests of retry.go: the defaults and validation of RetryConfig, the
// backoff schedule with and without jitter, the Retry-After floor and the
// parsing of Retry-After. End-to-end timing lives in delivery_test.go.

func TestResolveRetryDefaults(t *testing.T) {
	t.Parallel()
	defaultStatuses := map[int]bool{429: true, 500: true, 502: true, 503: true, 504: true}

	tests := []struct {
		name string
		in   *RetryConfig
		want retryPolicy
	}{
		{
			name: "nil is the seed's defaults",
			in:   nil,
			want: retryPolicy{maxRetries: 3, delay: 60 * time.Second, factor: 2, maxDelay: time.Hour, statuses: defaultStatuses, jitter: true},
		},
		{
			name: "zero value: no retries, other fields default",
			in:   &RetryConfig{},
			want: retryPolicy{maxRetries: 0, delay: 60 * time.Second, factor: 2, maxDelay: time.Hour, statuses: defaultStatuses, jitter: true},
		},
		{
			name: "fields taken as written",
			in: &RetryConfig{MaxRetries: 7, RetryDelay: 3 * time.Second, BackoffFactor: 1.5,
				MaxDelay: time.Minute, RetryOnStatus: []int{500, 418}, NoJitter: true},
			want: retryPolicy{maxRetries: 7, delay: 3 * time.Second, factor: 1.5, maxDelay: time.Minute,
				statuses: map[int]bool{500: true, 418: true}, jitter: false},
		},
		{
			name: "factor 1 is a fixed delay",
			in:   &RetryConfig{MaxRetries: 2, BackoffFactor: 1},
			want: retryPolicy{maxRetries: 2, delay: 60 * time.Second, factor: 1, maxDelay: time.Hour, statuses: defaultStatuses, jitter: true},
		},
		{
			name: "empty non-nil RetryOnStatus retries no status",
			in:   &RetryConfig{MaxRetries: 1, RetryOnStatus: []int{}},
			want: retryPolicy{maxRetries: 1, delay: 60 * time.Second, factor: 2, maxDelay: time.Hour, statuses: map[int]bool{}, jitter: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := resolveRetry(tt.in)
			if err != nil {
				t.Fatalf("resolveRetry: %v", err)
			}
			if got.maxRetries != tt.want.maxRetries || got.delay != tt.want.delay || got.factor != tt.want.factor ||
				got.maxDelay != tt.want.maxDelay || got.jitter != tt.want.jitter {
				t.Errorf("resolveRetry = %+v, want %+v", got, tt.want)
			}
			if !maps.Equal(got.statuses, tt.want.statuses) {
				t.Errorf("statuses = %v, want %v", slices.Sorted(maps.Keys(got.statuses)), slices.Sorted(maps.Keys(tt.want.statuses)))
			}
		})
	}

	t.Run("nil is not shared", func(t *testing.T) {
		t.Parallel()
		a, _ := resolveRetry(nil)
		a.statuses[418] = true
		b, _ := resolveRetry(nil)
		if b.statuses[418] {
			t.Fatal("changing one resolved policy changed the defaults of the next")
		}
		if s := DefaultRetryOnStatus(); !slices.Equal(s, []int{429, 500, 502, 503, 504}) {
			t.Fatalf("DefaultRetryOnStatus() = %v", s)
		}
	})
}

func TestResolveRetryValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    RetryConfig
		field string // the field the error must name
	}{
		{"negative max_retries", RetryConfig{MaxRetries: -1}, "max_retries"},
		{"negative retry_delay", RetryConfig{RetryDelay: -time.Second}, "retry_delay"},
		{"factor below 1", RetryConfig{BackoffFactor: 0.5}, "backoff_factor"},
		{"negative factor", RetryConfig{BackoffFactor: -2}, "backoff_factor"},
		{"NaN factor", RetryConfig{BackoffFactor: math.NaN()}, "backoff_factor"},
		{"infinite factor", RetryConfig{BackoffFactor: math.Inf(1)}, "backoff_factor"},
		{"negative max_delay", RetryConfig{MaxDelay: -time.Minute}, "max_delay"},
		{"status below 100", RetryConfig{RetryOnStatus: []int{500, 99}}, "retry_on_status"},
		{"status above 599", RetryConfig{RetryOnStatus: []int{600}}, "retry_on_status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := resolveRetry(&tt.in)
			if err == nil {
				t.Fatalf("resolveRetry(%+v) = nil error, want one naming %s", tt.in, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name the field %s", err, tt.field)
			}
		})
	}
}

// mustPolicy resolves rc or fails the test.
func mustPolicy(t *testing.T, rc *RetryConfig) retryPolicy {
	t.Helper()
	p, err := resolveRetry(rc)
	if err != nil {
		t.Fatalf("resolveRetry: %v", err)
	}
	return p
}

func TestBackoffNoJitter(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, &RetryConfig{MaxRetries: 100, RetryDelay: time.Second, BackoffFactor: 2, MaxDelay: 10 * time.Second, NoJitter: true})
	fixed := mustPolicy(t, &RetryConfig{MaxRetries: 5, RetryDelay: 250 * time.Millisecond, BackoffFactor: 1, NoJitter: true})
	frac := mustPolicy(t, &RetryConfig{MaxRetries: 5, RetryDelay: time.Second, BackoffFactor: 1.5, NoJitter: true})
	seed := mustPolicy(t, &RetryConfig{MaxRetries: 3, NoJitter: true})

	tests := []struct {
		name       string
		p          *retryPolicy
		n          int
		retryAfter time.Duration
		want       time.Duration
	}{
		{"first retry is RetryDelay", &p, 1, 0, time.Second},
		{"second doubles", &p, 2, 0, 2 * time.Second},
		{"third doubles again", &p, 3, 0, 4 * time.Second},
		{"fourth", &p, 4, 0, 8 * time.Second},
		{"fifth capped by MaxDelay", &p, 5, 0, 10 * time.Second},
		{"huge n stays capped (no overflow)", &p, 5000, 0, 10 * time.Second},
		{"factor 1 is fixed", &fixed, 1, 0, 250 * time.Millisecond},
		{"factor 1 is fixed later too", &fixed, 5, 0, 250 * time.Millisecond},
		{"fractional factor", &frac, 3, 0, 2250 * time.Millisecond},
		{"seed defaults: 60s", &seed, 1, 0, time.Minute},
		{"seed defaults: 120s", &seed, 2, 0, 2 * time.Minute},
		{"seed defaults: 240s", &seed, 3, 0, 4 * time.Minute},
		{"seed defaults capped at 1h", &seed, 12, 0, time.Hour},
		{"Retry-After above backoff is the delay", &p, 1, 5 * time.Second, 5 * time.Second},
		{"Retry-After below backoff changes nothing", &p, 3, time.Second, 4 * time.Second},
		{"Retry-After above MaxDelay is capped", &p, 1, time.Hour, 10 * time.Second},
		{"Retry-After max duration is capped", &p, 1, math.MaxInt64, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.backoff(tt.n, tt.retryAfter); got != tt.want {
				t.Errorf("backoff(%d, %s) = %s, want %s", tt.n, tt.retryAfter, got, tt.want)
			}
		})
	}
}

// samples is how many draws the jitter tests take of each delay.
const samples = 20000

func TestBackoffJitterBounds(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, &RetryConfig{MaxRetries: 10, RetryDelay: time.Second, BackoffFactor: 2, MaxDelay: 6 * time.Second})
	if !p.jitter {
		t.Fatal("jitter is off by default")
	}
	for n, nominal := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second} {
		t.Run(nominal.String(), func(t *testing.T) {
			t.Parallel()
			lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
			var sum float64
			for range samples {
				d := p.backoff(n, 0)
				lo, hi = min(lo, d), max(hi, d)
				sum += float64(d)
				if float64(d) < 0.8*float64(nominal) || float64(d) > 1.2*float64(nominal) {
					t.Fatalf("backoff(%d) = %s: outside ±20%% of %s", n, d, nominal)
				}
			}
			// The jitter really spreads over the ±20 % band, around the
			// nominal delay. With 20,000 uniform draws, missing the outer
			// 2 % of either side has probability ~e^-400.
			if float64(lo) > 0.82*float64(nominal) || float64(hi) < 1.18*float64(nominal) {
				t.Errorf("jitter of %s spans only [%s, %s]; want nearly the whole ±20 %%", nominal, lo, hi)
			}
			if mean := sum / samples; math.Abs(mean/float64(nominal)-1) > 0.01 {
				t.Errorf("mean delay %s, want %s ±1 %%", time.Duration(mean), nominal)
			}
		})
	}

	t.Run("capped delay is never above MaxDelay", func(t *testing.T) {
		t.Parallel()
		// Nominal 8 s, capped at 6 s: jitter may shorten it, never lengthen it.
		for range samples {
			d := p.backoff(4, 0)
			if d > 6*time.Second || d < time.Duration(0.8*float64(6*time.Second)) {
				t.Fatalf("backoff(4) = %s, want within [4.8s, 6s]", d)
			}
		}
	})

	t.Run("seed default 60s never fires early", func(t *testing.T) {
		t.Parallel()
		seed := mustPolicy(t, nil)
		for range samples {
			if d := seed.backoff(1, 0); d < 48*time.Second || d > 72*time.Second {
				t.Fatalf("default first delay %s, want within [48s, 72s]", d)
			}
		}
	})
}

func TestBackoffJitterNeverBelowRetryAfter(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, &RetryConfig{MaxRetries: 10, RetryDelay: time.Second, BackoffFactor: 2, MaxDelay: 3 * time.Second})
	tests := []struct {
		name       string
		n          int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		// Floor inside the jitter band: the delay is at least the floor.
		{"floor inside the band", 1, 1100 * time.Millisecond, 1100 * time.Millisecond, 1200 * time.Millisecond},
		// Floor above the band: the delay is exactly the floor.
		{"floor above the band", 1, 2 * time.Second, 2 * time.Second, 2 * time.Second},
		// Floor above MaxDelay: capped, exactly MaxDelay.
		{"floor above MaxDelay", 1, time.Hour, 3 * time.Second, 3 * time.Second},
		// Nominal capped at MaxDelay and jittered down; the floor (capped) wins.
		{"capped nominal, capped floor", 5, 10 * time.Second, 3 * time.Second, 3 * time.Second},
		// A floor below the band changes nothing.
		{"floor below the band", 2, 100 * time.Millisecond, 1600 * time.Millisecond, 2400 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range samples {
				if d := p.backoff(tt.n, tt.retryAfter); d < tt.lo || d > tt.hi {
					t.Fatalf("backoff(%d, %s) = %s, want within [%s, %s]", tt.n, tt.retryAfter, d, tt.lo, tt.hi)
				}
			}
		})
	}
}

func TestRetryAfterParsing(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{"120", 2 * time.Minute},
		{"3600", time.Hour},
		{"-1", 0},
		{"-3600", 0},
		{"garbage", 0},
		{"1.5", 0},
		{"1s", 0},
		{"0x10", 0},
		{"Fri, 16 Jan 2026 12:00:30 GMT", 30 * time.Second},  // IMF-fixdate
		{"Friday, 16-Jan-26 12:00:30 GMT", 30 * time.Second}, // RFC 850
		{"Fri Jan 16 12:00:30 2026", 30 * time.Second},       // ANSI C asctime
		{"Fri, 16 Jan 2026 13:00:00 GMT", time.Hour},         // an hour ahead
		{"Fri, 16 Jan 2026 12:00:00 GMT", 0},                 // now
		{"Fri, 16 Jan 2026 11:59:00 GMT", 0},                 // in the past
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0},                 // long past
		{"Fri, 16 Jan 2026 12:00:30 +0000", 0},               // not an HTTP date
		{"2026-01-16T12:00:30Z", 0},                          // RFC 3339 is not an HTTP date
		{"9999999999", time.Duration(math.MaxInt64)},         // overflowing seconds saturate
		{"9223372036", 9223372036 * time.Second},             // the largest that fits
		{"Fri, 16 Jan 2026 12:00:30 GMT garbage", 0},         // trailing garbage
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			t.Parallel()
			if got := retryAfter(tt.header, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}
}
