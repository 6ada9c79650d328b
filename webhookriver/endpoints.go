package webhookriver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hookrail/webhook"
	"github.com/riverqueue/river"
)

var _ webhook.EndpointWatcher = (*Queue[any])(nil)

// epStatus is what this process knows of an endpoint.
type epStatus uint8

const (
	// epUnknown: not one of this process's endpoints (another process's,
	// during a rolling deploy): its deliveries are left to others for
	// Config.UnknownEndpointGrace.
	epUnknown epStatus = iota

	// epLive: the Runner has it.
	epLive

	// epPending: added at runtime (EndpointAdded), which the Emitter
	// calls before it publishes the endpoint: the Runner has it within a
	// moment. An attempt waits for it (pendingWait at most).
	epPending

	// epRemoved: removed at runtime (EndpointRemoved), or in the stored
	// endpoints when Start ran: its deliveries go to the Runner at once,
	// which gives them up (webhook.ErrEndpointRemoved).
	epRemoved
)

// epState is an endpoint's status, and when it became pending.
type epState struct {
	status epStatus
	since  time.Time
}

// endpointSet is this process's endpoints at one moment. It is never
// modified once published (Queue.names): a change publishes a new one,
// so that the workers read it without a lock.
type endpointSet struct {
	names  map[string]epState
	owners map[string]string // River queue → the live or pending endpoint that has it, for Stats
}

func (s *endpointSet) get(name string) epState { return s.names[name] }

// with returns the set with name's state set to e.
func (s *endpointSet) with(name string, e epState) *endpointSet {
	n := &endpointSet{names: maps.Clone(s.names), owners: maps.Clone(s.owners)}
	n.names[name] = e
	qn := queueName(name)
	switch {
	case e.status == epLive || e.status == epPending:
		n.owners[qn] = name
	case n.owners[qn] == name:
		delete(n.owners, qn)
	}
	return n
}

// setName publishes the set with name's state set to e, and returns the
// state it replaced.
func (q *Queue[TTx]) setName(name string, e epState) epState {
	q.namesMu.Lock()
	defer q.namesMu.Unlock()
	s := q.names.Load()
	old := s.get(name)
	q.names.Store(s.with(name, e))
	return old
}

// pendingWait bounds how long after EndpointAdded an attempt waits for
// the Runner to have the endpoint; pendingPoll is how often it looks.
const (
	pendingWait = 5 * time.Second
	pendingPoll = 10 * time.Millisecond
)

// dueTimeout bounds EndpointRemoved's update of the waiting deliveries.
const dueTimeout = 10 * time.Second

// EndpointAdded implements [webhook.EndpointWatcher]: the Emitter calls
// it for an endpoint added at runtime (by this process, or by another
// sharing the EndpointStore), before it publishes the endpoint. Unless
// Config.InsertOnly, the endpoint gets a River queue of its own in this
// process, with Config.Workers workers, as Start gives the endpoints it
// is started with (an endpoint whose River queue this process runs
// already, for deliveries it held when the queue started, keeps it). An
// attempt of the endpoint's deliveries waits, a few seconds at most, for
// the Emitter to publish it.
//
// River's RescueAfter and its attempt limit were set at Start, from the
// endpoints the queue was started with: an endpoint added later whose
// Timeout is not below Config.RescueAfter less 10 s, or whose
// RetryConfig allows more than 5,000 retries, is run all the same, with a
// warning in Config.Logger (set Config.RescueAfter for the longest
// Timeout an endpoint may be given).
//
// It fails when the endpoint's River queue is another live endpoint's
// (two names that map to one River queue: rename one), or when River
// cannot add the queue.
func (q *Queue[TTx]) EndpointAdded(name string) error {
	q.stopMu.Lock()
	defer q.stopMu.Unlock()
	qn := queueName(name)
	if other, ok := q.names.Load().owners[qn]; ok && other != name {
		return fmt.Errorf("webhookriver: endpoints %q and %q map to the same River queue %q: rename one", other, name, qn)
	}
	// Pending before its River queue runs: an attempt waits for the
	// Runner to have the endpoint, where an unknown endpoint's would be
	// left for others (or given up, after the grace).
	old := q.setName(name, epState{status: epPending, since: time.Now()})
	st := q.state.Load()
	if st == nil || q.cfg.InsertOnly || q.closed.Load() {
		return nil
	}
	if err := q.addQueue(st, qn); err != nil {
		q.setName(name, old)
		return fmt.Errorf("webhookriver: endpoint %q: adding its River queue %q: %w", name, qn, err)
	}
	return nil
}

// addQueue makes this process's River client run the River queue qn,
// unless it does. q.stopMu held.
func (q *Queue[TTx]) addQueue(st *state[TTx], qn string) error {
	if q.producers[qn] {
		return nil
	}
	if !st.working {
		return q.startWorking(st, qn)
	}
	err := st.client.Queues().Add(qn, q.queueConfig(q.cfg.Workers))
	if err != nil && !errors.Is(err, &river.QueueAlreadyAddedError{Name: qn}) {
		return err
	}
	q.producers[qn] = true
	return nil
}

// startWorking replaces the client Start made, which runs no queue
// (River adds none to such a client), with one that runs qn, and starts
// it. q.stopMu held.
func (q *Queue[TTx]) startWorking(st *state[TTx], qn string) error {
	rc := st.config
	rc.Queues = map[string]river.QueueConfig{qn: q.queueConfig(q.cfg.Workers)}
	client, err := river.NewClient(q.driver, &rc)
	if err != nil {
		return err
	}
	next := *st
	next.client, next.working = client, true
	// The workers read the state as soon as the client starts.
	q.state.Store(&next)
	if err := client.Start(context.Background()); err != nil {
		q.state.Store(st)
		return fmt.Errorf("starting River: %w", err)
	}
	q.producers[qn] = true
	return nil
}

// EndpointRemoved implements [webhook.EndpointWatcher]: the Emitter calls
// it once an endpoint removed at runtime (here, or by another process
// sharing the EndpointStore) takes no more deliveries. Its deliveries are
// then handed to the Emitter as soon as they are fetched, which gives
// them up (webhook.ErrEndpointRemoved: logged and reported to
// OnFailure) without a request, where an unknown endpoint's would be left
// for Config.UnknownEndpointGrace; and, unless Config.InsertOnly, those
// that wait (a retry, a snooze) are made due now, in every process's
// River queue, so that they are given up within about
// Config.FetchPollInterval rather than at their retry time.
//
// The endpoint's River queue keeps running in this process until it
// stops: deliveries for the endpoint may still come (a process that has
// not seen the removal yet, a host's transaction that commits later),
// and each is given up as it comes. A process started later runs it
// only while it holds deliveries.
func (q *Queue[TTx]) EndpointRemoved(name string) {
	q.stopMu.Lock()
	defer q.stopMu.Unlock()
	q.setName(name, epState{status: epRemoved})
	if q.state.Load() == nil || q.cfg.InsertOnly || q.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dueTimeout)
	defer cancel()
	if err := q.driver.GetExecutor().Exec(ctx, q.sql(dueSQL), jobKind, queueName(name), name); err != nil {
		q.cfg.Logger.Warn("webhookriver: making a removed endpoint's deliveries due failed: they are given up when they come due",
			"endpoint", name, "error", err)
	}
}

// attemptable reports whether a delivery for the endpoint name goes to
// the Runner now: the endpoint is this process's, or was removed (the
// Runner gives the delivery up). For an endpoint added at runtime, it
// waits until the Runner has it, within pendingWait of EndpointAdded,
// or ctx's end.
func (q *Queue[TTx]) attemptable(ctx context.Context, st *state[TTx], name string) bool {
	for {
		e := q.names.Load().get(name)
		switch e.status {
		case epLive, epRemoved:
			return true
		case epUnknown:
			return false
		}
		if slices.Contains(st.runner.Endpoints(), name) {
			q.promote(st, name)
			return true
		}
		if time.Since(e.since) > pendingWait {
			return false
		}
		t := time.NewTimer(pendingPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// promote makes the pending endpoint name live, now that the Runner has
// it, and warns of the settings River cannot honour for it.
func (q *Queue[TTx]) promote(st *state[TTx], name string) {
	q.namesMu.Lock()
	s := q.names.Load()
	pending := s.get(name).status == epPending
	if pending {
		q.names.Store(s.with(name, epState{status: epLive}))
	}
	q.namesMu.Unlock()
	if !pending {
		return
	}
	d := &webhook.Delivery{Endpoint: name}
	if timeout := st.runner.AttemptTimeout(d); timeout+attemptSlack >= st.rescue {
		q.cfg.Logger.Warn("webhookriver: an added endpoint's timeout is not below rescue_after less 10s, set when the queue started: a slow attempt may be rescued, and sent twice; set Config.RescueAfter",
			"endpoint", name, "timeout", timeout, "rescue_after", st.rescue)
	}
	if _, ok := st.runner.NextRetry(d, maxRetries+1); ok {
		q.cfg.Logger.Warn("webhookriver: an added endpoint allows more retries than the River queue runs: River gives its deliveries up after about 10,000 attempts",
			"endpoint", name, "max_retries_above", maxRetries)
	}
}
