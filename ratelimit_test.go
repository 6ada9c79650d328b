package webhook_test

// Tests of Endpoint.RateLimit: the pace a receiver sees, the other
// endpoints' deliveries going on beside a limited one (no worker waits
// for a turn), a limit changed by UpdateEndpoint, and validation.

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rlArrivals returns the arrival times of the requests to path, sorted.
func rlArrivals(rc *hookReceiver, path string) []time.Time {
	var at []time.Time
	for _, r := range rc.take(path) {
		at = append(at, r.At)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	return at
}

// TestRateLimitPace: 200 deliveries to an endpoint limited to 50 requests
// a second and 200 to one without a limit beside it, with one worker. The
// limited receiver sees 50 requests a second (within 10 %) over the 3 s
// after its first request; the unlimited endpoint's deliveries are all done in a fraction
// of the time the limited one's take, although the limited one has 200
// deliveries due from the start and the one worker takes the endpoints in
// turn: a delivery waiting for its turn holds no worker (were the worker
// to wait for each turn, the unlimited deliveries would take as long).
func TestRateLimitPace(t *testing.T) {
	t.Parallel()
	const n, limit = 200, 50.0
	rc := newHookReceiver(t, nil)
	fl := newFailureLog()
	e := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "limited", URL: rc.URL + "/limited", Secret: "limited-secret-0123", RateLimit: limit},
			{Name: "free", URL: rc.URL + "/free", Secret: "free-secret-0123456"},
		},
		Workers: 1, OnFailure: fl.record,
	})
	ctx := testCtx(t, 30*time.Second)
	start := time.Now()
	for i := range n {
		require.NoError(t, e.Emit(ctx, rtEvent(fmt.Sprintf("rl-%03d", i), "", webhook.Created)))
	}
	waitFor(t, 20*time.Second, "every delivery", func() bool { return rc.count() == 2*n })
	closeEmitter(t, e, 5*time.Second)
	require.Empty(t, fl.all())

	limited, free := rlArrivals(rc, "/limited"), rlArrivals(rc, "/free")
	require.Len(t, limited, n)
	require.Len(t, free, n)
	rtExactlyOnce(t, "limited", rtReceived(t, rc, "/limited", "limited-secret-0123"), rtIDRange("rl-%03d", n))

	// The pace over the 3 s after the first request.
	const window = 3 * time.Second
	first := limited[0]
	in := 0
	for _, at := range limited {
		if at.Sub(first) < window {
			in++
		}
	}
	rate := float64(in) / window.Seconds()
	t.Logf("limited: %d requests in the %s after the first: %.1f/s; all %d in %s", in, window, rate, n, limited[n-1].Sub(first).Round(time.Millisecond))
	assert.InDelta(t, limit, rate, limit*0.10, "requests per second at the limited receiver")
	overall := float64(n-1) / limited[n-1].Sub(first).Seconds()
	assert.InDelta(t, limit, overall, limit*0.10, "requests per second from the first to the last")
	// The unlimited endpoint, beside it.
	freeSpan, limitedSpan := free[n-1].Sub(start), limited[n-1].Sub(start)
	t.Logf("free: all %d done %s after the first Emit; limited: %s", n, freeSpan.Round(time.Millisecond), limitedSpan.Round(time.Millisecond))
	assert.Less(t, freeSpan*4, limitedSpan, "the unlimited endpoint's deliveries are done well before the limited one's")
}

// rlBusiest returns the most requests among at (sorted) that fall in a
// window of length w.
func rlBusiest(at []time.Time, w time.Duration) int {
	most := 0
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < w {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// TestRateLimitNoBurst: the limit holds over any stretch of time, not
// only on average. 50 events go to an endpoint limited to 50 requests a
// second and to an unlimited one whose receiver takes 2 ms an answer, with
// one worker, which takes the two in turn: the limited deliveries wait
// for their first attempt behind the other endpoint's, and those deferred
// to their turns behind the limited ones not yet attempted, so some are
// late for their turns. No window of 100 ms, 250 ms or 1 s may see more
// requests than the limit allows in it, give or take two (burst 1: a
// delivery late for its turn must not let the ones behind it go at once
// to catch up).
func TestRateLimitNoBurst(t *testing.T) {
	t.Parallel()
	const n, limit = 50, 50.0
	rc := newHookReceiver(t, func(w http.ResponseWriter, r *http.Request, _ hookRequest) {
		if r.URL.Path == "/free" {
			time.Sleep(2 * time.Millisecond)
		}
		w.WriteHeader(http.StatusOK)
	})
	fl := newFailureLog()
	e := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "limited", URL: rc.URL + "/limited", Secret: "limited-secret-0123", RateLimit: limit},
			{Name: "free", URL: rc.URL + "/free", Secret: "free-secret-0123456"},
		},
		Workers: 1, OnFailure: fl.record,
	})
	ctx := testCtx(t, 30*time.Second)
	for i := range n {
		require.NoError(t, e.Emit(ctx, rtEvent(fmt.Sprintf("nb-%03d", i), "", webhook.Created)))
	}
	waitFor(t, 10*time.Second, "every delivery", func() bool { return rc.count() == 2*n })
	closeEmitter(t, e, 5*time.Second)
	require.Empty(t, fl.all())
	limited := rlArrivals(rc, "/limited")
	require.Len(t, limited, n)
	var gaps []time.Duration
	for i := 1; i < len(limited); i++ {
		gaps = append(gaps, limited[i].Sub(limited[i-1]).Round(100*time.Microsecond))
	}
	t.Logf("gaps between the limited requests: %v", gaps)
	for _, w := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, time.Second} {
		allowed := int(math.Ceil(w.Seconds()*limit)) + 2
		assert.LessOrEqual(t, rlBusiest(limited, w), allowed, "requests to the limited endpoint in the busiest %s", w)
	}
}

// rtIDRange is the set of ids fmt.Sprintf(format, i) for i < n.
func rtIDRange(format string, n int) map[string]bool {
	m := make(map[string]bool, n)
	for i := range n {
		m[fmt.Sprintf(format, i)] = true
	}
	return m
}

// TestRateLimitUpdate: UpdateEndpoint changes the limit for what comes
// next: lifted, a new event's delivery goes at once although earlier ones
// still wait for their turns; set again, it holds new deliveries back.
// RemoveEndpoint gives up the deliveries waiting for a turn at once, and
// Close has nothing left to wait for.
func TestRateLimitUpdate(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	slow := webhook.Endpoint{Name: "slow", URL: rc.URL, Secret: "slow-secret-0123456", RateLimit: 1}
	fl := newFailureLog()
	e := newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{slow}, OnFailure: fl.record})
	ctx := testCtx(t, 20*time.Second)
	ids := func() []string {
		var out []string
		for _, r := range rc.requests() {
			out = append(out, r.eventID())
		}
		return out
	}
	// One a second: the first goes, the others' turns are 1, 2, 3 and
	// 4 s away.
	for i := range 5 {
		require.NoError(t, e.Emit(ctx, rtEvent(fmt.Sprintf("old-%d", i), "", webhook.Created)))
	}
	rc.wait(t, 1, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, []string{"old-0"}, ids(), "held back by the limit")

	lifted := slow
	lifted.RateLimit = 0
	require.NoError(t, e.UpdateEndpoint(ctx, lifted))
	require.NoError(t, e.Emit(ctx, rtEvent("fresh", "", webhook.Created)))
	waitFor(t, 3*time.Second, "the fresh event's delivery", func() bool { return slices.Contains(ids(), "fresh") })
	assert.NotContains(t, ids(), "old-4", "the fresh delivery did not wait behind the old turns")

	limited := slow
	limited.RateLimit = 1
	require.NoError(t, e.UpdateEndpoint(ctx, limited))
	for i := range 3 {
		require.NoError(t, e.Emit(ctx, rtEvent(fmt.Sprintf("again-%d", i), "", webhook.Created)))
	}
	// Workers take the three at once, so any of them may win the first
	// slot; the other two wait for theirs.
	again := func() []string {
		var out []string
		for _, id := range ids() {
			if strings.HasPrefix(id, "again-") {
				out = append(out, id)
			}
		}
		return out
	}
	waitFor(t, 3*time.Second, "the first of the new ones", func() bool { return len(again()) > 0 })
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, again(), 1, "the new limit holds the next ones back")

	before := rc.count()
	require.NoError(t, e.RemoveEndpoint(ctx, "slow"))
	closeEmitter(t, e, time.Second)
	assert.Equal(t, before, rc.count(), "no request after the removal")
	fs := fl.all()
	assert.Equal(t, 5+1+3, before+len(fs), "every delivery was sent or given up")
	for _, f := range fs {
		assert.ErrorIs(t, f.Err, webhook.ErrEndpointRemoved, f.EventID)
	}
}

// TestRateLimitValidation: a RateLimit that is not a rate is refused by
// New, AddEndpoint and UpdateEndpoint, naming the endpoint and rate_limit;
// 0 (none) and fractions are fine.
func TestRateLimitValidation(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	e := newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{{Name: "base", URL: rc.URL, Secret: "base-secret-0123456"}}})
	ctx := testCtx(t, 5*time.Second)
	for _, bad := range []float64{-1, -0.001, math.NaN(), math.Inf(1), math.Inf(-1)} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			ep := webhook.Endpoint{Name: "paced", URL: rc.URL, Secret: "paced-secret-012345", RateLimit: bad}
			_, err := webhook.New(webhook.Config{Endpoints: []webhook.Endpoint{ep}, Logger: quietLogger})
			require.ErrorIs(t, err, webhook.ErrInvalidConfig)
			assert.Contains(t, err.Error(), `endpoint "paced": rate_limit:`)
			addErr := e.AddEndpoint(ctx, ep)
			require.ErrorIs(t, addErr, webhook.ErrInvalidConfig)
			assert.Equal(t, err.Error(), addErr.Error())
			ep.Name = "base"
			updErr := e.UpdateEndpoint(ctx, ep)
			require.ErrorIs(t, updErr, webhook.ErrInvalidConfig)
			assert.Contains(t, updErr.Error(), `endpoint "base": rate_limit:`)
		})
	}
	for _, good := range []float64{0, 0.5, 1e6} {
		ep := webhook.Endpoint{Name: fmt.Sprintf("ok-%v", good), URL: rc.URL, Secret: "fine-secret-0123456", RateLimit: good}
		assert.NoError(t, e.AddEndpoint(ctx, ep))
	}
	assert.Equal(t, []string{"base", "ok-0", "ok-0.5", "ok-1e+06"}, rtNames(e))
}
