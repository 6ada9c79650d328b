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
	m.Claim(ctx, "evt_first")
	m.Complete(ctx, "evt_first", true)
	for i := range 20000 {
		id := fmt.Sprintf("evt_%d", i%10)
		if st, _ := m.Claim(ctx, id); st != ClaimNew {
			t.Fatalf("step %d: Claim(%s) = %v, want new (the claim was released)", i, id, st)
		}
		m.Complete(ctx, id, false)
		if held := len(m.order) - m.head; held > len(m.ids)+1024+2 {
			t.Fatalf("after %d steps the order holds %d entries for %d ids", i, held, len(m.ids))
		}
	}
}
