package webhook_test

import (
	"testing"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/queuetest"
)

// TestInlineQueue runs the conformance suite against the inline queue of
// Sync mode, whose Enqueue returns only when its deliveries are finished.
// (The memory queue's runs are in the queuetest package.)
func TestInlineQueue(t *testing.T) {
	t.Parallel()
	queuetest.RunWithOptions(t, func(*testing.T) webhook.Queue {
		return webhook.NewInlineQueue()
	}, queuetest.Options{Parallel: true, Inline: true})
}
