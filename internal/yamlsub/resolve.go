package yamlsub

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Type is the type of a Scalar node's value.
type Type int

// The types of Scalar nodes.
const (
	String Type = iota // quoted, a JSON string, or plain text that no reader takes for another type
	Bool               // true or false (also True, TRUE, False, FALSE in YAML)
	Int                // a decimal integer that fits in an int64
	Float              // a finite decimal number with a '.' or an exponent
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Float:
		return "float"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Resolve tells what the plain YAML scalar s means: nil (null), a bool,
// an int64, a float64, or s itself (text). It gives a meaning only where
// the YAML readers in use agree on it: YAML 1.1 readers (PyYAML, with the
// spec's y and n as go-yaml v2 reads them), YAML 1.2 core schema readers,
// and go-yaml v3. Where they do not (010, 1e3, 0o17, 1_000, 1:30, yes, on,
// -.5, .inf, <<, …), or where they agree on something else than a
// decimal, finite number (0x1F, 07), it returns a problem instead: why,
// and what to write, without s's text (which may be a secret).
//
// The meanings given are: "", ~, null, Null and NULL are null; true,
// True, TRUE, false, False and FALSE are booleans; [-+]?(0|[1-9][0-9]*)
// is an integer (it must fit in an int64); digits with a '.' (1.5, 1.,
// .5), with an exponent only after a '.' and with its sign (1.5e+3), are
// numbers (they must be finite). Any other scalar is text, including those
// that YAML 1.1 readers and go-yaml v3 take for a date or a time
// (2026-03-01T00:00:00Z, which YAML 1.2 readers take for text): their
// text is kept as written, which is how go-yaml v3 decodes them into an
// interface or a string, and which reads as the same instant.
func Resolve(s string) (v any, problem string) {
	switch {
	case s != "" && strings.IndexByte(special, s[0]) < 0:
		return s, "" // text to every reader
	case s != "" && ('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') && !word(s):
		return s, "" // a letter, and not one of the words readers type
	case decimalShort.MatchString(s):
		i, _ := strconv.ParseInt(s, 10, 64)
		return i, "" // an integer to every reader
	}
	y11, core, v3 := resolve11(s), resolveCore(s), resolveV3(s)
	if y11 == core && core == v3 {
		switch r := y11; r.kind {
		case textReading:
			if caseVariant(s) {
				return nil, "some YAML readers (Ruby's) read true, false, yes, no, on, off and null in any case as booleans or null, others as text: write it in lower case, or quote it"
			}
			return s, ""
		case nullReading:
			return nil, ""
		case boolReading:
			return r.b, ""
		case intReading:
			if !decimalInt.MatchString(s) {
				if strings.ContainsAny(s, "xXoObB") {
					return nil, hexOctalBinary
				}
				return nil, leadingZero
			}
			return r.i, ""
		case floatReading:
			if math.IsInf(r.f, 0) || math.IsNaN(r.f) {
				return nil, infNaN
			}
			return r.f, ""
		}
	}
	return nil, disagreement(s, y11, core, v3)
}

// special holds the characters that a plain scalar some reader does not
// read as text can start with (PyYAML's first characters and go-yaml v3's
// resolve table; those of Ruby's case-insensitive words too).
const special = "yYnNtTfFoO~.+-0123456789<="

// The problems Resolve reports, for plain scalars YAML readers read
// differently.
const (
	leadingZero    = "a number with a leading zero is read as octal by some YAML readers and as decimal by others: write it without the leading zero, or quote it"
	hexOctalBinary = "numbers are decimal here, and YAML readers differ on hexadecimal, octal and binary forms: write the number in decimal, or quote it"
	infNaN         = "YAML readers read it as infinity or not-a-number, which JSON cannot send: quote it"
)

// disagreement explains why readers differ on s.
func disagreement(s string, readings ...reading) string {
	number := false
	for _, r := range readings {
		if r.kind == intReading || r.kind == floatReading || r.kind == bigReading {
			number = true
		}
	}
	body := strings.TrimLeft(s, "+-")
	switch {
	case s == "<<":
		return "'<<' is a merge key to YAML readers: quote it"
	case s == "=":
		return "a plain '=' is a \"value\" key to YAML 1.1 readers, which refuse it: quote it"
	case yaml11Bool.MatchString(s):
		return "YAML 1.1 readers (PyYAML) read it as a boolean, YAML 1.2 readers as text: write true or false, or quote it"
	case strings.EqualFold(body, ".inf") || strings.EqualFold(body, ".nan"):
		return infNaN
	case number && strings.Contains(s, "_"):
		return "digit separators (_) make a number to some YAML readers and text to others: remove them, or quote it"
	case number && strings.Contains(s, ":"):
		return "YAML 1.1 readers read it as a base-60 number (1:30 is 90), YAML 1.2 readers as text: quote it"
	case number && len(body) > 1 && body[0] == '0' && strings.ContainsAny(body[1:2], "xXoObB"):
		return hexOctalBinary
	case number && len(body) > 1 && body[0] == '0' && body[1] >= '0' && body[1] <= '9' && !strings.ContainsAny(s, ".eE"):
		return leadingZero
	case number && strings.ContainsAny(s, "eE") && readings[0].kind == textReading:
		return "a number with an exponent is text to YAML 1.1 readers unless it has a '.' and a signed exponent: write it without the exponent, or as 1.5e+3, or quote it"
	case number && (strings.HasPrefix(s, "-.") || strings.HasPrefix(s, "+.")):
		return "a signed number without a digit before its '.' is text to YAML 1.1 readers: write a 0 before the '.', or quote it"
	case number && (readings[0].kind == bigReading || readings[1].kind == bigReading || readings[2].kind == bigReading):
		return "an integer beyond 64 bits is read exactly by some YAML readers and rounded or refused by others: quote it"
	case number && readings[2].kind == textReading && readings[0].kind == floatReading:
		return "a number beyond the range of 64-bit floats is text to some YAML readers and infinity to others: quote it"
	case readings[0].kind == errorReading:
		return "YAML 1.1 readers (PyYAML) cannot read it (" + readings[0].what + "): quote it"
	}
	return "YAML readers read it differently (" + readings[0].describe() + " in YAML 1.1, " +
		readings[1].describe() + " in YAML 1.2, " + readings[2].describe() + " to go-yaml v3): quote it"
}

// word reports whether s is, in any case, one of the words YAML readers
// read as booleans or null.
func word(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		return true
	}
	return false
}

// caseVariant reports a word that Ruby's YAML reader reads as a boolean or
// null whatever its case, in a case the other readers read as text.
func caseVariant(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null":
		return true
	}
	return false
}

// A reading is what one YAML reader makes of a plain scalar.
type reading struct {
	kind readingKind
	b    bool
	i    int64
	f    float64
	what string // errorReading: the reason
}

type readingKind int

const (
	textReading  readingKind = iota // a string (or a timestamp, kept as text)
	nullReading                     // null
	boolReading                     // b
	intReading                      // i
	floatReading                    // f
	bigReading                      // an integer beyond int64 (go-yaml v3: a uint64)
	mergeReading                    // the merge key <<
	errorReading                    // the reader fails on it (what)
)

func (r reading) describe() string {
	switch r.kind {
	case textReading:
		return "text"
	case nullReading:
		return "null"
	case boolReading:
		return strconv.FormatBool(r.b)
	case intReading:
		return "the integer " + strconv.FormatInt(r.i, 10)
	case floatReading:
		return "the number " + strconv.FormatFloat(r.f, 'g', -1, 64)
	case bigReading:
		return "an integer beyond 64 bits"
	case mergeReading:
		return "a merge key"
	}
	return "an error"
}

var (
	text = reading{kind: textReading}

	decimalInt = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)
	// decimalShort is a decimal integer that fits in an int64 for sure.
	decimalShort = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]{0,17})$`)

	// PyYAML's resolvers (yaml/resolver.py), in the order it tries them.
	yaml11Bool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|y|Y|n|N)$`)
	yaml11Float = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?` +
		`|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?` +
		`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*` +
		`|[-+]?\.(?:inf|Inf|INF)` +
		`|\.(?:nan|NaN|NAN))$`)
	yaml11Int = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+` +
		`|[-+]?0[0-7_]+` +
		`|[-+]?(?:0|[1-9][0-9_]*)` +
		`|[-+]?0x[0-9a-fA-F_]+` +
		`|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yaml11Time = regexp.MustCompile(`^(?:([0-9]{4})-([0-9]{2})-([0-9]{2})` +
		`|([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]*)?` +
		`(?:[ \t]*(?:Z|[-+]([0-9]{1,2})(?::([0-9]{2}))?))?)$`)

	// The YAML 1.2 core schema (10.3.2).
	coreInt   = regexp.MustCompile(`^[-+]?[0-9]+$`)
	coreOct   = regexp.MustCompile(`^0o[0-7]+$`)
	coreHex   = regexp.MustCompile(`^0x[0-9a-fA-F]+$`)
	coreFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

	// go-yaml v3's float syntax (resolve.go).
	v3Float = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
)

// resolve11 reads s as PyYAML's SafeLoader does (YAML 1.1), with y, Y, n
// and N as booleans, as the spec and go-yaml v2 have them.
func resolve11(s string) reading {
	switch {
	case yaml11Bool.MatchString(s):
		switch s {
		case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "y", "Y":
			return reading{kind: boolReading, b: true}
		}
		return reading{kind: boolReading}
	case yaml11Float.MatchString(s):
		return float11(s)
	case yaml11Int.MatchString(s):
		return int11(s)
	case s == "<<":
		return reading{kind: mergeReading}
	case s == "" || s == "~" || s == "null" || s == "Null" || s == "NULL":
		return reading{kind: nullReading}
	case yaml11Time.MatchString(s):
		return time11(s)
	case s == "=":
		return reading{kind: errorReading, what: "a value key"}
	}
	return text
}

// sign splits a leading sign off s.
func sign(s string) (neg bool, rest string) {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		return s[0] == '-', s[1:]
	}
	return false, s
}

// int11 is PyYAML's construct_yaml_int.
func int11(s string) reading {
	neg, v := sign(strings.ReplaceAll(s, "_", ""))
	n := new(big.Int)
	ok := true
	switch {
	case v == "0":
	case strings.HasPrefix(v, "0b"):
		_, ok = n.SetString(v[2:], 2)
	case strings.HasPrefix(v, "0x"):
		_, ok = n.SetString(v[2:], 16)
	case v[0] == '0':
		_, ok = n.SetString(v, 8)
	case strings.Contains(v, ":"):
		for _, part := range strings.Split(v, ":") {
			d, _ := new(big.Int).SetString(part, 10)
			n.Mul(n, big.NewInt(60)).Add(n, d)
		}
	default:
		_, ok = n.SetString(v, 10)
	}
	if !ok {
		return reading{kind: errorReading, what: "not a number"}
	}
	if neg {
		n.Neg(n)
	}
	if !n.IsInt64() {
		return reading{kind: bigReading}
	}
	return reading{kind: intReading, i: n.Int64()}
}

// float11 is PyYAML's construct_yaml_float.
func float11(s string) reading {
	neg, v := sign(strings.ToLower(strings.ReplaceAll(s, "_", "")))
	var f float64
	switch {
	case v == ".inf":
		f = math.Inf(1)
	case v == ".nan":
		f = math.NaN()
	case strings.Contains(v, ":"):
		for _, part := range strings.Split(v, ":") {
			d, err := strconv.ParseFloat(part, 64)
			if err != nil {
				return reading{kind: errorReading, what: "not a number"}
			}
			f = f*60 + d
		}
	default:
		var err error
		// Python's float() gives infinity where ParseFloat reports a range
		// error along with it.
		if f, err = strconv.ParseFloat(v, 64); err != nil && !math.IsInf(f, 0) {
			return reading{kind: errorReading, what: "not a number"}
		}
	}
	if neg {
		f = -f
	}
	return reading{kind: floatReading, f: f}
}

// time11 checks that PyYAML can build the date or time s matches: it
// reads as text (see Resolve) if so, and fails if not.
func time11(s string) reading {
	m := yaml11Time.FindStringSubmatch(s)
	num := func(i int) int { n, _ := strconv.Atoi(m[i]); return n }
	y, mo, d := num(1), num(2), num(3)
	if m[1] == "" {
		y, mo, d = num(4), num(5), num(6)
	}
	bad := reading{kind: errorReading, what: "not a valid date"}
	if y < 1 || mo < 1 || mo > 12 || d < 1 || time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return bad
	}
	if m[1] == "" && (num(7) > 23 || num(8) > 59 || num(9) > 59 || num(10)*60+num(11) >= 24*60) {
		return bad
	}
	return text
}

// resolveCore reads s with the YAML 1.2 core schema.
func resolveCore(s string) reading {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return reading{kind: nullReading}
	case "true", "True", "TRUE":
		return reading{kind: boolReading, b: true}
	case "false", "False", "FALSE":
		return reading{kind: boolReading}
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return reading{kind: floatReading, f: math.Inf(1)}
	case "-.inf", "-.Inf", "-.INF":
		return reading{kind: floatReading, f: math.Inf(-1)}
	case ".nan", ".NaN", ".NAN":
		return reading{kind: floatReading, f: math.NaN()}
	}
	base := 0
	digits := s
	switch {
	case coreInt.MatchString(s):
		base = 10
	case coreOct.MatchString(s):
		base, digits = 8, s[2:]
	case coreHex.MatchString(s):
		base, digits = 16, s[2:]
	case coreFloat.MatchString(s):
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !math.IsInf(f, 0) {
			return reading{kind: errorReading, what: "not a number"}
		}
		return reading{kind: floatReading, f: f}
	default:
		return text
	}
	n, _ := new(big.Int).SetString(digits, base)
	if !n.IsInt64() {
		return reading{kind: bigReading}
	}
	return reading{kind: intReading, i: n.Int64()}
}

// resolveV3 reads s as go-yaml v3 decodes an untagged plain scalar
// (resolve.go), a timestamp as text.
func resolveV3(s string) reading {
	switch s {
	case "true", "True", "TRUE":
		return reading{kind: boolReading, b: true}
	case "false", "False", "FALSE":
		return reading{kind: boolReading}
	case "", "~", "null", "Null", "NULL":
		return reading{kind: nullReading}
	case ".nan", ".NaN", ".NAN":
		return reading{kind: floatReading, f: math.NaN()}
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return reading{kind: floatReading, f: math.Inf(1)}
	case "-.inf", "-.Inf", "-.INF":
		return reading{kind: floatReading, f: math.Inf(-1)}
	}
	// As a key, go-yaml v3 takes a plain << for a merge key; as a value,
	// for text.
	switch c := s[0]; {
	case c == '.':
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return reading{kind: floatReading, f: f}
		}
	case c == '+' || c == '-' || '0' <= c && c <= '9':
		if isTimestampV3(s) {
			return text
		}
		plain := strings.ReplaceAll(s, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return reading{kind: intReading, i: i}
		}
		if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return reading{kind: bigReading}
		}
		if v3Float.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return reading{kind: floatReading, f: f}
			}
		}
		// go-yaml v3 then tries 0b and 0o itself (with ParseInt and
		// ParseUint, which strconv's base 0 has already covered but for
		// what follows the prefix: 0b-1 is -1 to it).
		for _, p := range []struct {
			prefix string
			base   int
		}{{"0b", 2}, {"0o", 8}} {
			if strings.HasPrefix(plain, p.prefix) {
				if i, err := strconv.ParseInt(plain[2:], p.base, 64); err == nil {
					return reading{kind: intReading, i: i}
				}
				if _, err := strconv.ParseUint(plain[2:], p.base, 64); err == nil {
					return reading{kind: bigReading}
				}
				break
			}
			if strings.HasPrefix(plain, "-"+p.prefix) {
				if i, err := strconv.ParseInt("-"+plain[3:], p.base, 64); err == nil {
					return reading{kind: intReading, i: i}
				}
				break
			}
		}
	}
	return text
}

// v3TimeFormats are the timestamp layouts go-yaml v3 tries.
var v3TimeFormats = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

// isTimestampV3 is go-yaml v3's parseTimestamp.
func isTimestampV3(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			break
		}
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, format := range v3TimeFormats {
		if _, err := time.Parse(format, s); err == nil {
			return true
		}
	}
	return false
}
