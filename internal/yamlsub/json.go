package yamlsub

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// ParseJSON parses one JSON value into the same tree as Parse: objects
// become Mapping nodes (duplicate keys are an error, as in YAML), arrays
// Sequence nodes, strings quoted Scalar nodes, numbers (their text, as
// written), true and false plain Scalar nodes, and null a Null node; each
// node has the line and column where its token starts. A leading byte order
// mark is skipped. Errors are *Error.
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
			p.addKey(seen, key, koff)
			n.Keys = append(n.Keys, key)
			n.Values = append(n.Values, p.value())
		}
		p.token() // '}'
		return n
	case string:
		n := p.node(Scalar, off)
		n.Value, n.Quoted = t, true
		return n
	case json.Number:
		n := p.node(Scalar, off)
		n.Value = t.String()
		return n
	case bool:
		n := p.node(Scalar, off)
		n.Value = strconv.FormatBool(t)
		return n
	case nil:
		n := p.node(Null, off)
		n.Value = "null"
		return n
	}
	p.fail(off, "unexpected JSON token")
	return nil
}
