package webhook

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/hookrail/webhook/internal/rawjson"
)

// pathTree is a set of dotted field paths ("customer.email") as a tree of
// path elements. A leaf selects the whole value at its path; an inner node
// reaches into a nested object, or into every object of a nested array.
// In an edit tree (exclude and redact merged) a leaf's value is the
// replacement, or nil to drop the field.
type pathTree struct {
	children map[string]*pathTree
	firsts   byteSet // the first bytes of the keys of children
	leaf     bool
	value    []byte // redaction: the replacement, as JSON; nil: drop
}

// byteSet is a set of bytes, a bit each.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }

// add inserts path. A leaf swallows longer paths through it: including
// "customer" and "customer.name" includes the whole customer. When a path
// is both dropped and redacted, dropping wins.
func (t *pathTree) add(path string, value []byte) {
	for elem := range strings.SplitSeq(path, ".") {
		if t.leaf {
			return
		}
		if t.children == nil {
			t.children = make(map[string]*pathTree)
		}
		c := t.children[elem]
		if c == nil {
			c = &pathTree{}
			t.children[elem] = c
			if elem != "" {
				t.firsts.add(elem[0])
			} else {
				t.firsts.add('.') // a dotted key reaches it as ".…"
			}
		}
		t = c
	}
	if t.leaf && t.value == nil {
		return // dropped already
	}
	t.leaf, t.children, t.firsts, t.value = true, nil, byteSet{}, value
}

// mayReach reports whether t may have a child for key: false for most
// keys no rule reaches, at the cost of one bit test (see child); t may
// be nil.
func (t *pathTree) mayReach(key []byte) bool {
	return t != nil && (len(key) == 0 || t.firsts.has(key[0]))
}

// child returns the node a key leads to: its child, or, for a key spelled
// with dots ("user.email" in a flattened map, at any level), the node its
// elements lead to, stopping at a leaf. So a rule never misses a field
// because of how its key is written. Nil: no rule reaches the key.
func (t *pathTree) child(key []byte) *pathTree {
	// Most of an object's keys start with a byte no child's key starts
	// with: neither they nor, spelled with dots, their first elements
	// can lead anywhere, and they are turned away without a map lookup.
	if !t.mayReach(key) {
		return nil
	}
	if c := t.children[string(key)]; c != nil || bytes.IndexByte(key, '.') < 0 {
		return c
	}
	n := t
	for len(key) > 0 {
		elem, rest, _ := bytes.Cut(key, dot)
		if n = n.children[string(elem)]; n == nil || n.leaf {
			return n
		}
		key = rest
	}
	return n
}

var dot = []byte(".")

// checkPath reports a dotted path with an empty element.
func checkPath(path string) error {
	if path == "" {
		return fmt.Errorf("empty field path")
	}
	for elem := range strings.SplitSeq(path, ".") {
		if elem == "" {
			return fmt.Errorf("field path %q has an empty element", path)
		}
	}
	return nil
}

// fieldRules are one endpoint's field rules for one model, resolved from
// the "*" entries and the model's own.
type fieldRules struct {
	include *pathTree // nil: every field
	edit    *pathTree // exclude and redact, merged; nil: none
}

// appendObject appends obj, a JSON object, with the rules applied: the
// endpoint's view of the event's object. It reads obj once.
func (r *fieldRules) appendObject(dst, obj []byte) ([]byte, error) {
	w := walk{redact: true}
	dst, _, err := w.appendObject(dst, obj, r.include, r.edit)
	return dst, err
}

// changes applies the rules to the changes of an update (nil: not an
// update). The result shares unmodified values with the input.
//
// A change is dropped when the rules leave its old and new values equal,
// unless a redaction made them equal: an empty change would hint at what
// the rules hide, while a redacted field that changed is announced with
// the replacement as old and new, as it would be in the object.
func (r *fieldRules) changes(changes []change) ([]change, error) {
	if changes == nil {
		return nil, nil
	}
	out := make([]change, 0, len(changes))
	for _, c := range changes {
		kept, ok, reached, err := r.change(c, walk{redact: true})
		if err != nil {
			return nil, err
		}
		if ok && reached && bytes.Equal(kept.old, kept.new) {
			// Equal after the rules: what the drops alone leave tells
			// whether the change was hidden or redacted.
			dropped, dok, dreached, err := r.change(c, walk{})
			if err != nil {
				return nil, err
			}
			ok = dok && (!dreached || !bytes.Equal(dropped.old, dropped.new))
		}
		if ok {
			out = append(out, kept)
		}
	}
	return out, nil
}

// change applies the rules to one change as w does; ok is false when they
// drop its key, or drop both of its values (a scalar where include rules
// name fields inside: it becomes null when only one side is one). reached
// is false when no rule reaches into or replaces its values: c comes back
// as it was (a hand-written change may have equal old and new).
//
// A value both replaced and reached into by include rules takes the
// include rules first, as the object does: if they leave nothing, or
// leave old and new equal, the change is gone; otherwise the replacement
// is its old and new.
func (r *fieldRules) change(c change, w walk) (_ change, ok, reached bool, _ error) {
	s, ok := w.step(r.include, r.edit, c.key)
	if !ok || (s.include == nil && s.edit == nil && s.replace == nil) {
		return c, ok, false, nil
	}
	replace := s.replace
	s.replace = nil
	if s.include != nil || s.edit != nil {
		old, okOld, err := w.appendValue(nil, c.old, s)
		if err != nil {
			return c, false, true, err
		}
		nw, okNew, err := w.appendValue(nil, c.new, s)
		if err != nil {
			return c, false, true, err
		}
		if !okOld && !okNew {
			return c, false, true, nil
		}
		if !okOld {
			old = rawjson.Null
		}
		if !okNew {
			nw = rawjson.Null
		}
		if replace != nil && bytes.Equal(old, nw) {
			return c, false, true, nil
		}
		c.old, c.new = old, nw
	}
	if replace != nil {
		c.old, c.new = replace, replace
	}
	return c, true, true, nil
}

// A walk applies an include tree (what stays; nil keeps everything) and an
// edit tree (what is dropped or replaced; nil: nothing) to a JSON value,
// in one pass over its bytes, appending the result. Rules reach into
// nested objects and into every element of arrays. A walk without redact
// applies only the edit tree's drops, leaving what it would replace as it
// is.
type walk struct {
	redact bool
}

// step is what the rules make of one member's value, found by its key.
type step struct {
	include *pathTree // the include rules inside the value; nil: all of it stays
	edit    *pathTree // the edit rules inside the value; nil: none
	replace []byte    // not nil: the value is replaced by it
}

// step finds what include and edit make of the member with key; ok is
// false when the member is dropped.
func (w walk) step(include, edit *pathTree, key []byte) (s step, ok bool) {
	if include != nil {
		c := include.child(key)
		if c == nil {
			return s, false
		}
		if !c.leaf {
			s.include = c
		}
	}
	if edit != nil {
		switch c := edit.child(key); {
		case c == nil:
		case !c.leaf:
			s.edit = c
		case c.value == nil:
			return s, false
		case w.redact:
			s.replace = c.value
		}
	}
	return s, true
}

// appendValue appends the whole value v as s leaves it; ok is false when
// it is dropped (see keeps).
func (w walk) appendValue(dst, v []byte, s step) (_ []byte, ok bool, _ error) {
	k := rawjson.Kind(v)
	switch {
	case !s.keeps(k):
		return dst, false, nil
	case s.replace != nil:
		return append(dst, s.replace...), true, nil
	case (k == '{' || k == '[') && (s.include != nil || s.edit != nil):
		dst, _, err := w.appendNested(dst, v, s.include, s.edit)
		return dst, err == nil, err
	}
	return append(dst, v...), true, nil
}

// keeps reports whether a value of kind k survives s: include rules that
// name fields inside a value select nothing of a scalar. Null stays null.
func (s step) keeps(k byte) bool {
	return s.include == nil || k == '{' || k == '[' || k == 'n'
}

// appendNested appends the object or array at the start of v with the
// rules applied; used is its length in v, which may run on past it.
func (w walk) appendNested(dst, v []byte, include, edit *pathTree) (_ []byte, used int, _ error) {
	if rawjson.Kind(v) == '{' {
		return w.appendObject(dst, v, include, edit)
	}
	it := rawjson.ArrayIter(v)
	dst = append(dst, '[')
	first := true
	for it.More() {
		if k := rawjson.Kind(it.Rest()); k == '{' || k == '[' {
			var ok bool
			var err error
			if dst, ok, err = w.appendNestedAt(separate(dst, &first), &it, include, edit); err != nil {
				return nil, 0, err
			} else if !ok {
				break
			}
			continue
		}
		el, ok := it.Value() // a scalar or null: rules reach into objects only
		if !ok {
			break
		}
		if (step{include: include}).keeps(rawjson.Kind(el)) {
			dst = append(separate(dst, &first), el...)
		}
	}
	if err := it.Err(); err != nil {
		return nil, 0, err
	}
	return append(dst, ']'), it.Used(), nil
}

// appendNestedAt appends the object or array the walk stopped at, with the
// rules applied, and moves the walk past it; ok is false when the walk
// cannot go on (see it.Err).
func (w walk) appendNestedAt(dst []byte, it *rawjson.Iter, include, edit *pathTree) (_ []byte, ok bool, _ error) {
	dst, n, err := w.appendNested(dst, it.Rest(), include, edit)
	if err != nil {
		return nil, false, err
	}
	return dst, it.Skip(n), nil
}

// appendObject appends the object at the start of obj with the rules
// applied; used is its length in obj, which may run on past it.
func (w walk) appendObject(dst, obj []byte, include, edit *pathTree) (_ []byte, used int, _ error) {
	it := rawjson.ObjectIter(obj)
	dst = append(dst, '{')
	first := true
	// obj[runStart:runEnd] are members kept as they are, with the commas
	// between them, not yet appended: compact input is copied a run of
	// members at a time rather than a key, colon and value at a time.
	runStart, runEnd := 0, 0
	for {
		keyStart := len(obj) - len(it.Rest())
		key, rawKey, ok := it.NextKey()
		if !ok {
			break
		}
		if include != nil || edit.mayReach(key) {
			if s, keep := w.step(include, edit, key); !keep || s.include != nil || s.edit != nil || s.replace != nil {
				// A rule drops, replaces or reaches into the value.
				dst, first = appendMembers(dst, first, obj[runStart:runEnd])
				runStart, runEnd = 0, 0
				var err error
				if dst, ok, first, err = w.appendMember(dst, &it, rawKey, s, keep, first); err != nil {
					return nil, 0, err
				} else if !ok {
					break
				}
				continue
			}
		}
		// No rule reaches the member: it goes as it is.
		valueStart := len(obj) - len(it.Rest())
		v, ok := it.Value()
		if !ok {
			break
		}
		if valueStart == keyStart+len(rawKey)+1 { // no white space around the colon
			if runEnd > runStart && keyStart == runEnd+1 && obj[runEnd] == ',' {
				runEnd = valueStart + len(v) // the member right after the run
				continue
			}
			dst, first = appendMembers(dst, first, obj[runStart:runEnd])
			runStart, runEnd = keyStart, valueStart+len(v)
			continue
		}
		dst, first = appendMembers(dst, first, obj[runStart:runEnd])
		runStart, runEnd = 0, 0
		dst = append(separate(dst, &first), rawKey...)
		dst = append(dst, ':')
		dst = append(dst, v...)
	}
	if err := it.Err(); err != nil {
		return nil, 0, err
	}
	dst, _ = appendMembers(dst, first, obj[runStart:runEnd])
	return append(dst, '}'), it.Used(), nil
}

// appendMember appends the member with rawKey whose value the object walk
// it stopped at, as s and keep (from step) leave it, and moves the walk
// past the value; ok is false when the walk cannot go on (see it.Err).
// first is as in separate.
func (w walk) appendMember(dst []byte, it *rawjson.Iter, rawKey []byte, s step, keep, first bool) (_ []byte, ok, stillFirst bool, _ error) {
	k := rawjson.Kind(it.Rest())
	if keep && s.replace == nil && (k == '{' || k == '[') {
		// Reach into the value, walking it once: its end is where the
		// nested walk stops.
		dst = append(separate(dst, &first), rawKey...)
		dst = append(dst, ':')
		dst, ok, err := w.appendNestedAt(dst, it, s.include, s.edit)
		return dst, ok, first, err
	}
	v, ok := it.Value()
	if !ok || !keep || !s.keeps(k) {
		return dst, ok, first, nil
	}
	if s.replace != nil {
		v = s.replace
	}
	// Else nested rules meet a scalar or null: it stays.
	dst = append(separate(dst, &first), rawKey...)
	dst = append(dst, ':')
	return append(dst, v...), true, first, nil
}

// allModels is the key of field rules that apply to every model.
const allModels = "*"

// ruleSet holds an endpoint's field rules, resolved per model label.
type ruleSet struct {
	byModel  map[string]*fieldRules // models named in the rules
	fallback *fieldRules            // every other model; nil: no rules
}

// forModel returns the rules for label; nil when nothing is filtered.
func (rs *ruleSet) forModel(label string) *fieldRules {
	if r, ok := rs.byModel[label]; ok {
		return r
	}
	return rs.fallback
}

// compileRules resolves an endpoint's field maps. For IncludeFields a
// model's own list replaces "*"; for ExcludeFields and RedactFields the
// "*" entries and the model's own both apply, and the model's own
// replacement wins for the same field.
func compileRules(ep *Endpoint) (ruleSet, error) {
	redactions, err := marshalRedactions(ep.RedactFields)
	if err != nil {
		return ruleSet{}, err
	}
	for _, m := range []struct {
		name   string
		fields map[string][]string
	}{{"include_fields", ep.IncludeFields}, {"exclude_fields", ep.ExcludeFields}} {
		for label, paths := range m.fields {
			if err := checkRuleLabel(label); err != nil {
				return ruleSet{}, fmt.Errorf("%s: %w", m.name, err)
			}
			for _, p := range paths {
				if err := checkPath(p); err != nil {
					return ruleSet{}, fmt.Errorf("%s[%q]: %w", m.name, label, err)
				}
			}
		}
	}
	labels := map[string]bool{}
	for _, m := range []map[string][]string{ep.IncludeFields, ep.ExcludeFields} {
		for l := range m {
			labels[l] = true
		}
	}
	for l := range redactions {
		labels[l] = true
	}
	delete(labels, allModels)
	rs := ruleSet{byModel: make(map[string]*fieldRules, len(labels))}
	for l := range labels {
		rs.byModel[l] = resolveRules(ep, redactions, l)
	}
	rs.fallback = resolveRules(ep, redactions, allModels)
	return rs, nil
}

func checkRuleLabel(label string) error {
	if label == allModels {
		return nil
	}
	if _, err := parseLabel(label); err != nil {
		return fmt.Errorf("model %q: want \"*\" or \"app.Name\"", label)
	}
	return nil
}

func resolveRules(ep *Endpoint, redactions map[string]map[string][]byte, label string) *fieldRules {
	var r fieldRules
	include, ok := ep.IncludeFields[label]
	if !ok {
		include, ok = ep.IncludeFields[allModels]
	}
	if ok {
		r.include = &pathTree{}
		for _, p := range include {
			r.include.add(p, nil)
		}
	}
	merged := map[string][]byte{}
	for _, l := range uniq(allModels, label) {
		for p, v := range redactions[l] {
			merged[p] = v // the model's own, added last, wins
		}
	}
	for p, v := range merged {
		if r.edit == nil {
			r.edit = &pathTree{}
		}
		r.edit.add(p, v)
	}
	for _, l := range uniq(allModels, label) {
		for _, p := range ep.ExcludeFields[l] {
			if r.edit == nil {
				r.edit = &pathTree{}
			}
			r.edit.add(p, nil)
		}
	}
	if r.include == nil && r.edit == nil {
		return nil
	}
	return &r
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// appendMembers appends members, compact object members joined by commas,
// after a comma unless first; first is false after it unless members is
// empty.
func appendMembers(dst []byte, first bool, members []byte) (_ []byte, stillFirst bool) {
	if len(members) == 0 {
		return dst, first
	}
	dst = append(separate(dst, &first), members...)
	return dst, first
}

// separate appends the comma that goes before a member or element, unless
// it is the first, which it no longer is afterwards.
func separate(dst []byte, first *bool) []byte {
	if *first {
		*first = false
		return dst
	}
	return append(dst, ',')
}
