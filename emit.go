package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Emit sends ev to every endpoint that wants it. The body is built and
// fixed now; delivery happens on the queue's workers (in Sync mode, before
// Emit returns).
//
// Emit returns nil when every delivery the event needs has been handed to
// the queue (in Sync mode: delivered). Otherwise its error is one of two
// kinds:
//
//   - About the event as a whole, found before any delivery exists: the
//     event is invalid or the code that describes its model failed
//     (ErrInvalidEvent, with ErrPanic for a panic in WebhookLabel,
//     WebhookMeta, ShouldSend or MarshalJSON), ctx had ended, or Close has
//     begun (ErrClosed). Nothing is sent, logged or reported to OnFailure:
//     the caller has the error.
//   - About one endpoint's delivery: its body could not be built (a
//     Transform error or panic, ErrBodyTooLarge), its share of the queue
//     stayed full until ctx ended (ErrQueueFull), the queue was closing
//     (ErrClosed), or, in Sync mode, it was not delivered. That delivery
//     fails as every delivery that is given up does (delivery log, logger,
//     OnFailure) and the others go on; Emit returns one *DeliveryError
//     naming the endpoint per such delivery, joined. (A delivery to an
//     endpoint removed while Emit ran is given up as RemoveEndpoint says,
//     and not returned.)
func (e *Emitter) Emit(ctx context.Context, ev Event) error {
	if e.queue == nil {
		return errNotNew
	}
	if !e.enter() {
		return errClosed
	}
	defer e.leave()
	if e.cfg.Disabled {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("webhook: emit: %w", err)
	}
	p, err := e.prepare(ctx, &ev)
	if err != nil {
		return err
	}
	return e.dispatch(ctx, p)
}

// dispatch hands a prepared event on: the deliveries whose bodies could
// not be built are given up, the others recorded as pending and enqueued,
// all of them at once. It returns the failures, joined.
func (e *Emitter) dispatch(ctx context.Context, p Prepared) error {
	var errs []error
	for _, f := range p.Failed {
		errs = append(errs, e.giveUp(f.Delivery, f.Err))
	}
	if len(p.Deliveries) == 0 {
		return errors.Join(errs...)
	}
	for _, d := range p.Deliveries {
		e.record(d, 0, StatusPending, 0, "", "", nil, time.Time{})
		if e.obs != nil {
			e.obs.Queued(ctx, d)
		}
	}
	if err := e.queue.Enqueue(ctx, p.Deliveries); err != nil {
		errs = append(errs, withoutRemoved(err)...)
	}
	return errors.Join(errs...)
}

// withoutRemoved returns the errors joined in err but those of
// deliveries whose endpoint was removed while Emit ran: they are given up
// and reported as the removal's (see RemoveEndpoint), not the event's.
func withoutRemoved(err error) []error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	return slices.DeleteFunc(slices.Clone(errs), func(err error) bool { return errors.Is(err, ErrEndpointRemoved) })
}

// prepare turns ev into its deliveries, with no side effect (but for the
// warnings logged once when a model's type is first met, see noticeType).
// Its error is about the event as a whole; each endpoint's failure is in
// Failed.
func (e *Emitter) prepare(ctx context.Context, ev *Event) (Prepared, error) {
	if e.cfg.Disabled {
		return Prepared{}, nil
	}
	model, meta, err := e.check(ev)
	if err != nil || !meta.wants(ev.Type) {
		return Prepared{}, err
	}
	var targets []*endpoint
	e.eps.Load().candidates(ev.Tenant, func(ep *endpoint) {
		if ep.pass(ev.Type, model.Label) == wanted {
			targets = append(targets, ep)
		}
	})
	if len(targets) == 0 {
		return Prepared{}, nil
	}
	if send, err := shouldSend(&meta, ev); !send || err != nil {
		return Prepared{}, err
	}
	wall := time.Now()
	now := e.timeAt(wall).UTC()
	id, dlvIDs := e.newIDs(ev.ID, len(targets), wall.UnixNano())
	snap, err := e.snapshot(ctx, ev, model, id, now)
	if err != nil {
		return Prepared{}, err
	}
	defer snap.release() // every body is built by then: none refers to it
	e.noticeType(model.Label, snap.rawType)

	var p Prepared
	p.Deliveries = make([]*Delivery, 0, len(targets))
	var plain []byte // the body of every endpoint without rules or transform
	for i, ep := range targets {
		body, pass, err := e.build(snap, ep, &plain)
		if pass != wanted {
			continue
		}
		d := &Delivery{ID: dlvID(dlvIDs, i), EventID: id, EventType: ev.Type, Endpoint: ep.Name, CreatedAt: now}
		if err != nil {
			p.Failed = append(p.Failed, ShapeFailure{d, e.deliveryError(d, err)})
			continue
		}
		d.Body = body
		p.Deliveries = append(p.Deliveries, d)
	}
	return p, nil
}

// check validates ev and resolves its model label and settings (the
// zero ModelMeta when the model has none). The object's own methods
// (WebhookLabel, WebhookMeta) are host code: a panic in them is the
// event's error, not the host's.
func (e *Emitter) check(ev *Event) (ModelInfo, ModelMeta, error) {
	if !ev.Type.valid() {
		return ModelInfo{}, ModelMeta{}, fmt.Errorf("webhook: %w: type %q unknown (want created, updated or deleted)", ErrInvalidEvent, ev.Type)
	}
	if err := checkEventID(ev.ID); err != nil {
		return ModelInfo{}, ModelMeta{}, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, err)
	}
	var model ModelInfo
	var err error
	if perr := protect("WebhookLabel", func() { model, err = modelLabel(ev) }); perr != nil {
		err = perr
	}
	if err != nil {
		return ModelInfo{}, ModelMeta{}, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, err)
	}
	var meta ModelMeta
	if perr := protect("WebhookMeta", func() { meta = e.meta(ev, model.Label) }); perr != nil {
		return ModelInfo{}, ModelMeta{}, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, perr)
	}
	return model, meta, nil
}

// wants reports whether the model's settings let events of type t out.
func (m *ModelMeta) wants(t EventType) bool {
	return !m.Disabled && hasEvent(m.Events, t)
}

// shouldSend asks the model's ShouldSend, if it has one.
func shouldSend(meta *ModelMeta, ev *Event) (send bool, _ error) {
	if meta.ShouldSend == nil {
		return true, nil
	}
	if perr := protect("ShouldSend", func() { send = meta.ShouldSend(*ev) }); perr != nil {
		return false, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, perr)
	}
	return send, nil
}

// snapshot marshals the event's object (and, for an update, its changes)
// once, for every endpoint's body. A panic in MarshalJSON is the event's
// error.
func (e *Emitter) snapshot(ctx context.Context, ev *Event, model ModelInfo, id string, now time.Time) (*snapshot, error) {
	var user *Actor
	if a, ok := actorFrom(ctx, ev); ok {
		user = &a
	}
	var snap *snapshot
	var err error
	if perr := protect("MarshalJSON", func() { snap, err = newSnapshot(ev, model, id, now.Truncate(time.Second), user) }); perr != nil {
		err = perr
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, err)
	}
	return snap, nil
}

// build makes ep's body of the snapshot: shape, then the size limit. pass
// is passFiltered when ep does not get the update (see
// Endpoint.SendFilteredUpdates).
func (e *Emitter) build(s *snapshot, ep *endpoint, plain *[]byte) (_ []byte, _ passReason, err error) {
	body, send, err := e.shape(s, ep, plain)
	switch {
	case err != nil:
		return nil, wanted, fmt.Errorf("shaping the body: %w", err)
	case !send:
		return nil, passFiltered, nil
	case e.cfg.MaxBodyBytes > 0 && len(body) > e.cfg.MaxBodyBytes:
		return nil, wanted, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrBodyTooLarge, len(body), e.cfg.MaxBodyBytes)
	}
	return body, wanted, nil
}

// meta returns the model's settings: Config.Models, else the object's
// MetaProvider, else the zero ModelMeta, which lets every event out.
func (e *Emitter) meta(ev *Event, label string) ModelMeta {
	if m, ok := e.cfg.Models[label]; ok {
		return m
	}
	if p, ok := ev.Object.(MetaProvider); ok {
		return p.WebhookMeta()
	}
	return ModelMeta{}
}

// hasEvent reports whether types, empty meaning all, holds t.
func hasEvent(types []EventType, t EventType) bool {
	return len(types) == 0 || slices.Contains(types, t)
}

// shape builds ep's body from the snapshot: field rules, then Transform.
// Endpoints without either share one body, built once. send is false for
// an update whose changes ep's rules all hide, unless ep asks for those.
func (e *Emitter) shape(s *snapshot, ep *endpoint, plain *[]byte) (body []byte, send bool, _ error) {
	rules := ep.rules.forModel(s.model.Label)
	if rules == nil && ep.Transform == nil {
		if *plain == nil {
			*plain = s.plainBody()
		}
		return *plain, true, nil
	}
	changes, obj := s.changes, s.raw
	if rules != nil {
		var err error
		if changes, err = rules.changes(changes); err != nil {
			return nil, false, err
		}
		if len(changes) == 0 && len(s.changes) > 0 && !ep.SendFilteredUpdates {
			return nil, false, nil
		}
		if ep.Transform == nil {
			body, err := s.filteredBody(rules, changes)
			return body, err == nil, err
		}
		if obj, err = rules.appendObject(nil, s.raw); err != nil {
			return nil, false, fmt.Errorf("event object: %w", err)
		}
	}
	p, err := s.payload(obj, changes)
	if err != nil {
		return nil, false, err
	}
	var out any
	if perr := protect("Transform", func() { out, err = ep.Transform(p) }); perr != nil {
		return nil, false, perr
	}
	if err != nil {
		return nil, false, fmt.Errorf("transform: %w", err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, false, fmt.Errorf("transform: result of type %T cannot be serialised: %w", out, err)
	}
	return b, true, nil
}

// Redeliver sends a finished delivery again: a new delivery (a new
// attempt series, with a new delivery id, returned) of the same body to the
// same endpoint, with the same event id, so receivers that already have it
// can tell. It takes the id of a DeliveryLog whose status is failed or
// delivered, and records the new id in that log's RedeliveredAs. A log
// sent again already is refused, with an error wrapping
// ErrAlreadyRedelivered (an operator's second click): RedeliverAgain
// sends it anyway. The log of a delivery still under way is refused
// with ErrNotFinished, and one whose body was never built with
// ErrNoPayload. In Sync mode it delivers before returning. Its errors
// follow Emit's rule.
func (e *Emitter) Redeliver(ctx context.Context, id string) (string, error) {
	return e.redeliverID(ctx, id, false)
}

// RedeliverAgain is Redeliver for a log that may have been sent again
// already: it makes one more delivery, and the log then links to the
// newest.
func (e *Emitter) RedeliverAgain(ctx context.Context, id string) (string, error) {
	return e.redeliverID(ctx, id, true)
}

func (e *Emitter) redeliverID(ctx context.Context, id string, again bool) (string, error) {
	if e.queue == nil {
		return "", errNotNew
	}
	if !e.enter() {
		return "", errClosed
	}
	defer e.leave()
	l, err := e.logs.Get(ctx, id)
	if err != nil {
		return "", fmt.Errorf("webhook: redeliver %s: %w", id, err)
	}
	if l.RedeliveredAs != "" && !again {
		return "", fmt.Errorf("webhook: redeliver %s: %w as %s (RedeliverAgain sends it once more)", id, ErrAlreadyRedelivered, l.RedeliveredAs)
	}
	return e.redeliver(ctx, l)
}

// redeliver sends the delivery of l again (see Redeliver).
func (e *Emitter) redeliver(ctx context.Context, l DeliveryLog) (string, error) {
	id := l.ID
	switch {
	case l.Status != StatusFailed && l.Status != StatusDelivered:
		return "", fmt.Errorf("webhook: redeliver %s: status is %s: %w; only failed or delivered deliveries can be sent again", id, l.Status, ErrNotFinished)
	case l.Payload == nil:
		return "", fmt.Errorf("webhook: redeliver %s: %w (its shaping failed); emit the event again", id, ErrNoPayload)
	}
	ep := e.endpoint(l.EndpointName)
	if ep == nil {
		return "", fmt.Errorf("webhook: redeliver %s: endpoint %q: %w", id, l.EndpointName, e.missing(l.EndpointName))
	}
	if err := ep.unavailable(); err != nil {
		hint := ""
		if err == ErrEndpointGone {
			hint = "; call EnableEndpoint first"
		}
		return "", fmt.Errorf("webhook: redeliver %s: endpoint %q: %w%s", id, l.EndpointName, err, hint)
	}
	d := &Delivery{ID: e.newID("dlv_"), EventID: l.EventID, EventType: l.EventType, Endpoint: l.EndpointName, Body: l.Payload, CreatedAt: e.now().UTC()}
	// Marked first: in Sync mode the new delivery may fail, and be
	// recovered, before dispatch returns.
	l.RedeliveredAs = d.ID
	l.History = nil // Record adds what it is given to the log's own
	if err := e.logs.Record(ctx, l); err != nil {
		e.logger.Warn("webhook: redeliver: the log could not record its redelivery", "delivery_id", id, "redelivered_as", d.ID, "error", err)
	}
	return d.ID, e.dispatch(ctx, Prepared{Deliveries: []*Delivery{d}})
}
