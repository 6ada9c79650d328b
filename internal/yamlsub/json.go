package yamlsub

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseJSON parses one JSON value into the same tree as Parse: objects
// become Mapping nodes (duplicate keys are an error, as in YAML), arrays
// Sequence nodes, strings quoted Scalar nodes, numbers (their text, as
// written; Int when integral, else Float), true and false plain Scalar
// nodes of type Bool, and null a Null node; each node has the line and
// column where its token starts. A leading byte order mark is skipped.
// Errors are *Error. As in Parse, some nodes may have a Problem, which
// the caller must refuse: a string (or key) that is not valid UTF-8 or
// holds a lone surrogate escape (U+FFFD in their place in Value), an
// integer beyond 64 bits (JSON readers read it exactly, rounded or not at
// all), a number beyond the range of 64-bit floats.
func ParseJSON(src []byte) (root *Node, err error) {
	defer catch(&root, &err)
	src = bytes.TrimPrefix(src, bom)
	p := &jsonParser{base: newBase(src)}
	p.dec = json.NewDecoder(bytes.NewReader(src))
	p.dec.UseNumber()
	root = p.value()
	before := p.dec.InputOffset()
	if _, err := p.dec.Token(); err != io.EOF {
		if err != nil {
			p.failDecode(err)
		}
		p.fail(p.start(before), "unexpected data after the top-level JSON value")
	}
	return root, nil
}

type jsonParser struct {
	base
	dec *json.Decoder
}

// failDecode reports a decoder error at its offset.
func (p *jsonParser) failDecode(err error) {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		p.fail(int(se.Offset), "%s", se.Error())
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		p.fail(len(p.src), "unexpected end of JSON input")
	default:
		p.fail(int(p.dec.InputOffset()), "%s", err.Error())
	}
}

// start returns where the token after offset off begins: past whitespace
// and the separators the decoder consumes with the next token.
func (p *jsonParser) start(off int64) int {
	i := int(off)
	for i < len(p.src) {
		switch p.src[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
			continue
		}
		break
	}
	return i
}

// token returns the next token and where it starts.
func (p *jsonParser) token() (json.Token, int) {
	before := p.dec.InputOffset()
	tok, err := p.dec.Token()
	if err != nil {
		p.failDecode(err)
	}
	return tok, p.start(before)
}

func (p *jsonParser) value() *Node {
	tok, off := p.token()
	switch t := tok.(type) {
	case json.Delim:
		p.enter(off)
		defer p.leave()
		if t == '[' {
			n := p.node(Sequence, off)
			for p.dec.More() {
				n.Values = append(n.Values, p.value())
			}
			p.token() // ']'
			return n
		}
		n := p.node(Mapping, off)
		seen := map[string]*Node{}
		for p.dec.More() {
			tok, koff := p.token()
			s, _ := tok.(string)
			key := p.node(Scalar, koff)
			key.Value, key.Quoted = s, true
			p.checkString(key, koff)
			p.addKey(seen, key, koff)
			n.Keys = append(n.Keys, key)
			n.Values = append(n.Values, p.value())
		}
		p.token() // '}'
		return n
	case string:
		n := p.node(Scalar, off)
		n.Value, n.Quoted = t, true
		p.checkString(n, off)
		return n
	case json.Number:
		n := p.node(Scalar, off)
		n.Value = t.String()
		number(n)
		return n
	case bool:
		n := p.node(Scalar, off)
		n.Value = strconv.FormatBool(t)
		n.Type = Bool
		return n
	case nil:
		n := p.node(Null, off)
		n.Value = "null"
		return n
	}
	p.fail(off, "unexpected JSON token")
	return nil
}

// checkString gives n, the string whose token starts at off, a Problem
// when its text was not valid UTF-8 or held a lone surrogate escape: the
// decoder replaced them with U+FFFD without a word.
func (p *jsonParser) checkString(n *Node, off int) {
	if end := int(p.dec.InputOffset()); off < end && end <= len(p.src) && !validJSONString(p.src[off:end]) {
		n.Problem = NotUTF8
	}
}

// validJSONString reports whether the string token raw (quotes included,
// its syntax checked by the decoder) is valid UTF-8 with no lone
// surrogate escape.
func validJSONString(raw []byte) bool {
	for i := 1; i < len(raw)-1; {
		c := raw[i]
		switch {
		case c == '\\' && raw[i+1] == 'u':
			r := hex4(raw[i+2:])
			i += 6
			if 0xdc00 <= r && r < 0xe000 {
				return false
			}
			if 0xd800 <= r && r < 0xdc00 {
				if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
					return false
				}
				if lo := hex4(raw[i+2:]); lo < 0xdc00 || lo >= 0xe000 {
					return false
				}
				i += 6
			}
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				return false
			}
			i += size
		}
	}
	return true
}

// hex4 decodes the four hex digits at the start of b (-1 if they are not).
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}

// number sets the Type of the JSON number n, or its Problem.
func number(n *Node) {
	if !strings.ContainsAny(n.Value, ".eE") {
		if _, err := strconv.ParseInt(n.Value, 10, 64); err != nil {
			n.Problem = "an integer beyond 64 bits is read exactly by some JSON readers and rounded or refused by others: quote it"
		}
		n.Type = Int
		return
	}
	n.Type = Float
	if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
		n.Problem = "a number beyond the range of 64-bit floats: quote it"
	}
}
