package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookrail/webhook/internal/rawjson"
)

// EventType names what happened to a model instance.
type EventType string

// The event types of Rail Django's webhooks.
const (
	Created EventType = "created"
	Updated EventType = "updated"
	Deleted EventType = "deleted"
)

func (t EventType) valid() bool {
	return t == Created || t == Updated || t == Deleted
}

// Event is one change to one model instance, as the host application
// reports it to [Emitter.Emit]. Build it with [Create], [Update] or [Delete],
// or as a literal.
type Event struct {
	// ID is the event id on the wire (the envelope's "id" and the
	// X-Webhook-Event-Id header). Set it to an outbox row id or an
	// idempotency key so that a re-emitted event is recognisably the same.
	// Empty: a unique, time-sortable "evt_…" id is generated.
	ID string

	// Type is the event type. It is required.
	Type EventType

	// Model is the model label, "app.Name" (for example "store.Order").
	// Empty: the object's [ModelLabeler] method, else its Go type's package
	// name and type name ("store.Order" for store.Order or *store.Order).
	Model string

	// Object is the instance: a struct (serialised with its json tags) or a
	// map[string]any. It must serialise to a JSON object. It is marshalled
	// inside Emit, so changing it afterwards changes nothing that is sent.
	Object any

	// Changes lists the fields that changed, for Updated events. [Update]
	// computes it; nil on an Updated event built by hand sends "changes": {}.
	// It is ignored (sent as null) for other event types.
	Changes map[string]Change

	// Tenant, if set, is the tenant the event belongs to: it goes to the
	// endpoints of that tenant (Endpoint.Tenant) and to those without
	// one, never to another tenant's. It is not sent: the envelope is the
	// same with or without it.
	Tenant string

	// Actor is who made the change, sent as "user". Nil: the actor stored
	// in Emit's context by [WithActor], if any; otherwise null.
	Actor *Actor

	// old is the previous state given to Update; Emit diffs it against Object.
	old    any
	hasOld bool
}

// Change is the old and new value of one changed field.
type Change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// Actor identifies the user who made a change.
type Actor struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

// ModelInfo is the envelope's "model" member.
type ModelInfo struct {
	App   string `json:"app"`
	Name  string `json:"name"`
	Label string `json:"label"`
}

// Payload is the envelope sent for an event, field for field Rail Django's.
// Endpoint transforms receive it after field filtering and redaction.
// Numbers in Object and Changes are json.Number, so that large integers
// and decimals keep their exact text.
type Payload struct {
	ID        string            `json:"id"`
	Event     EventType         `json:"event"`
	Timestamp time.Time         `json:"timestamp"`
	Model     ModelInfo         `json:"model"`
	Object    map[string]any    `json:"object"`
	Changes   map[string]Change `json:"changes"`
	User      *Actor            `json:"user"`
}

// ModelLabeler can be implemented by a host model type to name its model
// label when [Event.Model] is empty.
type ModelLabeler interface {
	WebhookLabel() string
}

// Create returns a Created event for obj.
func Create(obj any) Event { return Event{Type: Created, Object: obj} }

// Delete returns a Deleted event for obj, its last state.
func Delete(obj any) Event { return Event{Type: Deleted, Object: obj} }

// Update returns an Updated event for the instance that changed from old
// to new. Emit computes Changes: every top-level field whose serialised
// value differs (nested values compared deeply), with its old and new value.
// old and new must be of the same kind: two structs or two maps.
func Update(old, new any) Event {
	return Event{Type: Updated, Object: new, old: old, hasOld: true}
}

type actorKey struct{}

// WithActor returns a context that carries a as the actor of the events
// emitted with it, unless the event names its own.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// actorFrom returns the event's actor, else the context's; ok is false
// when there is neither.
func actorFrom(ctx context.Context, ev *Event) (_ Actor, ok bool) {
	if ev.Actor != nil {
		return *ev.Actor, true
	}
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// modelLabel resolves the event's label and splits it.
func modelLabel(ev *Event) (ModelInfo, error) {
	label := ev.Model
	if label == "" {
		if l, ok := ev.Object.(ModelLabeler); ok {
			label = l.WebhookLabel()
		} else {
			label = labelOf(ev.Object)
		}
	}
	if label == "" {
		return ModelInfo{}, fmt.Errorf("event model: no label: set Event.Model for %T objects", ev.Object)
	}
	return parseLabel(label)
}

// labelOf derives "pkg.Type" from a value's Go type: its package's name
// (as declared in its package clause, not its import path's last element:
// package store in folder internal/rvmodels is store) and its type name;
// "" if it has none.
func labelOf(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Name() == "" || t.PkgPath() == "" {
		return ""
	}
	return t.String() // reflect writes the package's name, not its path
}

// parseLabel checks that label is "app.Name", two identifiers.
func parseLabel(label string) (ModelInfo, error) {
	app, name, ok := strings.Cut(label, ".")
	if !ok || !isIdent(app) || !isIdent(name) {
		return ModelInfo{}, fmt.Errorf("event model: label %q: want \"app.Name\" (two identifiers joined by a dot)", label)
	}
	return ModelInfo{App: app, Name: name, Label: label}, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// change is one entry of "changes" as raw JSON. Its key and values may
// alias the snapshot's pooled buffers: copy what outlives the Emit.
type change struct {
	key      []byte
	rawKey   []byte
	old, new []byte
}

// snapshot is an event frozen at Emit time: everything an endpoint's body
// is built from, as raw JSON.
type snapshot struct {
	id      string
	typ     EventType
	ts      time.Time
	model   ModelInfo
	user    *Actor // nil, or &actor
	actor   Actor
	raw     []byte          // the object as marshalled
	rawType reflect.Type    // the type raw was marshalled from
	object  []rawjson.Field // raw split into fields: by fields(), for the changes of an update
	changes []change        // nil unless Updated
	buf     *bytes.Buffer   // holds raw, from marshalBufs; nil: raw is not pooled
}

// marshalBufs recycles the buffers that Emit marshals objects into. The
// object's JSON is only read while Emit builds the bodies, each of which
// is a copy, so the buffer can go back once they are built (see release).
var marshalBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf bounds the buffers kept in marshalBufs: a huge object once
// should not pin its buffer.
const maxPooledBuf = 64 << 10

// marshalPooled is marshalObject into a buffer from marshalBufs. It
// returns the JSON and the buffer that holds it.
func marshalPooled(what string, v any) ([]byte, *bytes.Buffer, error) {
	if v == nil {
		return nil, nil, fmt.Errorf("%s: is nil, want a struct or map", what)
	}
	buf := marshalBufs.Get().(*bytes.Buffer)
	buf.Reset()
	// Encode writes what json.Marshal returns, and a newline.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		marshalBufs.Put(buf)
		return nil, nil, fmt.Errorf("%s: cannot serialise %T: %w", what, v, err)
	}
	b := buf.Bytes()
	b = b[:len(b)-1]
	if rawjson.Kind(b) != '{' {
		err := fmt.Errorf("%s: %T serialises to %s, want a JSON object", what, v, kindName(rawjson.Kind(b)))
		marshalBufs.Put(buf)
		return nil, nil, err
	}
	return b, buf, nil
}

// release returns the snapshot's buffer to marshalBufs. The snapshot must
// not be used after it.
func (s *snapshot) release() {
	if s.buf != nil && s.buf.Cap() <= maxPooledBuf {
		marshalBufs.Put(s.buf)
	}
	*s = snapshot{}
}

// marshalObject is marshalPooled into memory of its own, for JSON that
// outlives the Emit (the old object of an update, whose values changes
// keep).
func marshalObject(what string, v any) ([]byte, error) {
	b, buf, err := marshalPooled(what, v)
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(b)
	marshalBufs.Put(buf)
	return out, nil
}

func kindName(k byte) string {
	switch k {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

// newSnapshot marshals the event. It is the only place the host's object
// is read, so the body is fixed at Emit time.
func newSnapshot(ev *Event, model ModelInfo, id string, ts time.Time, user *Actor) (*snapshot, error) {
	s := &snapshot{id: id, typ: ev.Type, ts: ts, model: model}
	if user != nil {
		s.actor = *user // a copy: the host may change its Actor after Emit
		s.user = &s.actor
	}
	var err error
	if s.raw, s.buf, err = marshalPooled("event object", ev.Object); err != nil {
		return nil, err
	}
	s.rawType = reflect.TypeOf(ev.Object)
	if ev.Type == Updated {
		switch {
		case ev.Changes != nil:
			s.changes, err = marshalChanges(ev.Changes)
		case ev.hasOld:
			var cur []rawjson.Field
			if cur, err = s.fields(); err == nil {
				s.changes, err = diff(ev.old, cur)
			}
		default:
			s.changes = []change{}
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// fields returns the object split into its fields, splitting it once.
func (s *snapshot) fields() ([]rawjson.Field, error) {
	if s.object == nil {
		fields, err := rawjson.Fields(s.raw)
		if err != nil {
			return nil, fmt.Errorf("event object: %w", err)
		}
		s.object = fields
	}
	return s.object, nil
}

func marshalChanges(m map[string]Change) ([]change, error) {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]change, 0, len(keys))
	for _, k := range keys {
		c := m[k]
		old, err := json.Marshal(c.Old)
		if err != nil {
			return nil, fmt.Errorf("event changes: %q: old value: %w", k, err)
		}
		nw, err := json.Marshal(c.New)
		if err != nil {
			return nil, fmt.Errorf("event changes: %q: new value: %w", k, err)
		}
		out = append(out, change{key: []byte(k), old: old, new: nw})
	}
	return out, nil
}

// diff lists the top-level fields whose serialised values differ between
// old and the new object's fields, in the new object's field order, then
// fields only old had. Serialisation is canonical (map keys sorted), so
// equal bytes mean deeply equal values.
func diff(old any, cur []rawjson.Field) ([]change, error) {
	raw, err := marshalObject("update: old object", old)
	if err != nil {
		return nil, err
	}
	prev, err := rawjson.Fields(raw)
	if err != nil {
		return nil, fmt.Errorf("update: old object: %w", err)
	}
	// Where each key of prev is in cur: objects have few fields and
	// usually the same order, so a scan from the last match beats a map.
	seen := make([]bool, len(prev))
	changes := []change{}
	next := 0
	for _, f := range cur {
		ov := rawjson.Null
		if i := indexKey(prev, f.Key, next); i >= 0 {
			ov, seen[i], next = prev[i].Value, true, i+1
		}
		if !bytes.Equal(ov, f.Value) {
			changes = append(changes, change{key: f.Key, rawKey: f.RawKey, old: ov, new: f.Value})
		}
	}
	for i, p := range prev {
		// A field gone from the new object changed to null, unless it was null.
		if !seen[i] && !bytes.Equal(p.Value, rawjson.Null) {
			changes = append(changes, change{key: p.Key, rawKey: p.RawKey, old: p.Value, new: rawjson.Null})
		}
	}
	return changes, nil
}

// indexKey returns the index of the field of fs whose key is key, looking
// from from onwards and then before it; -1 if there is none. (A key
// twice in an object: the first from from, as a map's last-wins would
// not be either; duplicate keys are not valid input anyway.)
func indexKey(fs []rawjson.Field, key []byte, from int) int {
	for i := from; i < len(fs); i++ {
		if bytes.Equal(fs[i].Key, key) {
			return i
		}
	}
	for i := 0; i < from && i < len(fs); i++ {
		if bytes.Equal(fs[i].Key, key) {
			return i
		}
	}
	return -1
}

// plainBody is the envelope with the object and changes as they are.
func (s *snapshot) plainBody() []byte {
	b := s.appendHead(make([]byte, 0, s.bodySize(len(s.raw), s.changes)))
	b = append(b, s.raw...)
	return s.appendTail(b, s.changes)
}

// filteredBody is the envelope with the object filtered by r, in one pass
// over its bytes, and changes already filtered by r.
func (s *snapshot) filteredBody(r *fieldRules, changes []change) ([]byte, error) {
	b := s.appendHead(make([]byte, 0, s.bodySize(len(s.raw), changes)))
	b, err := r.appendObject(b, s.raw)
	if err != nil {
		return nil, fmt.Errorf("event object: %w", err)
	}
	return s.appendTail(b, changes), nil
}

func (s *snapshot) bodySize(objectSize int, changes []change) int {
	n := 160 + len(s.id) + len(s.model.Label)*2 + objectSize
	if s.user != nil {
		n += len(s.user.ID) + len(s.user.Username) + 32
	}
	for _, c := range changes {
		n += len(c.key) + len(c.old) + len(c.new) + len(`"":{"old":,"new":},`) + 8
	}
	return n
}

// appendHead appends the envelope up to the object.
func (s *snapshot) appendHead(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = rawjson.AppendString(b, s.id)
	b = append(b, `,"event":`...)
	b = rawjson.AppendString(b, string(s.typ))
	b = append(b, `,"timestamp":"`...)
	b = appendTimestamp(b, s.ts)
	b = append(b, `","model":{"app":`...)
	b = rawjson.AppendString(b, s.model.App)
	b = append(b, `,"name":`...)
	b = rawjson.AppendString(b, s.model.Name)
	b = append(b, `,"label":`...)
	b = rawjson.AppendString(b, s.model.Label)
	return append(b, `},"object":`...)
}

// appendTail appends the envelope after the object.
func (s *snapshot) appendTail(b []byte, changes []change) []byte {
	b = append(b, `,"changes":`...)
	if changes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, c := range changes {
			if i > 0 {
				b = append(b, ',')
			}
			if c.rawKey != nil {
				b = append(b, c.rawKey...)
			} else {
				b = rawjson.AppendString(b, string(c.key))
			}
			b = append(b, `:{"old":`...)
			b = append(b, c.old...)
			b = append(b, `,"new":`...)
			b = append(b, c.new...)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = append(b, `,"user":`...)
	if s.user == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = rawjson.AppendString(b, s.user.ID)
		b = append(b, `,"username":`...)
		b = rawjson.AppendString(b, s.user.Username)
		b = append(b, '}')
	}
	return append(b, '}')
}

// payload decodes the (filtered) object, given as JSON, and changes into
// the Payload a Transform receives. Nothing in it aliases the snapshot.
func (s *snapshot) payload(object []byte, changes []change) (Payload, error) {
	p := Payload{ID: s.id, Event: s.typ, Timestamp: s.ts, Model: s.model, User: s.user}
	v, err := decode(object)
	if err != nil {
		return Payload{}, err
	}
	var ok bool
	if p.Object, ok = v.(map[string]any); !ok {
		return Payload{}, fmt.Errorf("event object: %s, want a JSON object", kindName(rawjson.Kind(object)))
	}
	if changes != nil {
		p.Changes = make(map[string]Change, len(changes))
		for _, c := range changes {
			o, err := decode(c.old)
			if err != nil {
				return Payload{}, err
			}
			n, err := decode(c.new)
			if err != nil {
				return Payload{}, err
			}
			p.Changes[string(c.key)] = Change{Old: o, New: n}
		}
	}
	if p.User != nil {
		u := *p.User
		p.User = &u
	}
	return p, nil
}

func decode(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding payload value: %w", err)
	}
	return v, nil
}

// appendTimestamp appends t, a UTC time in whole seconds, as RFC 3339
// ("2026-01-16T12:00:00Z"), as time.Time.AppendFormat would, digit by
// digit: the date from the count of days since 1970 (the civil-from-days
// algorithm of Howard Hinnant), a few divisions where Date and Clock
// would each work out the calendar again.
func appendTimestamp(b []byte, t time.Time) []byte {
	const minSec, maxSec = -62135596800, 253402300799 // 0001-01-01 and 9999-12-31T23:59:59, UTC
	sec := t.Unix()
	if sec < minSec || sec > maxSec || t.Location() != time.UTC {
		return t.AppendFormat(b, time.RFC3339)
	}
	days, rem := floorDiv(sec, 86400)
	// Days since 0000-03-01, in eras of 400 years (146097 days).
	z := days + 719468
	era, doe := floorDiv(z, 146097)
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of era, from March
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of that year, from March 1
	mp := (5*doy + 2) / 153                                // month from March: 0 to 11
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year := yoe + era*400
	if month <= 2 {
		year++
	}
	two := func(b []byte, n int64) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
	b = two(two(b, year/100), year%100)
	b = two(append(b, '-'), month)
	b = two(append(b, '-'), day)
	b = two(append(b, 'T'), rem/3600)
	b = two(append(b, ':'), rem/60%60)
	b = two(append(b, ':'), rem%60)
	return append(b, 'Z')
}

// floorDiv divides a by b > 0, rounding down: a = q*b + r with 0 <= r < b.
func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q, r = q-1, r+b
	}
	return q, r
}
