package webhook_test

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hookrail/webhook"
)

// TestLoadConfigAmbiguousScalars: a plain scalar that YAML readers read
// differently is refused, naming the line, the key and what to write;
// the value is shown unless it is a secret.
func TestLoadConfigAmbiguousScalars(t *testing.T) {
	t.Parallel()
	const leadingZero = "a number with a leading zero is read as octal by some YAML readers and as decimal by others: write it without the leading zero, or quote it"
	tests := []struct{ name, src, want string }{
		{"octal or decimal", "timeout_seconds: 010\n", `webhook: line 1: timeout_seconds: "010": ` + leadingZero},
		{"leading zero agreed", "workers: 07\n", `webhook: line 1: workers: "07": ` + leadingZero},
		{"exponent", "timeout_seconds: 1e3\n", `webhook: line 1: timeout_seconds: "1e3": a number with an exponent is text to YAML 1.1 readers unless it has a '.' and a signed exponent: write it without the exponent, or as 1.5e+3, or quote it`},
		{"hexadecimal", "workers: 0x1F\n", `webhook: line 1: workers: "0x1F": numbers are decimal here, and YAML readers differ on hexadecimal, octal and binary forms: write the number in decimal, or quote it`},
		{"octal 1.2", "workers: 0o17\n", `webhook: line 1: workers: "0o17": numbers are decimal here`},
		{"binary", "workers: 0b101\n", `webhook: line 1: workers: "0b101": numbers are decimal here`},
		{"digit separators", "queue_size: 1_000\n", `webhook: line 1: queue_size: "1_000": digit separators (_) make a number to some YAML readers and text to others: remove them, or quote it`},
		{"base 60", endpointHead + "    redact_fields: {a: 1:30}\n", `webhook: line 5: endpoints[0].redact_fields.a: "1:30": YAML 1.1 readers read it as a base-60 number (1:30 is 90), YAML 1.2 readers as text: quote it`},
		{"signed dot", "timeout_seconds: -.5\n", `webhook: line 1: timeout_seconds: "-.5": a signed number without a digit before its '.' is text to YAML 1.1 readers: write a 0 before the '.', or quote it`},
		{"yes", "enabled: yes\n", `webhook: line 1: enabled: "yes": YAML 1.1 readers (PyYAML) read it as a boolean, YAML 1.2 readers as text: write true or false, or quote it`},
		{"off", "https_only: off\n", `webhook: line 1: https_only: "off": YAML 1.1 readers (PyYAML)`},
		{"y", endpointHead + "    redact_fields: {a: y}\n", `webhook: line 5: endpoints[0].redact_fields.a: "y": YAML 1.1 readers (PyYAML) read it as a boolean`},
		{"case", endpointHead + "    redact_fields: {a: tRUE}\n", `webhook: line 5: endpoints[0].redact_fields.a: "tRUE": some YAML readers (Ruby's) read true, false, yes, no, on, off and null in any case as booleans or null, others as text: write it in lower case, or quote it`},
		{"infinity", "timeout_seconds: .inf\n", `webhook: line 1: timeout_seconds: ".inf": YAML readers read it as infinity or not-a-number, which JSON cannot send: quote it`},
		{"not a number", endpointHead + "    redact_fields: {a: .NaN}\n", `webhook: line 5: endpoints[0].redact_fields.a: ".NaN": YAML readers read it as infinity or not-a-number`},
		{"beyond 64 bits", "queue_size: 99999999999999999999\n", `webhook: line 1: queue_size: "99999999999999999999": an integer beyond 64 bits is read exactly by some YAML readers and rounded or refused by others: quote it`},
		{"beyond float range", "timeout_seconds: 1.0e+400\n", `webhook: line 1: timeout_seconds: "1.0e+400": a number beyond the range of 64-bit floats is text to some YAML readers and infinity to others: quote it`},
		{"merge key", "<<: {enabled: true}\n", `webhook: line 1: ["<<"]: "<<": '<<' is a merge key to YAML readers: quote it`},
		{"value key", endpointHead + "    redact_fields: {a: =}\n", `webhook: line 5: endpoints[0].redact_fields.a: "=": a plain '=' is a "value" key to YAML 1.1 readers, which refuse it: quote it`},
		{"invalid date", endpointHead + "    redact_fields: {a: 2026-02-30}\n", `webhook: line 5: endpoints[0].redact_fields.a: "2026-02-30": YAML 1.1 readers (PyYAML) cannot read it (not a valid date): quote it`},
		{"number key", endpointHead + "    redact_fields: {404: x}\n", `webhook: line 5: endpoints[0].redact_fields.404: "404": YAML readers read this key as a number, not as text: quote it`},
		{"null key", endpointHead + "    headers:\n      ~: x\n", `webhook: line 6: endpoints[0].headers["~"]: "~": YAML readers read this key as null, not as text: quote it`},
		{"boolean key", "true: 1\n", `webhook: line 1: true: "true": YAML readers read this key as a boolean, not as text: quote it`},
		{"date key", endpointHead + "    redact_fields: {2026-03-01: x}\n", `webhook: line 5: endpoints[0].redact_fields.2026-03-01: "2026-03-01": YAML readers read this key as a date, not as text: quote it`},
		{"in a list", "retry_config:\n  retry_on_status: [500, 0503]\n", `webhook: line 2: retry_config.retry_on_status[1]: "0503": ` + leadingZero},
		{"secret", "endpoints:\n  - name: a\n    url: https://a/\n    secret: 0123456789\n", `webhook: line 4: endpoints[0].secret: ` + leadingZero},
		{"header value", endpointHead + "    headers: {X-Pin: 0x5EC2E7}\n", `webhook: line 5: endpoints[0].headers.X-Pin: numbers are decimal here`},
		{"previous secret", endpointHead + "    previous_secret: 1_234_567\n", `webhook: line 5: endpoints[0].previous_secret: digit separators (_)`},
		{"client secret", endpointHead + "    auth:\n      type: oauth2\n      client_secret: 00042\n", `webhook: line 7: endpoints[0].auth.client_secret: ` + leadingZero},
		{"under an unknown key", endpointHead + "    secrte: 0123\n", `webhook: line 5: endpoints[0].secrte: ` + leadingZero},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := (&webhook.ConfigLoader{}).Parse([]byte(tt.src), "yaml")
			require.Error(t, err, "Parse(%q)", tt.src)
			assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
			msgs := strings.Split(err.Error(), "\n")
			found := false
			for _, m := range msgs {
				found = found || strings.HasPrefix(m, tt.want)
			}
			assert.True(t, found, "errors:\n%s\nwant one starting with\n%s", err, tt.want)
			for _, secret := range []string{"0123456789", "5EC2E7", "1_234_567", "00042", "0123"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
}

// TestLoadConfigScalarsAsYAMLv3: the plain scalars YAML readers agree on
// are read as go-yaml v3 reads them (a redaction value keeps its type),
// and quoting keeps the text of the refused ones.
func TestLoadConfigScalarsAsYAMLv3(t *testing.T) {
	t.Parallel()
	scalars := []string{
		"~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "FALSE",
		"0", "-0", "+1", "17", "-17", "9223372036854775807", ".5", "1.", "1.0", "-2.5", "01.5", "1.5e+3", "1.e-3",
		".5e+3", "x", "yes please", "1.2.3", "_1", "0.0.0.0", "-x", "2026-03-01", "2026-03-01T00:00:00Z",
		"'010'", `"1e3"`, "'yes'", "'~'", `"0x1F"`,
	}
	var b strings.Builder
	b.WriteString(endpointHead + "    redact_fields:\n")
	for i, s := range scalars {
		b.WriteString("      f" + itoa(i) + ": " + s + "\n")
	}
	src := []byte(b.String())
	cfg, err := (&webhook.ConfigLoader{}).Parse(src, "yaml")
	require.NoError(t, err)
	got := cfg.Endpoints[0].RedactFields["*"]

	var doc struct {
		Endpoints []struct {
			RedactFields map[string]any `yaml:"redact_fields"`
		}
	}
	require.NoError(t, yaml.Unmarshal(src, &doc))
	require.Len(t, doc.Endpoints[0].RedactFields, len(scalars))
	for i, s := range scalars {
		key := "f" + itoa(i)
		want := doc.Endpoints[0].RedactFields[key]
		switch v := want.(type) {
		case int:
			want = int64(v)
		case float64:
			require.False(t, math.IsInf(v, 0) || math.IsNaN(v))
		case string, bool, nil:
		default:
			want = strings.Trim(s, `'"`) // a timestamp: kept as text
		}
		assert.Equal(t, want, got[key], "%s", s)
	}
}

// TestLoadConfigTabs: a tab outside quoted strings and comments is
// refused with its line and column; in them it is kept.
func TestLoadConfigTabs(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"after a colon", "enabled:\ttrue\n", "webhook: line 1, column 9: tab character outside a quoted string or a comment"},
		{"after a value", "enabled: true\t\n", "webhook: line 1, column 14: tab character outside a quoted string or a comment"},
		{"in a plain value", endpointHead + "    redact_fields: {a: x\ty}\n", "webhook: line 5, column 25: tab character outside"},
		{"in a flow collection", endpointHead + "    events: [created,\tupdated]\n", "webhook: line 5, column 22: tab character outside"},
		{"in a blank line", "enabled: true\n\t\nworkers: 2\n", "webhook: line 2, column 1: tab character used for indentation"},
		{"indentation", "endpoints:\n\t- name: a\n", "webhook: line 2, column 1: tab character used for indentation"},
		{"in a quoted value", endpointHead + "    redact_fields: {a: \"x\ty\", b: 'x\ty'}\n  # a\tcomment\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := (&webhook.ConfigLoader{}).Parse([]byte(tt.src), "yaml")
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, map[string]any{"a": "x\ty", "b": "x\ty"}, cfg.Endpoints[0].RedactFields["*"])
				return
			}
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.want), "error %q, want %q…", err, tt.want)
		})
	}
}
