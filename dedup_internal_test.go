package webhook

import (
	"context"
	"fmt"
	"testing"
)

// TestMemoryDedupOrderStaysBounded: ids claimed and released (their
// requests failed) over and over leave removed entries behind in the
// eviction order; compaction keeps that order within the ids held plus a
// bounded slack.
func TestMemoryDedupOrderStaysBounded(t *testing.T) {
	t.Parallel()
	m := NewMemoryDedup(MemoryDedupConfig{})
	ctx := context.Background()
	// A processed id at the front: sweeping stops at it, so the removed
	// entries behind it are left to compaction.
	first, _ := m.Acquire(ctx, "evt_first")
	m.Finish(ctx, first, true)
	for i := range 20000 {
		id := fmt.Sprintf("evt_%d", i%10)
		c, _ := m.Acquire(ctx, id)
		if c.State != ClaimNew {
			t.Fatalf("step %d: Acquire(%s) = %v, want new (the claim was released)", i, id, c.State)
		}
		m.Finish(ctx, c, false)
		if held := len(m.order) - m.head; held > len(m.ids)+1024+2 {
			t.Fatalf("after %d steps the order holds %d entries for %d ids", i, held, len(m.ids))
		}
	}
}
