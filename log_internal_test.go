package webhook

import (
	"testing"
	"unsafe"
)

// TestLogEntrySize guards the size of a MemoryLogStore entry, which every
// queued delivery pays for (see BenchmarkQueuedMemory).
func TestLogEntrySize(t *testing.T) {
	t.Parallel()
	if n := unsafe.Sizeof(logEntry{}); n > 32 {
		t.Fatalf("logEntry is %d bytes, want at most 32", n)
	}
}
