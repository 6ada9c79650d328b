package webhook

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogEntrySize guards the size of a MemoryLogStore entry, which every
// queued delivery pays for (see BenchmarkQueuedMemory).
func TestLogEntrySize(t *testing.T) {
	t.Parallel()
	if n := unsafe.Sizeof(logEntry{}); n > 32 {
		t.Fatalf("logEntry is %d bytes, want at most 32", n)
	}
}

// TestMemoryLogStoreHashCollisions: logs are held by their id's hash,
// and those whose hash another id holds by their id. With every id
// hashing alike, each log is still found, updated, listed and forgotten
// as its own, in a store of one shard and one of many.
func TestMemoryLogStoreHashCollisions(t *testing.T) {
	t.Parallel()
	for _, size := range []int{8, shardedLogSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			s := NewMemoryLogStore(size)
			s.hash = func(string) uint64 { return 7 }
			ctx := context.Background()
			id := func(i int) string { return fmt.Sprintf("dlv_%d", i) }
			n := size + 5
			for i := range n {
				require.NoError(t, s.Record(ctx, DeliveryLog{ID: id(i), EndpointName: "a", Status: StatusPending}))
			}
			for i := range n {
				l, err := s.Get(ctx, id(i))
				require.NoError(t, err, id(i))
				require.Equal(t, id(i), l.ID)
				require.Equal(t, StatusPending, l.Status)
			}
			// Finishing them all forgets the oldest beyond size, and
			// only those.
			for i := range n {
				require.NoError(t, s.Record(ctx, DeliveryLog{ID: id(i), EndpointName: "a", Status: StatusDelivered, StatusCode: 200 + i%100, Attempts: 1}))
			}
			kept := 0
			for i := range n {
				l, err := s.Get(ctx, id(i))
				if errors.Is(err, ErrLogNotFound) {
					continue
				}
				require.NoError(t, err)
				kept++
				assert.Equal(t, 200+i%100, l.StatusCode, id(i))
				assert.Equal(t, StatusDelivered, l.Status, id(i))
			}
			assert.Equal(t, size, kept)
			logs, err := s.Query(ctx, LogQuery{Limit: MaxLogLimit})
			require.NoError(t, err)
			assert.Len(t, logs, min(size, MaxLogLimit))
			seen := map[string]bool{}
			for _, l := range logs {
				assert.False(t, seen[l.ID], "listed twice: %s", l.ID)
				seen[l.ID] = true
			}
			// The newest was kept.
			_, err = s.Get(ctx, id(n-1))
			assert.NoError(t, err)
		})
	}
}
