package webhook

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookrail/webhook/internal/rawjson"
	store "github.com/hookrail/webhook/internal/testmodels/rvmodels"
	billing "github.com/hookrail/webhook/internal/testmodels/v2"
)

type ptOrder struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type ptAttrs map[string]any

var ptNow = time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)

func TestLabelOf(t *testing.T) {
	t.Parallel()
	o := ptOrder{}
	po := &o
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"struct", ptOrder{}, "webhook.ptOrder"},
		{"pointer", &o, "webhook.ptOrder"},
		{"pointer to pointer", &po, "webhook.ptOrder"},
		{"named map", ptAttrs{}, "webhook.ptAttrs"},
		{"map", map[string]any{}, ""},
		{"anonymous struct", struct{ ID string }{}, ""},
		{"nil", nil, ""},
		{"nil pointer", (*ptOrder)(nil), "webhook.ptOrder"},
		{"builtin", 42, ""},
		{"stdlib type", strings.Builder{}, "strings.Builder"},
		// The package clause's name, not the folder's.
		{"package store in folder rvmodels", store.Customer{}, "store.Customer"},
		{"package billing in folder v2", &billing.Invoice{}, "billing.Invoice"},
		{"internal package", rawjson.Field{}, "rawjson.Field"},
	} {
		if got := labelOf(c.v); got != c.want {
			t.Errorf("%s: labelOf(%T) = %q, want %q", c.name, c.v, got, c.want)
		}
	}
}

func TestParseLabel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		label string
		want  ModelInfo
		ok    bool
	}{
		{"store.Order", ModelInfo{App: "store", Name: "Order", Label: "store.Order"}, true},
		{"inventory.StockMovement", ModelInfo{App: "inventory", Name: "StockMovement", Label: "inventory.StockMovement"}, true},
		{"webhook_test.Order", ModelInfo{App: "webhook_test", Name: "Order", Label: "webhook_test.Order"}, true},
		{"_a._B9", ModelInfo{App: "_a", Name: "_B9", Label: "_a._B9"}, true},
		{"a1.B2", ModelInfo{App: "a1", Name: "B2", Label: "a1.B2"}, true},
		{"", ModelInfo{}, false},
		{"store", ModelInfo{}, false},
		{"store.", ModelInfo{}, false},
		{".Order", ModelInfo{}, false},
		{".", ModelInfo{}, false},
		{"a.b.c", ModelInfo{}, false},
		{"1store.Order", ModelInfo{}, false},
		{"store.9Order", ModelInfo{}, false},
		{"store .Order", ModelInfo{}, false},
		{" store.Order", ModelInfo{}, false},
		{"store.Order ", ModelInfo{}, false},
		{"store-app.Order", ModelInfo{}, false},
		{"store.Order\n", ModelInfo{}, false},
		{"*", ModelInfo{}, false},
	} {
		got, err := parseLabel(c.label)
		if (err == nil) != c.ok {
			t.Errorf("parseLabel(%q) error = %v, want ok=%v", c.label, err, c.ok)
			continue
		}
		if got != c.want {
			t.Errorf("parseLabel(%q) = %+v, want %+v", c.label, got, c.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "event model: label ") {
			t.Errorf("parseLabel(%q) error %q does not name the label (Emit adds \"webhook: invalid event: \")", c.label, err)
		}
	}
}

// ptDiff runs diff(old, new) as Emit does and renders the changes.
func ptDiff(t *testing.T, old, cur any) string {
	t.Helper()
	b, err := json.Marshal(cur)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := rawjson.Fields(b)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := diff(old, fields)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	if cs == nil {
		t.Fatal("diff returned nil: an update without changes must send {}")
	}
	return ftRenderChanges(cs)
}

type ptCustomer struct {
	Name  string         `json:"name"`
	Email string         `json:"email,omitempty"`
	Tags  []string       `json:"tags"`
	Attrs map[string]any `json:"attrs"`
}

type ptRich struct {
	ID       int         `json:"id"`
	Status   string      `json:"status"`
	Customer *ptCustomer `json:"customer"`
	Total    float64     `json:"total"`
	Internal string      `json:"-"`
}

func TestDiff(t *testing.T) {
	t.Parallel()
	rich := func(mod func(*ptRich)) ptRich {
		r := ptRich{ID: 1, Status: "pending", Total: 9.5, Internal: "a",
			Customer: &ptCustomer{Name: "Jo", Tags: []string{"a", "b"}, Attrs: map[string]any{"x": 1, "y": map[string]any{"z": true}}}}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	for _, c := range []struct {
		name     string
		old, cur any
		want     string
	}{
		{"maps, no change", map[string]any{"a": 1, "b": "x"}, map[string]any{"b": "x", "a": 1}, ``},
		{"maps, one change", map[string]any{"a": 1, "b": "x"}, map[string]any{"a": 2, "b": "x"}, `a: 1 -> 2`},
		{"maps, nested deep equal in another insertion order",
			map[string]any{"c": map[string]any{"x": 1, "y": []any{1, map[string]any{"p": 1, "q": 2}}}},
			map[string]any{"c": map[string]any{"y": []any{1, map[string]any{"q": 2, "p": 1}}, "x": 1}}, ``},
		{"maps, nested deep change", map[string]any{"c": map[string]any{"x": 1, "y": []any{1, 2}}},
			map[string]any{"c": map[string]any{"x": 1, "y": []any{1, 3}}}, `c: {"x":1,"y":[1,2]} -> {"x":1,"y":[1,3]}`},
		{"maps, field added", map[string]any{"a": 1}, map[string]any{"a": 1, "b": "new"}, `b: null -> "new"`},
		{"maps, field removed", map[string]any{"a": 1, "b": "old"}, map[string]any{"a": 1}, `b: "old" -> null`},
		{"maps, added and removed: new order, then removed", map[string]any{"a": 1, "z": 0}, map[string]any{"a": 2, "b": 1}, `a: 1 -> 2; b: null -> 1; z: 0 -> null`},
		{"maps, numbers compared as written", map[string]any{"n": 1.0}, map[string]any{"n": 1}, ``},
		{"maps, type change", map[string]any{"n": "1"}, map[string]any{"n": 1}, `n: "1" -> 1`},
		{"structs, no change", rich(nil), rich(nil), ``},
		{"structs, ignored field changed", rich(nil), rich(func(r *ptRich) { r.Internal = "b" }), ``},
		{"structs, top-level change", rich(nil), rich(func(r *ptRich) { r.Status = "shipped" }), `status: "pending" -> "shipped"`},
		{"structs, nested map deep equal", rich(nil), rich(func(r *ptRich) {
			r.Customer = &ptCustomer{Name: "Jo", Tags: []string{"a", "b"}, Attrs: map[string]any{"y": map[string]any{"z": true}, "x": 1}}
		}), ``},
		{"structs, nested slice change", rich(nil), rich(func(r *ptRich) { r.Customer.Tags = []string{"a"} }),
			`customer: {"name":"Jo","tags":["a","b"],"attrs":{"x":1,"y":{"z":true}}} -> {"name":"Jo","tags":["a"],"attrs":{"x":1,"y":{"z":true}}}`},
		{"structs, omitempty field appears", rich(nil), rich(func(r *ptRich) { r.Customer.Email = "e" }),
			`customer: {"name":"Jo","tags":["a","b"],"attrs":{"x":1,"y":{"z":true}}} -> {"name":"Jo","email":"e","tags":["a","b"],"attrs":{"x":1,"y":{"z":true}}}`},
		{"structs, nested pointer to nil", rich(nil), rich(func(r *ptRich) { r.Customer = nil }),
			`customer: {"name":"Jo","tags":["a","b"],"attrs":{"x":1,"y":{"z":true}}} -> null`},
		{"structs, pointers", &ptOrder{ID: "1", Status: "a"}, &ptOrder{ID: "1", Status: "b"}, `status: "a" -> "b"`},
		{"struct and map of the same fields", ptOrder{ID: "1", Status: "a"}, map[string]any{"id": "1", "status": "b"}, `status: "a" -> "b"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := ptDiff(t, c.old, c.cur); got != c.want {
				t.Errorf("diff\n got: %s\nwant: %s", got, c.want)
			}
		})
	}

	// The old object must be a JSON object too.
	fields, _ := rawjson.Fields([]byte(`{"a":1}`))
	for _, old := range []any{nil, 42, "x", []int{1}, map[string]any{"f": func() {}}} {
		if _, err := diff(old, fields); err == nil {
			t.Errorf("diff(%T): no error", old)
		}
	}
}

func TestNewSnapshotUpdate(t *testing.T) {
	t.Parallel()
	// Update computes the changes; hand-written Changes win; an update
	// without either sends {}.
	ev := Update(ptOrder{ID: "1", Status: "a"}, ptOrder{ID: "1", Status: "b"})
	s, err := newSnapshot(&ev, ModelInfo{App: "store", Name: "Order", Label: "store.Order"}, "evt_1", ptNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"evt_1","event":"updated","timestamp":"2026-01-16T12:00:00Z","model":{"app":"store","name":"Order","label":"store.Order"},"object":{"id":"1","status":"b"},"changes":{"status":{"old":"a","new":"b"}},"user":null}`
	if got := string(s.plainBody()); got != want {
		t.Errorf("body\n got: %s\nwant: %s", got, want)
	}

	ev = Event{Type: Updated, Object: ptOrder{ID: "1"}}
	s, err = newSnapshot(&ev, ModelInfo{App: "store", Name: "Order", Label: "store.Order"}, "evt_1", ptNow, &Actor{ID: "1", Username: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.plainBody()); !strings.Contains(got, `"changes":{},"user":{"id":"1","username":"admin"}}`) {
		t.Errorf("update without changes: %s", got)
	}

	ev = Event{Type: Created, Object: ptOrder{ID: "1"}, Changes: map[string]Change{"x": {Old: 1, New: 2}}}
	s, err = newSnapshot(&ev, ModelInfo{App: "store", Name: "Order", Label: "store.Order"}, "evt_1", ptNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.plainBody()); !strings.Contains(got, `"changes":null`) {
		t.Errorf("created event with Changes: %s, want changes null", got)
	}

	// Keys of hand-written changes are escaped like encoding/json's.
	ev = Event{Type: Updated, Object: ptOrder{ID: "1"}, Changes: map[string]Change{"<a>\u2028": {Old: "x", New: "y"}}}
	s, err = newSnapshot(&ev, ModelInfo{App: "store", Name: "Order", Label: "store.Order"}, "evt_1", ptNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := s.plainBody()
	if !json.Valid(b) || !strings.Contains(string(b), `"changes":{"\u003ca\u003e\u2028":{"old":"x","new":"y"}}`) {
		t.Errorf("escaped change key: %s", b)
	}

	for _, bad := range []any{nil, 1, "s", []int{}, map[string]any{"f": func() {}}} {
		ev := Create(bad)
		if _, err := newSnapshot(&ev, ModelInfo{}, "evt_1", ptNow, nil); err == nil {
			t.Errorf("object %T: no error", bad)
		}
	}
}

// ptTricky are strings whose JSON escaping is easy to get wrong.
var ptTricky = []string{
	"",
	"plain",
	"<script>&amp;</script>",
	"a\u2028b\u2029c",
	"\u2027\u202a",
	"\xff",
	"a\xffb\xfe",
	"\xe2\x80",         // a truncated U+2028
	"\xe2\x80\xa8",     // U+2028 itself, as bytes
	"\xed\xa0\x80",     // a UTF-16 surrogate encoded in UTF-8
	"\xf4\x90\x80\x80", // beyond U+10FFFF
	"\xc0\x80",         // overlong NUL
	"\ufffd",
	"quote\" backslash\\ slash/",
	"\x00\x01\x07\x1f\x7f",
	"\b\f\n\r\t",
	"tab\there",
	"émoji 🎉 日本語",
	strings.Repeat("<&>", 50) + "\x80",
}

func init() {
	for b := range 0x20 {
		ptTricky = append(ptTricky, "c"+string(rune(b))+"c")
	}
}

func TestAppendStringLikeEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range ptTricky {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got := rawjson.AppendString([]byte("prefix:"), s)
		if !strings.HasPrefix(string(got), "prefix:") {
			t.Fatalf("AppendString(%q) lost the prefix: %q", s, got)
		}
		got = got[len("prefix:"):]
		if string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
		if !json.Valid(got) || !utf8.Valid(got) {
			t.Errorf("AppendString(%q) = %q is not valid UTF-8 JSON", s, got)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range ptTricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := rawjson.AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	})
}

func TestAppendTimestamp(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{
		time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC),
		time.Date(1, 2, 3, 4, 5, 6, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 7, 4, 9, 8, 7, 0, time.FixedZone("X", 3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 1, 2, 3, 0, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 2, 29, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := string(appendTimestamp(nil, tm)), tm.Format(time.RFC3339); got != want {
			t.Errorf("appendTimestamp(%v) = %s, want %s", tm, got, want)
		}
	}
	// Every fifth day or so of 0001 to 9999, at a time of day that moves.
	for tm := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC); tm.Year() < 10000; tm = tm.Add(5*24*time.Hour + 3661*time.Second) {
		if got, want := string(appendTimestamp(nil, tm)), tm.Format(time.RFC3339); got != want {
			t.Fatalf("appendTimestamp(%v) = %s, want %s", tm, got, want)
		}
	}
}
