package webhook_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// TestLoadConfigDollarEscapes: $$ is a literal $ everywhere, in a
// ${VAR:-default}'s default too; a ${ inside a default is an error.
func TestLoadConfigDollarEscapes(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOST": "h.example.com", "EMPTY": ""}
	const invalid = `want ${NAME} or ${NAME:-default} (a literal $ is written $$)`
	tests := []struct{ name, value, want, err string }{
		{name: "outside", value: "a$$b", want: "a$b"},
		{name: "escaped reference", value: "$${HOST}", want: "${HOST}"},
		{name: "dollar then reference", value: "$$${HOST}", want: "$h.example.com"},
		{name: "lone dollars", value: "a$b$", want: "a$b$"},
		{name: "in a default", value: "${NOPE:-a$$b}", want: "a$b"},
		{name: "only $$ in a default", value: "${NOPE:-$$}", want: "$"},
		{name: "in the default of an empty variable", value: "${EMPTY:-$$x}", want: "$x"},
		{name: "escaped reference in a default", value: "${NOPE:-$${HOST}}", want: "${HOST}"},
		{name: "lone dollar in a default", value: "${NOPE:-x$}", want: "x$"},
		{name: "dollar before text in a default", value: "${NOPE:-$x}", want: "$x"},
		{name: "default unused", value: "${HOST:-a$$b}", want: "h.example.com"},
		{name: "brace after a default", value: "${NOPE:-}}", want: "}"},
		{name: "nested reference", value: "${NOPE:-${HOST}}", err: `invalid reference "${NOPE:-${HOST}": ` + invalid},
		{name: "nested reference, variable set", value: "${HOST:-${HOST}}", err: `invalid reference "${HOST:-${HOST}": ` + invalid},
		{name: "unterminated", value: "${NOPE:-abc", err: "unterminated ${ (a literal $ is written $$)"},
		{name: "unterminated after $$", value: "${NOPE:-a$$", err: "unterminated ${ (a literal $ is written $$)"},
		{name: "unterminated name", value: "${HOST", err: "unterminated ${ (a literal $ is written $$)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &webhook.ConfigLoader{LookupEnv: lookupIn(env)}
			src := `{"endpoints": [{"name": "a", "url": "https://a/", "secret": "s", "redact_fields": {"f": "` + tt.value + `"}}]}`
			cfg, err := l.Parse([]byte(src), "json")
			if tt.err != "" {
				require.Error(t, err)
				assert.Equal(t, "webhook: line 1: endpoints[0].redact_fields.f: "+tt.err, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.Endpoints[0].RedactFields["*"]["f"])
		})
	}
}

// TestLoadConfigDollarEscapesInSecrets: a bad reference in a secret is
// reported without its text.
func TestLoadConfigDollarEscapesInSecrets(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"sec-${NOPE:-${X}}-ret", "sec-${NOPE:-$$-ret", "sec-${A B}-ret"} {
		src := `{"endpoints": [{"name": "a", "url": "https://a/", "secret": "` + value + `"}]}`
		_, err := (&webhook.ConfigLoader{}).Parse([]byte(src), "json")
		require.Error(t, err, value)
		assert.NotContains(t, err.Error(), "sec-")
		assert.NotContains(t, err.Error(), "-ret")
		assert.Contains(t, err.Error(), "endpoints[0].secret: ")
	}
}
