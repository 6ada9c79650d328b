package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook/internal/rawjson"
)

// FuzzFieldRules checks the field rules (include, exclude, redact) against
// an independent model of what they mean. Run it for a while with
//
//	go test -run '^$' -fuzz 'FuzzFieldRules$' -fuzztime 60s .
//
// Inputs: the event object, the old object of an update (empty: a create
// event) and a rules spec, one rule a line:
//
//	i:customer.name            include_fields["*"]
//	e@store.Order:items.price  exclude_fields["store.Order"]
//	r:customer.email="***"     redact_fields["*"], the replacement as JSON
//	r:ssn=xxx                  (not JSON: the replacement is the string "xxx")
//	i@store.Order              an empty list for the label (i, e or r)
//	e:$0.$3                    "$n": the n-th key of the objects (ffKeys)
//
// The rules are compiled from an Endpoint (invalid labels and paths must be
// an error, never a panic) and applied, for the event's model and for one
// no rule names, to the object and the changes of three snapshots of the
// same input: decoded into maps and marshalled (what Emit does with a map),
// marshalled as a json.RawMessage (key order, duplicate keys and escapes
// kept) and split as given (white space kept). Checked:
//
//   - nothing panics and apply returns no error on valid JSON;
//   - the object, each change's old and new and the whole body are valid JSON;
//   - no value at an excluded path, through nested objects and every element
//     of arrays, is in the object or a change (unless a redacted prefix put
//     the configured replacement there);
//   - with an include list, the object's and the changes' top-level keys are
//     first elements of include paths;
//   - a value at a redacted path is the replacement;
//   - object and changes equal an independent reference implementation on
//     decoded values (for changes: on the canonical snapshot, where equal
//     bytes mean equal values);
//   - the input (bytes, fields and changes) is not modified, and a second
//     application gives the same body.
func FuzzFieldRules(f *testing.F) {
	const order = `{"id":42,"customer":{"name":"Jo","email":"jo@x","phone":"1"},"items":[{"sku":"A","price":1.5},{"sku":"B","price":2}],"note":null}`
	const orderOld = `{"id":42,"customer":{"name":"Jo","email":"old@x","phone":"1"},"items":[{"sku":"A","price":1}],"note":"n","gone":true}`
	for _, s := range []struct{ obj, old, spec string }{
		// nested objects, arrays of objects, all three rules
		{order, orderOld, "i:id\ni:customer\ni:items\ne:items.price\nr:customer.email=\"***\""},
		{order, "", "e:customer.email\nr:items.sku=0\nr:note=\"redacted\""},
		// overlapping rules
		{order, orderOld, "e:customer\nr:customer.email=\"***\""},
		{order, orderOld, "r:customer={\"masked\":true}\ne:customer.email"},
		{order, orderOld, "i:customer.name\ne:customer"},
		{order, orderOld, "e:customer.email\nr:customer.email=\"x\""},
		{order, orderOld, "r:customer.email=\"*\"\nr@store.Order:customer.email=\"order\"\nr@store.Order:customer=null"},
		// paths from the object's keys: id customer name email phone items sku price note gone
		{order, orderOld, "i:$1\ni:$5\ni:$9\ne:$1.$3\nr:$5.$6=\"x\"\nr@store.Order:$1.$2=null"},
		// per model: the model's own include list replaces "*"
		{order, orderOld, "i:id\ni@store.Order:customer.name\ne@store.Customer:id"},
		{order, orderOld, "i@store.Order\ne:note"},
		// arrays: nested, of scalars, of mixed kinds
		{`{"m":[[{"x":1,"y":2}],[],null],"tags":[1,"a",true,{"x":1,"y":2},null]}`, `{"m":[[{"x":0,"y":2}]],"tags":[]}`, "i:m.x\ni:tags.x"},
		{`{"m":[[{"x":1,"y":2}],[],null],"tags":[1,"a",true,{"x":1,"y":2},null]}`, `{"m":null}`, "e:m.x\nr:tags.y=[1,2]"},
		// escapes and unicode in keys
		{`{"a\"b":1,"<x>":{"é":"v","\u00e9t\u00e9":2},"日本":{"k":[{"\u003cy\u003e":3,"z":"\u2028"}]},"a\\b":{"c":1}}`, `{"a\"b":2,"<x>":{"é":"w"}}`, "e:a\"b\nr:<x>.été=0\ne:日本.k.<y>\ni:a\\b.c\ni:日本\ni:<x>"},
		{`{"a\"b":{"<x>":[{"\ud83c\udf89":"🎉"}]}}`, `{"a\"b":{"<x>":[]}}`, "r:a\"b.<x>.🎉=\"party\""},
		// invalid UTF-8 in a key: it is U+FFFD, in the path too
		{"{\"k\xff\":{\"x\":1,\"y\":[2]},\"z\":\"\xfe\"}", `{"z":"a"}`, "e:k\ufffd.x\nr:z=1e3\nr@store.Order:k\ufffd.y=not json"},
		// null values
		{`{"a":null,"b":{"c":null},"d":[null,{"e":null}]}`, `{"a":1,"b":null,"d":null}`, "i:a.x\ni:b.c\ni:d.e\nr:b.c=null\ne:d.e"},
		// white space, duplicate keys
		{" { \"a\" : 1 , \"a\" : { \"b\" : [ 2 , { \"b\" : 3 } ] } , \"c\" : \"\\u0041\" } ", `{"a":{"b":[2]},"c":"A"}`, "e:a.b\nr:c=\"C\""},
		// keys spelled with dots, at any level: rules reach them too
		{`{"user.email":"a","meta":{"user.email":"b","x.card":{"number":"4"}},"a.b":{"c":1,"d":2}}`, `{"meta":{"user.email":"c"}}`, "e:user.email\ne:meta.user.email\nr:meta.x.card.number=\"*\"\ne:a.b.c"},
		{`{"user.email":"a","meta":{"user.email":"b"},"a.b":{"c":1,"d":2}}`, `{"a.b":{"c":0}}`, "i:a.b.c\ni:user\ni:meta.user"},
		// a value include rules reach into and a redaction replaces: the
		// include rules first, in changes as in the object
		{`{"customer":"secret","b":{"x":1}}`, `{"customer":null,"b":"s"}`, "i:customer.name\ni:b.x\nr:customer=\"***\"\nr:b=0"},
		// invalid rules: an error, not a panic
		{order, "", "e:customer..email"},
		{order, "", "i@Order:id"},
		{order, "", "r@store.Order.x:id=1\ne:"},
	} {
		f.Add([]byte(s.obj), []byte(s.old), s.spec)
	}

	f.Fuzz(func(t *testing.T, obj, old []byte, spec string) {
		const maxSize, maxDepth = 4 << 10, 32
		if len(obj) > maxSize || len(old) > maxSize || len(spec) > 1<<10 {
			return
		}
		if !ffIsObject(obj, maxDepth) || (len(old) > 0 && !ffIsObject(old, maxDepth)) {
			return
		}
		ep, rules, ok := ffParseSpec(spec, ffKeys(obj, old))
		if !ok {
			return
		}
		rs, err := compileRules(&ep)
		if wantErr := rules.invalid(); (err != nil) != wantErr {
			t.Fatalf("compileRules(%q) = %v, want an error: %v", spec, err, wantErr)
		}
		if err != nil {
			return
		}
		objCopy, oldCopy := bytes.Clone(obj), bytes.Clone(old)
		update := len(old) > 0

		// The snapshots: maps, raw messages, and the bytes split as given.
		var snaps []*snapshot
		newObj, oldObj := ffDecodeMap(t, obj), map[string]any(nil)
		if update {
			oldObj = ffDecodeMap(t, old)
		}
		for _, ev := range []Event{ffEvent(newObj, oldObj, update), ffEvent(json.RawMessage(obj), json.RawMessage(old), update)} {
			s, err := newSnapshot(&ev, ffModel, "evt_1", time.Unix(fuzzNow, 0), nil)
			if err != nil {
				t.Fatalf("newSnapshot: %v", err)
			}
			snaps = append(snaps, s)
		}
		asGiven := &snapshot{id: "evt_1", typ: Created, model: ffModel, raw: obj}
		if asGiven.object, err = rawjson.Fields(obj); err != nil {
			t.Fatalf("rawjson.Fields(%q): %v", obj, err)
		}
		if update {
			asGiven.typ = Updated
			if asGiven.changes, err = diff(json.RawMessage(old), asGiven.object); err != nil {
				t.Fatalf("diff: %v", err)
			}
		}
		snaps = append(snaps, asGiven)

		for i, s := range snaps {
			canonical := i == 0
			fields, err := s.fields()
			if err != nil {
				t.Fatalf("snapshot %d: fields: %v", i, err)
			}
			if update != (s.changes != nil) {
				t.Fatalf("snapshot %d: update %v, changes %v", i, update, s.changes)
			}
			if canonical && update {
				ffCheckDiff(t, fields, s.changes, oldObj)
			}
			inBody := string(s.plainBody())
			inObj := string(rawjson.AppendObject(nil, fields))
			inChanges := ftRenderChanges(s.changes)
			// Two labels, as two endpoints of one Emit: the event's model,
			// and one no rule names.
			for _, label := range []string{ffModel.Label, "other.Model"} {
				eff := rules.forLabel(label)
				r := rs.forModel(label)
				if (r == nil) != eff.none() {
					t.Fatalf("%s: forModel = %v, want rules: %v", label, r, !eff.none())
				}
				if r == nil {
					continue
				}
				gotObj, err := r.appendObject(nil, s.raw)
				if err != nil {
					t.Fatalf("%s: appendObject: %v", label, err)
				}
				gotChanges, err := r.changes(s.changes)
				if err != nil {
					t.Fatalf("%s: changes: %v", label, err)
				}
				body, err := s.filteredBody(r, gotChanges)
				if err != nil {
					t.Fatalf("%s: filteredBody: %v", label, err)
				}
				// The body holds the same object, and the rules give the
				// same again.
				if !bytes.Contains(body, gotObj) {
					t.Fatalf("%s: body\n%s\ndoes not hold the object\n%s", label, body, gotObj)
				}
				if again, _ := s.filteredBody(r, ffMust(r.changes(s.changes))); !bytes.Equal(again, body) {
					t.Fatalf("%s: a second time:\n%s\nthe first time:\n%s", label, again, body)
				}
				ffCheck(t, label, eff, s, gotObj, gotChanges, body, canonical)
			}
			// Nothing is changed in place.
			if string(s.plainBody()) != inBody || string(rawjson.AppendObject(nil, fields)) != inObj || ftRenderChanges(s.changes) != inChanges {
				t.Fatalf("snapshot %d modified by apply", i)
			}
		}
		if !bytes.Equal(obj, objCopy) || !bytes.Equal(old, oldCopy) {
			t.Fatalf("input modified:\n%q\n%q\nwas\n%q\n%q", obj, old, objCopy, oldCopy)
		}
	})
}

var ffModel = ModelInfo{App: "store", Name: "Order", Label: "store.Order"}

func ffEvent(obj, old any, update bool) Event {
	ev := Create(obj)
	if update {
		ev = Update(old, obj)
	}
	ev.Model = ffModel.Label
	return ev
}

// ffCheck checks one apply's result against the rules for label.
func ffCheck(t *testing.T, label string, eff ffEffective, s *snapshot, objBytes []byte, changes []change, body []byte, canonical bool) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s\nrules: %s\nbody: %s", label, fmt.Sprintf(format, args...), eff, body)
	}
	if !json.Valid(body) {
		fail("body is not valid JSON")
	}
	if _, err := s.payload(objBytes, changes); err != nil {
		fail("payload: %v", err)
	}
	if !json.Valid(objBytes) {
		fail("object is not valid JSON: %s", objBytes)
	}
	if (changes == nil) != (s.changes == nil) {
		fail("changes %v, from %v", changes, s.changes)
	}
	out := ffMustDecode(t, objBytes)
	// The object, and each change's old and new as an object of one
	// field, the change's key.
	type side struct {
		what string
		v    *ffJSON
	}
	sides := []side{{"object", out}}
	for _, c := range changes {
		for _, v := range []struct {
			what string
			b    []byte
		}{{"old", c.old}, {"new", c.new}} {
			if !json.Valid(v.b) {
				fail("change %q: %s is not valid JSON: %q", c.key, v.what, v.b)
			}
			sides = append(sides, side{fmt.Sprintf("change %q %s", c.key, v.what), &ffJSON{kind: 'o', keys: []string{string(c.key)}, vals: []*ffJSON{ffMustDecode(t, v.b)}}})
		}
	}

	// The properties, each checked on its own.
	for _, sd := range sides {
		for _, p := range eff.exclude {
			if at := ffFind(sd.v, strings.Split(p, "."), eff.redactedPrefix); len(at) > 0 {
				fail("%s: excluded %q is there: %s", sd.what, p, at[0])
			}
		}
		if eff.include != nil {
			for _, k := range sd.v.keys {
				if !slices.ContainsFunc(eff.include, func(p string) bool {
					k0, _, _ := strings.Cut(p, ".")
					return k0 == k || strings.HasPrefix(p, k+".") || p == k || strings.HasPrefix(k, p+".")
				}) {
					fail("%s: key %q is not in the include list", sd.what, k)
				}
			}
		}
		for p, want := range eff.redact {
			if eff.excludedPrefix(p) {
				continue
			}
			wantJSON := ffMustDecode(t, want)
			for _, v := range ffFind(sd.v, strings.Split(p, "."), eff.redactedPrefix) {
				if !v.equal(wantJSON) {
					fail("%s: redacted %q is %s, want %s", sd.what, p, v, want)
				}
			}
		}
	}

	// The reference implementation.
	in := ffMustDecode(t, rawjson.AppendObject(nil, ffMust(s.fields())))
	if want := eff.refObject(in); !out.equal(want) {
		fail("object\n got: %s\nwant: %s\n  in: %s", out, want, in)
	}
	if !canonical || s.changes == nil {
		return
	}
	want := eff.refChanges(t, s.changes)
	if got := ffRenderRef(t, changes); got != want {
		fail("changes\n got: %s\nwant: %s\n  in: %s", got, want, ftRenderChanges(s.changes))
	}
}

func ffMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// ffCheckDiff checks a canonical snapshot's changes: the top-level keys
// whose values differ, a missing one being null, in the new object's
// order and then the old object's.
func ffCheckDiff(t *testing.T, cur []rawjson.Field, changes []change, old map[string]any) {
	t.Helper()
	prev := ffMustDecode(t, ffMust(json.Marshal(old)))
	now := ffMustDecode(t, rawjson.AppendObject(nil, cur))
	null := &ffJSON{kind: 'z'}
	var want []string
	seen := map[string]bool{}
	for i, k := range now.keys {
		seen[k] = true
		o := prev.get(k)
		if o == nil {
			o = null
		}
		if !o.equal(now.vals[i]) {
			want = append(want, k+": "+o.String()+" -> "+now.vals[i].String())
		}
	}
	for i, k := range prev.keys {
		if !seen[k] && prev.vals[i].kind != 'z' {
			want = append(want, k+": "+prev.vals[i].String()+" -> null")
		}
	}
	if got := ffRenderRef(t, changes); got != strings.Join(want, "; ") {
		t.Fatalf("diff\n got: %s\nwant: %s", got, strings.Join(want, "; "))
	}
}

// ffRenderRef renders changes with their values decoded and re-encoded.
func ffRenderRef(t *testing.T, changes []change) string {
	var parts []string
	for _, c := range changes {
		parts = append(parts, string(c.key)+": "+ffMustDecode(t, c.old).String()+" -> "+ffMustDecode(t, c.new).String())
	}
	return strings.Join(parts, "; ")
}

// ffIsObject reports whether b is a JSON object per encoding/json, nested
// at most maxDepth deep.
func ffIsObject(b []byte, maxDepth int) bool {
	if !json.Valid(b) || rawjson.Kind(b) != '{' {
		return false
	}
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"', !inString && c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

func ffDecodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return m
}

// ffRules are the rules of a spec, as written.
type ffRules struct {
	include map[string][]string
	exclude map[string][]string
	redact  map[string]map[string][]byte // replacements as JSON
}

// ffParseSpec builds an Endpoint from a spec; ok is false for a spec that
// says nothing. A path element "$n" (n decimal) is the n-th of keys,
// modulo their number: paths that reach into the object are then easy
// to find.
func ffParseSpec(spec string, keys []string) (ep Endpoint, r ffRules, _ bool) {
	r = ffRules{map[string][]string{}, map[string][]string{}, map[string]map[string][]byte{}}
	values := map[string]map[string]any{} // RedactFields
	lines := strings.Split(spec, "\n")
	if len(lines) > 32 {
		return ep, r, false
	}
	for _, line := range lines {
		if line == "" || !strings.ContainsRune("ier", rune(line[0])) {
			continue
		}
		op, rest := line[0], line[1:]
		label, path := "*", ""
		if l, ok := strings.CutPrefix(rest, "@"); ok {
			var hasPath bool
			if label, path, hasPath = strings.Cut(l, ":"); !hasPath {
				// "i@label": an empty list for label.
				switch op {
				case 'i':
					r.include[label] = ffAppend(r.include[label])
				case 'e':
					r.exclude[label] = ffAppend(r.exclude[label])
				case 'r':
					if r.redact[label] == nil {
						r.redact[label], values[label] = map[string][]byte{}, map[string]any{}
					}
				}
				continue
			}
		} else if p, found := strings.CutPrefix(rest, ":"); found {
			path = p
		} else {
			continue
		}
		var value string
		var hasValue bool
		if op == 'r' {
			path, value, hasValue = strings.Cut(path, "=")
		}
		path = ffExpand(path, keys)
		switch op {
		case 'i':
			r.include[label] = ffAppend(r.include[label], path)
		case 'e':
			r.exclude[label] = ffAppend(r.exclude[label], path)
		case 'r':
			var v any = "***"
			if hasValue {
				v = value
				d := json.NewDecoder(strings.NewReader(value))
				d.UseNumber()
				var jv any
				if err := d.Decode(&jv); err == nil {
					if _, err := d.Token(); err == io.EOF {
						v = jv
					}
				}
			}
			if r.redact[label] == nil {
				r.redact[label], values[label] = map[string][]byte{}, map[string]any{}
			}
			r.redact[label][path] = ffMust(json.Marshal(v))
			values[label][path] = v
		}
	}
	if len(r.include) > 0 {
		ep.IncludeFields = r.include
	}
	if len(r.exclude) > 0 {
		ep.ExcludeFields = r.exclude
	}
	if len(values) > 0 {
		ep.RedactFields = values
	}
	return ep, r, len(r.include)+len(r.exclude)+len(r.redact) > 0
}

// ffKeys lists the keys of the objects in obj and old, at any depth, in
// order, each once.
func ffKeys(obj, old []byte) []string {
	var keys []string
	seen := map[string]bool{}
	var walk func(v *ffJSON)
	walk = func(v *ffJSON) {
		for i, el := range v.vals {
			if v.kind == 'o' && !seen[v.keys[i]] {
				seen[v.keys[i]] = true
				keys = append(keys, v.keys[i])
			}
			walk(el)
		}
	}
	for _, b := range [][]byte{obj, old} {
		if v, err := ffDecode(b); err == nil {
			walk(v)
		}
	}
	return keys
}

// ffExpand replaces the path elements "$n" with keys[n%len(keys)].
func ffExpand(path string, keys []string) string {
	if len(keys) == 0 || !strings.Contains(path, "$") {
		return path
	}
	elems := strings.Split(path, ".")
	for i, e := range elems {
		if n, err := strconv.ParseUint(strings.TrimPrefix(e, "$"), 10, 32); err == nil && strings.HasPrefix(e, "$") {
			elems[i] = keys[n%uint64(len(keys))]
		}
	}
	return strings.Join(elems, ".")
}

// ffAppend appends to a list that is never nil.
func ffAppend(l []string, s ...string) []string {
	if l == nil {
		l = []string{}
	}
	return append(l, s...)
}

// invalid reports whether compileRules must refuse the rules: a label that
// is neither "*" nor "app.Name", or a path with an empty element.
func (r ffRules) invalid() bool {
	ident := func(s string) bool {
		for i, c := range s {
			if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
				return false
			}
		}
		return s != ""
	}
	badLabel := func(l string) bool {
		app, name, ok := strings.Cut(l, ".")
		return l != "*" && !(ok && ident(app) && ident(name))
	}
	badPath := func(p string) bool { return slices.Contains(strings.Split(p, "."), "") }
	for _, m := range []map[string][]string{r.include, r.exclude} {
		for l, paths := range m {
			if badLabel(l) || slices.ContainsFunc(paths, badPath) {
				return true
			}
		}
	}
	for l, fields := range r.redact {
		if badLabel(l) {
			return true
		}
		for p := range fields {
			if badPath(p) {
				return true
			}
		}
	}
	return false
}

// ffEffective are the rules that apply to one model: the model's own
// include list, else "*"'s; the excludes of both; the redactions of both,
// the model's own winning.
type ffEffective struct {
	include []string // nil: no include list
	exclude []string
	redact  map[string][]byte
}

func (r ffRules) forLabel(label string) ffEffective {
	var e ffEffective
	if l, ok := r.include[label]; ok {
		e.include = ffAppend(l)
	} else if l, ok := r.include["*"]; ok {
		e.include = ffAppend(l)
	}
	e.exclude = append(slices.Clone(r.exclude["*"]), r.exclude[label]...)
	e.redact = map[string][]byte{}
	for p, v := range r.redact["*"] {
		e.redact[p] = v
	}
	for p, v := range r.redact[label] {
		e.redact[p] = v
	}
	return e
}

func (e ffEffective) none() bool {
	return e.include == nil && len(e.exclude) == 0 && len(e.redact) == 0
}

func (e ffEffective) String() string {
	var red []string
	for p, v := range e.redact {
		red = append(red, p+"="+string(v))
	}
	slices.Sort(red)
	return fmt.Sprintf("include %q, exclude %q, redact %q", e.include, e.exclude, red)
}

// redactedPrefix reports whether the path (ffFind passes a proper prefix
// of the one it walks) is redacted: the value there is a replacement,
// which may hold anything.
func (e ffEffective) redactedPrefix(path []string) bool {
	_, ok := e.redact[strings.Join(path, ".")]
	return ok
}

// excludedPrefix reports whether p or a prefix of it is excluded.
func (e ffEffective) excludedPrefix(p string) bool {
	for _, x := range e.exclude {
		if x == p || strings.HasPrefix(p, x+".") {
			return true
		}
	}
	return false
}

// ffFind returns the values at path in v: through objects by key, through
// every element of arrays. It stops at a proper prefix for which stop
// holds.
func ffFind(v *ffJSON, path []string, stop func([]string) bool) []*ffJSON {
	var out []*ffJSON
	var walk func(v *ffJSON, i int)
	walk = func(v *ffJSON, i int) {
		switch v.kind {
		case 'a':
			for _, el := range v.vals {
				walk(el, i)
			}
		case 'o':
			for j, k := range v.keys {
				if k != path[i] {
					continue
				}
				if i == len(path)-1 {
					out = append(out, v.vals[j])
				} else if !stop(path[:i+1]) {
					walk(v.vals[j], i+1)
				}
			}
		}
	}
	walk(v, 0)
	return out
}

// ffRule is a node of the reference's rule trees.
type ffRule struct {
	kids map[string]*ffRule
	keep bool    // include: the whole value
	drop bool    // exclude
	repl *ffJSON // redact, unless drop
}

func (n *ffRule) at(path string) *ffRule {
	for elem := range strings.SplitSeq(path, ".") {
		if n.kids == nil {
			n.kids = map[string]*ffRule{}
		}
		if n.kids[elem] == nil {
			n.kids[elem] = &ffRule{}
		}
		n = n.kids[elem]
	}
	return n
}

func (n *ffRule) leaf() bool { return n.drop || n.repl != nil }

func (e ffEffective) trees() (include, edit *ffRule) {
	nodes := func(root *ffRule, p string) []*ffRule { return []*ffRule{root.at(p)} }
	if e.include != nil {
		include = &ffRule{}
		for _, p := range e.include {
			for _, n := range nodes(include, p) {
				n.keep = true
			}
		}
	}
	if len(e.exclude)+len(e.redact) > 0 {
		edit = &ffRule{}
		for p, v := range e.redact {
			for _, n := range nodes(edit, p) {
				n.repl = ffMust(ffDecode(v))
			}
		}
		for _, p := range e.exclude {
			for _, n := range nodes(edit, p) {
				n.drop = true
			}
		}
	}
	return include, edit
}

// refKeep applies an include tree: ok is false for a scalar where fields
// were named.
func refKeep(v *ffJSON, n *ffRule) (_ *ffJSON, ok bool) {
	if n.keep {
		return v, true
	}
	switch v.kind {
	case 'o':
		out := &ffJSON{kind: 'o'}
		for i, k := range v.keys {
			if c := n.kidOf(k); c != nil {
				if nv, ok := refKeep(v.vals[i], c); ok {
					out.keys, out.vals = append(out.keys, k), append(out.vals, nv)
				}
			}
		}
		return out, true
	case 'a':
		out := &ffJSON{kind: 'a'}
		for _, el := range v.vals {
			if nv, ok := refKeep(el, n); ok {
				out.vals = append(out.vals, nv)
			}
		}
		return out, true
	case 'z':
		return v, true
	default:
		return nil, false
	}
}

// refEdit applies an edit tree's dropping leaves, replacing leaves or both.
func refEdit(v *ffJSON, n *ffRule, drop, redact bool) *ffJSON {
	switch v.kind {
	case 'o':
		out := &ffJSON{kind: 'o'}
		for i, k := range v.keys {
			nv := v.vals[i]
			switch c := n.kidOf(k); {
			case c == nil:
			case c.drop:
				if drop {
					continue
				}
			case c.repl != nil:
				if redact {
					nv = c.repl
				}
			default:
				nv = refEdit(nv, c, drop, redact)
			}
			out.keys, out.vals = append(out.keys, k), append(out.vals, nv)
		}
		return out
	case 'a':
		out := &ffJSON{kind: 'a'}
		for _, el := range v.vals {
			out.vals = append(out.vals, refEdit(el, n, drop, redact))
		}
		return out
	default:
		return v
	}
}

func (e ffEffective) refObject(v *ffJSON) *ffJSON {
	include, edit := e.trees()
	if include != nil {
		v, _ = refKeep(v, include)
	}
	if edit != nil {
		v = refEdit(v, edit, true, true)
	}
	return v
}

// refChanges is what the rules make of changes: a change that include or
// exclude rules leave with equal old and new values is dropped; a
// redacted one stays.
func (e ffEffective) refChanges(t *testing.T, changes []change) string {
	include, edit := e.trees()
	null := &ffJSON{kind: 'z'}
	var parts []string
	for _, c := range changes {
		old, nw := ffMustDecode(t, c.old), ffMustDecode(t, c.new)
		if include != nil {
			n := include.kidOf(string(c.key))
			if n == nil {
				continue
			}
			o, okOld := refKeep(old, n)
			w, okNew := refKeep(nw, n)
			if !okOld && !okNew {
				continue
			}
			if !okOld {
				o = null
			}
			if !okNew {
				w = null
			}
			if !n.keep && o.equal(w) {
				continue
			}
			old, nw = o, w
		}
		if n := edit.kidOf(string(c.key)); n != nil {
			switch {
			case n.drop:
				continue
			case n.repl != nil:
				old, nw = n.repl, n.repl
			default:
				old, nw = refEdit(old, n, true, false), refEdit(nw, n, true, false)
				if old.equal(nw) {
					continue
				}
				old, nw = refEdit(old, n, false, true), refEdit(nw, n, false, true)
			}
		}
		parts = append(parts, string(c.key)+": "+old.String()+" -> "+nw.String())
	}
	return strings.Join(parts, "; ")
}

// kidOf returns the rule a key leads to: a key spelled with dots walks
// its elements, stopping where a rule ends (a leaf).
func (n *ffRule) kidOf(k string) *ffRule {
	if n == nil {
		return nil
	}
	if c := n.kids[k]; c != nil || !strings.Contains(k, ".") {
		return c
	}
	for elem := range strings.SplitSeq(k, ".") {
		if n = n.kids[elem]; n == nil || n.keep || n.leaf() {
			return n
		}
	}
	return n
}

// ffJSON is a decoded JSON value that keeps object members in order,
// duplicates included, and numbers as written.
type ffJSON struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' boolean, 'z' null
	keys []string
	vals []*ffJSON // members' values, or elements
	text string    // string, number or boolean
}

func ffDecode(b []byte) (*ffJSON, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := ffRead(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after %s", v)
	}
	return v, nil
}

func ffMustDecode(t *testing.T, b []byte) *ffJSON {
	t.Helper()
	v, err := ffDecode(b)
	if err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return v
}

func ffRead(d *json.Decoder) (*ffJSON, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		v := &ffJSON{kind: 'a'}
		if tok == '{' {
			v.kind = 'o'
		}
		for d.More() {
			if v.kind == 'o' {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, k.(string))
			}
			el, err := ffRead(d)
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, el)
		}
		if _, err := d.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return v, nil
	case string:
		return &ffJSON{kind: 's', text: tok}, nil
	case json.Number:
		return &ffJSON{kind: 'n', text: string(tok)}, nil
	case bool:
		return &ffJSON{kind: 'b', text: fmt.Sprint(tok)}, nil
	case nil:
		return &ffJSON{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func (v *ffJSON) get(k string) *ffJSON {
	for i, kk := range v.keys {
		if kk == k {
			return v.vals[i]
		}
	}
	return nil
}

func (v *ffJSON) equal(w *ffJSON) bool {
	if v.kind != w.kind || v.text != w.text || !slices.Equal(v.keys, w.keys) || len(v.vals) != len(w.vals) {
		return false
	}
	for i := range v.vals {
		if !v.vals[i].equal(w.vals[i]) {
			return false
		}
	}
	return true
}

// String renders v as compact JSON, members in order.
func (v *ffJSON) String() string {
	var b []byte
	var write func(v *ffJSON)
	write = func(v *ffJSON) {
		switch v.kind {
		case 'o', 'a':
			open, closing := byte('['), byte(']')
			if v.kind == 'o' {
				open, closing = '{', '}'
			}
			b = append(b, open)
			for i, el := range v.vals {
				if i > 0 {
					b = append(b, ',')
				}
				if v.kind == 'o' {
					b = rawjson.AppendString(b, v.keys[i])
					b = append(b, ':')
				}
				write(el)
			}
			b = append(b, closing)
		case 's':
			b = rawjson.AppendString(b, v.text)
		case 'z':
			b = append(b, "null"...)
		default:
			b = append(b, v.text...)
		}
	}
	write(v)
	return string(b)
}
