package webhook

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer keeps an endpoint's RateLimit. A delivery over the limit is given
// a turn (a reservation of the limiter's next free slot) and sent back to
// the queue until then: no worker waits, and when it comes back it goes
// at once, its slot being paid for. Turns are kept by delivery id.
type pacer struct {
	lim  *rate.Limiter
	late time.Duration // a turn taken later than this after its slot is taken anew

	mu    sync.Mutex
	turns map[string]time.Time // delivery id → its slot
}

// pacerSweep is the number of turns above which stale ones (whose
// delivery never came back: given up meanwhile, or taken by another
// process) are swept, each a minute past its slot.
const pacerSweep = 1024

func newPacer(perSecond float64) *pacer {
	// A burst of one: never more than the limit, even in the first second.
	interval := time.Duration(float64(time.Second) / perSecond)
	return &pacer{lim: rate.NewLimiter(rate.Limit(perSecond), 1), late: interval / 2, turns: make(map[string]time.Time)}
}

// wait returns how long the delivery must wait for its turn; 0: go now.
func (p *pacer) wait(id string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if at, ok := p.turns[id]; ok {
		// A queue's timer may fire a little early.
		if d := at.Sub(now); d > time.Millisecond {
			return d
		}
		delete(p.turns, id)
		if now.Sub(at) <= p.late {
			return 0
		}
		// Too late for its turn: others may have gone in theirs since,
		// and going now could send two at once. It takes a new turn.
	}
	d := p.lim.ReserveN(now, 1).DelayFrom(now)
	if d <= 0 {
		return 0
	}
	if len(p.turns) >= pacerSweep {
		for k, at := range p.turns {
			if now.Sub(at) > time.Minute {
				delete(p.turns, k)
			}
		}
	}
	p.turns[id] = now.Add(d)
	return d
}
