package webhook

import (
	"context"
	"fmt"
)

// Stats reports what the Emitter holds: queued and in-flight deliveries,
// in total and per endpoint, with each endpoint's circuit state. Its JSON
// names are snake_case, as the delivery logs'.
type Stats struct {
	Queued    int                      `json:"queued"`    // waiting: due, scheduled for a retry, or held by an open circuit
	InFlight  int                      `json:"in_flight"` // being attempted
	Endpoints map[string]EndpointStats `json:"endpoints"` // by endpoint name
}

// EndpointStats is one endpoint's part of Stats.
type EndpointStats struct {
	Queued   int          `json:"queued"`    // as Stats.Queued, for this endpoint
	InFlight int          `json:"in_flight"` // as Stats.InFlight, for this endpoint
	Circuit  CircuitState `json:"circuit"`   // the circuit breaker's state
	Disabled bool         `json:"disabled"`  // configured disabled, or by a 410 answer
	Paused   bool         `json:"paused"`    // PauseEndpoint: its deliveries wait
	Tenant   string       `json:"tenant,omitempty"`
}

// Stats returns a snapshot of the Emitter's queue and endpoints, for
// health checks and metrics. In Sync mode it counts the deliveries of the
// Emit calls under way. It fails when the queue cannot say (a durable
// queue's database is unreachable).
func (e *Emitter) Stats(ctx context.Context) (Stats, error) {
	if e.queue == nil {
		return Stats{}, errNotNew
	}
	qs, err := e.queue.Stats(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("webhook: stats: %w", err)
	}
	eps := e.eps.Load().all
	st := Stats{Queued: qs.Queued, InFlight: qs.InFlight, Endpoints: make(map[string]EndpointStats, len(eps))}
	for _, ep := range eps {
		s := qs.Endpoints[ep.Name]
		st.Endpoints[ep.Name] = EndpointStats{
			Queued:   s.Queued,
			InFlight: s.InFlight,
			Circuit:  ep.circuit(),
			Disabled: ep.unavailable() != nil,
			Paused:   ep.paused.Load(),
			Tenant:   ep.Tenant,
		}
	}
	return st, nil
}
