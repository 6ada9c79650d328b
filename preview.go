package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"
)

// Preview is what one endpoint would receive for an event: Emit's work for
// that endpoint, with nothing queued, sent, logged or reported.
type Preview struct {
	// Endpoint is the endpoint's name.
	Endpoint string

	// Body is the request body the endpoint would receive, byte for byte:
	// the envelope after the endpoint's field rules and Transform. Nil
	// when it would receive nothing. The event id (unless Event.ID is
	// set) and the timestamp are new at every Emit, and the signature is
	// made at every attempt.
	Body json.RawMessage

	// Skipped says why the endpoint would receive nothing: its events or
	// model lists, the model's settings, an update whose changes its field
	// rules all hide. Empty when it would receive Body, or on Err.
	Skipped string

	// Err is why the endpoint's delivery would fail before any request:
	// its Transform failed, or the body is over Config.MaxBodyBytes
	// (ErrBodyTooLarge).
	Err error

	// Warnings lists the endpoint's rules that name a model label or a
	// field the event's model does not have, or has only in another case
	// (see Endpoint.RedactFields for how keys match). Most are typos, and
	// an exclusion or redaction that matches nothing sends what it was
	// meant to hide. Emit logs each such warning once, at Warn level, when
	// it first meets a model's type.
	Warnings []string
}

// Preview shows what every endpoint, in the order of Config.Endpoints,
// would receive if ev were emitted now (an endpoint of another tenant
// than ev's is listed as skipped): a dry run, to check field rules,
// redactions and transforms before production (in a test, or behind an
// operator's page). It does what Emit does up to the bodies, in the same
// order (the model's ShouldSend is asked, and the object marshalled, only
// when some endpoint wants the event), and its error is Emit's error
// about the event as a whole (ErrInvalidEvent, or ctx's).
func (e *Emitter) Preview(ctx context.Context, ev Event) ([]Preview, error) {
	if e.queue == nil {
		return nil, errNotNew
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("webhook: preview: %w", err)
	}
	eps := e.eps.Load().all
	out := make([]Preview, len(eps))
	pass := make([]passReason, len(eps))
	for i, ep := range eps {
		out[i].Endpoint = ep.Name
		pass[i] = passEmitter
	}
	explain := func(label string) []Preview {
		for i := range out {
			if pass[i] != wanted {
				out[i].Body, out[i].Err = nil, nil
				out[i].Skipped = pass[i].explain(ev.Type, label)
			}
		}
		return out
	}
	if e.cfg.Disabled {
		return explain(""), nil
	}
	model, meta, err := e.check(&ev)
	if err != nil {
		return nil, err
	}
	t := reflect.TypeOf(ev.Object)
	wantedByAny := false
	for i, ep := range eps {
		out[i].Warnings = e.lint.warnings(ep, model.Label, t, e.cfg.Models)
		if ep.Tenant != "" && ep.Tenant != ev.Tenant {
			pass[i] = passTenant
		} else if pass[i] = ep.pass(ev.Type, model.Label); pass[i] == wanted && !meta.wants(ev.Type) {
			pass[i] = passModel
		}
		wantedByAny = wantedByAny || pass[i] == wanted
	}
	if !wantedByAny {
		return explain(model.Label), nil
	}
	send, err := shouldSend(&meta, &ev)
	if err != nil {
		return nil, err
	}
	if !send {
		for i := range pass {
			if pass[i] == wanted {
				pass[i] = passModel
			}
		}
		return explain(model.Label), nil
	}
	id, _ := e.newIDs(ev.ID, 0, time.Now().UnixNano())
	snap, err := e.snapshot(ctx, &ev, model, id, e.now().UTC())
	if err != nil {
		return nil, err
	}
	defer snap.release()
	var plain []byte
	for i, ep := range eps {
		if pass[i] != wanted {
			continue
		}
		var body []byte
		if body, pass[i], out[i].Err = e.build(snap, ep, &plain); pass[i] == wanted && out[i].Err == nil {
			out[i].Body = json.RawMessage(body)
		}
	}
	return explain(model.Label), nil
}

// ruleLint finds the rules that name what the models emitted do not have
// (see Preview.Warnings), and logs each once: the first time it is met.
type ruleLint struct {
	types  sync.Map // reflect.Type → the label it was first met under: the fast check
	seen   sync.Map // labelType → struct{}: every pair met
	labels sync.Map // label → struct{}: labels met
	logged sync.Map // endpoint name and warning → struct{}: warnings logged
}

// labelType is a model label and the Go type of an object emitted under it.
type labelType struct {
	label string
	t     reflect.Type
}

// noticeType logs the warnings of every endpoint's rules for objects of
// type t under label, the first time they are met, each warning once. It
// costs one lookup by type on every Emit after that.
func (e *Emitter) noticeType(label string, t reflect.Type) {
	if first, met := e.lint.types.Load(t); met && first.(string) == label {
		return
	}
	e.lint.types.LoadOrStore(t, label)
	if _, loaded := e.lint.seen.LoadOrStore(labelType{label, t}, struct{}{}); loaded {
		return
	}
	e.lint.labels.Store(label, struct{}{})
	for _, ep := range e.eps.Load().all {
		for _, w := range e.lint.warnings(ep, label, t, e.cfg.Models) {
			if _, logged := e.lint.logged.LoadOrStore(ep.Name+"\x00"+w, struct{}{}); !logged {
				e.logger.Warn("webhook: a field rule cannot match: "+w, "endpoint", ep.Name, "model", label)
			}
		}
	}
}

// warnings lists what ep's rules name that objects of type t, under label,
// do not have. models are the labels the Config knows.
func (l *ruleLint) warnings(ep *endpoint, label string, t reflect.Type, models map[string]ModelMeta) []string {
	var out []string
	// Labels that are probably this one misspelt: not known as models
	// of their own, and close to it.
	for _, r := range ruleLabels(&ep.Endpoint) {
		if r.label == label || r.label == allModels {
			continue
		}
		if _, known := models[r.label]; known {
			continue
		}
		if _, met := l.labels.Load(r.label); met {
			continue
		}
		if nearLabel(r.label, label) {
			out = append(out, fmt.Sprintf("%s names model %q, which no event has had; this event's model is %q (labels are the Go package name and type name, case included)", r.field, r.label, label))
		}
	}
	if t == nil {
		return out
	}
	name := t // in messages: T and *T write the same keys
	for name.Kind() == reflect.Pointer {
		name = name.Elem()
	}
	for _, r := range fieldRuleLists(&ep.Endpoint) {
		own := r.label == label
		if !own && r.label != allModels {
			continue
		}
		for _, path := range r.paths {
			switch res, hint := checkFieldPath(t, path); res {
			case pathCaseOnly:
				out = append(out, fmt.Sprintf("%s[%q]: %q matches %s %q only if case is ignored; keys are matched exactly (tag the field, or write the rule as the JSON spells it)", r.field, r.label, path, name, hint))
			case pathMissing:
				if !own {
					continue // "*" rules name fields some models have and others lack
				}
				w := fmt.Sprintf("%s[%q]: %q matches no key %s writes", r.field, r.label, path, name)
				if hint != "" {
					w += fmt.Sprintf(" (did you mean %q?)", hint)
				}
				out = append(out, w)
			}
		}
	}
	return out
}

// ruleLabel is a model label a rule names, and the rule's setting.
type ruleLabel struct{ field, label string }

// ruleLabels lists the model labels ep's rules name, in a fixed order.
func ruleLabels(ep *Endpoint) []ruleLabel {
	var out []ruleLabel
	for _, l := range ep.IncludeModels {
		out = append(out, ruleLabel{"include_models", l})
	}
	for _, l := range ep.ExcludeModels {
		out = append(out, ruleLabel{"exclude_models", l})
	}
	for _, r := range fieldRuleLists(ep) {
		out = append(out, ruleLabel{r.field, r.label})
	}
	return out
}

// ruleList is the field paths one rule names for one label.
type ruleList struct {
	field, label string
	paths        []string
}

// fieldRuleLists lists ep's field rules, label by label, in a fixed order.
func fieldRuleLists(ep *Endpoint) []ruleList {
	var out []ruleList
	for _, m := range []struct {
		field  string
		fields map[string][]string
	}{{"include_fields", ep.IncludeFields}, {"exclude_fields", ep.ExcludeFields}} {
		for _, label := range slices.Sorted(maps.Keys(m.fields)) {
			out = append(out, ruleList{m.field, label, m.fields[label]})
		}
	}
	for _, label := range slices.Sorted(maps.Keys(ep.RedactFields)) {
		out = append(out, ruleList{"redact_fields", label, slices.Sorted(maps.Keys(ep.RedactFields[label]))})
	}
	return out
}
