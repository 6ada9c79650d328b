package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook/internal/rawjson"
)

// Named types for the key order tests; exported, so that reflect.StructOf
// can embed them.
type (
	KoE1 struct {
		A     int
		B     string `json:"b,omitempty"`
		Email string `json:"email"`
	}
	KoE2 struct {
		A int `json:"a"`
		X *int
		KoE1
	}
	KoCycle struct {
		*KoCycle
		C int `json:"c"`
	}
	KoTagged struct {
		KoE1 `json:"e1"`
		Z    int
	}
	KoSelf   struct{ A int }
	KoSelfP  struct{ A int }
	KoText   struct{ A int }
	KoAppend struct{ A int }
	KoTo     struct{ A int }
	KoQuoted struct {
		ID int `json:"'ID'"`
	}
	KoInline struct {
		A    int
		Rest map[string]any `json:",inline"`
	}
)

func (KoSelf) MarshalJSON() ([]byte, error)          { return []byte(`{"secret":1}`), nil }
func (*KoSelfP) MarshalJSON() ([]byte, error)        { return []byte(`{"secret":1}`), nil }
func (KoText) MarshalText() ([]byte, error)          { return []byte("secret"), nil }
func (KoAppend) AppendText(b []byte) ([]byte, error) { return append(b, "secret"...), nil }
func (*KoTo) MarshalJSONTo(any) error                { return nil }

func TestKeyOrderOf(t *testing.T) {
	t.Parallel()
	type plain struct {
		ID     int    `json:"id"`
		Name   string `json:"name,omitempty"`
		Hidden string `json:"-"`
		//lint:ignore SA5008 the key "-", spelled as encoding/json documents it
		Dash     string `json:"-,"`
		Untagged bool
		//lint:ignore U1000 an unexported field is listed too
		lower  int
		Quoted int `json:",string"`
	}
	type embeds struct {
		Before int `json:"before"`
		KoE2
		*KoCycle
		KoTagged
		After int `json:"after,omitzero"`
	}
	for _, tc := range []struct {
		name string
		typ  reflect.Type
		want []string // nil: no key order
	}{
		{"struct", reflect.TypeFor[plain](), []string{"id", "ID", "name", "Name", "-", "Hidden", "-", "Dash", "Untagged", "lower", "Quoted"}},
		{"pointer", reflect.TypeFor[*plain](), []string{"id", "ID", "name", "Name", "-", "Hidden", "-", "Dash", "Untagged", "lower", "Quoted"}},
		{"embedded in place, cycles entered once", reflect.TypeFor[embeds](), []string{
			"before", "Before",
			"KoE2", "a", "A", "X", "KoE1", "A", "b", "B", "email", "Email",
			"KoCycle", "KoCycle", "c", "C",
			"KoTagged", "e1", "KoE1", "A", "b", "B", "email", "Email", "Z",
			"after", "After"}},
		{"MarshalJSON", reflect.TypeFor[KoSelf](), nil},
		{"MarshalJSON on the pointer", reflect.TypeFor[KoSelfP](), nil},
		{"MarshalJSON, as a pointer", reflect.TypeFor[*KoSelfP](), nil},
		{"MarshalText", reflect.TypeFor[KoText](), nil},
		{"AppendText", reflect.TypeFor[KoAppend](), nil},
		{"MarshalJSONTo", reflect.TypeFor[KoTo](), nil},
		{"time.Time", reflect.TypeFor[time.Time](), nil},
		{"inline option", reflect.TypeFor[KoInline](), nil},
		{"single-quoted name (jsonv2 unquotes it)", reflect.StructOf([]reflect.StructField{{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"'Z'"`}}), nil},
		{"quote in a name (jsonv2 cuts it there)", reflect.StructOf([]reflect.StructField{{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"a\"b"`}}), nil},
		{"backslash in a name", reflect.StructOf([]reflect.StructField{{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"a\\b"`}}), nil},
		{"invalid UTF-8 in a name (jsonv2 mends it)", reflect.StructOf([]reflect.StructField{{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"a\xffb"`}}), nil},
		{"quoted name in an embedded struct", reflect.StructOf([]reflect.StructField{{Name: "KoE1", Type: reflect.TypeFor[KoE1](), Anonymous: true}, {Name: "Q", Type: reflect.TypeFor[KoQuoted]()}, {Name: "KoQuoted", Type: reflect.TypeFor[KoQuoted](), Anonymous: true}}), nil},
		{"map", reflect.TypeFor[map[string]any](), nil},
		{"pointer to pointer", reflect.TypeFor[**plain](), nil},
		{"nil", nil, nil},
	} {
		got := newKeyOrder(tc.typ)
		switch {
		case tc.want == nil && got != nil:
			t.Errorf("%s: key order %q, want none", tc.name, got.names)
		case tc.want != nil && got == nil:
			t.Errorf("%s: no key order, want %q", tc.name, tc.want)
		case tc.want != nil && !slices.Equal(got.names, tc.want):
			t.Errorf("%s: key order\n%q\nwant\n%q", tc.name, got.names, tc.want)
		}
	}
}

// TestKeyOrderCache: an Emitter builds a type's order once and remembers
// the types that have none.
func TestKeyOrderCache(t *testing.T) {
	t.Parallel()
	var c keyOrders
	a, b := c.of(reflect.TypeFor[KoE2]()), c.of(reflect.TypeFor[KoE2]())
	if a == nil || a != b {
		t.Fatalf("of(KoE2) = %p, then %p; want one order", a, b)
	}
	if o := c.of(reflect.TypeFor[KoSelf]()); o != nil {
		t.Fatalf("of(KoSelf) = %q, want nil", o.names)
	}
	if o := c.of(reflect.TypeFor[KoSelf]()); o != nil {
		t.Fatalf("of(KoSelf), again = %q, want nil", o.names)
	}
	if o := c.of(nil); o != nil {
		t.Fatalf("of(nil) = %q, want nil", o.names)
	}
}

// TestKeyHorizonStopsEarly: past the last field a rule names, the rest of
// the object is copied as it is (here: a value the walk would reject), and
// the result otherwise equals the full walk.
func TestKeyHorizonStopsEarly(t *testing.T) {
	t.Parallel()
	type order struct {
		ID    int    `json:"id"`
		Email string `json:"email"`
		Notes string `json:"notes"`
		Items []int  `json:"items"`
	}
	var tree pathTree
	tree.add("email", []byte(`"***"`))
	h := newKeyHorizon(newKeyOrder(reflect.TypeFor[order]()), &tree)
	if h.last != 2 { // "id" "ID" "email"
		t.Fatalf("horizon at %d, want 2", h.last)
	}
	raw := []byte(`{"id":1,"email":"jo@x","notes":"n","items":[1,2}`)
	got, used, err := appendFilteredObject(nil, raw, &tree, h)
	if err != nil || used != len(raw) {
		t.Fatalf("appendFilteredObject: used %d of %d, %v", used, len(raw), err)
	}
	if want := `{"id":1,"email":"***","notes":"n","items":[1,2}`; string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// A key the order does not list turns the shortcut off: the walk goes
	// on to the end (and meets the malformed value).
	raw = []byte(`{"id":1,"extra":2,"email":"jo@x","notes":"n","items":[1,2}`)
	if got, _, err := appendFilteredObject(nil, raw, &tree, h); err == nil {
		t.Fatalf("unknown key: got %s, want the walk to reach the malformed value", got)
	}
	// A rule on the last field: only Go names of tagged fields follow its
	// position: the cache gives no horizon.
	var last pathTree
	last.add("items", nil)
	if lh := newKeyHorizon(h.order, &last); lh.last < h.order.lastPlain {
		t.Errorf("horizon of a rule on the last field at %d, want at or past %d", lh.last, h.order.lastPlain)
	}
	var c horizonCache
	if got := c.get(h.order, &last); got != nil {
		t.Errorf("horizonCache.get for a rule on the last field = %+v, want nil", got)
	}
	var c2 horizonCache // a cache serves one tree
	if got := c2.get(h.order, &tree); got == nil || got.last != 2 {
		t.Errorf("horizonCache.get for the email rule = %+v, want the horizon at 2", got)
	}
	// Everything a rule reaches dropped, nothing before the horizon kept.
	var drop pathTree
	drop.add("id", nil)
	raw = []byte(`{"id":1,"email":"jo@x","notes":"n"}`)
	got, _, err = appendFilteredObject(nil, raw, &drop, newKeyHorizon(h.order, &drop))
	if err != nil || string(got) != `{"email":"jo@x","notes":"n"}` {
		t.Fatalf("drop id: %s, %v", got, err)
	}
}

// FuzzKeyOrder builds struct types with reflect.StructOf (tags, embedded
// structs named and unnamed, pointers, name clashes between levels,
// omitempty), fills values, marshals them and checks that:
//
//   - the keys of every object are found in the type's key order, in order;
//   - filtering with the horizon gives the same bytes as the full walk, for
//     random exclude and redact rules.
//
// Run it for a while with
//
//	go test -run '^$' -fuzz 'FuzzKeyOrder$' -fuzztime 60s .
func FuzzKeyOrder(f *testing.F) {
	for _, seed := range []string{
		"\x03\x00\x01\x01\x02\x05\x03\x06\x01\x02\x03\x04",
		"\x05\x05\x00\x06\x01\x06\x02\x06\x03\x00\x01\x02\x03\x04\x05\x06\x07",
		"\x06\x04\x02\x05\x01\x00\x03\x06\x04\x07\x02\x01\x01\x01\x01\x01\x01\x01\x01",
		"\x02\x06\x00\x06\x05\x09\x09\x09\x01\x00\x02",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &koReader{b: in}
		typ := koType(r, 0)
		v := reflect.New(typ).Elem()
		koFill(r, v, 0)
		raw, err := json.Marshal(v.Interface())
		if err != nil {
			return
		}
		order := newKeyOrder(typ)
		if order == nil {
			// Only names jsonv2 reads its own way turn the order off here.
			if !koQuotedTag(typ) {
				t.Fatalf("%v: no key order", typ)
			}
			return
		}
		// Every key, in order.
		all := keyCursor{h: &keyHorizon{order: order, last: len(order.names)}}
		it := rawjson.ObjectIter(raw)
		for {
			key, _, ok := it.NextKey()
			if !ok {
				break
			}
			if all.beyond(key); all.h == nil {
				t.Fatalf("%v: %s: key %q is not in the order %q after position %d", typ, raw, key, order.names, all.pos)
			}
			it.Value()
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		// The same filtering with and without the horizon.
		var tree pathTree
		var rules []string
		for range 1 + r.next(3) {
			path := koPaths[r.next(len(koPaths))]
			var value []byte
			if r.next(2) == 0 {
				value = []byte(`"***"`)
			}
			tree.add(path, value)
			rules = append(rules, fmt.Sprintf("%s=%s", path, value))
		}
		want, _, err := appendFiltered(nil, raw, &tree)
		if err != nil {
			t.Fatal(err)
		}
		h := newKeyHorizon(order, &tree)
		got, used, err := appendFilteredObject(nil, raw, &tree, h)
		if err != nil || used != len(raw) || !bytes.Equal(got, want) {
			t.Fatalf("%v\nobject %s\nrules %q (horizon %d of %q)\ngot  %s (%d, %v)\nwant %s", typ, raw, rules, h.last, order.names, got, used, err, want)
		}
	})
}

// koPaths are the rule paths FuzzKeyOrder picks from: the names koType
// gives fields, as Go names and tag names, alone and nested.
var koPaths = []string{
	"A", "a", "B", "b", "C", "c", "X", "email", "Email", "E", "e1", "Z", "id",
	"S0", "S1", "S2", "KoE1", "KoE2", "KoE1.A", "S0.A", "S1.b", "e1.email", "c.d", "c.d.A", "N.A", "N.email",
}

var (
	koFieldNames = []string{"A", "B", "C", "X", "E", "Z", "N"}
	koTags       = []reflect.StructTag{
		"", `json:"a"`, `json:"b,omitempty"`, `json:"-"`, `json:"-,"`, `json:"a,string"`,
		`json:",omitempty"`, `json:"email"`, `json:"c.d"`, `json:"id,omitzero"`, `json:"A"`, `json:"e1"`,
		`json:"'Z'"`, `json:"a\"b"`, `json:"'email'"`, `json:"a b"`, `json:"€"`,
	}
	koEmbeds = []reflect.Type{
		reflect.TypeFor[KoE1](), reflect.TypeFor[*KoE1](), reflect.TypeFor[KoE2](),
		reflect.TypeFor[*KoCycle](), reflect.TypeFor[KoTagged](), reflect.TypeFor[KoQuoted](),
	}
)

type koReader struct{ b []byte }

// next returns the next input byte modulo n; 0 once the input is used up.
func (r *koReader) next(n int) int {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return int(c) % n
}

// koType builds a struct type from the input.
func koType(r *koReader, depth int) reflect.Type {
	var fields []reflect.StructField
	used := map[string]bool{}
	for i := range 1 + r.next(6) {
		var sf reflect.StructField
		switch kind := r.next(8); {
		case kind == 5 && depth < 2: // an unnamed struct, embedded
			sf = reflect.StructField{Name: fmt.Sprintf("S%d", i), Type: koType(r, depth+1), Anonymous: true}
		case kind == 6: // a named struct, embedded (value or pointer)
			et := koEmbeds[r.next(len(koEmbeds))]
			name := et.Name()
			if et.Kind() == reflect.Pointer {
				name = et.Elem().Name()
			}
			sf = reflect.StructField{Name: name, Type: et, Anonymous: true}
		case kind == 4 && depth < 2: // a nested struct, as a value
			sf = reflect.StructField{Name: koFieldNames[r.next(len(koFieldNames))], Type: koType(r, depth+1)}
		default:
			types := []reflect.Type{reflect.TypeFor[int](), reflect.TypeFor[string](), reflect.TypeFor[*int](), reflect.TypeFor[[]int](), reflect.TypeFor[map[string]int]()}
			sf = reflect.StructField{Name: koFieldNames[r.next(len(koFieldNames))], Type: types[kind%len(types)]}
		}
		if used[sf.Name] {
			continue
		}
		if sf.Anonymous && len(fields) > 0 && (sf.Type.NumMethod() > 0 || reflect.PointerTo(sf.Type).NumMethod() > 0) {
			continue // StructOf embeds a type with methods first only
		}
		used[sf.Name] = true
		sf.Tag = koTags[r.next(len(koTags))]
		if strings.Contains(string(sf.Tag), "string") && sf.Type.Kind() != reflect.Int {
			sf.Tag = ""
		}
		fields = append(fields, sf)
	}
	return reflect.StructOf(fields)
}

// koQuotedTag reports a tag name with a quote or a backslash in t or in
// the structs it embeds.
func koQuotedTag(t reflect.Type) bool {
	return koQuotedTagDepth(t, 0)
}

func koQuotedTagDepth(t reflect.Type, depth int) bool {
	if depth > 4 {
		return false
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if strings.ContainsAny(name, `'"\`) || (sf.Anonymous && koQuotedTagDepth(sf.Type, depth+1)) {
			return true
		}
	}
	return false
}

// koFill sets v's settable fields from the input: zero or not.
func koFill(r *koReader, v reflect.Value, depth int) {
	if depth > 4 {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				koFill(r, f, depth+1)
			}
		}
	case reflect.Pointer:
		if r.next(3) != 0 {
			v.Set(reflect.New(v.Type().Elem()))
			koFill(r, v.Elem(), depth+1)
		}
	case reflect.Int:
		v.SetInt(int64(r.next(3)))
	case reflect.String:
		if n := r.next(3); n > 0 {
			v.SetString(strings.Repeat("s", n))
		}
	case reflect.Slice:
		if r.next(2) == 1 {
			v.Set(reflect.ValueOf([]int{1, 2}))
		}
	case reflect.Map:
		if r.next(2) == 1 {
			v.Set(reflect.ValueOf(map[string]int{"A": 1, "email": 2}))
		}
	}
}
