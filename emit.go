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
//     naming the endpoint per such delivery, joined.
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
		e.record(d, 0, StatusPending, 0, "", "")
	}
	if err := e.queue.Enqueue(ctx, p.Deliveries); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// prepare turns ev into its deliveries, with no side effect. Its error is
// about the event as a whole; each endpoint's failure is in Failed.
func (e *Emitter) prepare(ctx context.Context, ev *Event) (Prepared, error) {
	if e.cfg.Disabled {
		return Prepared{}, nil
	}
	if !ev.Type.valid() {
		return Prepared{}, fmt.Errorf("webhook: %w: type %q unknown (want created, updated or deleted)", ErrInvalidEvent, ev.Type)
	}
	if err := checkEventID(ev.ID); err != nil {
		return Prepared{}, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, err)
	}
	// The object's own methods (WebhookLabel, WebhookMeta, MarshalJSON)
	// and the model's ShouldSend are host code: a panic in them is the
	// event's error, not the host's.
	var model ModelInfo
	var err error
	if perr := protect("WebhookLabel", func() { model, err = modelLabel(ev) }); perr != nil {
		err = perr
	}
	if err != nil {
		return Prepared{}, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, err)
	}
	var meta ModelMeta
	var ok bool
	if perr := protect("WebhookMeta", func() { meta, ok = e.meta(ev, model.Label) }); perr != nil {
		return Prepared{}, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, perr)
	}
	if ok && (meta.Disabled || !hasEvent(meta.Events, ev.Type)) {
		return Prepared{}, nil
	}
	var targets []*endpoint
	for _, ep := range e.endpoints {
		if ep.wants(ev.Type, model.Label) {
			targets = append(targets, ep)
		}
	}
	if len(targets) == 0 {
		return Prepared{}, nil
	}
	if ok && meta.ShouldSend != nil {
		send := false
		if perr := protect("ShouldSend", func() { send = meta.ShouldSend(*ev) }); perr != nil {
			return Prepared{}, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, perr)
		}
		if !send {
			return Prepared{}, nil
		}
	}
	id, dlvIDs := e.newIDs(ev.ID, len(targets))
	now := e.now().UTC()
	var user *Actor
	if a, ok := actorFrom(ctx, ev); ok {
		user = &a
	}
	var snap *snapshot
	if perr := protect("MarshalJSON", func() { snap, err = newSnapshot(ev, model, id, now.Truncate(time.Second), user) }); perr != nil {
		err = perr
	}
	if err != nil {
		return Prepared{}, fmt.Errorf("webhook: %w: %w", ErrInvalidEvent, err)
	}
	defer snap.release() // every body is built by then: none refers to it

	var p Prepared
	p.Deliveries = make([]*Delivery, 0, len(targets))
	var plain []byte // the body of every endpoint without rules or transform
	for i, ep := range targets {
		d := &Delivery{ID: dlvID(dlvIDs, i), EventID: id, EventType: ev.Type, Endpoint: ep.Name, CreatedAt: now}
		body, err := e.shape(snap, ep, &plain)
		switch {
		case err != nil:
			err = fmt.Errorf("shaping the body: %w", err)
		case e.cfg.MaxBodyBytes > 0 && len(body) > e.cfg.MaxBodyBytes:
			err = fmt.Errorf("%w: %d bytes, over the limit of %d", ErrBodyTooLarge, len(body), e.cfg.MaxBodyBytes)
		}
		if err != nil {
			p.Failed = append(p.Failed, ShapeFailure{d, e.deliveryError(d, err)})
			continue
		}
		d.Body = body
		p.Deliveries = append(p.Deliveries, d)
	}
	return p, nil
}

// meta returns the model's settings: Config.Models, else the object's
// MetaProvider. ok is false when there are none.
func (e *Emitter) meta(ev *Event, label string) (ModelMeta, bool) {
	if m, ok := e.cfg.Models[label]; ok {
		return m, true
	}
	if p, ok := ev.Object.(MetaProvider); ok {
		return p.WebhookMeta(), true
	}
	return ModelMeta{}, false
}
func hasEvent(types []EventType, t EventType) bool {
	return len(types) == 0 || slices.Contains(types, t)
}

// shape builds ep's body from the snapshot: field rules, then Transform.
// Endpoints without either share one body, built once.
func (e *Emitter) shape(s *snapshot, ep *endpoint, plain *[]byte) ([]byte, error) {
	rules := ep.rules.forModel(s.model.Label)
	if rules == nil && ep.Transform == nil {
		if *plain == nil {
			*plain = s.plainBody()
		}
		return *plain, nil
	}
	if rules != nil && rules.include == nil && ep.Transform == nil {
		// Edit rules only: filter the object in one pass over its bytes.
		changes := s.changes
		if changes != nil {
			if s.splits == nil {
				s.splits = make(splits)
			}
			var err error
			if changes, err = rules.editChanges(changes, s.splits); err != nil {
				return nil, err
			}
		}
		h := rules.horizon.get(e.keyOrders.of(s.rawType), rules.edit)
		return s.streamBody(rules.edit, h, changes)
	}
	obj, err := s.fields()
	if err != nil {
		return nil, err
	}
	changes := s.changes
	if rules != nil {
		if s.splits == nil {
			s.splits = make(splits)
		}
		if obj, changes, err = rules.apply(obj, changes, s.splits); err != nil {
			return nil, err
		}
	}
	if ep.Transform == nil {
		return s.body(obj, changes), nil
	}
	p, err := s.payload(obj, changes)
	if err != nil {
		return nil, err
	}
	var out any
	if perr := protect("Transform", func() { out, err = ep.Transform(p) }); perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("transform: result of type %T cannot be serialised: %w", out, err)
	}
	return b, nil
}

// Redeliver sends a finished delivery again: a new delivery (a new
// attempt series, with a new delivery id, returned) of the same body to the
// same endpoint, with the same event id, so receivers that already have it
// can tell. It takes the id of a DeliveryLog whose status is failed or
// delivered. In Sync mode it delivers before returning. Its errors follow
// Emit's rule.
func (e *Emitter) Redeliver(ctx context.Context, id string) (string, error) {
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
	switch {
	case l.Status != StatusFailed && l.Status != StatusDelivered:
		return "", fmt.Errorf("webhook: redeliver %s: status is %s; only failed or delivered deliveries can be sent again", id, l.Status)
	case l.Payload == nil:
		return "", fmt.Errorf("webhook: redeliver %s: no body was built (its shaping failed); emit the event again", id)
	}
	ep := e.byName[l.EndpointName]
	if ep == nil {
		return "", fmt.Errorf("webhook: redeliver %s: endpoint %q: not configured", id, l.EndpointName)
	}
	if err := ep.unavailable(); err != nil {
		hint := ""
		if err == ErrEndpointGone {
			hint = "; call EnableEndpoint first"
		}
		return "", fmt.Errorf("webhook: redeliver %s: endpoint %q: %w%s", id, l.EndpointName, err, hint)
	}
	d := &Delivery{ID: e.newID("dlv_"), EventID: l.EventID, EventType: l.EventType, Endpoint: l.EndpointName, Body: l.Payload, CreatedAt: e.now().UTC()}
	return d.ID, e.dispatch(ctx, Prepared{Deliveries: []*Delivery{d}})
}
