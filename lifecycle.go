package webhook

import (
	"context"
	"errors"
	"fmt"
)

// enter registers an Emit or Redeliver call, so that Close waits for it;
// false once Close has begun. A true enter must be followed by leave.
func (e *Emitter) enter() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return false
	}
	e.active.Add(1) // before close's Wait: close sets closed under the write lock
	return true
}

func (e *Emitter) leave() { e.active.Done() }

// Close stops accepting events (Emit then returns ErrClosed), waits for
// Emit and Redeliver calls under way, and closes the queue: the memory
// queue waits until every queued delivery and scheduled retry has
// finished, with the callbacks they trigger; a durable queue keeps what
// is left for its next start.
//
// If ctx ends first, attempts under way are interrupted (which counts
// against no endpoint), every delivery the memory queue or a Sync Emit
// still held is reported to OnFailure and logged as failed, and Close
// returns an *UndeliveredError counting them and wrapping ctx.Err(). When
// nothing was left undelivered it returns nil, or the queue's own error
// in closing. OAuth2 token requests under way end before Close returns.
// Close cannot interrupt user code that blocks (a Transform, a callback, a
// LogStore): such code must return promptly. Later calls return the first
// call's result.
func (e *Emitter) Close(ctx context.Context) error {
	if e.queue == nil {
		return errNotNew
	}
	e.closeOnce.Do(func() { e.closeErr = e.close(ctx) })
	return e.closeErr
}

func (e *Emitter) close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.closing.Store(true)
	e.mu.Unlock()
	if e.syncStop != nil {
		// No more endpoints from the store: the queue must not hear of
		// one while it closes.
		e.syncStop()
		<-e.syncDone
	}
	// Calls under way were accepted: let them finish, and queue what they
	// emit, before the queue stops accepting. If ctx ends first, closing
	// the queue with it interrupts what runs and wakes any Enqueue still
	// waiting for room.
	calls := make(chan struct{})
	go func() { e.active.Wait(); close(calls) }()
	var qerr error
	select {
	case <-calls:
		qerr = e.queue.Close(ctx)
	case <-ctx.Done():
		qerr = e.queue.Close(ctx)
		<-calls
	}
	e.life.close()
	if e.detach != nil {
		e.detach()
	}
	if e.ownTrans != nil {
		e.ownTrans.CloseIdleConnections()
	}
	// Undelivered: given up because Close gave up. When nothing was,
	// Close succeeded, even if its ctx ended meanwhile.
	if lost := e.abandoned.Load(); lost > 0 {
		ue := &UndeliveredError{Count: int(lost), Err: ctx.Err()}
		if qerr != nil && (ctx.Err() == nil || !errors.Is(qerr, ctx.Err())) {
			return errors.Join(ue, fmt.Errorf("webhook: closing the queue: %w", qerr))
		}
		return ue
	}
	if qerr != nil {
		return fmt.Errorf("webhook: closing the queue: %w", qerr)
	}
	return nil
}
