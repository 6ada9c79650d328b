package webhook

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// endpointSet is the Emitter's endpoints at one moment. It is never
// modified once published: AddEndpoint, UpdateEndpoint, RemoveEndpoint and
// the EndpointStore's changes publish a new one (copy on write), so that
// Emit and the workers read it without a lock.
type endpointSet struct {
	all      []*endpoint            // Config's in order, then those added
	byName   map[string]*endpoint   //
	global   []*endpoint            // without a tenant: candidates for every event
	byTenant map[string][]*endpoint // by Endpoint.Tenant
}

func newEndpointSet(eps []*endpoint) *endpointSet {
	s := &endpointSet{all: eps, byName: make(map[string]*endpoint, len(eps)), byTenant: map[string][]*endpoint{}}
	for _, ep := range eps {
		s.byName[ep.Name] = ep
		if ep.Tenant == "" {
			s.global = append(s.global, ep)
		} else {
			s.byTenant[ep.Tenant] = append(s.byTenant[ep.Tenant], ep)
		}
	}
	return s
}

// with returns the set with ep added, or in place of the endpoint of its
// name. Only the lists ep is in are copied, besides the name index.
func (s *endpointSet) with(ep *endpoint) *endpointSet {
	old := s.byName[ep.Name]
	n := &endpointSet{byName: maps.Clone(s.byName), global: s.global, byTenant: s.byTenant}
	n.byName[ep.Name] = ep
	if ep.Tenant != "" || (old != nil && old.Tenant != "") {
		n.tenants()
	}
	if old != nil {
		n.all = slices.Clone(s.all)
		n.all[slices.Index(n.all, old)] = ep
		n.unlist(old)
	} else {
		n.all = append(slices.Clip(s.all), ep)
	}
	if ep.Tenant == "" {
		n.global = append(slices.Clip(n.global), ep)
	} else {
		n.byTenant[ep.Tenant] = append(slices.Clip(n.byTenant[ep.Tenant]), ep)
	}
	return n
}

// without returns the set without the endpoint of that name.
func (s *endpointSet) without(name string) *endpointSet {
	old := s.byName[name]
	if old == nil {
		return s
	}
	n := &endpointSet{byName: maps.Clone(s.byName), global: s.global, byTenant: s.byTenant}
	delete(n.byName, name)
	if old.Tenant != "" {
		n.tenants()
	}
	n.all = slices.DeleteFunc(slices.Clone(s.all), func(ep *endpoint) bool { return ep == old })
	n.unlist(old)
	return n
}

// unlist takes ep out of the list of its tenant (or the global one), on a
// set being built, whose tenant index is its own already when ep has a
// tenant: the list is copied, never modified in place.
func (n *endpointSet) unlist(ep *endpoint) {
	drop := func(l []*endpoint) []*endpoint {
		return slices.DeleteFunc(slices.Clone(l), func(e *endpoint) bool { return e == ep })
	}
	if ep.Tenant == "" {
		n.global = drop(n.global)
		return
	}
	if l := drop(n.byTenant[ep.Tenant]); len(l) > 0 {
		n.byTenant[ep.Tenant] = l
	} else {
		delete(n.byTenant, ep.Tenant)
	}
}

// tenants gives n, a set being built, a tenant index of its own: with
// and without call it once, before they change it.
func (n *endpointSet) tenants() {
	n.byTenant = maps.Clone(n.byTenant)
	if n.byTenant == nil {
		n.byTenant = map[string][]*endpoint{}
	}
}

// candidates calls f with every endpoint an event of the tenant may go
// to: those without a tenant, then the tenant's own.
func (s *endpointSet) candidates(tenant string, f func(*endpoint)) {
	for _, ep := range s.global {
		f(ep)
	}
	if tenant != "" {
		for _, ep := range s.byTenant[tenant] {
			f(ep)
		}
	}
}

// endpoint returns the endpoint of that name, nil when there is none.
func (e *Emitter) endpoint(name string) *endpoint { return e.eps.Load().byName[name] }

// AddEndpoint adds an endpoint while the Emitter runs: events emitted
// once it returns may go to it. It is checked as New checks
// Config.Endpoints, with the same errors (wrapping ErrInvalidConfig,
// naming the endpoint and the field); a name another endpoint has is an
// error wrapping ErrEndpointExists. With an EndpointStore, the endpoint
// is stored first (its Transform, a function, cannot be), and every
// process sharing the store takes it within Config.EndpointSync.
func (e *Emitter) AddEndpoint(ctx context.Context, ep Endpoint) error {
	return e.changeEndpoint(ctx, ep, true)
}

// UpdateEndpoint replaces the endpoint of ep.Name (the whole of it: to
// change one field, read it with Endpoint, change the copy and pass it
// here; of two updates at once, the last wins), checked as AddEndpoint
// checks a new one; an error wrapping ErrEndpointNotFound when there is
// none. Deliveries already queued for it keep the body they were shaped
// with and make their next attempts with the new URL, secret, headers,
// timeout and retry policy; events emitted from now on are shaped by its
// new rules. Its circuit breaker and a 410's disabling start afresh. With
// an EndpointStore, an endpoint of Config.Endpoints cannot be updated
// (ErrEndpointFixed).
func (e *Emitter) UpdateEndpoint(ctx context.Context, ep Endpoint) error {
	return e.changeEndpoint(ctx, ep, false)
}

// RemoveEndpoint removes the endpoint of that name; an error wrapping
// ErrEndpointNotFound when there is none. Do not give a removed name to
// another tenant's endpoint at once: a delivery of the removed endpoint
// that a durable queue still holds (it gives them up as they come due,
// made due at once) would go to the endpoint that has the name when it
// is attempted. Names made of the tenant's id and a serial number, never
// reused, avoid it. Events emitted once it returns
// do not go to it. Deliveries queued for it are given up without another
// attempt, with an error wrapping ErrEndpointRemoved: each is logged as
// failed and reported to Config.OnFailure (the memory queue gives them up
// at once, others at the time they come due). An attempt under way ends
// as it would have. With an EndpointStore, an endpoint of
// Config.Endpoints cannot be removed (ErrEndpointFixed).
func (e *Emitter) RemoveEndpoint(ctx context.Context, name string) error {
	if e.queue == nil {
		return errNotNew
	}
	if !e.enter() {
		return errClosed
	}
	defer e.leave()
	e.epMu.Lock()
	defer e.epMu.Unlock()
	ep := e.endpoint(name)
	switch {
	case ep == nil:
		return fmt.Errorf("webhook: remove endpoint %q: %w", name, ErrEndpointNotFound)
	case e.store != nil && ep.static:
		return fmt.Errorf("webhook: remove endpoint %q: %w: remove it there", name, ErrEndpointFixed)
	}
	if e.store != nil {
		if err := e.store.DeleteEndpoint(ctx, name); err != nil {
			return fmt.Errorf("webhook: remove endpoint %q: %w", name, err)
		}
	}
	e.drop(name)
	return nil
}

// Endpoints returns the endpoints deliveries go to now: Config's, in
// order, then those added since. They hold their secrets. Each is a copy:
// changing its slices or maps changes nothing here.
func (e *Emitter) Endpoints() []Endpoint {
	if e.queue == nil {
		return nil
	}
	set := e.eps.Load()
	out := make([]Endpoint, len(set.all))
	for i, ep := range set.all {
		out[i] = cloneEndpoint(ep.Endpoint)
	}
	return out
}

// Endpoint returns a copy of the endpoint of that name, and whether there
// is one.
func (e *Emitter) Endpoint(name string) (Endpoint, bool) {
	if e.queue == nil {
		return Endpoint{}, false
	}
	if ep := e.endpoint(name); ep != nil {
		return cloneEndpoint(ep.Endpoint), true
	}
	return Endpoint{}, false
}

// TenantEndpoints returns copies of the tenant's endpoints (those whose
// Tenant is tenant), in the order they were added. It costs what the
// tenant has, not what every tenant has.
func (e *Emitter) TenantEndpoints(tenant string) []Endpoint {
	if e.queue == nil || tenant == "" {
		return nil
	}
	own := e.eps.Load().byTenant[tenant]
	out := make([]Endpoint, len(own))
	for i, ep := range own {
		out[i] = cloneEndpoint(ep.Endpoint)
	}
	return out
}

// cloneEndpoint copies ep with its slices and maps (a redaction's
// replacement values excepted: they are read, never changed), so that
// neither the caller nor the Emitter sees the other's changes.
func cloneEndpoint(ep Endpoint) Endpoint {
	ep.Events = slices.Clone(ep.Events)
	ep.IncludeModels = slices.Clone(ep.IncludeModels)
	ep.ExcludeModels = slices.Clone(ep.ExcludeModels)
	ep.IncludeFields = cloneFieldMap(ep.IncludeFields)
	ep.ExcludeFields = cloneFieldMap(ep.ExcludeFields)
	if ep.RedactFields != nil {
		r := make(map[string]map[string]any, len(ep.RedactFields))
		for k, v := range ep.RedactFields {
			r[k] = maps.Clone(v)
		}
		ep.RedactFields = r
	}
	ep.Headers = maps.Clone(ep.Headers)
	if ep.OAuth2 != nil {
		o := *ep.OAuth2
		o.Scopes = slices.Clone(o.Scopes)
		o.EndpointParams = cloneFieldMap(o.EndpointParams)
		ep.OAuth2 = &o
	}
	if ep.Retry != nil {
		r := *ep.Retry
		r.RetryOnStatus = slices.Clone(r.RetryOnStatus)
		ep.Retry = &r
	}
	return ep
}

func cloneFieldMap(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	c := make(map[string][]string, len(m))
	for k, v := range m {
		c[k] = slices.Clone(v)
	}
	return c
}

// changeEndpoint adds (create) or replaces ep.
func (e *Emitter) changeEndpoint(ctx context.Context, ep Endpoint, create bool) error {
	if e.queue == nil {
		return errNotNew
	}
	if !e.enter() {
		return errClosed
	}
	defer e.leave()
	verb := "add"
	if !create {
		verb = "update"
	}
	ep = cloneEndpoint(ep) // the caller may change its slices and maps afterwards
	c, err := e.checkEndpoint(ep)
	if err != nil {
		return err
	}
	var spec []byte
	if e.store != nil {
		if spec, err = encodeEndpoint(ep); err != nil {
			return fmt.Errorf("webhook: %w: endpoint %q: %w", ErrInvalidConfig, ep.Name, err)
		}
		c.spec = spec
	}
	e.epMu.Lock()
	defer e.epMu.Unlock()
	old := e.endpoint(ep.Name)
	switch {
	case create && old != nil:
		return fmt.Errorf("webhook: %s endpoint %q: %w", verb, ep.Name, ErrEndpointExists)
	case !create && old == nil:
		return fmt.Errorf("webhook: %s endpoint %q: %w", verb, ep.Name, ErrEndpointNotFound)
	case !create && e.store != nil && old.static:
		return fmt.Errorf("webhook: %s endpoint %q: %w: change it there", verb, ep.Name, ErrEndpointFixed)
	}
	if create {
		if err := e.watchAdd(ep.Name); err != nil {
			return fmt.Errorf("webhook: %s endpoint %q: the queue: %w", verb, ep.Name, err)
		}
	}
	if e.store != nil {
		if err := e.store.PutEndpoint(ctx, ep.Name, spec, create); err != nil {
			if create {
				e.unwatch(ep.Name) // the queue counts it no more
			}
			return fmt.Errorf("webhook: %s endpoint %q: %w", verb, ep.Name, err)
		}
	}
	e.put(c)
	return nil
}

// checkEndpoint validates ep as New validates Config.Endpoints and
// compiles it. Its error wraps ErrInvalidConfig and joins one error per
// problem, each naming the endpoint and field.
func (e *Emitter) checkEndpoint(ep Endpoint) (*endpoint, error) {
	var errs []error
	if err := checkName(ep.Name); err != nil {
		errs = append(errs, err)
	}
	c, cerrs := e.compileEndpoint(ep)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		where := fmt.Sprintf("endpoint %q", ep.Name)
		for i, err := range errs {
			errs[i] = fmt.Errorf("webhook: %w: %s: %w", ErrInvalidConfig, where, err)
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// checkName checks an endpoint's name.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("name: empty")
	case strings.TrimSpace(name) != name:
		return errors.New("name: leading or trailing space")
	}
	return nil
}

// put publishes c in place of the endpoint of its name, or beside the
// others; a pause outlives the change. e.epMu held.
func (e *Emitter) put(c *endpoint) {
	if old := e.endpoint(c.Name); old != nil {
		c.paused.Store(old.paused.Load())
	}
	e.eps.Store(e.eps.Load().with(c))
	e.removed.Delete(c.Name)
}

// drop unpublishes the endpoint of that name and tells the queue, which
// gives up what it holds for it. e.epMu held.
func (e *Emitter) drop(name string) {
	e.removed.Store(name, struct{}{})
	e.eps.Store(e.eps.Load().without(name))
	e.unwatch(name)
}

// unwatch tells the queue the endpoint is gone.
func (e *Emitter) unwatch(name string) {
	if w, ok := e.queue.(EndpointWatcher); ok {
		w.EndpointRemoved(name)
	}
}

// watchAdd tells the queue of a new endpoint.
func (e *Emitter) watchAdd(name string) error {
	if w, ok := e.queue.(EndpointWatcher); ok {
		return w.EndpointAdded(name)
	}
	return nil
}

// missing returns why a delivery to an endpoint that is not there fails:
// removed at runtime, or never there.
func (e *Emitter) missing(name string) error {
	if _, ok := e.removed.Load(name); ok {
		return ErrEndpointRemoved
	}
	return ErrEndpointNotFound
}

// operated returns the endpoint an operator's call names (PauseEndpoint,
// ResetCircuit, EnableEndpoint…), or an error wrapping
// ErrEndpointNotFound when there is none.
func (e *Emitter) operated(name string) (*endpoint, error) {
	if e.queue == nil {
		return nil, errNotNew
	}
	if ep := e.endpoint(name); ep != nil {
		return ep, nil
	}
	return nil, fmt.Errorf("webhook: endpoint %q: %w", name, ErrEndpointNotFound)
}

// pausedRecheck is how often a paused endpoint's deliveries look again:
// ResumeEndpoint takes effect within it.
const pausedRecheck = time.Second

// PauseEndpoint holds the endpoint's deliveries until ResumeEndpoint: its
// events are still queued, and its deliveries wait in the queue, neither
// attempted nor counted nor given up, however long the pause lasts (an
// attempt under way ends as it would have). Use it while a receiver is
// down for maintenance, rather than let its deliveries fail. A pause
// outlives UpdateEndpoint, and holds in this process only: with a queue
// shared by processes, pause the endpoint in each. An error wraps
// ErrEndpointNotFound when there is no such endpoint.
func (e *Emitter) PauseEndpoint(ctx context.Context, name string) error {
	return e.setPaused(name, true)
}

// ResumeEndpoint ends a pause (see PauseEndpoint): the deliveries held go
// on within a second.
func (e *Emitter) ResumeEndpoint(ctx context.Context, name string) error {
	return e.setPaused(name, false)
}

func (e *Emitter) setPaused(name string, paused bool) error {
	e.epMu.Lock() // so that a concurrent update does not lose it
	defer e.epMu.Unlock()
	ep, err := e.operated(name)
	if err != nil {
		return err
	}
	if ep.paused.Swap(paused) != paused {
		verb := "resumed"
		if paused {
			verb = "paused"
		}
		e.logger.Info("webhook endpoint "+verb, "endpoint", name)
	}
	return nil
}

// ResetCircuit closes the endpoint's circuit breaker, as a successful
// probe would, for an operator who knows the receiver is back: the
// deliveries it held go on as each comes due. OnChange hears of it when
// the circuit was open. An error wraps ErrEndpointNotFound when there is
// no such endpoint.
func (e *Emitter) ResetCircuit(ctx context.Context, name string) error {
	ep, err := e.operated(name)
	if err != nil {
		return err
	}
	if ep.reset() {
		e.circuitChanged(name, CircuitClosed, nil)
	}
	return nil
}
