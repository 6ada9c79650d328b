// Package yamlsub parses the subset of YAML that configuration files use,
// and JSON, into one tree of nodes that remember their line and column, so
// that a single mapper can report "line 12: endpoints[1].timeout_seconds:
// want a number" for either format.
//
// # The YAML subset
//
// Supported: block mappings and block sequences, nested up to MaxDepth
// (including "- key: value" items holding mappings, and a sequence at the
// same indentation as its parent key); plain scalars, also continued on
// more-indented lines; single-quoted scalars (a doubled quote is a quote) and
// double-quoted scalars with the escapes YAML readers share (\n \t \" \\
// \0 \a \b \e \f \r \v \N \_ \L \P \xXX \uXXXX but surrogates,
// \UXXXXXXXX, a \ before a line break);
// flow sequences [a, "b", 3] and flow mappings {a: 1, b: x}, nested, on one
// line or several; comments (# to the end of the line, after a space);
// one leading "---" and one trailing "..."; empty values, ~ and null (Null
// nodes); CRLF line ends; a leading byte order mark.
//
// Rejected with an *Error giving the line and column: anchors (&), aliases
// (*), tags (!), block scalars (| and >), directives (%), several documents,
// complex keys (? and collections used as keys), tabs anywhere but in
// quoted scalars and comments (YAML readers disagree on them), duplicate
// keys, control characters, invalid UTF-8 outside scalars, nesting deeper
// than MaxDepth.
//
// Whatever Parse accepts, YAML readers read the same way. A plain scalar
// is typed as they agree to type it (see [Resolve]): null (a Null node,
// with its text as Value), a boolean, a decimal integer, a decimal number,
// or text. A Scalar keeps its text, whether it was quoted, and its Type;
// the caller may still read "30" where it wants a number or a string. A
// plain scalar on which readers disagree (010, 1e3, yes, …), a plain key
// they do not read as text (1: x), and a scalar that holds bytes that are
// not UTF-8 are given a Problem instead of an error, so that the caller
// can name the key it is under without showing the value, which may be a
// secret: it must refuse them.
//
// Parse and ParseJSON never panic: an internal fault is returned as an
// *Error whose message starts with "internal error".
package yamlsub

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the kind of a Node.
type Kind int

// The kinds of Node.
const (
	Scalar   Kind = iota + 1 // Value holds the text
	Mapping                  // Keys and Values hold the entries, in order
	Sequence                 // Values holds the items
	Null                     // an empty value, ~ or null (JSON null)
)

func (k Kind) String() string {
	switch k {
	case Scalar:
		return "scalar"
	case Mapping:
		return "mapping"
	case Sequence:
		return "sequence"
	case Null:
		return "null"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Node is a node of the tree: a scalar, a mapping, a sequence or null.
type Node struct {
	Kind Kind
	// Line and Col give where the node starts, from 1; Col counts
	// characters. A block mapping starts at its first key, a block
	// sequence at its first "-", a flow collection at its bracket, a quoted
	// scalar at its opening quote, an empty value where it would have been.
	Line, Col int
	Value     string // a Scalar's text (escapes resolved), a Null's text
	Quoted    bool   // a Scalar was quoted (a JSON string)
	Type      Type   // a Scalar's type: String when quoted; see Resolve
	// Problem, when not "", says why the node must be refused: a plain
	// scalar (or key) that YAML readers read differently (see Resolve),
	// a key that is not text to them (1: x), a number out of range, or a
	// string that held bytes that are not UTF-8 (replaced by U+FFFD in
	// Value). It never holds the node's text, which may be a secret.
	// Parse and ParseJSON return such nodes without an error, so that the
	// caller can name the key they are under: it must refuse them.
	Problem string
	Keys    []*Node
	Values  []*Node
}

// Data returns the node as Go data: nil for null, a bool, an int64, a
// float64 or a string for a scalar (by its Type), []any for a sequence
// and map[string]any for a mapping.
func (n *Node) Data() any {
	switch n.Kind {
	case Sequence:
		out := make([]any, len(n.Values))
		for i, v := range n.Values {
			out[i] = v.Data()
		}
		return out
	case Mapping:
		out := make(map[string]any, len(n.Keys))
		for i, k := range n.Keys {
			out[k.Value] = n.Values[i].Data()
		}
		return out
	case Scalar:
		return scalarData(n.Type, n.Value)
	}
	return nil
}

// scalarData converts a scalar's text to the Go value of its type.
func scalarData(t Type, s string) any {
	switch t {
	case Bool:
		return s == "true" || s == "True" || s == "TRUE"
	case Int:
		i, _ := strconv.ParseInt(s, 10, 64)
		return i
	case Float:
		f, _ := strconv.ParseFloat(s, 64)
		return f
	}
	return s
}

// MaxDepth bounds the nesting of collections.
const MaxDepth = 1000

// Error is a syntax error, or an unsupported construct, at a position.
type Error struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// failure is the panic value that carries an *Error up to Parse.
type failure struct{ err *Error }

// catch turns the panic of a failure (and, as a last resort, any other)
// into the returned error.
func catch(root **Node, err *error) {
	r := recover()
	if r == nil {
		return
	}
	*root = nil
	if f, ok := r.(failure); ok {
		*err = f.err
		return
	}
	*err = &Error{Line: 1, Col: 1, Msg: fmt.Sprintf("internal error: %v", r)}
}

// positioner converts byte offsets to lines and columns.
type positioner struct {
	src    []byte
	starts []int // offsets where lines start
	// the last answer, to count on from it along a line
	cOff, cLine, cCol int
}

func newPositioner(src []byte) positioner {
	starts := []int{0}
	for i, b := range src {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return positioner{src: src, starts: starts}
}

func (p *positioner) line(off int) int {
	off = max(0, min(off, len(p.src)))
	return sort.Search(len(p.starts), func(i int) bool { return p.starts[i] > off })
}

func (p *positioner) lineStart(off int) int { return p.starts[p.line(off)-1] }

func (p *positioner) at(off int) (line, col int) {
	off = max(0, min(off, len(p.src)))
	line = p.line(off)
	ls := p.starts[line-1]
	if p.cLine == line && p.cOff <= off {
		col = p.cCol + utf8.RuneCount(p.src[p.cOff:off])
	} else {
		col = 1 + utf8.RuneCount(p.src[ls:off])
	}
	p.cOff, p.cLine, p.cCol = off, line, col
	return line, col
}

// base is what the YAML and JSON parsers share: the input, its positions
// and the nesting depth.
type base struct {
	src   []byte
	pos   positioner
	depth int
}

func newBase(src []byte) base { return base{src: src, pos: newPositioner(src)} }

func (b *base) fail(off int, format string, args ...any) {
	line, col := b.pos.at(off)
	panic(failure{&Error{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}})
}

func (b *base) node(kind Kind, off int) *Node {
	n := &Node{Kind: kind}
	n.Line, n.Col = b.pos.at(off)
	return n
}

// enter goes one level deeper, for a collection that starts at off.
func (b *base) enter(off int) {
	b.depth++
	if b.depth > MaxDepth {
		b.fail(off, "nesting deeper than %d levels", MaxDepth)
	}
}

func (b *base) leave() { b.depth-- }

// addKey records the key of a mapping, which starts at off, in seen,
// rejecting a duplicate.
func (b *base) addKey(seen map[string]*Node, key *Node, off int) {
	if prev := seen[key.Value]; prev != nil {
		b.fail(off, "duplicate key %q (first at line %d)", key.Value, prev.Line)
	}
	seen[key.Value] = key
}

type parser struct {
	base
	off int
	// The spans of the input that tabs (quoted) and bytes that are not
	// UTF-8 (scalars) may be in, and those of comments, in input order.
	quotedSpans, scalarSpans, commentSpans []span
	badUTF8                                bool // the input has bytes that are not UTF-8
}

// span is a range of input offsets, [from, to).
type span struct{ from, to int }

// Parse parses a YAML document of the supported subset. An empty document
// gives a Null node. Errors are *Error; a tree may also hold nodes with a
// Problem, which the caller must refuse.
func Parse(src []byte) (root *Node, err error) {
	defer catch(&root, &err)
	src = normalize(src)
	p := &parser{base: newBase(src)}
	p.checkChars()
	root = p.document()
	p.checkTabs()
	p.checkUTF8()
	return root, nil
}

// checkTabs rejects the tabs outside quoted scalars and comments: YAML
// readers disagree on them (PyYAML refuses them there, go-yaml v3 takes
// some), and a tab that looks like indentation misleads readers.
func (p *parser) checkTabs() {
	allowed := [][]span{p.quotedSpans, p.commentSpans}
	for i := bytes.IndexByte(p.src, '\t'); i >= 0; {
		if !inSpans(allowed, i) {
			ls := p.pos.lineStart(i)
			if len(bytes.Trim(p.src[ls:i], " \t")) == 0 {
				p.fail(i, "tab character used for indentation (indent with spaces)")
			}
			p.fail(i, "tab character outside a quoted string or a comment: YAML readers disagree on tabs there (some refuse them): use spaces, or \\t in a double-quoted string")
		}
		j := bytes.IndexByte(p.src[i+1:], '\t')
		if j < 0 {
			break
		}
		i += 1 + j
	}
}

// checkUTF8 rejects bytes that are not UTF-8 outside scalars; in a
// scalar, they were replaced and the node has a Problem, for the caller
// to report under its key.
func (p *parser) checkUTF8() {
	if !p.badUTF8 {
		return
	}
	allowed := [][]span{p.scalarSpans}
	for i := 0; i < len(p.src); {
		r, size := utf8.DecodeRune(p.src[i:])
		if r == utf8.RuneError && size == 1 && !inSpans(allowed, i) {
			p.fail(i, "invalid UTF-8")
		}
		i += size
	}
}

// inSpans reports whether off is in one of the spans of lists.
func inSpans(lists [][]span, off int) bool {
	for _, l := range lists {
		i := sort.Search(len(l), func(i int) bool { return l[i].to > off })
		if i < len(l) && l[i].from <= off {
			return true
		}
	}
	return false
}

// NotUTF8 is the Problem of a string that held bytes that are not UTF-8,
// or (in JSON) a lone surrogate escape.
const NotUTF8 = "the text is not valid UTF-8 (it is not shown): save the file as UTF-8"

// sanitize replaces the bytes of n's Value that are not UTF-8 and sets
// its Problem.
func sanitize(n *Node) {
	if !utf8.ValidString(n.Value) {
		n.Value = strings.ToValidUTF8(n.Value, "\uFFFD")
		n.Problem = NotUTF8
	}
}

// bom is the UTF-8 byte order mark, which Parse and ParseJSON skip.
var bom = []byte("\xef\xbb\xbf")

// normalize drops a byte order mark and turns CRLF and CR line ends into LF.
func normalize(src []byte) []byte {
	src = bytes.TrimPrefix(src, bom)
	if bytes.IndexByte(src, '\r') < 0 {
		return src
	}
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\r' {
			if i+1 < len(src) && src[i+1] == '\n' {
				continue
			}
			c = '\n'
		}
		out = append(out, c)
	}
	return out
}

// checkChars rejects the characters YAML does not allow, and notes
// invalid UTF-8 for checkUTF8.
func (p *parser) checkChars() {
	for i := 0; i < len(p.src); {
		r, size := utf8.DecodeRune(p.src[i:])
		if r == utf8.RuneError && size == 1 {
			p.badUTF8 = true
			i++
			continue
		}
		if !printable(r) {
			p.fail(i, "control character U+%04X is not allowed (write it as an escape in a double-quoted string)", r)
		}
		if r == 0x85 || r == 0x2028 || r == 0x2029 {
			p.fail(i, "U+%04X is a line break to YAML 1.1 readers and a character to YAML 1.2 readers: write it as an escape (\\N, \\L or \\P) in a double-quoted string", r)
		}
		i += size
	}
}

func printable(r rune) bool {
	return r == '\t' || r == '\n' || (0x20 <= r && r <= 0x7e) || r == 0x85 ||
		(0xa0 <= r && r <= 0xd7ff) || (0xe000 <= r && r <= 0xfffd) || (0x10000 <= r && r <= 0x10ffff)
}

func (p *parser) byteAt(off int) byte {
	if off < 0 || off >= len(p.src) {
		return 0
	}
	return p.src[off]
}

func (p *parser) eof() bool { return p.off >= len(p.src) }

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// isBlank reports a separator after an indicator: space, tab, line end or
// the end of the input (byteAt gives 0 there; NUL is rejected earlier).
func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == 0 }

func isFlowIndicator(c byte) bool {
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
}

// commentAt reports whether a '#' at off starts a comment: it must follow
// whitespace or start a line.
func (p *parser) commentAt(off int) bool {
	if p.byteAt(off) != '#' {
		return false
	}
	if off == 0 {
		return true
	}
	c := p.src[off-1]
	return c == ' ' || c == '\t' || c == '\n'
}

// spaceEnd returns the offset of the first byte from i on that is not a
// space or a tab.
func (p *parser) spaceEnd(i int) int {
	for i < len(p.src) && isSpace(p.src[i]) {
		i++
	}
	return i
}

func (p *parser) skipInline() { p.off = p.spaceEnd(p.off) }

func (p *parser) skipComment() {
	start := p.off
	for p.off < len(p.src) && p.src[p.off] != '\n' {
		p.off++
	}
	p.commentSpans = append(p.commentSpans, span{start, p.off})
}

// atLineEnd reports the end of the line's content: a line break, a comment
// or the end of the input.
func (p *parser) atLineEnd() bool {
	return p.eof() || p.src[p.off] == '\n' || p.commentAt(p.off)
}

// skipToContent skips whitespace, comments and line breaks up to the next
// content, and rejects tabs in the indentation of the line it is on.
func (p *parser) skipToContent() {
	for p.off < len(p.src) {
		switch c := p.src[p.off]; {
		case isSpace(c) || c == '\n':
			p.off++
		case c == '#' && p.commentAt(p.off):
			p.skipComment()
		default:
			p.checkIndent(p.off)
			return
		}
	}
}

// checkIndent rejects a tab in the indentation before off, when off is the
// first content of its line.
func (p *parser) checkIndent(off int) {
	ls := p.pos.lineStart(off)
	prefix := p.src[ls:off]
	if len(bytes.Trim(prefix, " \t")) == 0 {
		if i := bytes.IndexByte(prefix, '\t'); i >= 0 {
			p.fail(ls+i, "tab character used for indentation (indent with spaces)")
		}
	}
}

// indent is the column of p.off, from 0: the indentation of the content
// there when it starts its line.
func (p *parser) indent() int { return p.off - p.pos.lineStart(p.off) }

// docMarkerAt reports a "---" or "..." document marker at off, which must
// start a line.
func (p *parser) docMarkerAt(off int) bool {
	if off >= len(p.src) || p.pos.lineStart(off) != off || off+3 > len(p.src) {
		return false
	}
	m := string(p.src[off : off+3])
	return (m == "---" || m == "...") && isBlank(p.byteAt(off+3))
}

func (p *parser) null(off int) *Node { return p.node(Null, off) }

func (p *parser) document() *Node {
	p.skipToContent()
	if p.byteAt(p.off) == '%' && p.indent() == 0 {
		p.fail(p.off, "directives (%%YAML, %%TAG) are not supported")
	}
	started := p.docMarkerAt(p.off) && p.src[p.off] == '-'
	if started {
		p.off += 3
		p.skipInline()
		if !p.atLineEnd() {
			p.fail(p.off, "content on the '---' line is not supported: start it on the next line")
		}
		p.skipToContent()
	}
	var root *Node
	if p.eof() || p.docMarkerAt(p.off) {
		if !started && !p.eof() && p.src[p.off] == '.' {
			// go-yaml v3 refuses it, PyYAML reads null.
			p.fail(p.off, "a document end marker '...' with no document before it: remove it")
		}
		root = p.null(p.off)
	} else {
		root = p.blockNode(-1)
	}
	p.skipToContent()
	if p.docMarkerAt(p.off) && p.src[p.off] == '.' {
		p.off += 3
		p.skipInline()
		if !p.atLineEnd() {
			p.fail(p.off, "content on the '...' line is not supported")
		}
		p.skipToContent()
		if !p.eof() {
			p.fail(p.off, "content after the document end marker '...': multiple documents are not supported")
		}
	}
	switch {
	case p.eof():
		return root
	case p.docMarkerAt(p.off):
		p.fail(p.off, "a second document: multiple documents are not supported")
	case p.src[p.off] == '%' && p.indent() == 0:
		p.fail(p.off, "directives (%%YAML, %%TAG) are not supported")
	}
	p.fail(p.off, "unexpected content: its indentation matches no enclosing mapping or sequence")
	return nil
}

// blockNode parses the node whose content starts at p.off: a block
// mapping, a block sequence or an inline node (scalar or flow collection).
// parent is the indentation of the enclosing collection (-1: none); the
// content's lines must be indented more.
func (p *parser) blockNode(parent int) *Node {
	p.enter(p.off)
	defer p.leave()
	col := p.indent()
	switch {
	case p.src[p.off] == '-' && isBlank(p.byteAt(p.off+1)):
		return p.blockSeq(col, false)
	case p.keyAhead(p.off):
		return p.blockMap(col)
	}
	return p.inlineNode(parent)
}

// inlineNode parses a flow collection, a quoted scalar or a plain scalar,
// which must end its line.
func (p *parser) inlineNode(parent int) *Node {
	var n *Node
	what := "value"
	switch c := p.src[p.off]; c {
	case '[', '{':
		n = p.flowCollection(parent)
		what = "flow collection"
	case '"', '\'':
		n = p.quoted(parent)
		what = "quoted string"
	default:
		p.checkPlainStart(p.off, false)
		n = p.plain(parent, false)
	}
	p.skipInline()
	if p.atLineEnd() {
		return n
	}
	if p.src[p.off] == ':' && isBlank(p.byteAt(p.off+1)) {
		if n.Kind == Mapping || n.Kind == Sequence {
			p.fail(p.off, "a flow collection used as a key: complex keys are not supported")
		}
		if n.Line != p.line(p.off) {
			p.fail(p.off, "a key must be on a single line")
		}
		p.fail(p.off, "a mapping cannot start here: put the key on a line of its own")
	}
	p.fail(p.off, "unexpected text after the %s", what)
	return nil
}

func (p *parser) line(off int) int { return p.pos.line(off) }

// checkPlainStart rejects the indicators that cannot start a plain scalar,
// naming the unsupported feature they introduce.
func (p *parser) checkPlainStart(off int, flow bool) {
	c, next := p.src[off], p.byteAt(off+1)
	sep := isBlank(next) || (flow && isFlowIndicator(next))
	switch {
	case c == '&':
		p.fail(off, "anchors (&) are not supported")
	case c == '*':
		p.fail(off, "aliases (*) are not supported")
	case c == '!':
		p.fail(off, "tags (!) are not supported")
	case c == '|' || c == '>':
		p.fail(off, "block scalars (| and >) are not supported: use a quoted string, with \\n for line breaks")
	case c == '%':
		p.fail(off, "'%%' cannot start a plain value (directives are not supported): quote the value")
	case c == '@' || c == '`':
		p.fail(off, "%q is reserved and cannot start a plain value: quote the value", string(c))
	case c == '#':
		p.fail(off, "'#' cannot start a value: a comment needs a space before it; quote a value that starts with '#'")
	case c == ',' || c == ']' || c == '}' || c == '[' || c == '{':
		p.fail(off, "unexpected %q", string(c))
	case c == '-' && sep && flow && !isBlank(next):
		p.fail(off, "a lone '-' in a flow collection must be quoted: '-'")
	case c == '-' && sep:
		p.fail(off, "a block sequence item ('- ') is not allowed here")
	case c == '?' && (sep || flow):
		p.fail(off, "complex keys (?) are not supported")
	case c == ':' && (sep || flow):
		p.fail(off, "missing key before ':'")
	}
}

// keyAhead reports whether the line at off starts with a key and ':'.
func (p *parser) keyAhead(off int) bool {
	c := p.src[off]
	var i int
	switch {
	case c == '"' || c == '\'':
		i = off + 1
	scan:
		for {
			if i >= len(p.src) || p.src[i] == '\n' {
				return false
			}
			switch p.src[i] {
			case c:
				if c == '\'' && p.byteAt(i+1) == '\'' {
					i += 2
					continue
				}
				i++
				break scan
			case '\\':
				if c == '"' {
					if p.byteAt(i+1) == '\n' {
						return false
					}
					i++
				}
			}
			i++
		}
	case strings.IndexByte("[]{},#&*!|>%@`", c) >= 0:
		return false
	case (c == '-' || c == '?' || c == ':') && isBlank(p.byteAt(off+1)):
		return false
	default:
		i = p.plainLineEnd(off, false)
	}
	i = p.spaceEnd(i)
	return p.byteAt(i) == ':' && isBlank(p.byteAt(i+1))
}

func (p *parser) blockMap(indent int) *Node {
	m := p.node(Mapping, p.off)
	seen := map[string]*Node{}
	for {
		off := p.off
		key := p.mapKey()
		p.addKey(seen, key, off)
		val := p.mapValue(indent)
		m.Keys = append(m.Keys, key)
		m.Values = append(m.Values, val)
		p.skipToContent()
		if p.eof() || p.docMarkerAt(p.off) {
			return m
		}
		switch ind := p.indent(); {
		case ind < indent:
			return m
		case ind > indent:
			p.fail(p.off, "bad indentation: this line is indented more than the keys of its mapping (column %d)", indent+1)
		}
	}
}

// mapKey parses a block mapping's key and its ':'.
func (p *parser) mapKey() *Node {
	off := p.off
	c := p.src[off]
	var k *Node
	switch {
	case c == '"' || c == '\'':
		k = p.quoted(-1)
		if bytes.IndexByte(p.src[off:p.off], '\n') >= 0 {
			p.fail(off, "a key must be on a single line")
		}
	case c == '-' && isBlank(p.byteAt(off+1)):
		p.fail(off, "expected a mapping key, found a sequence item '- ' (a mapping and a sequence cannot share an indentation)")
	case c == '[' || c == '{':
		p.fail(off, "a flow collection used as a key: complex keys are not supported")
	default:
		p.checkPlainStart(off, false)
		end := p.plainLineEnd(off, false)
		k = p.node(Scalar, off)
		k.Value = string(p.src[off:end])
		p.off = end
		p.scalarSpans = append(p.scalarSpans, span{off, end})
		plainKey(k)
	}
	p.skipInline()
	if p.byteAt(p.off) != ':' || !isBlank(p.byteAt(p.off+1)) {
		p.fail(off, "expected a mapping key followed by ': '")
	}
	p.checkKeyLength(off)
	p.off++
	return k
}

// maxKeyLength is YAML's limit on a key (without '?'), from its start
// to its ':', in characters.
const maxKeyLength = 1024

// checkKeyLength rejects a key that starts at off and whose ':' is at
// p.off, when it is too long for YAML readers.
func (p *parser) checkKeyLength(off int) {
	if p.off-off > maxKeyLength && utf8.RuneCount(p.src[off:p.off]) > maxKeyLength {
		p.fail(off, "a key longer than %d characters: YAML readers do not read it", maxKeyLength)
	}
}

// mapValue parses the value after a block mapping's "key:".
func (p *parser) mapValue(indent int) *Node {
	p.skipInline()
	if p.atLineEnd() {
		at := p.off
		p.skipToContent()
		if !p.eof() && !p.docMarkerAt(p.off) {
			ind := p.indent()
			if ind > indent {
				return p.blockNode(indent)
			}
			if ind == indent && p.seqItemAt(p.off) {
				return p.blockSeq(indent, true)
			}
		}
		return p.null(at)
	}
	if p.src[p.off] == '-' && isBlank(p.byteAt(p.off+1)) {
		p.fail(p.off, "a block sequence cannot start on the line of its key: start it on the next line")
	}
	if p.keyAhead(p.off) {
		p.fail(p.off, "a mapping cannot start on the line of its key: start it on the next line, indented")
	}
	return p.inlineNode(indent)
}

func (p *parser) seqItemAt(off int) bool {
	return p.byteAt(off) == '-' && isBlank(p.byteAt(off+1))
}

// blockSeq parses a block sequence whose "-" are at indent. inMap: it is
// the value of a key at the same indentation, and a line there that is not
// an item ends it.
func (p *parser) blockSeq(indent int, inMap bool) *Node {
	s := p.node(Sequence, p.off)
	for {
		p.off++ // the '-'
		if p.byteAt(p.off) == '\t' {
			p.fail(p.off, "tab after '-': use a space")
		}
		p.skipInline()
		var item *Node
		if p.atLineEnd() {
			at := p.off
			p.skipToContent()
			if !p.eof() && !p.docMarkerAt(p.off) && p.indent() > indent {
				item = p.blockNode(indent)
			} else {
				item = p.null(at)
			}
		} else {
			item = p.blockNode(indent)
		}
		s.Values = append(s.Values, item)
		p.skipToContent()
		if p.eof() || p.docMarkerAt(p.off) {
			return s
		}
		switch ind := p.indent(); {
		case ind < indent:
			return s
		case ind > indent:
			p.fail(p.off, "bad indentation: this line is indented more than the items of its sequence (column %d)", indent+1)
		}
		if !p.seqItemAt(p.off) {
			if inMap {
				return s
			}
			p.fail(p.off, "expected a sequence item '- ' at this indentation")
		}
	}
}

// plainLineEnd returns where the plain scalar starting at off ends on its
// line, trailing whitespace excluded.
func (p *parser) plainLineEnd(off int, flow bool) int {
	end := off
	for i := off; i < len(p.src); i++ {
		c := p.src[i]
		if c == '\n' {
			break
		}
		if c == ':' {
			next := p.byteAt(i + 1)
			if isBlank(next) {
				break
			}
			if flow && isFlowIndicator(next) {
				// PyYAML ends the value here, go-yaml v3 keeps the ':'.
				p.fail(i, "':' directly before %q: YAML readers disagree on whether it ends a key: put a space after the ':', or quote the value", string(next))
			}
		}
		if c == '#' && i > off && isSpace(p.src[i-1]) {
			break
		}
		if flow && isFlowIndicator(c) {
			break
		}
		if flow && c == '?' {
			// YAML readers end a plain value there and read a key.
			p.fail(i, "'?' in a plain value inside a flow collection ([...] or {...}): quote the value")
		}
		if !isSpace(c) {
			end = i + 1
		}
	}
	return end
}

// plain parses a plain scalar at p.off (checked by checkPlainStart), with
// its continuation lines: those indented more than parent, folded into
// one space (an empty line gives a line break).
func (p *parser) plain(parent int, flow bool) *Node {
	start := p.off
	n := p.node(Scalar, start)
	end := p.plainLineEnd(start, flow)
	first := p.src[start:end]
	p.off = end
	var b []byte // the folded text, once a line has been continued
	for {
		j := p.spaceEnd(p.off)
		if j >= len(p.src) || p.src[j] != '\n' {
			break
		}
		k, breaks := p.lineBreaks(j)
		if k >= len(p.src) {
			break
		}
		ls := p.pos.lineStart(k)
		if k-ls <= parent || p.src[k] == '#' || p.docMarkerAt(ls) {
			break
		}
		if flow && (isFlowIndicator(p.src[k]) || p.src[k] == ':') {
			break
		}
		p.checkIndent(k)
		if !flow && p.keyAhead(k) {
			p.fail(k, "bad indentation: this key is indented more than the keys above it, so it would continue the value of line %d", n.Line)
		}
		e := p.plainLineEnd(k, flow)
		if e == k {
			break
		}
		if b == nil {
			b = append(b, first...)
		}
		b = folded(b, breaks, false)
		b = append(b, p.src[k:e]...)
		p.off = e
	}
	p.scalarSpans = append(p.scalarSpans, span{start, p.off})
	if b != nil {
		n.Value = string(b)
	} else {
		n.Value = string(first)
	}
	if !utf8.ValidString(n.Value) {
		sanitize(n)
		return n
	}
	switch v, problem := Resolve(n.Value); v.(type) {
	case nil:
		if problem == "" {
			n.Kind = Null
		}
		n.Problem = problem
	case bool:
		n.Type = Bool
	case int64:
		n.Type = Int
	case float64:
		n.Type = Float
	}
	return n
}

// plainKey sets the Problem of a key written as a plain scalar that YAML
// readers do not read as text.
func plainKey(k *Node) {
	if k.Problem != "" {
		return
	}
	if !utf8.ValidString(k.Value) {
		sanitize(k)
		return
	}
	v, problem := Resolve(k.Value)
	k.Kind, k.Type = Scalar, String
	switch v.(type) {
	case string:
		if yaml11Time.MatchString(k.Value) || isTimestampV3(k.Value) {
			k.Problem = "YAML readers read this key as a date, not as text: quote it"
		}
	case nil:
		k.Problem = problem
		if problem == "" {
			k.Problem = "YAML readers read this key as null, not as text: quote it"
		}
	case bool:
		k.Problem = "YAML readers read this key as a boolean, not as text: quote it"
	default:
		k.Problem = "YAML readers read this key as a number, not as text: quote it"
	}
}

// quoted parses a single- or double-quoted scalar at p.off. Its lines
// after the first must be indented more than parent; line breaks fold as
// in plain scalars.
func (p *parser) quoted(parent int) *Node {
	start := p.off
	q := p.src[start]
	n := p.node(Scalar, start)
	n.Quoted = true
	p.off++
	var b []byte
	for {
		if p.off >= len(p.src) {
			p.fail(start, "missing closing %c of the string", q)
		}
		c := p.src[p.off]
		switch {
		case c == q && q == '\'' && p.byteAt(p.off+1) == '\'':
			b = append(b, '\'')
			p.off += 2
		case c == q:
			p.off++
			n.Value = string(b)
			p.quotedSpans = append(p.quotedSpans, span{start, p.off})
			p.scalarSpans = append(p.scalarSpans, span{start, p.off})
			sanitize(n)
			return n
		case c == '\\' && q == '"':
			b = p.escape(b, parent, start)
		case isSpace(c) || c == '\n':
			j := p.spaceEnd(p.off)
			if j < len(p.src) && p.src[j] == '\n' {
				b = p.fold(b, j, parent, start, q, false)
			} else {
				b = append(b, p.src[p.off:j]...)
				p.off = j
			}
		default:
			b = append(b, c)
			p.off++
		}
	}
}

// fold consumes the line breaks from j (at a '\n') and the indentation of
// the next line. A single break becomes a space, n breaks n-1 newlines;
// an escaped line break (escaped) becomes nothing.
func (p *parser) fold(b []byte, j, parent, start int, q byte, escaped bool) []byte {
	j, breaks := p.lineBreaks(j)
	if p.docMarkerAt(j) {
		p.fail(start, "missing closing %c of the string (a document marker on line %d)", q, p.line(j))
	}
	if j < len(p.src) && parent >= 0 {
		ls := p.pos.lineStart(j)
		if spaces := len(p.src[ls:j]) - len(bytes.TrimLeft(p.src[ls:j], " ")); spaces <= parent {
			p.fail(start, "missing closing %c of the string: line %d is not indented enough to continue it", q, p.line(j))
		}
	}
	p.off = j
	return folded(b, breaks, escaped)
}

// lineBreaks skips the line breaks at j and the spaces and tabs after
// each; it returns where the next line's content starts and the number of
// breaks.
func (p *parser) lineBreaks(j int) (next, breaks int) {
	for j < len(p.src) && p.src[j] == '\n' {
		breaks++
		j = p.spaceEnd(j + 1)
	}
	return j, breaks
}

// folded appends what a run of line breaks folds into: a space for a
// single break (nothing for an escaped one), else one line break fewer.
func folded(b []byte, breaks int, escaped bool) []byte {
	if breaks == 1 && !escaped {
		return append(b, ' ')
	}
	return append(b, bytes.Repeat([]byte{'\n'}, breaks-1)...)
}

// escape decodes the escape sequence at p.off (a '\\') in a double-quoted
// scalar.
func (p *parser) escape(b []byte, parent, start int) []byte {
	at := p.off
	if at+1 >= len(p.src) {
		p.fail(start, "missing closing \" of the string")
	}
	e := p.src[at+1]
	p.off += 2
	switch e {
	case '0':
		return append(b, 0)
	case 'a':
		return append(b, '\a')
	case 'b':
		return append(b, '\b')
	case 't', '\t':
		return append(b, '\t')
	case 'n':
		return append(b, '\n')
	case 'v':
		return append(b, '\v')
	case 'f':
		return append(b, '\f')
	case 'r':
		return append(b, '\r')
	case 'e':
		return append(b, 0x1b)
	case ' ', '"', '\\':
		return append(b, e)
	case '/':
		p.fail(at, "the escape \\/ is refused by some YAML readers (go-yaml v3): write /")
	case 'N':
		return utf8.AppendRune(b, 0x85)
	case '_':
		return utf8.AppendRune(b, 0xa0)
	case 'L':
		return utf8.AppendRune(b, 0x2028)
	case 'P':
		return utf8.AppendRune(b, 0x2029)
	case 'x':
		return utf8.AppendRune(b, p.hex(at, 'x', 2))
	case 'u':
		r := p.hex(at, 'u', 4)
		if 0xd800 <= r && r < 0xe000 {
			// go-yaml v3 refuses surrogates; PyYAML keeps each one alone.
			p.fail(at, "\\u escape of a surrogate (U+%04X) is not a character, and YAML readers do not combine pairs: write the character itself, or \\U and its 8 hex digits", r)
		}
		return utf8.AppendRune(b, r)
	case 'U':
		r := p.hex(at, 'U', 8)
		if r > utf8.MaxRune || (0xd800 <= r && r < 0xe000) {
			p.fail(at, "\\U escape is not a Unicode character")
		}
		return utf8.AppendRune(b, r)
	case '\n':
		return p.fold(b, p.off-1, parent, start, '"', true)
	}
	r, _ := utf8.DecodeRune(p.src[at+1:])
	p.fail(at, "invalid escape sequence %q", `\`+string(r))
	return nil
}

func (p *parser) hex(at int, kind byte, n int) rune {
	if p.off+n > len(p.src) {
		p.fail(at, "invalid \\%c escape: want %d hex digits", kind, n)
	}
	var r rune
	for _, c := range p.src[p.off : p.off+n] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			p.fail(at, "invalid \\%c escape: want %d hex digits", kind, n)
		}
		r = r<<4 | rune(d)
	}
	p.off += n
	return r
}

// flowCollection parses [ … ] or { … } at p.off; its lines after the
// first must be indented more than parent.
func (p *parser) flowCollection(parent int) *Node {
	p.enter(p.off)
	defer p.leave()
	open := p.off
	isMap := p.src[open] == '{'
	closer := byte(']')
	n := p.node(Sequence, open)
	if isMap {
		closer = '}'
		n.Kind = Mapping
	}
	p.off++
	seen := map[string]*Node{}
	for {
		p.flowSpace(parent, open, closer)
		c := p.src[p.off]
		if c == closer {
			p.off++
			return n
		}
		if c == ',' {
			p.fail(p.off, "unexpected ',': an entry is missing")
		}
		if isMap {
			if c == '[' || c == '{' {
				p.fail(p.off, "a flow collection used as a key: complex keys are not supported")
			}
			off := p.off
			key := p.flowNode(parent)
			if !key.Quoted {
				plainKey(key)
			}
			p.addKey(seen, key, off)
			p.flowSpace(parent, open, closer)
			var val *Node
			if p.src[p.off] == ':' {
				// YAML readers take a key only on the line of its ':'.
				if p.line(off) != p.line(p.off) {
					p.fail(off, "a key must be on a single line, with its ':'")
				}
				p.checkKeyLength(off)
				p.off++
				p.flowSpace(parent, open, closer)
				if c := p.src[p.off]; c == ',' || c == closer {
					val = p.null(p.off)
				} else {
					val = p.flowNode(parent)
				}
			} else {
				val = p.null(p.off)
			}
			n.Keys = append(n.Keys, key)
			n.Values = append(n.Values, val)
		} else {
			item := p.flowNode(parent)
			p.flowSpace(parent, open, closer)
			if p.src[p.off] == ':' {
				p.fail(p.off, "a mapping inside a flow sequence ([a: b]) is not supported: write [{a: b}]")
			}
			n.Values = append(n.Values, item)
		}
		p.flowSpace(parent, open, closer)
		switch p.src[p.off] {
		case ',':
			p.off++
		case closer:
			p.off++
			return n
		default:
			if p.src[p.off] == '{' && p.byteAt(p.off-1) == '$' {
				p.fail(p.off-1, "a ${...} reference in a flow collection ([...] or {...}) must be quoted: \"${NAME}\"")
			}
			p.fail(p.off, "expected ',' or '%c'", closer)
		}
	}
}

func (p *parser) flowNode(parent int) *Node {
	switch p.src[p.off] {
	case '[', '{':
		return p.flowCollection(parent)
	case '"', '\'':
		return p.quoted(parent)
	}
	p.checkPlainStart(p.off, true)
	return p.plain(parent, true)
}

// flowSpace skips whitespace, comments and line breaks inside the flow
// collection opened at open. It fails at the end of the input, on a
// document marker and on a content line not indented more than parent
// (a line may start with a closing bracket at any indentation).
func (p *parser) flowSpace(parent, open int, closer byte) {
	for {
		if p.off >= len(p.src) {
			p.fail(open, "missing '%c' to close this flow collection", closer)
		}
		switch c := p.src[p.off]; {
		case isSpace(c):
			p.off++
		case c == '#' && p.commentAt(p.off):
			p.skipComment()
		case c == '\n':
			p.off++
			if p.docMarkerAt(p.off) {
				p.fail(open, "missing '%c' to close this flow collection", closer)
			}
			j := p.spaceEnd(p.off)
			if j < len(p.src) && p.src[j] != '\n' && p.src[j] != '#' && p.src[j] != ']' && p.src[j] != '}' && j-p.off <= parent {
				p.fail(open, "missing '%c' to close this flow collection, or line %d, inside it, is not indented more than its key",
					closer, p.line(j))
			}
		default:
			return
		}
	}
}
