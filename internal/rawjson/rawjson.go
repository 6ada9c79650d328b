// Package rawjson splits and joins compact JSON without decoding it.
//
// The webhook pipeline marshals a host object once and then filters and
// redacts fields for each endpoint. Working on the raw bytes keeps the
// object's field order, keeps numbers exactly as marshalled, and costs far
// less than a decode into map[string]any and a second marshal.
//
// The input is expected to be valid JSON, as produced by encoding/json;
// insignificant white space is tolerated.
package rawjson

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"unicode/utf8"
)

// ErrSyntax reports input that is not the JSON value the caller asked for.
var ErrSyntax = errors.New("rawjson: malformed JSON")

// Field is one member of a JSON object.
type Field struct {
	Key    []byte // the decoded key: a sub-slice of the input unless it had escapes
	RawKey []byte // the key as it appeared, quotes included
	Value  []byte // the value, compact as it appeared
}

// Null is the JSON null literal.
var Null = []byte("null")

// Kind returns the first significant byte of v: '{', '[', '"', 'n', 't',
// 'f', a digit or '-'; 0 for empty input.
func Kind(v []byte) byte {
	i := skipSpace(v, 0)
	if i >= len(v) {
		return 0
	}
	return v[i]
}

// Fields splits a JSON object into its members, in order. The returned
// slices, keys included, alias obj: obj must not be modified while they
// are in use, and a key kept longer must be copied.
func Fields(obj []byte) ([]Field, error) {
	it := ObjectIter(obj)
	fields := make([]Field, 0, min(len(obj)/24+1, 64))
	for {
		key, rawKey, ok := it.NextKey()
		if !ok {
			break
		}
		v, ok := it.Value()
		if !ok {
			break
		}
		fields = append(fields, Field{Key: key, RawKey: rawKey, Value: v})
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return fields, nil
}

// Elements splits a JSON array into its elements. The returned slices alias arr.
func Elements(arr []byte) ([][]byte, error) {
	it := ArrayIter(arr)
	els := [][]byte{}
	for it.More() {
		v, ok := it.Value()
		if !ok {
			break
		}
		els = append(els, v)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return els, nil
}

// AppendObject appends the object made of fields to dst.
func AppendObject(dst []byte, fields []Field) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		if f.RawKey != nil {
			dst = append(dst, f.RawKey...)
		} else {
			dst = AppendString(dst, string(f.Key))
		}
		dst = append(dst, ':')
		dst = append(dst, f.Value...)
	}
	return append(dst, '}')
}

// AppendArray appends the array made of els to dst.
func AppendArray(dst []byte, els [][]byte) []byte {
	dst = append(dst, '[')
	for i, e := range els {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
	}
	return append(dst, ']')
}

// ObjectSize returns the length AppendObject would add for fields.
func ObjectSize(fields []Field) int {
	n := 2
	for i, f := range fields {
		if i > 0 {
			n++
		}
		if f.RawKey != nil {
			n += len(f.RawKey)
		} else {
			n += StringSize(string(f.Key))
		}
		n += 1 + len(f.Value)
	}
	return n
}

// StringSize returns the length AppendString would add for s.
func StringSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			switch {
			case plain[b]:
				n++
			case b == '"' || b == '\\' || b == '\n' || b == '\r' || b == '\t' || b == '\b' || b == '\f':
				n += 2
			default:
				n += 6
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1, c == '\u2028', c == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

const hex = "0123456789abcdef"

// plain holds the bytes AppendString copies as they are: ASCII other than
// control characters, the quote, the backslash and the HTML-special <, >
// and &.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// AppendString appends s as a JSON string, escaped exactly as
// encoding/json escapes it (HTML-safe, invalid UTF-8 replaced by U+FFFD).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if plain[s[i]] { // most ids, labels and names are all plain
			i++
			continue
		}
		if b := s[i]; b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] == '"';
// escaped reports a backslash in it.
func stringEnd(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	for {
		// Eight bytes a step while there are eight (see specialMask);
		// then the last ones, in nextSpecial.
		if j+8 <= len(b) {
			m := specialMask(binary.LittleEndian.Uint64(b[j:]))
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) / 8
		} else if j = nextSpecial(b, j); j >= len(b) {
			return 0, false, ErrSyntax
		}
		if b[j] == '"' {
			return j + 1, escaped, nil
		}
		escaped = true
		j += 2 // past the backslash and the byte it escapes
	}
}

// nextSpecial returns the index of the first quote or backslash in b at
// or after j, a byte at a time (stringEnd reads whole words before); len(b)
// or more if there is none.
func nextSpecial(b []byte, j int) int {
	for ; j < len(b); j++ {
		if c := b[j]; c == '"' || c == '\\' {
			return j
		}
	}
	return j
}

const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	lows   = 0x7f7f7f7f7f7f7f7f
	quotes = '"' * ones
	backs  = '\\' * ones
)

// specialMask returns, for the eight bytes of x (the first in the low
// byte), a word whose lowest set bit is the high bit of the first byte
// that is a quote or a backslash; 0 if none is. It is the classic
// "has zero byte" test, (v - ones) &^ v & highs, applied to x^quotes and
// x^backs: bits above the first zero byte may be set spuriously (by the
// borrow), but never bits below it, so the lowest one is exact.
func specialMask(x uint64) uint64 {
	q := x ^ quotes
	s := x ^ backs
	return ((q - ones) &^ q & highs) | ((s - ones) &^ s & highs)
}

// containerEnd returns the index just past the object or array starting
// at b[i]. It counts brackets outside strings, eight bytes a step: the
// quotes of a word are turned into a mask of the bytes inside strings
// (a prefix XOR, carried from word to word), and only brackets outside
// that mask are looked at one by one. Objects and arrays are mostly short
// strings, and this costs no branch per string. A word with a backslash
// is read a byte at a time.
func containerEnd(b []byte, i int) (int, error) {
	depth := 0
	var inString uint64 // 1 inside a string at the start of the word
	j := i
	for {
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			if s := x ^ backs; (s-ones)&^s&highs != 0 {
				break // a backslash: byte by byte
			}
			qs := equalBytes(x, quotes)
			lower := x | 0x2020202020202020 // '[' is '{', ']' is '}'
			opens, closes := equalBytes(lower, '{'*ones), equalBytes(lower, '}'*ones)
			if opens|closes == 0 {
				// No bracket: only whether a string is open changes.
				inString ^= uint64(bits.OnesCount64(qs) & 1)
				j += 8
				continue
			}
			q := movemask(qs)
			in := q ^ q<<1
			in ^= in << 2
			in ^= in << 4
			in = (in ^ -inString) & 0xff // bytes in strings (opening quote included)
			inString = in >> 7
			open := movemask(opens) &^ in
			closing := movemask(closes) &^ in
			for m := open | closing; m != 0; m &= m - 1 {
				k := bits.TrailingZeros64(m)
				if open&(1<<k) != 0 {
					depth++
				} else if depth--; depth == 0 {
					return j + k + 1, nil
				}
			}
			j += 8
		}
		// A word with a backslash, or the last bytes: one at a time, to
		// the end of the word and past an escape that runs over it.
		stop := min(j+8, len(b))
		if j >= len(b) {
			return 0, ErrSyntax
		}
		for ; j < stop; j++ {
			c := b[j]
			if inString != 0 {
				switch c {
				case '\\':
					j++ // the escaped byte, perhaps in the next word
				case '"':
					inString = 0
				}
				continue
			}
			switch c {
			case '"':
				inString = 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
	}
}

// equalBytes returns a word with the high bit of each byte of x that
// equals the same byte of pattern set, and no other bit. (Unlike the
// "has zero byte" test, it is exact for every byte, not just the first.)
func equalBytes(x, pattern uint64) uint64 {
	t := x ^ pattern
	return ^((t&lows + lows) | t) & highs
}

// movemask gathers the high bits of the bytes of m, whose other bits are
// clear, into the eight low bits: byte k's into bit k.
func movemask(m uint64) uint64 {
	return (m >> 7) * 0x0102040810204080 >> 56
}

// valueEnd returns the index just past the value starting at b[i].
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrSyntax
	}
	switch b[i] {
	case '"':
		end, _, err := stringEnd(b, i)
		return end, err
	case '{', '[':
		return containerEnd(b, i)
	default:
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if j == i {
					return 0, ErrSyntax
				}
				return j, nil
			}
			j++
		}
		if j == i {
			return 0, ErrSyntax
		}
		return j, nil
	}
}

// isASCII reports whether b is all ASCII: a quick check of short keys,
// cheaper than a call to utf8.Valid.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&highs != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unquote returns the key a quoted JSON string holds: the bytes between
// the quotes when they need no decoding (a sub-slice of raw, so that a
// walk allocates nothing), else a decoded copy.
func unquote(raw []byte, escaped bool) ([]byte, error) {
	if !escaped && (isASCII(raw) || utf8.Valid(raw)) {
		return raw[1 : len(raw)-1 : len(raw)-1], nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, ErrSyntax
	}
	return []byte(s), nil
}

// Iter walks the members of an object or the elements of an array
// without allocating. Its results alias the input.
//
// Step through an object with NextKey then Value, through an array with
// More then Value. A caller that walks a nested value itself, with an Iter
// of its own, can instead walk Rest and Skip what its walk Used: the nested
// value is then read once rather than once to find its end and once more
// to walk it.
type Iter struct {
	b     []byte
	i     int // the next member, element or value; past the close when done
	close byte
	done  bool
	err   error
}

// ObjectIter starts a walk over the members of obj.
func ObjectIter(obj []byte) Iter { return newIter(obj, '{', '}') }

// ArrayIter starts a walk over the elements of arr.
func ArrayIter(arr []byte) Iter { return newIter(arr, '[', ']') }

func newIter(b []byte, open, close byte) Iter {
	it := Iter{b: b, close: close}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != open {
		it.done, it.err = true, ErrSyntax
		return it
	}
	it.i = skipSpace(b, i+1)
	if it.i < len(b) && b[it.i] == close {
		it.done = true
		it.i++
	}
	return it
}

// Err reports malformed input met by the walk.
func (it *Iter) Err() error { return it.err }

// Used returns, once a walk has ended without error, the length of the
// input it read: up to and including the closing bracket.
func (it *Iter) Used() int { return it.i }

// NextKey returns the key of the next member of an object walk and stops
// at its value, which Value or Skip must then move past; ok is false at
// the end or on an error (see Err).
func (it *Iter) NextKey() (key, rawKey []byte, ok bool) {
	if it.done {
		return nil, nil, false
	}
	b, i := it.b, it.i
	if i >= len(b) || b[i] != '"' {
		return it.fail()
	}
	end, escaped, err := stringEnd(b, i)
	if err != nil {
		return it.fail()
	}
	rawKey = b[i:end]
	if key, err = unquote(rawKey, escaped); err != nil {
		return it.fail()
	}
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return it.fail()
	}
	it.i = skipSpace(b, i+1)
	return key, rawKey, true
}

// More reports whether an array walk has another element, and stops at
// it: Value or Skip must then move past it. It is false at the end or on
// an error (see Err).
func (it *Iter) More() bool { return !it.done }

// Value returns the value the walk stopped at (see NextKey and More) and
// moves past it.
func (it *Iter) Value() (value []byte, ok bool) {
	end, err := valueEnd(it.b, it.i)
	if err != nil {
		it.fail()
		return nil, false
	}
	value = it.b[it.i:end]
	if !it.advance(end) {
		it.fail()
		return nil, false
	}
	return value, true
}

// Rest returns the input from the value the walk stopped at to its end.
func (it *Iter) Rest() []byte { return it.b[it.i:] }

// Skip moves past the value the walk stopped at, which is the first n
// bytes of Rest; false (see Err) if what follows them is malformed.
func (it *Iter) Skip(n int) bool {
	if !it.advance(it.i + n) {
		it.fail()
		return false
	}
	return true
}

// advance moves past the separator after a value ending at end.
func (it *Iter) advance(end int) bool {
	i := skipSpace(it.b, end)
	if i >= len(it.b) {
		return false
	}
	switch it.b[i] {
	case ',':
		it.i = skipSpace(it.b, i+1)
	case it.close:
		it.done = true
		it.i = i + 1
	default:
		return false
	}
	return true
}

func (it *Iter) fail() ([]byte, []byte, bool) {
	it.done, it.err = true, ErrSyntax
	return nil, nil, false
}
