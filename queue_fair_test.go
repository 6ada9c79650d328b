package webhook

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoryQueueFairShare: two endpoints whose attempts hang cannot take
// every worker. With 8 workers and 3 endpoints (fair share 2, reserve 1),
// the hanging ones fill 7 workers between them and the healthy endpoint's
// deliveries go through the one left, while the others still hang. (With
// only the per-endpoint limit, 4 each, they held all 8.)
func TestMemoryQueueFairShare(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var healthy atomic.Int64
	run := func(ctx context.Context, d *Delivery) Result {
		if d.Endpoint == "healthy" {
			healthy.Add(1)
			return delivered
		}
		select { // hang until the test releases it (or Close gives up)
		case <-release:
		case <-ctx.Done():
		}
		return delivered
	}
	q := NewMemoryQueue(MemoryQueueConfig{Workers: 8, Size: 300})
	if err := q.Start(&testRunner{endpoints: []string{"deadA", "deadB", "healthy"}, attempt: run}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 40 {
		d := &Delivery{ID: fmt.Sprintf("dlv_%d", i), Endpoint: []string{"deadA", "deadB"}[i%2]}
		if err := q.Enqueue(ctx, []*Delivery{d}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5 s (stats %+v)", what, mqtStats(q))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitUntil("the hanging endpoints take 7 workers", func() bool { return mqtStats(q).InFlight == 7 })
	time.Sleep(50 * time.Millisecond) // and no more
	if st := mqtStats(q); st.InFlight != 7 {
		t.Fatalf("in flight %d, want 7: the hanging endpoints took the reserve", st.InFlight)
	}
	for i := range 20 {
		if err := q.Enqueue(ctx, []*Delivery{{ID: fmt.Sprintf("dlv_h%d", i), Endpoint: "healthy"}}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil("the healthy endpoint's 20 deliveries", func() bool { return healthy.Load() == 20 })
	if st := mqtStats(q); st.Endpoints["deadA"].InFlight+st.Endpoints["deadB"].InFlight != 7 {
		t.Fatalf("stats %+v: the hanging attempts should still hang", st)
	}
	close(release)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := q.Close(cctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
