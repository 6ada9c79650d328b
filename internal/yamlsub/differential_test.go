package yamlsub

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// tricky are scalars on which YAML readers are known to differ.
var tricky = []string{
	"010", "08", "0", "-0", "+1", "1", "-17", "1e3", "1E3", "1.5e3", "1.5e+3", "1e+3", "1.e-3", ".5e+3",
	"0x1F", "0o17", "0b101", ".5", "-.5", "+.5", "1.", "1.0", "1_000", "1:30", "1:30.5",
	"yes", "no", "on", "off", "y", "n", "Y", "N", "~", "null", "Null", "NULL", "true", "True", "TRUE", "tRUE",
	"false", "FALSE", ".inf", "-.inf", ".NaN", "<<", "=", "99999999999999999999", "2026-03-01",
	"2026-03-01T00:00:00Z", "1.0e+400", "00", "07", "1__0", "_1", "1_", "0x_1F", "-0x1F", "0B1", "nULL",
}

// problem returns the first Problem in the tree n, or "".
func problem(n *Node) string {
	if n.Problem != "" {
		return n.Problem
	}
	for _, k := range n.Keys {
		if p := problem(k); p != "" {
			return p
		}
	}
	for _, v := range n.Values {
		if p := problem(v); p != "" {
			return p
		}
	}
	return ""
}

// theirs converts a yaml.v3 tree to the common form; it fails on what the
// common form cannot hold (a key that is not a string, an alias, a tag
// ours never produces).
func theirs(n *yaml.Node) (any, error) {
	switch n.Kind {
	case 0:
		return nil, nil // an empty document
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return theirs(n.Content[0])
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range n.Content {
			v, err := theirs(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				return nil, fmt.Errorf("line %d: key %q is %s", k.Line, k.Value, k.ShortTag())
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := theirs(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return n.Value, nil
		case "!!timestamp":
			// Text, as Resolve has it.
			return n.Value, nil
		case "!!null":
			return nil, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case int:
			return int64(v), nil
		case int64, bool:
			return v, nil
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("line %d: %v", n.Line, v)
			}
			return v, nil
		case time.Time:
			return n.Value, nil
		}
		return nil, fmt.Errorf("line %d: %q decodes to %T", n.Line, n.Value, v)
	}
	return nil, fmt.Errorf("line %d: node kind %v (tag %s)", n.Line, n.Kind, n.ShortTag())
}

// differ parses src with Parse and with yaml.v3: when Parse accepts src,
// yaml.v3 must accept it too and read the same value. It returns what is
// wrong, or "".
func differ(src []byte) string {
	n, err := Parse(src)
	if err != nil || problem(n) != "" {
		return ""
	}
	got := n.Data()
	var y yaml.Node
	if err := yaml.Unmarshal(src, &y); err != nil {
		return fmt.Sprintf("Parse accepts %q (%#v), yaml.v3 refuses it: %v", src, got, err)
	}
	want, err := theirs(&y)
	if err != nil {
		return fmt.Sprintf("Parse accepts %q (%#v), yaml.v3 reads what Parse cannot: %v", src, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%q:\n Parse   %#v\n yaml.v3 %#v", src, got, want)
	}
	return ""
}

// seeds returns the sample configuration files and documents built from
// the tricky scalars, in several positions.
func seeds(t testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "config", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample files: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, s := range tricky {
		out = append(out,
			[]byte("a: "+s+"\n"),
			[]byte("- "+s+"\n"),
			[]byte("a: ["+s+", x]\n"),
			[]byte("{a: "+s+"}\n"),
			[]byte(s+": a\n"),
			[]byte("{"+s+": a}\n"),
			[]byte("a: x "+s+"\n"),
		)
	}
	for _, s := range []string{
		"a:\t1", "a: 1\n\t\nb: 2", "b: [x,\ty]", "a: x\ty", "a: 1\t# c", "a: 1 \t", "- \ta",
		"{\n\t\"n\": 1}", "a: 'x\ty'", "a: \"x\ty\"", "a: 1 # x\ty", "<<: {a: 1}",
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestYAMLAgainstYAMLv3: on the sample files and the tricky scalars, every
// document Parse accepts reads as yaml.v3 reads it.
func TestYAMLAgainstYAMLv3(t *testing.T) {
	t.Parallel()
	for _, src := range seeds(t) {
		if d := differ(src); d != "" {
			t.Error(d)
		}
	}
}

// FuzzYAMLAgainstYAMLv3: whatever Parse accepts, yaml.v3 accepts too and
// reads to the same value.
func FuzzYAMLAgainstYAMLv3(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if d := differ(src); d != "" {
			t.Fatal(d)
		}
	})
}
