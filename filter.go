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
type pathTree struct {
	children map[string]*pathTree
	leaf     bool
	value    []byte // redaction: the replacement, as JSON
}

// add inserts path. A leaf swallows longer paths through it: including
// "customer" and "customer.name" includes the whole customer.
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
		}
		t = c
	}
	t.leaf, t.children, t.value = true, nil, value
}

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

// pathOp is what a rule does to the fields its paths reach.
type pathOp int

const (
	opKeep   pathOp = iota // include: keep only what the paths reach
	opDrop                 // exclude: remove what the paths reach
	opRedact               // redact: replace what the paths reach
)

// fieldRules are one endpoint's field rules for one model, resolved from
// the "*" entries and the model's own.
type fieldRules struct {
	include *pathTree // nil: every field
	exclude *pathTree
	redact  *pathTree
}

// apply filters and redacts an object's fields and its changes. The result
// shares unmodified values with the input; nothing is changed in place.
func (r *fieldRules) apply(obj []rawjson.Field, changes []change) ([]rawjson.Field, []change, error) {
	var err error
	for _, s := range [...]struct {
		t  *pathTree
		op pathOp
	}{{r.include, opKeep}, {r.exclude, opDrop}, {r.redact, opRedact}} {
		if s.t == nil {
			continue
		}
		if obj, err = applyFields(obj, s.t, s.op); err != nil {
			return nil, nil, err
		}
		if changes != nil {
			if changes, err = applyChanges(changes, s.t, s.op); err != nil {
				return nil, nil, err
			}
		}
	}
	return obj, changes, nil
}

func applyFields(fields []rawjson.Field, t *pathTree, op pathOp) ([]rawjson.Field, error) {
	out := make([]rawjson.Field, 0, len(fields))
	for _, f := range fields {
		c := t.children[f.Key]
		switch {
		case c == nil:
			if op == opKeep {
				continue
			}
		case c.leaf:
			switch op {
			case opDrop:
				continue
			case opRedact:
				f.Value = c.value
			}
		default:
			v, ok, err := applyValue(f.Value, c, op)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			f.Value = v
		}
		out = append(out, f)
	}
	return out, nil
}

// applyValue applies the subtree t to a nested value. ok is false when an
// include rule selects nothing of it (a scalar where fields were named).
func applyValue(v []byte, t *pathTree, op pathOp) (_ []byte, ok bool, _ error) {
	switch rawjson.Kind(v) {
	case '{':
		fields, err := rawjson.Fields(v)
		if err != nil {
			return nil, false, err
		}
		if fields, err = applyFields(fields, t, op); err != nil {
			return nil, false, err
		}
		return rawjson.AppendObject(make([]byte, 0, len(v)), fields), true, nil
	case '[':
		els, err := rawjson.Elements(v)
		if err != nil {
			return nil, false, err
		}
		out := els[:0:0]
		for _, el := range els {
			nv, ok, err := applyValue(el, t, op)
			if err != nil {
				return nil, false, err
			}
			if ok {
				out = append(out, nv)
			}
		}
		return rawjson.AppendArray(make([]byte, 0, len(v)), out), true, nil
	case 'n':
		return v, true, nil
	default:
		return v, op != opKeep, nil
	}
}

// applyChanges applies a rule to the changes of an update. A change that
// include or exclude rules leave with equal old and new values is dropped:
// what changed was hidden, and an empty change would hint at it. A
// redacted change stays, with the replacement as old and new.
func applyChanges(changes []change, t *pathTree, op pathOp) ([]change, error) {
	out := make([]change, 0, len(changes))
	for _, c := range changes {
		n := t.children[c.key]
		switch {
		case n == nil:
			if op == opKeep {
				continue
			}
		case n.leaf:
			switch op {
			case opDrop:
				continue
			case opRedact:
				c.old, c.new = n.value, n.value
			}
		default:
			old, okOld, err := applyValue(c.old, n, op)
			if err != nil {
				return nil, err
			}
			nw, okNew, err := applyValue(c.new, n, op)
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
	for _, l := range uniq(allModels, label) {
		for _, p := range ep.ExcludeFields[l] {
			if r.exclude == nil {
				r.exclude = &pathTree{}
			}
			r.exclude.add(p, nil)
		}
	}
	merged := map[string][]byte{}
	for _, l := range uniq(allModels, label) {
		for p, v := range redactions[l] {
			merged[p] = v // the model's own, added last, wins
		}
	}
	if len(merged) > 0 {
		r.redact = &pathTree{}
		for p, v := range merged {
			r.redact.add(p, v)
		}
	}
	if r.include == nil && r.exclude == nil && r.redact == nil {
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
