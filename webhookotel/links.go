package webhookotel

import (
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// links keeps the span context active at Emit of each delivery under
// way, by delivery id, from Queued to Finished. It holds a bounded number of
// them, in two generations: when the current one is full it becomes the
// old one, and the old one is forgotten. So a durable queue's deliveries
// that finish in another process (whose Finished this one never hears)
// cost a bounded memory, and the ones forgotten are the oldest.
type links struct {
	mu       sync.Mutex
	cur, old map[string]trace.SpanContext
	half     int // a generation's size
}

// newLinks returns a links that keeps at most n span contexts (n > 0;
// n+1 when n is odd).
func newLinks(n int) *links {
	return &links{cur: make(map[string]trace.SpanContext), half: (n + 1) / 2}
}

func (l *links) put(id string, sc trace.SpanContext) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cur) >= l.half {
		l.old, l.cur = l.cur, make(map[string]trace.SpanContext, len(l.cur))
	}
	l.cur[id] = sc
}

func (l *links) get(id string) (trace.SpanContext, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sc, ok := l.cur[id]; ok {
		return sc, true
	}
	sc, ok := l.old[id]
	return sc, ok
}

func (l *links) drop(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.cur, id)
	delete(l.old, id)
}

// len returns how many span contexts are kept.
func (l *links) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.old)
}
