package yamlsub

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestResolve: the plain scalars readers agree on get that meaning; the
// others a problem that says what to write.
func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s       string
		want    any
		problem string
	}{
		{s: "", want: nil}, {s: "~", want: nil}, {s: "null", want: nil}, {s: "Null", want: nil}, {s: "NULL", want: nil},
		{s: "true", want: true}, {s: "True", want: true}, {s: "TRUE", want: true}, {s: "false", want: false}, {s: "FALSE", want: false},
		{s: "0", want: int64(0)}, {s: "-0", want: int64(0)}, {s: "+1", want: int64(1)}, {s: "-17", want: int64(-17)},
		{s: "9223372036854775807", want: int64(math.MaxInt64)}, {s: "-9223372036854775808", want: int64(math.MinInt64)},
		{s: ".5", want: 0.5}, {s: "1.", want: 1.0}, {s: "1.0", want: 1.0}, {s: "-2.5", want: -2.5}, {s: "01.5", want: 1.5},
		{s: "1.5e+3", want: 1500.0}, {s: "1.e-3", want: 0.001}, {s: ".5e+3", want: 500.0}, {s: "1.0e-400", want: 0.0},
		{s: "x", want: "x"}, {s: "1.2.3", want: "1.2.3"}, {s: "_1", want: "_1"}, {s: "-", want: "-"}, {s: ".", want: "."},
		{s: "-.nan", want: "-.nan"}, {s: "12:3a", want: "12:3a"}, {s: "0x", want: "0x"}, {s: "1:60", want: "1:60"},
		{s: "2026-03-01", want: "2026-03-01"}, {s: "2026-03-01T00:00:00Z", want: "2026-03-01T00:00:00Z"},
		{s: "2001-12-14 21:59:43.10 -5", want: "2001-12-14 21:59:43.10 -5"},

		{s: "010", problem: leadingZero}, {s: "07", problem: leadingZero}, {s: "00", problem: leadingZero},
		{s: "08", problem: leadingZero}, {s: "-012", problem: leadingZero},
		{s: "0x1F", problem: hexOctalBinary}, {s: "-0x1F", problem: hexOctalBinary}, {s: "0X1F", problem: hexOctalBinary},
		{s: "0o17", problem: hexOctalBinary}, {s: "0O17", problem: hexOctalBinary}, {s: "0b101", problem: hexOctalBinary},
		{s: "0B1", problem: hexOctalBinary}, {s: "0b-1", problem: hexOctalBinary},
		{s: "1e3", problem: "a number with an exponent"}, {s: "1E3", problem: "a number with an exponent"},
		{s: "1.5e3", problem: "a number with an exponent"}, {s: "1e+3", problem: "a number with an exponent"},
		{s: ".5e3", problem: "a number with an exponent"},
		{s: "1_000", problem: "digit separators"}, {s: "1_", problem: "digit separators"}, {s: "0x_1F", problem: "digit separators"},
		{s: "1_0.5", problem: "digit separators"}, {s: ".5_0", problem: "digit separators"},
		{s: "1:30", problem: "base-60"}, {s: "1:30.5", problem: "base-60"}, {s: "-190:20:30", problem: "base-60"},
		{s: "-.5", problem: "a signed number without a digit before its '.'"}, {s: "+.5", problem: "a signed number"},
		{s: "yes", problem: "YAML 1.1 readers (PyYAML) read it as a boolean"}, {s: "No", problem: "read it as a boolean"},
		{s: "on", problem: "read it as a boolean"}, {s: "OFF", problem: "read it as a boolean"},
		{s: "y", problem: "read it as a boolean"}, {s: "N", problem: "read it as a boolean"},
		{s: "tRUE", problem: "in any case"}, {s: "nULL", problem: "in any case"}, {s: "yEs", problem: "in any case"},
		{s: ".inf", problem: infNaN}, {s: "-.Inf", problem: infNaN}, {s: "+.INF", problem: infNaN}, {s: ".NaN", problem: infNaN},
		{s: "99999999999999999999", problem: "an integer beyond 64 bits"}, {s: "9223372036854775808", problem: "an integer beyond 64 bits"},
		{s: "0xFFFFFFFFFFFFFFFF", problem: hexOctalBinary},
		{s: "1.0e+400", problem: "beyond the range of 64-bit floats"},
		{s: "<<", problem: "merge key"}, {s: "=", problem: `"value" key`},
		{s: "2026-02-30", problem: "not a valid date"}, {s: "0000-01-01", problem: "not a valid date"},
		{s: "0b_", problem: "cannot read it"},
	}
	for _, tt := range tests {
		v, problem := Resolve(tt.s)
		if tt.problem != "" {
			assert.Nil(t, v, "%q", tt.s)
			assert.Contains(t, problem, tt.problem, "%q", tt.s)
			assert.True(t, strings.HasSuffix(problem, "quote it"), "%q: %s", tt.s, problem)
			continue
		}
		assert.Empty(t, problem, "%q", tt.s)
		assert.Equal(t, tt.want, v, "%q", tt.s)
	}
}

// TestResolveText: a scalar that starts with a character not in special
// is text to every reader, as Resolve's shortcut has it.
func TestResolveText(t *testing.T) {
	t.Parallel()
	for c := byte(0x21); c < 0x7f; c++ {
		for _, rest := range []string{"", "rue", "RUE", "ull", "0", "1.5", "e3", "es", "n", "ff", ":30", "x10", "alsey", "ulll", "nn"} {
			s := string(c) + rest
			letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
			if strings.IndexByte(special, c) >= 0 && (!letter || word(s)) {
				continue
			}
			for _, r := range []reading{resolve11(s), resolveCore(s), resolveV3(s)} {
				assert.Equal(t, textReading, r.kind, "%q", s)
			}
			assert.False(t, caseVariant(s), "%q", s)
		}
	}
	// Short decimal integers are integers to every reader.
	for _, s := range []string{"0", "-0", "+0", "1", "-17", "+999999999999999999", "-999999999999999999"} {
		want, _ := strconv.ParseInt(s, 10, 64)
		for _, r := range []reading{resolve11(s), resolveCore(s), resolveV3(s)} {
			assert.Equal(t, reading{kind: intReading, i: want}, r, "%q", s)
		}
	}
}

// key renders a reading as testdata/pyyaml.json has it.
func (r reading) key() string {
	switch r.kind {
	case textReading:
		return "text"
	case nullReading:
		return "null"
	case boolReading:
		return "bool:" + strconv.FormatBool(r.b)
	case intReading:
		return "int:" + strconv.FormatInt(r.i, 10)
	case floatReading:
		switch {
		case math.IsNaN(r.f):
			return "float:NaN"
		case math.IsInf(r.f, 1):
			return "float:+Inf"
		case math.IsInf(r.f, -1):
			return "float:-Inf"
		}
		return "float:" + strconv.FormatFloat(r.f, 'g', -1, 64)
	case bigReading:
		return "big"
	}
	return "error"
}

// pyyamlReadings returns testdata/pyyaml.json: how PyYAML reads plain
// scalars (written by testdata/pyyaml.py).
func pyyamlReadings(t *testing.T) map[string]string {
	b, err := os.ReadFile(filepath.Join("testdata", "pyyaml.json"))
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotEmpty(t, m)
	return m
}

// TestResolve11MatchesPyYAML: resolve11 reads plain scalars as PyYAML's
// SafeLoader does, but for y, Y, n and N, which the YAML 1.1 spec and
// go-yaml v2 read as booleans.
func TestResolve11MatchesPyYAML(t *testing.T) {
	t.Parallel()
	for s, want := range pyyamlReadings(t) {
		switch s {
		case "y", "Y":
			want = "bool:true"
		case "n", "N":
			want = "bool:false"
		}
		got := resolve11(s).key()
		if strings.HasPrefix(want, "float:") && strings.HasPrefix(got, "float:") {
			w, _ := strconv.ParseFloat(strings.TrimPrefix(want, "float:"), 64)
			g, _ := strconv.ParseFloat(strings.TrimPrefix(got, "float:"), 64)
			if w == g || math.IsNaN(w) && math.IsNaN(g) {
				continue
			}
		}
		assert.Equal(t, want, got, "%q", s)
	}
}

// TestResolveV3MatchesYAMLv3: resolveV3 reads plain values as go-yaml v3
// does (a timestamp as text).
func TestResolveV3MatchesYAMLv3(t *testing.T) {
	t.Parallel()
	var scalars []string
	for s := range pyyamlReadings(t) {
		scalars = append(scalars, s)
	}
	sort.Strings(scalars)
	for _, s := range scalars {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte("a: "+s), &doc); err != nil {
			continue
		}
		v := doc.Content[0].Content[1]
		if v.Kind != yaml.ScalarNode || v.Style != 0 || v.Value != s {
			continue
		}
		var want string
		switch v.ShortTag() {
		case "!!str", "!!timestamp", "!!merge":
			want = "text"
		case "!!null":
			want = "null"
		default:
			var x any
			require.NoError(t, v.Decode(&x), "%q", s)
			switch x := x.(type) {
			case bool:
				want = "bool:" + strconv.FormatBool(x)
			case int:
				want = "int:" + strconv.Itoa(x)
			case uint64:
				want = "big"
			case float64:
				want = reading{kind: floatReading, f: x}.key()
			default:
				t.Fatalf("%q: %T", s, x)
			}
		}
		assert.Equal(t, want, resolveV3(s).key(), "%q", s)
	}
}
