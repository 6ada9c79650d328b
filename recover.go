package webhook

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// recoverPage is the number of logs Recover reads at a time.
const recoverPage = 500

// Recover sends again every delivery to the endpoint that failed at or
// after since (its CompletedAt), once each: a failure Recover or
// Redeliver sent again already (DeliveryLog.RedeliveredAs) is left
// alone, so Recover may be called again after an outage to pick up what
// failed meanwhile. It works from the delivery logs (a memory store keeps
// the newest only; a durable queue's keep them for its retention), oldest
// first, and returns how many it sent again. Each is a new delivery, as
// Redeliver makes it, with the same body and event id. It stops at the
// first delivery it cannot send again (ctx ended, Close begun, the queue
// full), returning the count so far and that error.
//
// Calls to Recover in this process run one at a time; two processes
// recovering the same endpoint at once may both send a failure again.
func (e *Emitter) Recover(ctx context.Context, endpoint string, since time.Time) (int, error) {
	if e.queue == nil {
		return 0, errNotNew
	}
	if !e.enter() {
		return 0, errClosed
	}
	defer e.leave()
	ep := e.endpoint(endpoint)
	if ep == nil {
		return 0, fmt.Errorf("webhook: recover %q: %w", endpoint, e.missing(endpoint))
	}
	e.recoverMu.Lock()
	defer e.recoverMu.Unlock()
	// A delivery that failed since then was created at most its deadline
	// before it failed (its retries and a circuit's waits): older ones
	// cannot have.
	q := LogQuery{Endpoint: endpoint, Status: StatusFailed, Since: since.Add(-ep.window - time.Minute), Limit: recoverPage}
	var failed []DeliveryLog
	seen := make(map[string]bool)
	for {
		page, err := e.logs.Query(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("webhook: recover %q: reading the delivery logs: %w", endpoint, err)
		}
		fresh := 0
		for _, l := range page {
			if seen[l.ID] {
				continue
			}
			seen[l.ID] = true
			fresh++
			if l.RedeliveredAs == "" && l.CompletedAt != nil && !l.CompletedAt.Before(since) {
				failed = append(failed, l)
			}
		}
		if len(page) < recoverPage || fresh == 0 {
			break
		}
		// Newest first: the next page is older than this one's oldest
		// (logs created in the same instant as it are read again, and
		// skipped).
		q.Until = page[len(page)-1].CreatedAt.Add(time.Nanosecond)
	}
	slices.SortStableFunc(failed, func(a, b DeliveryLog) int { return a.CompletedAt.Compare(*b.CompletedAt) })
	n := 0
	for _, l := range failed {
		if _, err := e.redeliver(ctx, l); err != nil {
			return n, fmt.Errorf("webhook: recover %q: %w", endpoint, err)
		}
		n++
	}
	return n, nil
}
