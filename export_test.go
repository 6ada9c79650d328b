package webhook

// NewInlineQueue returns the inline queue of Sync mode, for the queuetest
// suite, which runs in package webhook_test.
func NewInlineQueue() Queue { return newInlineQueue() }
