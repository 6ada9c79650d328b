package webhook

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hookrail/webhook/internal/rawjson"
)

// ftTree builds a pathTree from paths; "path=json" gives a redaction value.
func ftTree(paths ...string) *pathTree {
	t := &pathTree{}
	for _, p := range paths {
		path, val, ok := strings.Cut(p, "=")
		var v []byte
		if ok {
			v = []byte(val)
		}
		t.add(path, v)
	}
	return t
}

// ftShape renders a tree as sorted paths, leaves marked with their value.
// The root's literal aliases of dotted paths (see pathTree.add) are left
// out; TestPathTreeLiteralDottedKeys covers them.
func ftShape(t *pathTree) []string {
	var out []string
	var walk func(prefix string, n *pathTree)
	walk = func(prefix string, n *pathTree) {
		if n.leaf {
			if len(n.children) != 0 {
				out = append(out, prefix+" (leaf with children!)")
			}
			out = append(out, prefix+"="+string(n.value))
			return
		}
		if len(n.children) == 0 {
			out = append(out, prefix+" (empty inner node!)")
		}
		for k, c := range n.children {
			if n == t && strings.Contains(k, ".") {
				continue
			}
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walk(p, c)
		}
	}
	if t.leaf || len(t.children) > 0 {
		walk("", t)
	}
	slices.Sort(out)
	return out
}

func TestPathTreeAdd(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		paths []string
		want  []string
	}{
		{"one", []string{"a"}, []string{"a="}},
		{"siblings", []string{"a", "b"}, []string{"a=", "b="}},
		{"nested", []string{"customer.name", "customer.email"}, []string{"customer.email=", "customer.name="}},
		{"leaf swallows a longer path added after", []string{"customer", "customer.name"}, []string{"customer="}},
		{"leaf swallows longer paths added before", []string{"customer.name", "customer.address.city", "customer"}, []string{"customer="}},
		{"deep leaf swallows deeper", []string{"a.b", "a.b.c.d", "a.e"}, []string{"a.b=", "a.e="}},
		{"same path twice", []string{"a.b", "a.b"}, []string{"a.b="}},
		{"redaction value", []string{`a.b="x"`}, []string{`a.b="x"`}},
		{"last value of the same leaf wins", []string{`a="x"`, `a="y"`}, []string{`a="y"`}},
		{"a later leaf replaces an inner node's value", []string{`a.b="x"`, `a="y"`}, []string{`a="y"`}},
		{"a swallowed path keeps the leaf's value", []string{`a="y"`, `a.b="x"`}, []string{`a="y"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := ftShape(ftTree(c.paths...)); !slices.Equal(got, c.want) {
				t.Errorf("add(%q) = %q, want %q", c.paths, got, c.want)
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	t.Parallel()
	for path, ok := range map[string]bool{
		"a": true, "a.b": true, "customer.address.city": true, "items.price": true,
		"": false, ".": false, "a.": false, ".a": false, "a..b": false,
	} {
		if err := checkPath(path); (err == nil) != ok {
			t.Errorf("checkPath(%q) = %v, want ok=%v", path, err, ok)
		}
	}
}

// ftFields splits a JSON object for the tests.
func ftFields(t *testing.T, obj string) []rawjson.Field {
	t.Helper()
	fs, err := rawjson.Fields([]byte(obj))
	if err != nil {
		t.Fatalf("Fields(%s): %v", obj, err)
	}
	return fs
}

func TestApplyFields(t *testing.T) {
	t.Parallel()
	const order = `{"id":42,"customer":{"name":"Jo","email":"jo@x","phone":"1"},"items":[{"sku":"A","price":1.5},{"sku":"B","price":2}],"note":null}`
	for _, c := range []struct {
		name  string
		op    pathOp
		paths []string
		in    string
		want  string
	}{
		// keep
		{"keep top level", opKeep, []string{"id"}, order, `{"id":42}`},
		{"keep nothing that exists", opKeep, []string{"nope"}, order, `{}`},
		{"keep nested", opKeep, []string{"id", "customer.name"}, order, `{"id":42,"customer":{"name":"Jo"}}`},
		{"keep two nested", opKeep, []string{"customer.name", "customer.phone"}, order, `{"customer":{"name":"Jo","phone":"1"}}`},
		{"keep whole and nested", opKeep, []string{"customer", "customer.name"}, order, `{"customer":{"name":"Jo","email":"jo@x","phone":"1"}}`},
		{"keep through array", opKeep, []string{"items.price"}, order, `{"items":[{"price":1.5},{"price":2}]}`},
		{"keep array whole", opKeep, []string{"items"}, order, `{"items":[{"sku":"A","price":1.5},{"sku":"B","price":2}]}`},
		{"keep nested missing in nested", opKeep, []string{"customer.ssn"}, order, `{"customer":{}}`},
		{"keep nested path at a scalar drops it", opKeep, []string{"id.x", "customer.name"}, order, `{"customer":{"name":"Jo"}}`},
		{"keep nested path at a string drops it", opKeep, []string{"s.x"}, `{"s":"str","t":1}`, `{}`},
		{"keep nested path at null keeps null", opKeep, []string{"note.x"}, order, `{"note":null}`},
		{"keep null leaf", opKeep, []string{"note"}, order, `{"note":null}`},
		{"keep through array of scalars drops them", opKeep, []string{"tags.x"}, `{"tags":[1,"a",true,{"x":1,"y":2},null]}`, `{"tags":[{"x":1},null]}`},
		{"keep through nested arrays", opKeep, []string{"m.x"}, `{"m":[[{"x":1,"y":2}],[]]}`, `{"m":[[{"x":1}],[]]}`},
		{"keep empty object", opKeep, []string{"a"}, `{}`, `{}`},
		{"keep deep", opKeep, []string{"a.b.c"}, `{"a":{"b":{"c":1,"d":2},"e":3}}`, `{"a":{"b":{"c":1}}}`},
		// drop
		{"drop top level", opDrop, []string{"id", "note"}, order, `{"customer":{"name":"Jo","email":"jo@x","phone":"1"},"items":[{"sku":"A","price":1.5},{"sku":"B","price":2}]}`},
		{"drop nested", opDrop, []string{"customer.email"}, `{"customer":{"name":"Jo","email":"jo@x"}}`, `{"customer":{"name":"Jo"}}`},
		{"drop through array", opDrop, []string{"items.price"}, `{"items":[{"sku":"A","price":1.5},{"sku":"B","price":2}]}`, `{"items":[{"sku":"A"},{"sku":"B"}]}`},
		{"drop nested path at a scalar keeps it", opDrop, []string{"id.x"}, `{"id":42}`, `{"id":42}`},
		{"drop nested path at null keeps it", opDrop, []string{"note.x"}, `{"note":null}`, `{"note":null}`},
		{"drop through array of scalars keeps them", opDrop, []string{"tags.x"}, `{"tags":[1,"a",{"x":1,"y":2}]}`, `{"tags":[1,"a",{"y":2}]}`},
		{"drop missing", opDrop, []string{"nope", "customer.nope"}, `{"customer":{"name":"Jo"}}`, `{"customer":{"name":"Jo"}}`},
		{"drop everything", opDrop, []string{"a", "b"}, `{"a":1,"b":2}`, `{}`},
		// redact
		{"redact top level", opRedact, []string{`id="***"`}, `{"id":42,"x":1}`, `{"id":"***","x":1}`},
		{"redact nested", opRedact, []string{`customer.email="***@***.com"`}, `{"customer":{"name":"Jo","email":"jo@x"}}`, `{"customer":{"name":"Jo","email":"***@***.com"}}`},
		{"redact through array", opRedact, []string{`items.price=0`}, `{"items":[{"sku":"A","price":1.5},{"sku":"B","price":2}]}`, `{"items":[{"sku":"A","price":0},{"sku":"B","price":0}]}`},
		{"redact a whole object", opRedact, []string{`customer=null`}, `{"customer":{"name":"Jo"}}`, `{"customer":null}`},
		{"redact null leaf", opRedact, []string{`note="x"`}, `{"note":null}`, `{"note":"x"}`},
		{"redact missing adds nothing", opRedact, []string{`ssn="x"`, `customer.ssn="x"`}, `{"customer":{"name":"Jo"}}`, `{"customer":{"name":"Jo"}}`},
		{"redact nested path at a scalar keeps it", opRedact, []string{`id.x="r"`}, `{"id":42}`, `{"id":42}`},
		{"redact with an object value", opRedact, []string{`c.e={"masked":true}`}, `{"c":{"e":"a@b"}}`, `{"c":{"e":{"masked":true}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := ftFields(t, c.in)
			inCopy := slices.Clone(in)
			got, err := applyFields(in, ftTree(c.paths...), c.op, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := rawjson.AppendObject(nil, got)
			if string(out) != c.want {
				t.Errorf("applyFields(%s, %q, %v)\n got: %s\nwant: %s", c.in, c.paths, c.op, out, c.want)
			}
			if !json.Valid(out) {
				t.Errorf("invalid JSON: %s", out)
			}
			// Nothing is changed in place.
			if string(rawjson.AppendObject(nil, in)) != string(rawjson.AppendObject(nil, inCopy)) {
				t.Errorf("input modified: %s", rawjson.AppendObject(nil, in))
			}
		})
	}
}

// ftChanges builds changes from "key: old -> new" strings.
func ftChanges(t *testing.T, specs ...string) []change {
	t.Helper()
	var out []change
	for _, s := range specs {
		key, rest, _ := strings.Cut(s, ": ")
		old, nw, ok := strings.Cut(rest, " -> ")
		if !ok || !json.Valid([]byte(old)) || !json.Valid([]byte(nw)) {
			t.Fatalf("bad change spec %q", s)
		}
		out = append(out, change{key: []byte(key), old: []byte(old), new: []byte(nw)})
	}
	return out
}

// ftRenderChanges renders changes as "key: old -> new", joined by "; ".
func ftRenderChanges(cs []change) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(string(c.key) + ": " + string(c.old) + " -> " + string(c.new))
	}
	return b.String()
}

func TestApplyChanges(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		op    pathOp
		paths []string
		in    []string
		want  string
	}{
		{"keep leaf", opKeep, []string{"status"}, []string{`status: "a" -> "b"`, `total: 1 -> 2`}, `status: "a" -> "b"`},
		{"keep nothing", opKeep, []string{"x"}, []string{`status: "a" -> "b"`}, ``},
		{"drop leaf", opDrop, []string{"status"}, []string{`status: "a" -> "b"`, `total: 1 -> 2`}, `total: 1 -> 2`},
		{"redact leaf: replacement as old and new", opRedact, []string{`status="***"`}, []string{`status: "a" -> "b"`}, `status: "***" -> "***"`},
		{"redact leaf from null", opRedact, []string{`status="***"`}, []string{`status: null -> "b"`}, `status: "***" -> "***"`},
		{"drop nested: change only in the dropped field disappears", opDrop, []string{"customer.email"},
			[]string{`customer: {"name":"Jo","email":"a"} -> {"name":"Jo","email":"b"}`}, ``},
		{"drop nested: other nested change stays, without the field", opDrop, []string{"customer.email"},
			[]string{`customer: {"name":"Jo","email":"a"} -> {"name":"Al","email":"b"}`}, `customer: {"name":"Jo"} -> {"name":"Al"}`},
		{"keep nested: change only outside disappears", opKeep, []string{"customer.name"},
			[]string{`customer: {"name":"Jo","email":"a"} -> {"name":"Jo","email":"b"}`}, ``},
		{"keep nested: change inside stays", opKeep, []string{"customer.name"},
			[]string{`customer: {"name":"Jo","email":"a"} -> {"name":"Al","email":"b"}`}, `customer: {"name":"Jo"} -> {"name":"Al"}`},
		{"keep nested from null", opKeep, []string{"customer.name"},
			[]string{`customer: null -> {"name":"Al","email":"b"}`}, `customer: null -> {"name":"Al"}`},
		{"keep nested to null", opKeep, []string{"customer.name"},
			[]string{`customer: {"name":"Al","email":"b"} -> null`}, `customer: {"name":"Al"} -> null`},
		{"keep nested from a scalar: old becomes null", opKeep, []string{"customer.name"},
			[]string{`customer: "Jo" -> {"name":"Jo","email":"b"}`}, `customer: null -> {"name":"Jo"}`},
		{"keep nested, scalars on both sides: dropped", opKeep, []string{"customer.name"},
			[]string{`customer: "Jo" -> "Al"`}, ``},
		{"drop through arrays: price-only change disappears", opDrop, []string{"items.price"},
			[]string{`items: [{"sku":"A","price":1}] -> [{"sku":"A","price":2}]`}, ``},
		{"drop through arrays: an added element stays", opDrop, []string{"items.price"},
			[]string{`items: [{"sku":"A","price":1}] -> [{"sku":"A","price":2},{"sku":"B","price":3}]`}, `items: [{"sku":"A"}] -> [{"sku":"A"},{"sku":"B"}]`},
		{"redact nested: the change stays even if equal after", opRedact, []string{`customer.email="***"`},
			[]string{`customer: {"email":"a"} -> {"email":"b"}`}, `customer: {"email":"***"} -> {"email":"***"}`},
		{"redact nested: from null", opRedact, []string{`customer.email="***"`},
			[]string{`customer: null -> {"email":"b"}`}, `customer: null -> {"email":"***"}`},
		{"no rule for the key", opRedact, []string{`x="***"`}, []string{`status: "a" -> "b"`}, `status: "a" -> "b"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := applyChanges(ftChanges(t, c.in...), ftTree(c.paths...), c.op, make(splits))
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("nil changes: an update with no change left must send {}, not null")
			}
			if s := ftRenderChanges(got); s != c.want {
				t.Errorf("applyChanges(%q, %q, %v)\n got: %s\nwant: %s", c.in, c.paths, c.op, s, c.want)
			}
		})
	}
}

func TestFieldRulesApply(t *testing.T) {
	t.Parallel()
	r := fieldRules{
		include: ftTree("id", "customer", "status"),
		edit:    ftTree("customer.ssn", `customer.email="***"`, `status="?"`),
	}
	obj := ftFields(t, `{"id":1,"total":9,"customer":{"name":"Jo","email":"a@b","ssn":"123"},"status":"new"}`)
	changes := ftChanges(t, `total: 8 -> 9`, `customer: {"email":"x","ssn":"1"} -> {"email":"a@b","ssn":"123"}`, `status: "old" -> "new"`)
	gotObj, gotChanges, err := r.apply(obj, changes, make(splits))
	if err != nil {
		t.Fatal(err)
	}
	if s, want := string(rawjson.AppendObject(nil, gotObj)), `{"id":1,"customer":{"name":"Jo","email":"***"},"status":"?"}`; s != want {
		t.Errorf("object = %s, want %s", s, want)
	}
	if s, want := ftRenderChanges(gotChanges), `customer: {"email":"***"} -> {"email":"***"}; status: "?" -> "?"`; s != want {
		t.Errorf("changes = %s, want %s", s, want)
	}
	// Not an update: changes stay nil (sent as null).
	if _, ch, err := r.apply(obj, nil, nil); err != nil || ch != nil {
		t.Errorf("apply(obj, nil) changes = %v, %v; want nil", ch, err)
	}
}

func TestCompileRules(t *testing.T) {
	t.Parallel()
	ep := Endpoint{
		IncludeFields: map[string][]string{"*": {"id", "name"}, "store.Order": {"id", "total"}},
		ExcludeFields: map[string][]string{"*": {"password"}, "store.Customer": {"ssn"}},
		RedactFields: map[string]map[string]any{
			"*":              {"email": "***", "phone": "###"},
			"store.Customer": {"email": "***@***.com"},
		},
	}
	rs, err := compileRules(&ep)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		label      string
		include    []string
		exclude    []string
		redactions []string
	}{
		// The model's own include list replaces "*".
		{"store.Order", []string{"id=", "total="}, []string{"password="}, []string{`email="***"`, `phone="###"`}},
		// Excludes merge; the model's own redaction wins for the same field.
		{"store.Customer", []string{"id=", "name="}, []string{"password=", "ssn="}, []string{`email="***@***.com"`, `phone="###"`}},
		{"other.Model", []string{"id=", "name="}, []string{"password="}, []string{`email="***"`, `phone="###"`}},
	} {
		r := rs.forModel(c.label)
		if r == nil {
			t.Fatalf("%s: no rules", c.label)
		}
		var include, edit []string
		if r.include != nil {
			include = ftShape(r.include)
		}
		if r.edit != nil {
			edit = ftShape(r.edit)
		}
		wantEdit := slices.Sorted(slices.Values(append(slices.Clone(c.exclude), c.redactions...)))
		if !slices.Equal(include, c.include) {
			t.Errorf("%s: include = %q, want %q", c.label, include, c.include)
		}
		if !slices.Equal(edit, wantEdit) {
			t.Errorf("%s: edit (exclude and redact) = %q, want %q", c.label, edit, wantEdit)
		}
	}

	// No rules at all: nil, the shared-body fast path.
	rs, err = compileRules(&Endpoint{})
	if err != nil || rs.forModel("store.Order") != nil {
		t.Errorf("empty endpoint: rules %v, %v; want nil", rs.forModel("store.Order"), err)
	}
	// Rules for one model only: others get none.
	rs, err = compileRules(&Endpoint{ExcludeFields: map[string][]string{"store.Customer": {"ssn"}}})
	if err != nil || rs.forModel("store.Order") != nil || rs.forModel("store.Customer") == nil {
		t.Errorf("Customer-only rules: Order %v, Customer %v, err %v", rs.forModel("store.Order"), rs.forModel("store.Customer"), err)
	}

	// Errors name the rule and the model, never the replacement value.
	for _, bad := range []Endpoint{
		{IncludeFields: map[string][]string{"store": {"id"}}},
		{ExcludeFields: map[string][]string{"*": {"a..b"}}},
		{IncludeFields: map[string][]string{"*": {""}}},
		{RedactFields: map[string]map[string]any{"*": {"a.": "x"}}},
		{RedactFields: map[string]map[string]any{"*": {"email": make(chan int)}}},
		{RedactFields: map[string]map[string]any{"not a label": {"email": "x"}}},
	} {
		if _, err := compileRules(&bad); err == nil {
			t.Errorf("compileRules(%+v): no error", bad)
		}
	}
	_, err = compileRules(&Endpoint{RedactFields: map[string]map[string]any{"*": {"email": func() {}}}})
	if err == nil || !strings.Contains(err.Error(), `"email"`) {
		t.Errorf("unserialisable replacement: error %v, want one naming the field", err)
	}
}

// TestPathTreeLiteralDottedKeys: a dotted rule path also matches a
// top-level key spelled with the dots, as flattened maps have them.
func TestPathTreeLiteralDottedKeys(t *testing.T) {
	t.Parallel()
	obj := ftFields(t, `{"user.email":"a@b","user":{"email":"c@d","name":"Jo"},"card.number":"4111","id":1,"meta":{"user.email":"e@f","x.card":{"number":"5"}}}`)
	for _, c := range []struct {
		name  string
		op    pathOp
		paths []string
		want  string
	}{
		{"exclude", opEdit, []string{"user.email", "meta.user.email"}, `{"user":{"name":"Jo"},"card.number":"4111","id":1,"meta":{"x.card":{"number":"5"}}}`},
		{"redact", opEdit, []string{`card.number="****"`, `meta.x.card.number="*"`}, `{"user.email":"a@b","user":{"email":"c@d","name":"Jo"},"card.number":"****","id":1,"meta":{"user.email":"e@f","x.card":{"number":"*"}}}`},
		{"include", opKeep, []string{"user.email", "id"}, `{"user.email":"a@b","user":{"email":"c@d"},"id":1}`},
		{"exclude a parent", opEdit, []string{"meta.x"}, `{"user.email":"a@b","user":{"email":"c@d","name":"Jo"},"card.number":"4111","id":1,"meta":{"user.email":"e@f"}}`},
	} {
		got, err := applyFields(obj, ftTree(c.paths...), c.op, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(rawjson.AppendObject(nil, got)); s != c.want {
			t.Errorf("%s %q:\n got %s\nwant %s", c.name, c.paths, s, c.want)
		}
	}
}

// applyFields applies t to an object's fields.
func applyFields(fields []rawjson.Field, t *pathTree, op pathOp, sc splits) ([]rawjson.Field, error) {
	out, _, err := editFields(fields, t, op, sc)
	return out, err
}
