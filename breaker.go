package webhook

import "time"

// CircuitBreaker configures the per-endpoint circuit breaker. After
// Threshold consecutive failed attempts that suggest the endpoint is down
// (no answer, a timeout, 5xx or 429; a 4xx shows it is alive and resets the
// count), the circuit opens: the endpoint's deliveries wait, neither
// attempted nor counted, and after Cooldown one probe attempt is sent. Its
// success closes the circuit and the others follow; its failure opens it
// for another Cooldown.
//
// A delivery waits for an open circuit until its deadline, then fails with
// ErrCircuitOpen. The deadline is the time its retries would have taken had
// every attempt failed: its creation, plus one endpoint Timeout per attempt
// RetryConfig allows, plus each retry delay at its longest (jitter
// included), and at least one Cooldown and Timeout after its creation. At
// the defaults (3 retries from 60 s, 30 s timeouts) that is about ten
// minutes, so a dead endpoint's backlog is given up within its retry
// budget instead of draining one probe per Cooldown, and Close waits no
// longer than that.
type CircuitBreaker struct {
	// Threshold is the number of consecutive down-looking failures that
	// opens the circuit. 0: DefaultCircuitThreshold; negative: no breaker.
	Threshold int

	// Cooldown is how long the circuit stays open before a probe.
	// 0: DefaultCircuitCooldown.
	Cooldown time.Duration

	// OnChange, if set, hears of every circuit that opens or closes (a
	// probe's failure, which keeps it open, is no change). It runs on the
	// goroutine of the attempt that changed it (or of ResetCircuit), must
	// not block, and a panic in it is logged. Each change is also logged:
	// at Warn when a circuit opens, at Info when it closes.
	OnChange func(CircuitChange)
}

// CircuitChange reports a circuit breaker that opened or closed.
type CircuitChange struct {
	Endpoint string       // the endpoint's name
	State    CircuitState // CircuitOpen or CircuitClosed: the new state
	Err      error        // the failure that opened it; nil when it closed
	At       time.Time
}

// Circuit breaker defaults.
const (
	DefaultCircuitThreshold = 10
	DefaultCircuitCooldown  = 30 * time.Second
)

// CircuitState is the state of an endpoint's circuit breaker.
type CircuitState string

// Circuit states.
const (
	CircuitClosed   CircuitState = "closed"    // deliveries flow
	CircuitOpen     CircuitState = "open"      // deliveries wait for the cooldown
	CircuitHalfOpen CircuitState = "half-open" // one probe is under way
)

// Monitor raises an alert when an endpoint keeps failing (Rail Django's
// monitoring settings).
type Monitor struct {
	// AlertOnConsecutiveFailures is the number of failed attempts in a row
	// (any answer that is not 2xx, or none) after which OnAlert is called,
	// once per streak; a success ends the streak. 0: no alerts.
	AlertOnConsecutiveFailures int

	// OnAlert receives the alert. It runs on the goroutine that made the
	// attempt (a queue worker; one of Emit's in Sync mode), must not block,
	// and a panic in it is logged. An attempt cut short by its context
	// (Close giving up, a Sync caller's deadline) is no failure of the
	// endpoint: it neither alerts nor counts.
	OnAlert func(Alert)
}

// Alert reports an endpoint that has failed ConsecutiveFailures attempts
// in a row.
type Alert struct {
	Endpoint            string // the endpoint's name
	ConsecutiveFailures int    // the streak's length so far
	Err                 error  // the last attempt's
}

// health is an endpoint's attempt history, guarded by endpoint.mu.
type health struct {
	streak    int  // failed attempts in a row (monitor)
	alerted   bool // the streak has been alerted
	down      int  // down-looking failures in a row (breaker)
	open      bool
	openUntil time.Time
	probing   bool
}

type breakerPolicy struct {
	threshold int // ≤ 0: off
	cooldown  time.Duration
	onChange  func(CircuitChange)
}

func resolveBreaker(cb CircuitBreaker) breakerPolicy {
	p := breakerPolicy{threshold: cb.Threshold, cooldown: cb.Cooldown, onChange: cb.OnChange}
	if p.threshold == 0 {
		p.threshold = DefaultCircuitThreshold
	}
	if p.cooldown <= 0 {
		p.cooldown = DefaultCircuitCooldown
	}
	return p
}

// admit says whether an attempt may go now. When the circuit is open it
// returns how long to wait; when the cooldown is over, the first caller
// becomes the probe.
func (c *endpoint) admit(b breakerPolicy) (wait time.Duration, probe, ok bool) {
	if b.threshold <= 0 || !c.troubled.Load() {
		return 0, false, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.settle()
	h := &c.health
	if !h.open {
		return 0, false, true
	}
	now := time.Now()
	if now.Before(h.openUntil) {
		return h.openUntil.Sub(now), false, false
	}
	if h.probing {
		return min(c.timeout, b.cooldown), false, false
	}
	h.probing = true
	return 0, true, true
}

// observe records an attempt's outcome. It returns the streak length when
// the monitor must alert, else 0, and the circuit's new state when the
// attempt opened or closed it ("" when it did neither).
func (c *endpoint) observe(b breakerPolicy, m *Monitor, s sent, probe bool) (alert int, changed CircuitState) {
	if s.err == nil && !probe && !c.troubled.Load() {
		return 0, "" // nothing to reset
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.settle()
	h := &c.health
	if s.err == nil {
		h.streak, h.alerted = 0, false
	} else {
		h.streak++
		if n := m.AlertOnConsecutiveFailures; n > 0 && h.streak >= n && !h.alerted {
			h.alerted = true
			alert = h.streak
		}
	}
	if b.threshold <= 0 {
		return alert, ""
	}
	if probe {
		h.probing = false
	}
	if !s.down {
		// An answer shows the endpoint is alive and closes the circuit; a
		// failure before any request (a token or SSRF error) says nothing
		// about the endpoint, and leaves the breaker as it is.
		if s.err == nil || s.status != 0 {
			if h.open {
				changed = CircuitClosed
			}
			h.down, h.open = 0, false
		}
		return alert, changed
	}
	h.down++
	if probe || (!h.open && h.down >= b.threshold) {
		if !h.open {
			changed = CircuitOpen
		}
		h.open = true
		h.openUntil = time.Now().Add(b.cooldown)
	}
	return alert, changed
}

// reset closes the circuit and forgets the failures that count towards
// opening it. It reports whether the circuit was open.
func (c *endpoint) reset() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.settle()
	was := c.health.open
	c.health.down, c.health.open, c.health.probing = 0, false, false
	return was
}

// circuitChanged logs a circuit that opened or closed and tells OnChange.
func (e *Emitter) circuitChanged(endpoint string, state CircuitState, err error) {
	if state == CircuitOpen {
		e.logger.Warn("webhook circuit opened: deliveries wait", "endpoint", endpoint, "cooldown", e.breaker.cooldown, "error", err)
	} else {
		e.logger.Info("webhook circuit closed: deliveries flow", "endpoint", endpoint)
	}
	ch := CircuitChange{Endpoint: endpoint, State: state, Err: err, At: e.now()}
	if e.obs != nil {
		e.obs.CircuitChanged(ch)
	}
	if f := e.breaker.onChange; f != nil {
		e.guard("OnChange", func() { f(ch) })
	}
}

// circuit reports the breaker's state.
func (c *endpoint) circuit() CircuitState {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.health.open:
		return CircuitClosed
	case c.health.probing:
		return CircuitHalfOpen
	default:
		return CircuitOpen
	}
}

// alert calls OnAlert for a streak of n failures (n > 0).
func (e *Emitter) alert(n int, endpoint string, err error) {
	if n == 0 {
		return
	}
	e.logger.Warn("webhook endpoint failing", "endpoint", endpoint, "consecutive_failures", n, "error", err)
	if f := e.cfg.Monitor.OnAlert; f != nil {
		e.guard("OnAlert", func() { f(Alert{Endpoint: endpoint, ConsecutiveFailures: n, Err: err}) })
	}
}

// abandon ends an attempt that its context cut short: it says nothing
// about the endpoint, so only a probe's turn is given back.
func (c *endpoint) abandon(probe bool) {
	if !probe {
		return
	}
	c.mu.Lock()
	c.health.probing = false
	c.settle()
	c.mu.Unlock()
}

// settle stores whether health is other than its zero value in
// troubled. c.mu held.
func (c *endpoint) settle() {
	h := &c.health
	c.troubled.Store(h.streak != 0 || h.down != 0 || h.open || h.probing)
}

// window returns how long after its creation a delivery may still be
// attempted (see CircuitBreaker): a Timeout per attempt, every retry
// delay at its longest, and at least a cooldown and a Timeout. It is
// worked out in floating point, capped at maxWindow: a RetryConfig of
// millions of retries means "for a very long time", not an overflow or a
// loop over each of them.
func window(p *retryPolicy, timeout time.Duration, b breakerPolicy) time.Duration {
	const exact = 64 // retries summed one by one; the rest at their cap
	w := float64(timeout) * (float64(p.maxRetries) + 1)
	n := 1
	for ; n <= p.maxRetries && n <= exact; n++ {
		w += float64(p.longest(n))
	}
	if rest := p.maxRetries - n + 1; rest > 0 {
		// Delays never shrink: the last one bounds every one left.
		w += float64(rest) * float64(p.longest(p.maxRetries))
	}
	w = max(w, float64(b.cooldown)+float64(timeout))
	if w >= float64(maxWindow) {
		return maxWindow
	}
	return time.Duration(w)
}

// maxWindow caps a deadline's window.
const maxWindow = 100 * 365 * 24 * time.Hour
