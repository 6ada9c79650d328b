package webhook

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// keyOrder lists every key encoding/json can write for a struct type, in
// the order it writes them: a superset, in which the keys of any one
// marshalled value appear in that order.
//
// encoding/json writes a struct's fields in the order of their index
// sequences (declaration order, with the fields of embedded structs in
// the place of the embedded field), leaving out empty fields (omitempty,
// omitzero), fields hidden by the Go rules for embedded fields, and "-".
// The list is built the same way with nothing left out: for each field in
// order its tag name and its Go name, then, for an embedded struct, its
// fields, recursively (a type already on the path is not entered again,
// as encoding/json never enters it again). So each key written is at some
// position of the list, and later keys at later positions.
//
// The filter of an endpoint uses it to stop early (see keyHorizon): once
// the walk of an object has passed the last position whose name any of
// the endpoint's rules reaches, no later key can be reached by a rule, and
// the rest of the object is copied as it is, without being scanned.
type keyOrder struct {
	names []string
	// lastPlain is the last position that is not the Go name of a field
	// with a tag name (which encoding/json writes only if it finds the tag
	// name invalid). Such names are listed all the same, but a horizon at
	// or past lastPlain will hardly ever be passed and is not followed.
	lastPlain int
}

// Limits beyond which a type gets no keyOrder (and its objects are walked
// to the end): deeply nested or very wide embedding.
const (
	maxKeyOrderNames = 1024
	maxKeyOrderDepth = 16
)

var (
	jsonMarshalerType  = reflect.TypeFor[json.Marshaler]()
	textMarshalerType  = reflect.TypeFor[encoding.TextMarshaler]()
	textAppenderType   = reflect.TypeFor[encoding.TextAppender]()
	allowedTagOptions  = []string{"omitempty", "omitzero", "string"}
	noKeyOrderSentinel = &keyOrder{}
)

// newKeyOrder returns the keyOrder of the objects t marshals to; nil when
// their keys are not fixed by t's fields: t is not a struct or a pointer
// to one, or it (or its pointer) marshals itself (MarshalJSON,
// MarshalJSONTo, MarshalText, AppendText), or a field tag has an option
// other than omitempty, omitzero and string (such as encoding/json/v2's
// inline and unknown, which add keys), or a tag name has a quote, a
// backslash or invalid UTF-8 (which v2 reads its own way), or the limits
// are passed.
func newKeyOrder(t reflect.Type) *keyOrder {
	if t == nil {
		return nil
	}
	if t.Kind() == reflect.Pointer {
		if marshalsItself(t) {
			return nil
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || marshalsItself(t) {
		return nil
	}
	o := &keyOrder{lastPlain: -1}
	if !o.add(t, nil) {
		return nil
	}
	return o
}

// marshalsItself reports whether encoding/json (v1, or v2 in v1 mode)
// would let t or *t write its own JSON.
func marshalsItself(t reflect.Type) bool {
	for _, t := range []reflect.Type{t, reflect.PointerTo(t)} {
		if t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) || t.Implements(textAppenderType) {
			return true
		}
		if _, ok := t.MethodByName("MarshalJSONTo"); ok {
			return true
		}
	}
	return false
}

// add appends the names of struct type t's fields; path holds the
// embedded struct types it was reached through. False: no keyOrder.
func (o *keyOrder) add(t reflect.Type, path []reflect.Type) bool {
	if len(path) > maxKeyOrderDepth {
		return false
	}
	if slices.Contains(path, t) {
		return true // encoding/json does not enter a type twice
	}
	path = append(path, t)
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		for opt := range strings.SplitSeq(opts, ",") {
			if opt != "" && !slices.Contains(allowedTagOptions, opt) {
				return false
			}
		}
		if strings.ContainsAny(name, "\\'\"`") || !utf8.ValidString(name) {
			// encoding/json/v2 (GOEXPERIMENT=jsonv2) reads such a name
			// as a quoted string, cuts it short or mends its UTF-8: the
			// key it writes is neither the tag's text nor the Go name.
			return false
		}
		if name != "" {
			o.names = append(o.names, name)
			o.lastPlain = len(o.names) - 1
		}
		o.names = append(o.names, sf.Name)
		if name == "" {
			o.lastPlain = len(o.names) - 1
		}
		if sf.Anonymous {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !o.add(ft, path) {
				return false
			}
		}
		if len(o.names) > maxKeyOrderNames {
			return false
		}
	}
	return true
}

// keyOrders caches the keyOrder of each object type an Emitter has seen.
type keyOrders struct {
	m sync.Map // reflect.Type → *keyOrder; noKeyOrderSentinel for none
}

// of returns t's keyOrder, building it once; nil if it has none.
func (c *keyOrders) of(t reflect.Type) *keyOrder {
	if t == nil {
		return nil
	}
	v, ok := c.m.Load(t)
	if !ok {
		o := newKeyOrder(t)
		if o == nil {
			o = noKeyOrderSentinel
		}
		v, _ = c.m.LoadOrStore(t, o)
	}
	if o := v.(*keyOrder); o != noKeyOrderSentinel {
		return o
	}
	return nil
}

// keyHorizon is a keyOrder seen through one edit tree: last is the last
// position whose name the tree reaches (-1: none does).
type keyHorizon struct {
	order *keyOrder
	last  int
}

// newKeyHorizon finds the last position of order whose name t reaches.
func newKeyHorizon(order *keyOrder, t *pathTree) *keyHorizon {
	h := &keyHorizon{order: order, last: -1}
	for i, name := range order.names {
		if t.child([]byte(name)) != nil {
			h.last = i
		}
	}
	return h
}

// horizonCache keeps the keyHorizon of the object type an edit tree saw
// last: a tree is one endpoint's rules for one model, which is almost
// always one Go type.
type horizonCache struct {
	last atomic.Pointer[keyHorizon]
}

// get returns the horizon of order through t; nil for a nil order, or
// for a horizon at or past the order's last plain position (a rule on the
// last field), which would cost a comparison per key for nothing.
func (c *horizonCache) get(order *keyOrder, t *pathTree) *keyHorizon {
	if order == nil {
		return nil
	}
	h := c.last.Load()
	if h == nil || h.order != order {
		h = newKeyHorizon(order, t)
		c.last.Store(h)
	}
	if h.last >= order.lastPlain {
		return nil
	}
	return h
}

// keyCursor follows an object walk through a keyHorizon.
type keyCursor struct {
	h   *keyHorizon // nil: no shortcut
	pos int         // the first position the next key can be at
}

// beyond moves the cursor to key and reports whether key, and so every
// key after it, is past the horizon: no rule reaches it. A key the order
// does not list turns the shortcut off.
func (c *keyCursor) beyond(key []byte) bool {
	if c.h == nil {
		return false
	}
	names := c.h.order.names
	i := c.pos
	for i < len(names) && names[i] != string(key) {
		i++
	}
	if i == len(names) {
		c.h = nil
		return false
	}
	c.pos = i + 1
	return i > c.h.last
}
