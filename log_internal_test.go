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

// TestMemoryLogStoreByteBudgetAcrossShards: a sharded store of payloads
// large against its byte budget stays within the budget and one payload,
// though most shards hold a single log (each shard used to keep its last
// one: 64 payloads, 32 MiB against 4).
func TestMemoryLogStoreByteBudgetAcrossShards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const budget = 4 << 20
	s := NewMemoryLogStore(shardedLogSize).WithMaxBytes(budget)
	require.Greater(t, len(s.shards), 1)
	body := make([]byte, 512<<10)
	for i := range 500 {
		require.NoError(t, s.Record(ctx, DeliveryLog{ID: fmt.Sprintf("dlv_%d", i), EndpointName: "e", Status: StatusDelivered, Payload: body}))
		assert.LessOrEqual(t, s.bytes.Load(), int64(budget+len(body)+256), "after log %d", i)
	}
	_, err := s.Get(ctx, "dlv_499")
	assert.NoError(t, err, "the newest log is kept")
	logs, err := s.Query(ctx, LogQuery{Limit: MaxLogLimit})
	require.NoError(t, err)
	assert.Equal(t, int(s.finished.Load()), len(logs), "the count matches the logs held")
	assert.LessOrEqual(t, len(logs), budget/len(body)+1)
}
