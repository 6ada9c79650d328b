package queuetest_test

import (
	"testing"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/queuetest"
)

// TestMemoryQueue runs the suite against the default memory queue.
func TestMemoryQueue(t *testing.T) {
	t.Parallel()
	queuetest.RunWithOptions(t, func(*testing.T) webhook.Queue {
		return webhook.NewMemoryQueue(webhook.MemoryQueueConfig{})
	}, queuetest.Options{
		Parallel:        true,
		RoomPerEndpoint: webhook.DefaultQueueSize / len(queuetest.Endpoints),
	})
}

// TestMemoryQueueSmall runs the suite against a memory queue with one
// worker and just enough room, where a worker held by a retry delay, or a
// share that never frees, shows at once.
func TestMemoryQueueSmall(t *testing.T) {
	t.Parallel()
	queuetest.RunWithOptions(t, func(*testing.T) webhook.Queue {
		return webhook.NewMemoryQueue(webhook.MemoryQueueConfig{
			Workers: 1,
			Size:    queuetest.MaxHeld * len(queuetest.Endpoints),
		})
	}, queuetest.Options{Parallel: true, RoomPerEndpoint: queuetest.MaxHeld})
}
