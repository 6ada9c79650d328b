package rawjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeAny decodes one JSON value with numbers kept as written.
func decodeAny(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

func TestFields(t *testing.T) {
	t.Parallel()
	type kv struct{ key, raw, value string }
	for _, c := range []struct {
		in   string
		want []kv
	}{
		{`{}`, []kv{}},
		{`{"a":1}`, []kv{{"a", `"a"`, `1`}}},
		{`{"a":1,"b":"x","c":null,"d":true,"e":false}`, []kv{{"a", `"a"`, `1`}, {"b", `"b"`, `"x"`}, {"c", `"c"`, `null`}, {"d", `"d"`, `true`}, {"e", `"e"`, `false`}}},
		{`{"n":-1.5e+10,"m":0}`, []kv{{"n", `"n"`, `-1.5e+10`}, {"m", `"m"`, `0`}}},
		{`{"o":{"a":{"b":[1,{"c":"}"}]}},"p":[]}`, []kv{{"o", `"o"`, `{"a":{"b":[1,{"c":"}"}]}}`}, {"p", `"p"`, `[]`}}},
		{`{"s":"a\"b\\","t":"{[,:]}"}`, []kv{{"s", `"s"`, `"a\"b\\"`}, {"t", `"t"`, `"{[,:]}"`}}},
		{`{"k\"ey":1,"\u00e9":2,"\ud83c\udf89":3,"a\\":4}`, []kv{{`k"ey`, `"k\"ey"`, `1`}, {"é", `"\u00e9"`, `2`}, {"🎉", `"\ud83c\udf89"`, `3`}, {`a\`, `"a\\"`, `4`}}},
		{`{"dup":1,"dup":2}`, []kv{{"dup", `"dup"`, `1`}, {"dup", `"dup"`, `2`}}},
		{`{"":""}`, []kv{{"", `""`, `""`}}},
		// White space anywhere JSON allows it.
		{" \t\r\n{ \"a\" : 1 , \"b\"\n:\t[ 1 , 2 ] ,\"c\": { \"d\" : null } } \n", []kv{{"a", `"a"`, `1`}, {"b", `"b"`, `[ 1 , 2 ]`}, {"c", `"c"`, `{ "d" : null }`}}},
		{"{\n}", []kv{}},
	} {
		fs, err := Fields([]byte(c.in))
		if err != nil {
			t.Errorf("Fields(%q): %v", c.in, err)
			continue
		}
		got := []kv{}
		for _, f := range fs {
			got = append(got, kv{string(f.Key), string(f.RawKey), string(f.Value)})
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Fields(%q)\n got: %q\nwant: %q", c.in, got, c.want)
		}
	}
}

func TestFieldsAlias(t *testing.T) {
	t.Parallel()
	in := []byte(`{"a":"xyz"}`)
	fs, err := Fields(in)
	if err != nil {
		t.Fatal(err)
	}
	if &fs[0].Value[0] != &in[5] || &fs[0].RawKey[0] != &in[1] {
		t.Error("Fields copied the value: it should alias the input")
	}
}

func TestElements(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want []string
	}{
		{`[]`, []string{}},
		{`[ ]`, []string{}},
		{`[1]`, []string{`1`}},
		{`[1,"a",null,true,{"b":[2]},[3,[4]]]`, []string{`1`, `"a"`, `null`, `true`, `{"b":[2]}`, `[3,[4]]`}},
		{` [ 1 , "],[" ,{ } ] `, []string{`1`, `"],["`, `{ }`}},
		{`["\"]"]`, []string{`"\"]"`}},
	} {
		els, err := Elements([]byte(c.in))
		if err != nil {
			t.Errorf("Elements(%q): %v", c.in, err)
			continue
		}
		got := []string{}
		for _, e := range els {
			got = append(got, string(e))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Elements(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, ` `, `[]`, `"a"`, `1`, `null`, `{`, `{ `, `}`,
		`{"a"}`, `{"a":}`, `{"a":1`, `{"a":1,}`, `{"a":1,`, `{,}`, `{"a" 1}`, `{"a":1 "b":2}`,
		`{a:1}`, `{'a':1}`, `{"a:1}`, `{"a":"x}`, `{"a":{"b":1}`, `{"a":[1,2]`,
		`{"a":1]`, `{"a":[1,2}`[:9], `{"\u00":1}`, `{"\q":1}`, `{"a":1 2}`,
	} {
		if fs, err := Fields([]byte(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Fields(%q) = %q, %v; want ErrSyntax", in, fs, err)
		}
	}
	for _, in := range []string{
		``, ` `, `{}`, `"a"`, `1`, `[`, `[1`, `[1,`, `[1,]`, `[,]`, `[1 2]`, `[1}`, `["a]`, `[{]`, `[[1]`,
	} {
		if els, err := Elements([]byte(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Elements(%q) = %q, %v; want ErrSyntax", in, els, err)
		}
	}
}

func TestKind(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]byte{
		``: 0, `   `: 0, `{}`: '{', ` [1]`: '[', "\n\"s\"": '"', `null`: 'n', `true`: 't', `false`: 'f', `-1`: '-', `7`: '7',
	} {
		if got := Kind([]byte(in)); got != want {
			t.Errorf("Kind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAppendObjectRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{}`,
		`{"a":1}`,
		`{"id":"42","customer":{"name":"Jo","tags":["a","b"]},"n":null,"k\"ey":"v\u2028"}`,
		`{"z":1,"a":2,"m":3}`, // order kept
	} {
		fs, err := Fields([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		out := AppendObject([]byte("x"), fs)
		if string(out) != "x"+in {
			t.Errorf("AppendObject(Fields(%s)) = %s", in, out[1:])
		}
		if n := ObjectSize(fs); n != len(in) {
			t.Errorf("ObjectSize(Fields(%s)) = %d, want %d", in, n, len(in))
		}
	}
	// Fields without RawKey: the key is escaped.
	fs := []Field{{Key: []byte("a\"<b>"), Value: []byte(`1`)}, {Key: []byte("é"), Value: []byte(`"x"`)}}
	out := AppendObject(nil, fs)
	if want := `{"a\"\u003cb\u003e":1,"é":"x"}`; string(out) != want {
		t.Errorf("AppendObject = %s, want %s", out, want)
	}
	// Arrays.
	if got := string(AppendArray(nil, [][]byte{[]byte(`1`), []byte(`{"a":[]}`)})); got != `[1,{"a":[]}]` {
		t.Errorf("AppendArray = %s", got)
	}
	if got := string(AppendArray(nil, nil)); got != `[]` {
		t.Errorf("AppendArray(nil) = %s", got)
	}
}

// TestObjectSizeEscapedKey: ObjectSize is the length AppendObject adds,
// also for fields without RawKey whose keys need escaping.
func TestObjectSizeEscapedKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"a", "é", `a"b`, "<b>", "\n\x00", "\u2028", "\xff"} {
		fs := []Field{{Key: []byte(key), Value: []byte(`1`)}}
		if n, out := ObjectSize(fs), AppendObject(nil, fs); n != len(out) {
			t.Errorf("ObjectSize(key %q) = %d, AppendObject adds %d bytes (%s)", key, n, len(out), out)
		}
	}
}

// fuzzSeeds are the in-code seeds of FuzzFields; testdata/fuzz/FuzzFields
// holds more, found by the fuzzer.
var fuzzSeeds = []string{
	`{}`,
	`{"a":1}`,
	`{"a":{"b":[1,2,{"c":null}]},"d":"e\"f","g":true,"h":false,"i":-0.5e-3}`,
	" { \"a\" :\t[ ] ,\n\"b\" : { } } ",
	`{"k\u00e9y":"v\ud83c\udf89","\\":"\/"}`,
	`{"dup":1,"dup":{"x":2}}`,
	`{"":"}","]":"["}`,
	`{"a":"\u2028\u2029<>&"}`,
	`{"a":[[[[[[[[1]]]]]]]]}`,
	"{\"\xff\":\"\xfe\"}",
	`{"a":1}x`,
	`{"a":tru}`,
	`[1,2]`,
}

// FuzzFields: for any input that encoding/json accepts as an object,
// Fields succeeds, its keys and values decode to json.Unmarshal's map, and
// AppendObject of the fields is valid JSON of the same meaning. Arrays met
// on the way go through Elements the same way.
func FuzzFields(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// Most random inputs are not objects; wrapping them as a member's
		// value or as members makes more of them reach the comparisons.
		for _, x := range [][]byte{in, wrap(`{"k":`, in, `}`), wrap(`{`, in, `}`)} {
			checkObject(t, x)
		}
	})
}

func wrap(pre string, in []byte, post string) []byte {
	return append(append([]byte(pre), in...), post...)
}

// checkObject checks Fields, Elements and AppendObject on in against
// encoding/json.
func checkObject(t *testing.T, in []byte) {
	var want map[string]json.RawMessage
	if json.Unmarshal(in, &want) != nil || want == nil {
		// Not an object for encoding/json: Fields may do anything but panic.
		Fields(in)
		Elements(in)
		return
	}
	fs, err := Fields(in)
	if err != nil {
		t.Fatalf("Fields(%q): %v; encoding/json accepts it", in, err)
	}
	got := make(map[string]json.RawMessage, len(fs))
	for _, fl := range fs {
		got[string(fl.Key)] = fl.Value // the last duplicate wins, as in encoding/json
		var raw string
		if err := json.Unmarshal(fl.RawKey, &raw); err != nil || raw != string(fl.Key) {
			t.Fatalf("Fields(%q): key %q does not decode from its raw key %q", in, fl.Key, fl.RawKey)
		}
		checkValue(t, fl.Value)
	}
	if len(got) != len(want) {
		t.Fatalf("Fields(%q): %d distinct keys, encoding/json %d", in, len(got), len(want))
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("Fields(%q): key %q missing (keys: %q)", in, k, keysOf(got))
		}
		if !reflect.DeepEqual(decodeAny(t, g), decodeAny(t, v)) {
			t.Fatalf("Fields(%q): %q = %s, encoding/json %s", in, k, g, v)
		}
	}
	out := AppendObject(nil, fs)
	if !json.Valid(out) {
		t.Fatalf("AppendObject(Fields(%q)) = %q is not valid JSON", in, out)
	}
	if !reflect.DeepEqual(decodeAny(t, out), decodeAny(t, in)) {
		t.Fatalf("AppendObject(Fields(%q)) = %q means something else", in, out)
	}
	if n := ObjectSize(fs); n != len(out) {
		t.Fatalf("ObjectSize = %d, AppendObject wrote %d", n, len(out))
	}
}

// checkValue checks a value Fields or Elements returned: valid JSON on its
// own, and for arrays and objects, split again the same way.
func checkValue(t *testing.T, v []byte) {
	t.Helper()
	if !json.Valid(v) {
		t.Fatalf("value %q is not valid JSON", v)
	}
	switch Kind(v) {
	case '[':
		els, err := Elements(v)
		if err != nil {
			t.Fatalf("Elements(%q): %v", v, err)
		}
		var want []json.RawMessage
		if err := json.Unmarshal(v, &want); err != nil {
			t.Fatal(err)
		}
		if len(els) != len(want) {
			t.Fatalf("Elements(%q): %d elements, encoding/json %d", v, len(els), len(want))
		}
		for i, e := range els {
			if !reflect.DeepEqual(decodeAny(t, e), decodeAny(t, want[i])) {
				t.Fatalf("Elements(%q)[%d] = %s, encoding/json %s", v, i, e, want[i])
			}
			checkValue(t, e)
		}
		if out := AppendArray(nil, els); !reflect.DeepEqual(decodeAny(t, out), decodeAny(t, v)) {
			t.Fatalf("AppendArray(Elements(%q)) = %q means something else", v, out)
		}
	case '{':
		fs, err := Fields(v)
		if err != nil {
			t.Fatalf("Fields(%q): %v", v, err)
		}
		for _, fl := range fs {
			checkValue(t, fl.Value)
		}
	}
}

// TestFieldsInvalidUTF8Key: Field.Key is the decoded key, so a key with
// invalid UTF-8 must decode as encoding/json decodes it. encoding/json
// passes such bytes through from a json.RawMessage or a Marshaler.
func TestFieldsInvalidUTF8Key(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"{\"\xff\":1}", "{\"a\xe2\x80\":1}", "{\"\xed\xa0\x80\":1}"} {
		var want map[string]any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		fs, err := Fields([]byte(in))
		if err != nil {
			t.Fatalf("Fields(%q): %v", in, err)
		}
		if _, ok := want[string(fs[0].Key)]; !ok {
			t.Errorf("Fields(%q): Key = %q, encoding/json decodes the key as %q", in, fs[0].Key, keysOfAny(want))
		}
	}
}

func keysOfAny(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func keysOf(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestAppendStringValid(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a", "\x00", "\xff", strings.Repeat("\u2028", 3), "\"\\"} {
		b := AppendString(nil, s)
		if !json.Valid(b) {
			t.Errorf("AppendString(%q) = %q: invalid JSON", s, b)
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil || (back != s && strings.ToValidUTF8(s, "\ufffd") != back) {
			t.Errorf("AppendString(%q) decodes to %q, %v", s, back, err)
		}
	}
}

// containerEndBytes is containerEnd a byte at a time: the reference the
// word-at-a-time scan must agree with.
func containerEndBytes(b []byte, i int) (int, error) {
	depth, inString := 0, false
	for j := i; j < len(b); j++ {
		switch c := b[j]; {
		case inString && c == '\\':
			j++
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, ErrSyntax
}

// FuzzContainerEnd: containerEnd finds the same end as the byte-at-a-time
// reference (or fails as it does) for any input starting with a bracket,
// wherever in a word the quotes, escapes and brackets fall.
func FuzzContainerEnd(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":[1,{"b":"}"}],"c":"\"]"}`, `[["\\"],"\\\""]x`,
		`{"k":"1234567\"}"}`, `{"k":"123456\\"}`, `{"abcdefg\\u005d":[{"x":"]]]]]]]]"}]}`,
		`[{"sku":"SKU-0000","name":"Item number 0","quantity":1,"price":"59.99"}]`,
		`{"a":"\\\\\\\\\\\\\\\\"}`, `{"a":"`, `[[[[`, `{"a":"b"}}}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, pad uint8) {
		// The padding moves the input across the word boundaries.
		b := append(bytes.Repeat([]byte{' '}, int(pad%16)), in...)
		i := int(pad % 16)
		if i >= len(b) || (b[i] != '{' && b[i] != '[') {
			b = append(b[:i], append([]byte{'['}, b[i:]...)...)
		}
		want, wantErr := containerEndBytes(b, i)
		got, err := containerEnd(b, i)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Fatalf("containerEnd(%q, %d) = %d, %v; byte by byte %d, %v", b, i, got, err, want, wantErr)
		}
	})
}

func TestMovemask(t *testing.T) {
	t.Parallel()
	for x := range 256 {
		var m uint64
		for k := range 8 {
			if x&(1<<k) != 0 {
				m |= 0x80 << (8 * k)
			}
		}
		if got := movemask(m); got != uint64(x) {
			t.Fatalf("movemask(%#x) = %#x, want %#x", m, got, x)
		}
	}
	// equalBytes is exact in every byte, whatever precedes it.
	x := binary.LittleEndian.Uint64([]byte{'"', 0, '"', '"', 0x22 ^ 0x80, '"', 1, '"'})
	if got, want := movemask(equalBytes(x, quotes)), uint64(0b10101101); got != want {
		t.Fatalf("equalBytes: mask %08b, want %08b", got, want)
	}
}

func TestIsASCII(t *testing.T) {
	t.Parallel()
	for n := range 20 {
		b := bytes.Repeat([]byte{'a'}, n)
		if !isASCII(b) {
			t.Fatalf("isASCII(%q) = false", b)
		}
		for i := range n {
			c := bytes.Clone(b)
			c[i] = 0x80
			if isASCII(c) {
				t.Fatalf("isASCII(%q) = true", c)
			}
		}
	}
}

// TestKeysAreBytes: a key that needs no decoding is a sub-slice of the
// input, visibly (a []byte, not a string that would pass for immutable
// while the input is reused), capped so that appending to it cannot write
// into the input; an escaped key is a copy.
func TestKeysAreBytes(t *testing.T) {
	in := []byte(`{"plain":1,"esc\u0061ped":2}`)
	fs, err := Fields(in)
	if err != nil || len(fs) != 2 {
		t.Fatalf("Fields = %v, %v", fs, err)
	}
	if &fs[0].Key[0] != &in[2] || cap(fs[0].Key) != len("plain") {
		t.Errorf("plain key: not the capped sub-slice of the input")
	}
	_ = append(fs[0].Key, 'X')
	if string(in[2:8]) != `plain"` {
		t.Errorf("appending to a key changed the input: %s", in)
	}
	if string(fs[1].Key) != "escaped" || &fs[1].Key[0] == &in[12] {
		t.Errorf("escaped key = %q, want a decoded copy", fs[1].Key)
	}
}
