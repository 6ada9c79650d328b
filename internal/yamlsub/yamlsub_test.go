package yamlsub

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dump renders a tree compactly: scalars as Go strings ("…" plain, '…'
// quoted: Go-quoted with a q prefix), null as ~, mappings as {k: v, …},
// sequences as [a, …]; a node with a Problem has a ! prefix.
func dump(n *Node) string {
	var b strings.Builder
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Problem != "" {
			b.WriteString("!")
		}
		switch n.Kind {
		case Scalar:
			if n.Quoted {
				b.WriteString("q")
			}
			fmt.Fprintf(&b, "%q", n.Value)
		case Null:
			b.WriteString("~")
		case Mapping:
			b.WriteString("{")
			for i, k := range n.Keys {
				if i > 0 {
					b.WriteString(", ")
				}
				if k.Problem != "" {
					b.WriteString("!")
				}
				fmt.Fprintf(&b, "%s: ", k.Value)
				walk(n.Values[i])
			}
			b.WriteString("}")
		case Sequence:
			b.WriteString("[")
			for i, v := range n.Values {
				if i > 0 {
					b.WriteString(", ")
				}
				walk(v)
			}
			b.WriteString("]")
		default:
			fmt.Fprintf(&b, "<%v>", n.Kind)
		}
	}
	walk(n)
	return b.String()
}

// positions renders every node's kind and position, depth first.
func positions(n *Node) string {
	var out []string
	var walk func(n *Node)
	walk = func(n *Node) {
		out = append(out, fmt.Sprintf("%v@%d:%d", n.Kind, n.Line, n.Col))
		for i, v := range n.Values {
			if n.Kind == Mapping {
				k := n.Keys[i]
				out = append(out, fmt.Sprintf("key %s@%d:%d", k.Value, k.Line, k.Col))
			}
			walk(v)
		}
	}
	walk(n)
	return strings.Join(out, " ")
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "~"},
		{"only comments", "# a\n\n  # b\n", "~"},
		{"document start only", "---\n", "~"},
		{"document start and end", "---\n...\n", "~"},
		{"plain scalar", "hello world", `"hello world"`},
		{"null forms", "a:\nb: ~\nc: null\nd: Null\ne: NULL\nf: 'null'\ng: nil", `{a: ~, b: ~, c: ~, d: ~, e: ~, f: q"null", g: "nil"}`},
		{"mapping", "a: 1\nb: two\n", `{a: "1", b: "two"}`},
		{"comments", "# head\na: 1 # one\n# mid\nb: x#y # two\n", `{a: "1", b: "x#y"}`},
		{"url with colon and hash", "url: https://example.com:8443/a#frag\n", `{url: "https://example.com:8443/a#frag"}`},
		{"colon without space", "a: b:c\nd:e: f", `{a: "b:c", d:e: "f"}`},
		{"spaces around", "  a  :   b  \n  c: d\n", `{a: "b", c: "d"}`},
		{"nested mapping", "a:\n  b:\n    c: 1\n  d: 2\ne: 3", `{a: {b: {c: "1"}, d: "2"}, e: "3"}`},
		{"sequence", "- a\n- b\n-   c  \n", `["a", "b", "c"]`},
		{"sequence of mappings", "- name: a\n  url: x\n- name: b\n", `[{name: "a", url: "x"}, {name: "b"}]`},
		{"sequence under key, indented", "events:\n  - created\n  - updated\nm: 1", `{events: ["created", "updated"], m: "1"}`},
		{"sequence under key, same indent", "events:\n- created\n- updated\nm: 1", `{events: ["created", "updated"], m: "1"}`},
		{"sequence in item mapping, same indent", "- a:\n  - x\n  b: 2\n- c", `[{a: ["x"], b: "2"}, "c"]`},
		{"nested sequences", "- - a\n  - b\n- - c\n", `[["a", "b"], ["c"]]`},
		{"empty items", "-\n- ~\n-   # c\n- x", `[~, ~, ~, "x"]`},
		{"item on next line", "-\n  a: 1\n  b: 2\n-\n  - z", `[{a: "1", b: "2"}, ["z"]]`},
		{"empty value before less indented key", "a:\n  b:\nc:", `{a: {b: ~}, c: ~}`},
		{"value on next line", "a:\n  just text\nb: 1", `{a: "just text", b: "1"}`},
		{"plain continuation", "a: one\n  two\n\n  three\n\n\n  four\nb: x", `{a: "one two\nthree\n\nfour", b: "x"}`},
		{"plain continuation in item", "- a\n  b\n- c", `["a b", "c"]`},
		{"single quoted", `a: 'it''s # not a comment'`, `{a: q"it's # not a comment"}`},
		{"double quoted escapes", `a: "t\tn\nq\"b\\s \x41\u00e9\U0001F600\0\e\N\_\L\P end"`,
			`{a: q"t\tn\nq\"b\\s Aé😀\x00\x1b\u0085\u00a0\u2028\u2029 end"}`},
		{"quoted fold", "a: \"one  \n   two\n\n   three\"\nb: 'x\n  y'", `{a: q"one two\nthree", b: q"x y"}`},
		{"escaped line break", "a: \"one \\\n   two\\\n\n   three\"", `{a: q"one two\nthree"}`},
		{"quoted key", "\"a b\": 1\n'c': 2\n\"\": 3", `{a b: "1", c: "2", : "3"}`},
		{"quoted empty", `a: ""`, `{a: q""}`},
		{"flow sequence", `a: [x, "y", 'z', 3, ~, ]`, `{a: ["x", q"y", q"z", "3", ~]}`},
		{"flow mapping", `a: {b: 1, "c": x y, d: , e}`, `{a: {b: "1", c: "x y", d: ~, e: ~}}`},
		{"flow nesting", `a: [[1, 2], {b: [3]}, []]`, `{a: [["1", "2"], {b: ["3"]}, []]}`},
		{"flow json", `{"a": [1, true, null, "x"], "b": {"c": -1.5e+3}}`, `{a: ["1", "true", ~, q"x"], b: {c: "-1.5e+3"}}`},
		{"flow json adjacent colon", `{"a":1,"b":"x"}`, `{a: "1", b: q"x"}`},
		{"flow multi-line", "a: [\n  x,   # c\n  z\n]\nb: {\n  c: 1,\n  d: 2 }\n", `{a: ["x", "z"], b: {c: "1", d: "2"}}`},
		{"flow plain with colon", `a: [http://x.com/a#d, a:b]`, `{a: ["http://x.com/a#d", "a:b"]}`},
		{"flow quote inside plain", `a: [b "c"]`, `{a: ["b \"c\""]}`},
		{"flow multi-line plain", "a: [one\n  two, three]", `{a: ["one two", "three"]}`},
		{"dash in scalars", "a: -1\nb: -x\nc: a - b\nd: '- x'", `{a: "-1", b: "-x", c: "a - b", d: q"- x"}`},
		{"document end", "a: 1\n...\n# trailing\n", `{a: "1"}`},
		{"crlf", "a: 1\r\nb:\r\n  - x\r\n", `{a: "1", b: ["x"]}`},
		{"bom", "\ufeffa: 1", `{a: "1"}`},
		{"tabs in quotes and comments", "a: 'x\ty' # c\td\nb: [\"x\ty\"]\n#\t\nc: 'x\n  \ty'", `{a: q"x\ty", b: [q"x\ty"], c: q"x y"}`},
		{"unicode", "név: ünïcödé\n", `{név: "ünïcödé"}`},
		{"indented document", "  a: 1\n  b: 2\n", `{a: "1", b: "2"}`},
		{"question mark in plain", "a: what?\nb: ?x", `{a: "what?", b: "?x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := Parse([]byte(tt.src))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.src, err)
			}
			if got := dump(n); got != tt.want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tt.src, got, tt.want)
			}
		})
	}
}

func TestParsePositions(t *testing.T) {
	t.Parallel()
	src := "# c\nname: x\nlist:\n  - a\n  - k: 1\n    é: \"q\"\nflow: [1, {b: 2}]\nempty:\n"
	n, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := "mapping@2:1 key name@2:1 scalar@2:7 key list@3:1 sequence@4:3 scalar@4:5 mapping@5:5 " +
		"key k@5:5 scalar@5:8 key é@6:5 scalar@6:8 key flow@7:1 sequence@7:7 scalar@7:8 mapping@7:11 " +
		"key b@7:12 scalar@7:15 key empty@8:1 null@8:7"
	if got := positions(n); got != want {
		t.Errorf("positions\n got %s\nwant %s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"anchor", "a: &x 1", 1, 4, "anchors (&) are not supported"},
		{"alias", "a: 1\nb: *x", 2, 4, "aliases (*) are not supported"},
		{"tag", "a: !!str 1", 1, 4, "tags (!) are not supported"},
		{"literal block", "a: |\n  x", 1, 4, "block scalars (| and >) are not supported"},
		{"folded block", "- >-\n  x", 1, 3, "block scalars"},
		{"second document", "a: 1\n---\nb: 2", 2, 1, "multiple documents are not supported"},
		{"content after end", "a: 1\n...\nb: 2", 3, 1, "multiple documents are not supported"},
		{"directive", "%YAML 1.2\n---\na: 1", 1, 1, "directives"},
		{"complex key", "? a\n: b", 1, 1, "complex keys (?) are not supported"},
		{"flow key", "[a, b]: c", 1, 7, "complex keys are not supported"},
		{"flow key in flow", "{[a]: c}", 1, 2, "complex keys are not supported"},
		{"tab indentation", "a:\n\tb: 1", 2, 1, "tab character used for indentation"},
		{"tab indentation in item", "- a\n\t- b", 2, 1, "tab character used for indentation"},
		{"tab after dash", "-\ta", 1, 2, "tab after '-'"},
		{"duplicate key", "a: 1\nb: 2\na: 3", 3, 1, `duplicate key "a" (first at line 1)`},
		{"duplicate quoted key", "a: 1\n\"a\": 3", 2, 1, `duplicate key "a"`},
		{"duplicate flow key", "x: {a: 1, a: 2}", 1, 11, `duplicate key "a"`},
		{"unterminated double", "a: \"abc\nb: 1", 1, 4, `missing closing " of the string`},
		{"unterminated single", "a: 'abc", 1, 4, "missing closing ' of the string"},
		{"unterminated flow", "a: [1, 2\nb: 3", 1, 4, "missing ']' to close this flow collection"},
		{"unterminated flow at eof", "a: {b: 1", 1, 4, "missing '}'"},
		{"flow doc marker", "[a,\n---\n]", 1, 1, "missing ']'"},
		{"bad escape", `a: "x\qy"`, 1, 6, `invalid escape sequence "\\q"`},
		{"bad hex escape", `a: "\u12G4"`, 1, 5, `invalid \u escape: want 4 hex digits`},
		{"lone surrogate", `a: "\ud800x"`, 1, 5, `\u escape of a surrogate (U+D800)`},
		{"surrogate pair", `a: "\ud83d\ude00"`, 1, 5, `\u escape of a surrogate (U+D83D) is not a character, and YAML readers do not combine pairs`},
		{"escaped slash", `a: "x\/y"`, 1, 6, `the escape \/ is refused by some YAML readers`},
		{"tab after colon", "a:\t1", 1, 3, "tab character outside a quoted string or a comment"},
		{"tab after value", "a: 1\t# c", 1, 5, "tab character outside"},
		{"tab in plain value", "a: x\ty", 1, 5, "tab character outside"},
		{"tab in flow", "a: [x,\ty]", 1, 7, "tab character outside"},
		{"tab after space after dash", "- \ta", 1, 3, "tab character outside"},
		{"tab in blank line", "a: 1\n\t\nb: 2", 2, 1, "tab character used for indentation"},
		{"tab in flow indentation", "{\n\t\"n\": 1}", 2, 1, "tab character used for indentation"},
		{"tab after document start", "---\t\na: 1", 1, 4, "tab character outside"},
		{"multi-line flow key", "{a\n b: 1}", 1, 2, "a key must be on a single line, with its ':'"},
		{"long key", strings.Repeat("k", 1025) + ": 1", 1, 1, "a key longer than 1024 characters"},
		{"long flow key", "{" + strings.Repeat("k", 1025) + ": 1}", 1, 2, "a key longer than 1024 characters"},
		{"colon before flow indicator", "{a:}", 1, 3, `':' directly before "}": YAML readers disagree`},
		{"colon before comma", "[a:, b]", 1, 3, `':' directly before ","`},
		{"question mark in flow", "[a?b]", 1, 3, "'?' in a plain value inside a flow collection"},
		{"question mark starts flow value", "[?a]", 1, 2, "complex keys (?) are not supported"},
		{"colon starts flow value", "{:0}", 1, 2, "missing key before ':'"},
		{"end marker alone", "# c\n...\n", 2, 1, "a document end marker '...' with no document before it"},
		{"next line", "a: x\u0085y", 1, 5, "U+0085 is a line break to YAML 1.1 readers"},
		{"line separator", "a: x\u2028y", 1, 5, "U+2028 is a line break"},
		{"invalid utf8 in comment", "a: 1 # \xff", 1, 8, "invalid UTF-8"},
		{"big U escape", `a: "\U00110000"`, 1, 5, `\U escape is not a Unicode character`},
		{"nested mapping on one line", "a: b: c", 1, 4, "a mapping cannot start on the line of its key"},
		{"sequence on key line", "a: - b", 1, 4, "a block sequence cannot start on the line of its key"},
		{"bad indentation", "a:\n    b: 1\n  c: 2", 3, 3, "bad indentation"},
		{"continuation key", "a: 1\n  b: 2", 2, 3, "bad indentation: this key is indented more"},
		{"item then key", "- a\nb: 1", 2, 1, "expected a sequence item '- '"},
		{"key then item", "a: 1\n- b", 2, 1, "expected a mapping key, found a sequence item"},
		{"missing colon", "a: 1\nb\nc: 2", 2, 1, "expected a mapping key followed by ': '"},
		{"text after quoted", `a: "x" y`, 1, 8, "unexpected text after the quoted string"},
		{"text after flow", `a: [x] y`, 1, 8, "unexpected text after the flow collection"},
		{"flow pair in sequence", `a: [b: c]`, 1, 6, "a mapping inside a flow sequence"},
		{"flow missing comma", `a: ["b" c]`, 1, 9, "expected ',' or ']'"},
		{"flow empty entry", `a: [b, , c]`, 1, 8, "unexpected ','"},
		{"flow dash", `a: [- b]`, 1, 5, "a block sequence item ('- ') is not allowed here"},
		{"flow under-indented", "a:\n  b: [x,\n  y]", 2, 6, "missing ']'"},
		{"reserved", "a: @x", 1, 4, "reserved"},
		{"empty key", ": x", 1, 1, "missing key before ':'"},
		{"control char", "a: \x01", 1, 4, "control character U+0001"},
		{"content on start line", "--- a: 1", 1, 5, "content on the '---' line"},
		{"multi-line quoted key", "\"a\nb\": 1", 2, 3, "a key must be on a single line"},
		{"under-indented quoted", "a:\n  b: 'x\n  y'", 2, 6, "not indented enough"},
		{"dedent in document", "  a: 1\nb: 2", 2, 1, "unexpected content"},
		{"comment without space", "a: [#x]", 1, 5, "'#' cannot start a value"},
		{"deep flow", strings.Repeat("[", MaxDepth+1), 1, MaxDepth, "nesting deeper than 1000 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := Parse([]byte(tt.src))
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want an error", tt.src, dump(n))
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q): error %T %v, want *Error", tt.src, err, err)
			}
			if e.Line != tt.line || e.Col != tt.col || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Parse(%q):\n got %v\nwant line %d, column %d: …%s…", tt.src, err, tt.line, tt.col, tt.msg)
			}
			if want := fmt.Sprintf("line %d, column %d: ", e.Line, e.Col); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
			}
		})
	}
}

// TestParseData: Data gives the values of plain scalars as YAML readers
// agree to read them, and of JSON as JSON has them.
func TestParseData(t *testing.T) {
	t.Parallel()
	want := map[string]any{
		"a": int64(1), "b": 1.5, "c": true, "d": "x", "e": "1", "f": []any{true, int64(0), 0.5, nil},
		"g": map[string]any{"h": false, "i": "yes"}, "j": nil, "k": 1500.0, "l": "one two",
	}
	y, err := Parse([]byte("a: 1\nb: 1.5\nc: true\nd: x\ne: '1'\nf: [TRUE, -0, .5, ~]\ng: {h: False, i: \"yes\"}\nj:\nk: 1.5e+3\nl: one\n  two\n"))
	require.NoError(t, err)
	assert.Equal(t, want, y.Data())
	j, err := ParseJSON([]byte(`{"a": 1, "b": 1.5, "c": true, "d": "x", "e": "1", "f": [true, -0, 0.5, null],
		"g": {"h": false, "i": "yes"}, "j": null, "k": 1.5E3, "l": "one two"}`))
	require.NoError(t, err)
	assert.Equal(t, want, j.Data())
}

// TestParseProblems: what YAML readers read differently, and text that is
// not UTF-8, is a node's Problem (for the caller to report under its key),
// never its text.
func TestParseProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		json      bool
		line, col int
		problem   string
	}{
		{name: "value", src: "a: 010", line: 1, col: 4, problem: leadingZero},
		{name: "in a flow sequence", src: "a: [1, 0x1F]", line: 1, col: 8, problem: hexOctalBinary},
		{name: "in a flow mapping", src: "a: {b: yes}", line: 1, col: 8, problem: "read it as a boolean"},
		{name: "multi-line value", src: "a: 1\n  0", line: 1, col: 4, problem: ""},
		{name: "number key", src: "1: a", line: 1, col: 1, problem: "YAML readers read this key as a number, not as text: quote it"},
		{name: "float key in flow", src: "{1.5: a}", line: 1, col: 2, problem: "read this key as a number"},
		{name: "null key", src: "~: a", line: 1, col: 1, problem: "YAML readers read this key as null, not as text: quote it"},
		{name: "null key in flow", src: "{NULL: a}", line: 1, col: 2, problem: "read this key as null"},
		{name: "boolean key", src: "True: a", line: 1, col: 1, problem: "read this key as a boolean"},
		{name: "ambiguous key", src: "{yes: a}", line: 1, col: 2, problem: "read it as a boolean"},
		{name: "date key", src: "2026-03-01: a", line: 1, col: 1, problem: "read this key as a date"},
		{name: "merge key", src: "<<: {a: 1}", line: 1, col: 1, problem: "merge key"},
		{name: "quoted key", src: "'1': a", problem: ""},
		{name: "plain not UTF-8", src: "a: x\xffy", line: 1, col: 4, problem: NotUTF8},
		{name: "quoted not UTF-8", src: "a: 'x\xffy'", line: 1, col: 4, problem: NotUTF8},
		{name: "key not UTF-8", src: "a\xff: 1", line: 1, col: 1, problem: NotUTF8},
		{name: "json not UTF-8", src: "{\"a\": \"x\xffy\"}", json: true, line: 1, col: 7, problem: NotUTF8},
		{name: "json surrogate", src: `{"a": "x\udfffy"}`, json: true, line: 1, col: 7, problem: NotUTF8},
		{name: "json big", src: `[1, 99999999999999999999]`, json: true, line: 1, col: 5, problem: "an integer beyond 64 bits"},
		{name: "json range", src: `[-1e400]`, json: true, line: 1, col: 2, problem: "beyond the range of 64-bit floats"},
		{name: "json ok", src: `{"a": [1e3, 0.5, "\ud83d\ude00"]}`, json: true, problem: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parse := Parse
			if tt.json {
				parse = ParseJSON
			}
			n, err := parse([]byte(tt.src))
			require.NoError(t, err)
			var found *Node
			var walk func(n *Node)
			walk = func(n *Node) {
				for _, k := range n.Keys {
					if found == nil && k.Problem != "" {
						found = k
					}
				}
				if found == nil && n.Problem != "" {
					found = n
				}
				for _, v := range n.Values {
					walk(v)
				}
			}
			walk(n)
			if tt.problem == "" {
				assert.Nil(t, found, "%q", tt.src)
				return
			}
			require.NotNil(t, found, "%q", tt.src)
			assert.Contains(t, found.Problem, tt.problem)
			assert.Equal(t, [2]int{tt.line, tt.col}, [2]int{found.Line, found.Col})
			assert.True(t, utf8.ValidString(found.Value))
			if len(found.Value) >= 3 {
				assert.NotContains(t, found.Problem, found.Value, "the problem shows the text")
			}
		})
	}
}

func TestParseDeepBlock(t *testing.T) {
	t.Parallel()
	// Each level of "- " nests a sequence: the limit holds for block
	// collections too, without exhausting the stack.
	src := strings.Repeat("- ", 5*MaxDepth) + "x"
	_, err := Parse([]byte(src))
	if err == nil || !strings.Contains(err.Error(), "nesting deeper") {
		t.Fatalf("Parse(deep) = %v, want a nesting error", err)
	}
	ok := strings.Repeat("- ", MaxDepth/2) + "x"
	if _, err := Parse([]byte(ok)); err != nil {
		t.Fatalf("Parse(%d levels): %v", MaxDepth/2, err)
	}
}

func TestParseJSON(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"object", `{"a": 1, "b": "x", "c": [true, false, null], "d": {}}`, `{a: "1", b: q"x", c: ["true", "false", ~], d: {}}`},
		{"number text kept", `[1.50, -0, 1E+2, 1e400, 12345678901234567890]`, `["1.50", "-0", "1E+2", !"1e400", !"12345678901234567890"]`},
		{"invalid utf8", "{\"a\xff\": \"b\xfe\", \"c\": [\"\\ud800\", \"\\udc00\\ud800\", \"\\\\ud800\", \"\\ud83d\\ude00\"]}",
			"{!a\ufffd: !q\"b\ufffd\", c: [!q\"\ufffd\", !q\"\ufffd\ufffd\", q\"\\\\ud800\", q\"😀\"]}"},
		{"escapes", `"a\u00e9\ud83d\ude00\n\/"`, `q"aé😀\n/"`},
		{"bom", "\ufeff{\"a\": 1}", `{a: "1"}`},
		{"empty string key", `{"": 1}`, `{: "1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := ParseJSON([]byte(tt.src))
			if err != nil {
				t.Fatalf("ParseJSON(%q): %v", tt.src, err)
			}
			if got := dump(n); got != tt.want {
				t.Errorf("ParseJSON(%q)\n got %s\nwant %s", tt.src, got, tt.want)
			}
		})
	}
}

func TestParseJSONPositions(t *testing.T) {
	t.Parallel()
	src := "{\n  \"name\": \"x\",\n  \"list\" :[1,\n    {\"é\": null}],\n\t\"n\": -2\n}"
	n, err := ParseJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := "mapping@1:1 key name@2:3 scalar@2:11 key list@3:3 sequence@3:11 scalar@3:12 mapping@4:5 " +
		"key é@4:6 null@4:11 key n@5:2 scalar@5:7"
	if got := positions(n); got != want {
		t.Errorf("positions\n got %s\nwant %s", got, want)
	}
	// The YAML parser reads the same JSON to the same tree, positions
	// included, once the tab is a space (YAML refuses tabs there).
	y, err := Parse([]byte(strings.ReplaceAll(src, "\t", " ")))
	if err != nil {
		t.Fatal(err)
	}
	if got := positions(y); got != want {
		t.Errorf("YAML positions\n got %s\nwant %s", got, want)
	}
}

func TestParseJSONErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"empty", "", 1, 1, "unexpected end of JSON input"},
		{"duplicate key", "{\"a\": 1,\n \"a\": 2}", 2, 2, `duplicate key "a" (first at line 1)`},
		{"syntax", "{\"a\": 1,\n \"b\" 2}", 2, 6, "invalid character '2' after object key"},
		{"trailing comma", "[1,]", 1, 4, "invalid character ']'"},
		{"trailing data", "{} {}", 1, 4, "unexpected data after the top-level JSON value"},
		{"truncated", "{\"a\": [1,", 1, 10, "unexpected end of JSON input"},
		{"deep", strings.Repeat("[", MaxDepth+1), 1, MaxDepth + 1, "nesting deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := ParseJSON([]byte(tt.src))
			if err == nil {
				t.Fatalf("ParseJSON(%q) = %s, want an error", tt.src, dump(n))
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseJSON(%q): error %T %v, want *Error", tt.src, err, err)
			}
			if e.Line != tt.line || e.Col != tt.col || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("ParseJSON(%q):\n got %v\nwant line %d, column %d: …%s…", tt.src, err, tt.line, tt.col, tt.msg)
			}
		})
	}
}

// FuzzParse: Parse and ParseJSON never panic, report errors as *Error with
// a position inside the input, and build well-formed trees; when ParseJSON
// accepts an input that Parse accepts too (without Problems), both give
// the same tree and the same data.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "a: 1", "- a\n- b: c\n  d: [1, {e: f}]", "a:\n- x\n- y\nb: 'q''s'",
		"a: \"\\u00e9\\t\"\n", "--- \n...\n", "{\"a\": [1, 2, {\"b\": null}]}",
		"a: one\n  two\n\n  three", "x: &a 1\ny: *a", "a: |\n  x", "? a\n: b",
		"a:\n\tb", "a: 1\na: 2", "[a, [b, {c: d}], 'e']", "a: \"x\\\n  y\"",
		"- - - a\n    - b\n  - c\n- d", "k: {a: 1,\n  b: [x,\n  y]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := 1 + strings.Count(string(src), "\n") + strings.Count(string(src), "\r")
		y, yerr := Parse(src)
		check(t, "Parse", y, yerr, lines)
		j, jerr := ParseJSON(src)
		check(t, "ParseJSON", j, jerr, lines)
		if yerr == nil && jerr == nil && problem(y) == "" && problem(j) == "" {
			if a, b := dump(y), dump(j); a != b {
				t.Errorf("YAML and JSON trees differ for %q:\nyaml %s\njson %s", src, a, b)
			}
			if a, b := y.Data(), j.Data(); !reflect.DeepEqual(a, b) {
				t.Errorf("YAML and JSON data differ for %q:\nyaml %#v\njson %#v", src, a, b)
			}
		}
	})
}

func check(t *testing.T, what string, n *Node, err error, lines int) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: error %T, want *Error: %v", what, err, err)
		}
		if strings.Contains(e.Msg, "internal error") {
			t.Fatalf("%s: %v", what, err)
		}
		if e.Line < 1 || e.Line > lines || e.Col < 1 {
			t.Fatalf("%s: error position %d:%d outside the input (%d lines): %v", what, e.Line, e.Col, lines, err)
		}
		if n != nil {
			t.Fatalf("%s: a node and an error", what)
		}
		return
	}
	if n == nil {
		t.Fatalf("%s: no node and no error", what)
	}
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Line < 1 || n.Line > lines || n.Col < 1 {
			t.Fatalf("%s: node position %d:%d outside the input", what, n.Line, n.Col)
		}
		switch n.Kind {
		case Mapping:
			if len(n.Keys) != len(n.Values) {
				t.Fatalf("%s: mapping with %d keys and %d values", what, len(n.Keys), len(n.Values))
			}
			seen := map[string]bool{}
			for _, k := range n.Keys {
				if k.Kind != Scalar || seen[k.Value] {
					t.Fatalf("%s: bad or duplicate key %q", what, k.Value)
				}
				seen[k.Value] = true
				walk(k)
			}
		case Sequence:
			if n.Keys != nil {
				t.Fatalf("%s: sequence with keys", what)
			}
		case Scalar, Null:
			if n.Keys != nil || n.Values != nil {
				t.Fatalf("%s: scalar with children", what)
			}
			if !utf8.ValidString(n.Value) {
				t.Fatalf("%s: %q is not UTF-8", what, n.Value)
			}
			if n.Quoted && n.Type != String {
				t.Fatalf("%s: quoted %s", what, n.Type)
			}
		default:
			t.Fatalf("%s: kind %v", what, n.Kind)
		}
		for _, v := range n.Values {
			walk(v)
		}
	}
	walk(n)
}
