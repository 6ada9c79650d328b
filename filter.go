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

// child returns the node a key leads to: its child, or, for a key spelled
// with dots ("user.email" in a flattened map, at any level), the node its
// elements lead to, stopping at a leaf. So a rule never misses a field
// because of how its key is written. Nil: no rule reaches the key.
func (t *pathTree) child(key []byte) *pathTree {
	// Most of an object's keys start with a byte no child's key starts
	// with: neither they nor, spelled with dots, their first elements
	// can lead anywhere, and they are turned away without a map lookup.
	if len(key) > 0 && !t.firsts.has(key[0]) {
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

// pathOp is what a tree does to the fields its paths reach.
type pathOp int

const (
	opKeep   pathOp = iota // include: keep only what the paths reach
	opEdit                 // exclude and redact: drop (nil value) or replace what the paths reach
	opDrop                 // only the dropping leaves of an edit tree
	opRedact               // only the replacing leaves of an edit tree
)

// acts reports whether leaf l drops or replaces a value under op: every
// leaf of an edit tree (opEdit), only dropping or only replacing ones
// (opDrop, opRedact); none under opKeep, whose leaves keep.
func (op pathOp) acts(l *pathTree) bool {
	switch op {
	case opDrop:
		return l.value == nil
	case opRedact:
		return l.value != nil
	default:
		return op == opEdit
	}
}

// fieldRules are one endpoint's field rules for one model, resolved from
// the "*" entries and the model's own.
type fieldRules struct {
	include *pathTree // nil: every field
	edit    *pathTree // exclude and redact, merged; nil: none
	horizon horizonCache
}

// apply filters and redacts an object's fields and its changes. The result
// shares unmodified values with the input; nothing is changed in place.
// The object takes one pass per tree. Changes take the edit tree in two
// passes, so that a change that only dropped fields made (what changed was
// hidden) can be told from one that redaction made equal.
func (r *fieldRules) apply(obj []rawjson.Field, changes []change, sc splits) ([]rawjson.Field, []change, error) {
	var err error
	if r.include != nil {
		if obj, _, err = editFields(obj, r.include, opKeep, sc); err != nil {
			return nil, nil, err
		}
		if changes, err = applyChanges(changes, r.include, opKeep, sc); err != nil {
			return nil, nil, err
		}
	}
	if r.edit != nil {
		if obj, _, err = editFields(obj, r.edit, opEdit, sc); err != nil {
			return nil, nil, err
		}
		if changes, err = r.editChanges(changes, sc); err != nil {
			return nil, nil, err
		}
	}
	return obj, changes, nil
}

// editChanges applies the edit tree to changes: drops first, then
// redactions (see apply).
func (r *fieldRules) editChanges(changes []change, sc splits) ([]change, error) {
	changes, err := applyChanges(changes, r.edit, opDrop, sc)
	if err != nil {
		return nil, err
	}
	return applyChanges(changes, r.edit, opRedact, sc)
}

// editFields applies t to fields. When nothing changes it returns fields
// itself and changed false; otherwise a new slice.
func editFields(fields []rawjson.Field, t *pathTree, op pathOp, sc splits) (out []rawjson.Field, changed bool, _ error) {
	for i, f := range fields {
		keep, edited := true, false
		c := t.child(f.Key)
		switch {
		case c == nil:
			keep = op != opKeep
		case c.leaf:
			if op.acts(c) {
				if c.value == nil {
					keep = false
				} else {
					f.Value, edited = c.value, true
				}
			}
		default:
			v, ok, vchanged, err := applyValue(f.Value, c, op, sc)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				keep = false
			} else if vchanged {
				f.Value, edited = v, true
			}
		}
		same := keep && !edited
		if !changed {
			if same {
				continue
			}
			changed = true
			out = make([]rawjson.Field, i, len(fields))
			copy(out, fields[:i])
		}
		if keep {
			out = append(out, f)
		}
	}
	if !changed {
		return fields, false, nil
	}
	return out, true, nil
}

// applyValue applies the subtree t to a nested value. ok is false when an
// include rule selects nothing of it (a scalar where fields were named);
// changed is false when v comes back as it was.
func applyValue(v []byte, t *pathTree, op pathOp, sc splits) (_ []byte, ok, changed bool, _ error) {
	switch rawjson.Kind(v) {
	case '{':
		fields, err := sc.fields(v)
		if err != nil {
			return nil, false, false, err
		}
		out, changed, err := editFields(fields, t, op, sc)
		if err != nil || !changed {
			return v, err == nil, false, err
		}
		return rawjson.AppendObject(make([]byte, 0, rawjson.ObjectSize(out)), out), true, true, nil
	case '[':
		els, err := sc.elements(v)
		if err != nil {
			return nil, false, false, err
		}
		var out [][]byte
		for i, el := range els {
			nv, ok, elChanged, err := applyValue(el, t, op, sc)
			if err != nil {
				return nil, false, false, err
			}
			if !changed && (!ok || elChanged) {
				changed = true
				out = make([][]byte, i, len(els))
				copy(out, els[:i])
			}
			if changed && ok {
				out = append(out, nv)
			}
		}
		if !changed {
			return v, true, false, nil
		}
		return rawjson.AppendArray(make([]byte, 0, len(v)), out), true, true, nil
	case 'n':
		return v, true, false, nil
	default:
		return v, op != opKeep, false, nil
	}
}

// applyChanges applies a tree to the changes of an update (nil: not an
// update). A change that include or exclude rules (opKeep, opDrop) leave
// with equal old and new values is dropped: what changed was hidden, and
// an empty change would hint at it. A redacted change (opRedact) stays,
// with the replacement as old and new.
func applyChanges(changes []change, t *pathTree, op pathOp, sc splits) ([]change, error) {
	if changes == nil {
		return nil, nil
	}
	out := make([]change, 0, len(changes))
	for _, c := range changes {
		n := t.child(c.key)
		switch {
		case n == nil:
			if op == opKeep {
				continue
			}
		case n.leaf:
			if op.acts(n) {
				if n.value == nil {
					continue
				}
				c.old, c.new = n.value, n.value
			}
		default:
			old, okOld, _, err := applyValue(c.old, n, op, sc)
			if err != nil {
				return nil, err
			}
			nw, okNew, _, err := applyValue(c.new, n, op, sc)
			if err != nil {
				return nil, err
			}
			if !okOld && !okNew {
				continue
			}
			if !okOld {
				old = rawjson.Null
			}
			if !okNew {
				nw = rawjson.Null
			}
			if op != opRedact && bytes.Equal(old, nw) {
				continue
			}
			c.old, c.new = old, nw
		}
		out = append(out, c)
	}
	return out, nil
}

// splits caches the splitting of nested values during one Emit: every
// endpoint's rules reach into the same bytes of the same snapshot. A nil
// splits caches nothing. The cached slices are never modified.
type splits map[splitKey]any // []rawjson.Field or [][]byte

type splitKey struct {
	p *byte
	n int
}

func (sc splits) fields(v []byte) ([]rawjson.Field, error) {
	k := splitKey{&v[0], len(v)}
	if f, ok := sc[k].([]rawjson.Field); ok {
		return f, nil
	}
	f, err := rawjson.Fields(v)
	if err == nil && sc != nil {
		sc[k] = f
	}
	return f, err
}

func (sc splits) elements(v []byte) ([][]byte, error) {
	k := splitKey{&v[0], len(v)}
	if e, ok := sc[k].([][]byte); ok {
		return e, nil
	}
	e, err := rawjson.Elements(v)
	if err == nil && sc != nil {
		sc[k] = e
	}
	return e, err
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

// appendFiltered appends the object at the start of obj with the edit
// tree t applied (opEdit) in one pass over its bytes: what editFields and
// AppendObject make together, without splitting obj into fields first.
// The body of an endpoint with edit rules only is built this way. obj may
// run on past the object (the rest of an enclosing value); used is the
// length of the object in it.
func appendFiltered(dst, obj []byte, t *pathTree) (_ []byte, used int, _ error) {
	return appendFilteredObject(dst, obj, t, nil)
}

// appendFilteredObject is appendFiltered, for a whole compact object obj
// (nothing after its closing brace) when h is not nil: from the first key
// past h's horizon on, the rest of obj is copied without being walked.
func appendFilteredObject(dst, obj []byte, t *pathTree, h *keyHorizon) (_ []byte, used int, _ error) {
	cur := keyCursor{h: h}
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
		if cur.beyond(key) {
			// No rule reaches this key or any after it: the rest of the
			// object, up to its closing brace, goes as it is.
			dst, first = appendMembers(dst, first, obj[runStart:runEnd])
			dst, _ = appendMembers(dst, first, obj[keyStart:len(obj)-1])
			return append(dst, '}'), len(obj), nil
		}
		c := t.child(key)
		if c != nil && !c.leaf {
			if k := rawjson.Kind(it.Rest()); k == '{' || k == '[' {
				// Reach into the value, walking it once: its end is
				// where the nested walk stops.
				dst, first = appendMembers(dst, first, obj[runStart:runEnd])
				runStart, runEnd = 0, 0
				dst = append(separate(dst, &first), rawKey...)
				dst = append(dst, ':')
				var ok bool
				var err error
				if dst, ok, err = appendNestedAt(dst, &it, c); err != nil {
					return nil, 0, err
				} else if !ok {
					break
				}
				continue
			}
		}
		valueStart := len(obj) - len(it.Rest())
		v, ok := it.Value()
		if !ok {
			break
		}
		// A key no rule reaches, or one whose nested rules meet a scalar
		// or null, keeps its value; a leaf drops or replaces it.
		asIs := true
		if c != nil && c.leaf {
			if c.value == nil {
				continue
			}
			v, asIs = c.value, false
		}
		if asIs && valueStart == keyStart+len(rawKey)+1 { // no white space around the colon
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

// appendFilteredValue appends the object or array at the start of v with
// t applied; used is its length in v (see appendFiltered).
func appendFilteredValue(dst, v []byte, t *pathTree) (_ []byte, used int, _ error) {
	if rawjson.Kind(v) == '{' {
		return appendFiltered(dst, v, t)
	}
	it := rawjson.ArrayIter(v)
	dst = append(dst, '[')
	first := true
	for it.More() {
		k := rawjson.Kind(it.Rest())
		if k == '{' || k == '[' {
			var ok bool
			var err error
			if dst, ok, err = appendNestedAt(separate(dst, &first), &it, t); err != nil {
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
		dst = append(separate(dst, &first), el...)
	}
	if err := it.Err(); err != nil {
		return nil, 0, err
	}
	return append(dst, ']'), it.Used(), nil
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

// appendNestedAt appends the object or array the walk stopped at, with t
// applied, and moves the walk past it; ok is false when the walk cannot go
// on (see it.Err).
func appendNestedAt(dst []byte, it *rawjson.Iter, t *pathTree) (_ []byte, ok bool, _ error) {
	dst, n, err := appendFilteredValue(dst, it.Rest(), t)
	if err != nil {
		return nil, false, err
	}
	return dst, it.Skip(n), nil
}
