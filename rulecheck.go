package webhook

import (
	"cmp"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pathCheck is what a field path of a rule can reach in the JSON that
// encoding/json writes for a type.
type pathCheck int

const (
	pathUnknown  pathCheck = iota // the type does not fix its keys (a map, an interface, a type with its own MarshalJSON/MarshalText/AppendText, or a limit passed): nothing can be said
	pathMatches                   // some key at each element is written exactly so
	pathCaseOnly                  // it would match only if case were ignored; hint says which spelling exists
	pathMissing                   // no key at some element is written so, in any case
)

// certainty orders results for merging the branches of a walk: a match
// anywhere wins; then an unknowable branch, which might match; then a
// spelling that matches only with case ignored; last a proven miss.
func (c pathCheck) certainty() int {
	switch c {
	case pathMatches:
		return 3
	case pathUnknown:
		return 2
	case pathCaseOnly:
		return 1
	}
	return 0
}

// Limits of checkFieldPath, past which it answers pathUnknown.
const (
	pathMaxEmbedDepth = 16      // levels of embedded structs below a struct
	pathMaxKeys       = 1024    // fields collected for one struct type
	pathMaxSteps      = 1 << 14 // types visited by one walk (dotted keys and case folding branch it)
	pathMaxUnwrap     = 64      // pointers, slices and arrays around one type
)

// pathOpaqueIfaces are the interfaces through which a type writes its own
// JSON, whose keys therefore no type inspection can know.
var pathOpaqueIfaces = []reflect.Type{
	reflect.TypeFor[json.Marshaler](),
	reflect.TypeFor[encoding.TextMarshaler](),
	reflect.TypeFor[encoding.TextAppender](),
}

// checkFieldPath reports whether path (dot-separated elements, as in
// rules, e.g. "customer.email") can reach a key of the JSON that
// encoding/json writes for values of type t. Pointers are followed, and
// slices and arrays reach into every element, as rules do.
//
// A key spelled with dots (`json:"user.email"`) is reached as the rule
// engine reaches it: by as many path elements as it has, and also by a
// path that ends inside it ("user"), since a rule's leaf swallows what is
// under it.
//
// hint is "" for pathMatches and pathUnknown. For pathCaseOnly it is the
// path as the type spells it ("Customer.Email"); where the match stops at
// an unknowable type the rest is the path's own ("meta.Anything"). For
// pathMissing it is, where a scalar field was reached with elements left,
// the spelled path to that field ("customer.id" for "customer.id.x"); else,
// where exactly one spelling of a key at the failing element is within edit
// distance 2 of the path's (case ignored), the spelled path up to and
// including that key ("customer.email" for "customer.emial"); else "".
func checkFieldPath(t reflect.Type, path string) (result pathCheck, hint string) {
	elems := strings.Split(path, ".")
	if slices.Contains(elems, "") {
		return pathMissing, ""
	}
	if t == nil {
		return pathUnknown, ""
	}
	w := pathWalker{structs: map[reflect.Type]pathStruct{}}
	return w.walk(t, elems, nil, false)
}

// pathWalker carries one checkFieldPath walk's budget and the keys of the
// struct types it has met.
type pathWalker struct {
	steps   int
	structs map[reflect.Type]pathStruct
}

// pathStruct is the set of keys encoding/json writes for a struct type.
type pathStruct struct {
	keys     []pathKey
	overflow bool // a limit passed: the keys are not known
}

// pathKey is one key of a struct's JSON object.
type pathKey struct {
	name  string       // as written
	elems []string     // name split at dots, as the rule engine splits it
	typ   reflect.Type // the type of its value
}

// walk matches rest against the JSON of t. spelled is the path walked so
// far, as the types spell it; folded says whether some element of it
// matched only with case ignored.
func (w *pathWalker) walk(t reflect.Type, rest, spelled []string, folded bool) (pathCheck, string) {
	if w.steps++; w.steps > pathMaxSteps {
		return pathUnknown, ""
	}
	var keys pathStruct
	switch t, shape := pathShapeOf(t); shape {
	case pathShapeScalar:
		return pathMissing, strings.Join(spelled, ".")
	case pathShapeStruct:
		keys = w.keysOf(t)
		if !keys.overflow {
			break
		}
		fallthrough
	default:
		if folded {
			// An exact match needs the folded element exactly spelled:
			// whatever lies below, only folding can match.
			return pathCaseOnly, strings.Join(slices.Concat(spelled, rest), ".")
		}
		return pathUnknown, ""
	}

	best, bestHint := pathMissing, ""
	for _, k := range keys.keys {
		n := min(len(k.elems), len(rest))
		exact, fold := pathElemsEqual(k.elems[:n], rest[:n])
		if !fold {
			continue
		}
		// spelled is a stack shared by the walk: siblings overwrite
		// what an earlier one appended, and hints are copied out as
		// strings before returning.
		sp := append(spelled, k.elems[:n]...)
		f := folded || !exact
		var r pathCheck
		var h string
		switch {
		case n < len(rest):
			r, h = w.walk(k.typ, rest[n:], sp, f)
		case f:
			r, h = pathCaseOnly, strings.Join(sp, ".")
		default:
			r = pathMatches
		}
		if r == pathMatches {
			return pathMatches, ""
		}
		if r.certainty() > best.certainty() {
			best, bestHint = r, h
		} else if r == best && bestHint == "" {
			bestHint = h
		}
	}
	if best == pathMissing && bestHint == "" {
		bestHint = pathNearKey(keys.keys, rest, spelled)
	}
	return best, bestHint
}

// pathElemsEqual compares a key's elements with as many of a path's:
// exact when every one is equal, fold when every one is equal with case
// ignored.
func pathElemsEqual(key, path []string) (exact, fold bool) {
	exact = true
	for i := range key {
		if key[i] != path[i] {
			exact = false
			if !strings.EqualFold(key[i], path[i]) {
				return false, false
			}
		}
	}
	return exact, true
}

// pathNearKey returns the spelled path to the one key (or its leading
// elements, for a path shorter than the key) within edit distance 2 of
// rest's leading elements (1 for names under six letters), case ignored; "" when there is none, or when
// two spellings are equally near.
func pathNearKey(keys []pathKey, rest, spelled []string) string {
	best, bestDist, tie := "", 3, false
	for _, k := range keys {
		n := min(len(k.elems), len(rest))
		want, have := strings.Join(rest[:n], "."), strings.Join(k.elems[:n], ".")
		if strings.EqualFold(want, have) {
			continue // reached already: the miss is below it
		}
		d := foldEditDistance(want, have)
		if d > 1 && utf8.RuneCountInString(want) < 6 {
			continue // two edits turn most short names into others ("note", "code")
		}
		switch {
		case d < bestDist:
			best, bestDist, tie = have, d, false
		case d == bestDist && have != best:
			tie = true
		}
	}
	if best == "" || tie {
		return ""
	}
	return strings.Join(append(slices.Clip(spelled), best), ".")
}

// pathShape is what encoding/json makes of a type, as far as keys go.
type pathShape int

const (
	pathShapeOpaque pathShape = iota // keys unknown: map, interface, own marshaler, or too deep
	pathShapeStruct                  // an object with the struct's keys
	pathShapeScalar                  // a string, number, bool, null: no keys
)

// pathShapeOf follows pointers, and slices and arrays to their elements,
// and reports what t's JSON is, with the struct type for pathShapeStruct.
func pathShapeOf(t reflect.Type) (reflect.Type, pathShape) {
	for range pathMaxUnwrap {
		if t.Kind() == reflect.Pointer {
			t = t.Elem() // counted: type P *P is a valid type
			continue
		}
		if pathOpaque(t) {
			return t, pathShapeOpaque
		}
		switch t.Kind() {
		case reflect.Interface, reflect.Map:
			return t, pathShapeOpaque
		case reflect.Struct:
			return t, pathShapeStruct
		case reflect.Slice:
			if e := t.Elem(); e.Kind() == reflect.Uint8 && !pathByteMarshals(e) {
				return t, pathShapeScalar // base64
			}
			t = t.Elem()
		case reflect.Array:
			t = t.Elem()
		default:
			return t, pathShapeScalar
		}
	}
	return t, pathShapeOpaque
}

// pathOpaque reports whether t or *t writes its own JSON.
func pathOpaque(t reflect.Type) bool {
	for _, i := range pathOpaqueIfaces {
		if t.Implements(i) || (t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(i)) {
			return true
		}
	}
	return false
}

// pathByteMarshals reports whether a slice of the byte type e is written
// as an array rather than base64, as encoding/json decides it.
func pathByteMarshals(e reflect.Type) bool {
	p := reflect.PointerTo(e)
	return p.Implements(pathOpaqueIfaces[0]) || p.Implements(pathOpaqueIfaces[1])
}

// keysOf returns the keys of struct type t, computed once per walk.
func (w *pathWalker) keysOf(t reflect.Type) pathStruct {
	if s, ok := w.structs[t]; ok {
		return s
	}
	s := pathStructKeys(t)
	w.structs[t] = s
	return s
}

// pathField is a field found by pathStructKeys, as typeFields in
// encoding/json records it.
type pathField struct {
	name  string
	tag   bool  // name from the json tag
	index []int // field indexes from the root struct: its depth and order
	typ   reflect.Type
}

// pathStructKeys computes the keys encoding/json writes for struct type t,
// following typeFields in encoding/json/encode.go: exported fields and the
// exported fields of embedded structs (of unexported types too), named by
// a valid json tag name or else the Go name, `json:"-"` skipped; embedded
// structs without a tag name flattened, where at each name the shallowest
// field wins, at equal depth a tagged one, and two otherwise equal ones
// cancel out. It reports overflow past pathMaxEmbedDepth or pathMaxKeys.
func pathStructKeys(t reflect.Type) pathStruct {
	current := []pathField{}
	next := []pathField{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []pathField

	for depth := 0; len(next) > 0; depth++ {
		if depth > pathMaxEmbedDepth {
			return pathStruct{overflow: true}
		}
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}

		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := range f.typ.NumField() {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !sf.IsExported() && et.Kind() != reflect.Struct {
						continue // embedded unexported non-struct
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if !pathValidTagName(name) {
					name = ""
				}
				index := append(slices.Clip(f.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}

				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					field := pathField{name: name, tag: name != "", index: index, typ: ft}
					if name == "" {
						field.name = sf.Name
					}
					fields = append(fields, field)
					if count[f.typ] > 1 {
						// Reached through two embeddings at one depth: a
						// duplicate, so that dominance cancels it out.
						fields = append(fields, field)
					}
					if len(fields) > pathMaxKeys {
						return pathStruct{overflow: true}
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, pathField{name: ft.Name(), index: index, typ: ft})
				}
			}
		}
	}

	slices.SortFunc(fields, func(a, b pathField) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tag != b.tag {
			if a.tag {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for i, advance := 0, 0; i < len(fields); i += advance {
		for advance = 1; i+advance < len(fields) && fields[i+advance].name == fields[i].name; advance++ {
		}
		same := fields[i : i+advance]
		// Sorted by depth, then tagged first: the first dominates unless
		// the second is as deep and as tagged.
		if len(same) > 1 && len(same[0].index) == len(same[1].index) && same[0].tag == same[1].tag {
			continue
		}
		out = append(out, same[0])
	}
	slices.SortFunc(out, func(a, b pathField) int { return slices.Compare(a.index, b.index) })

	keys := make([]pathKey, len(out))
	for i, f := range out {
		keys[i] = pathKey{name: f.name, elems: strings.Split(f.name, "."), typ: f.typ}
	}
	return pathStruct{keys: keys}
}

// pathValidTagName reports whether encoding/json takes s, from a json
// tag, as a key (isValidTag in encode.go).
func pathValidTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
			// Allowed punctuation; backslash and quotes are reserved.
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// nearLabel reports whether a model label named by a rule (rule) is
// probably a mistake for a label seen on an event (seen): not equal, but
// equal when case is ignored, or the same type name in another package
// ("rvmodels.Customer" vs "store.Customer", case ignored), or within edit
// distance 2 (case-insensitive) when both are at least 6 characters long.
func nearLabel(rule, seen string) bool {
	if rule == seen {
		return false
	}
	if strings.EqualFold(rule, seen) {
		return true
	}
	ri, si := strings.LastIndexByte(rule, '.'), strings.LastIndexByte(seen, '.')
	if ri >= 0 && si >= 0 && ri+1 < len(rule) && strings.EqualFold(rule[ri+1:], seen[si+1:]) {
		return true
	}
	return len([]rune(rule)) >= 6 && len([]rune(seen)) >= 6 && foldEditDistance(rule, seen) <= 2
}

// foldEditDistance is the number of edits (a rune inserted, deleted or
// replaced, or two adjacent runes swapped) that turn a into b, case
// ignored: the optimal string alignment distance, in which "emial" is one
// edit from "email".
func foldEditDistance(a, b string) int {
	ra, rb := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	// Three rows of the table: two back (for swaps), the last, this one.
	back, prev, cur := make([]int, len(rb)+1), make([]int, len(rb)+1), make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], back[j-2]+1)
			}
		}
		back, prev, cur = prev, cur, back
	}
	return prev[len(rb)]
}
