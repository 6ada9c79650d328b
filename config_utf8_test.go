package webhook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// TestLoadConfigInvalidUTF8: a string that is not valid UTF-8 (or a JSON
// lone surrogate escape, which decoders also replace with U+FFFD) is
// refused, naming the file, the line and the key, never the text.
func TestLoadConfigInvalidUTF8(t *testing.T) {
	t.Parallel()
	const notUTF8 = "the text is not valid UTF-8 (it is not shown): save the file as UTF-8"
	tests := []struct{ name, file, src, want string }{
		{"json secret", "c.json", "{\"endpoints\": [{\"name\": \"a\", \"url\": \"https://a/\",\n  \"secret\": \"sec-\xff-ret\"}]}",
			"c.json:2: endpoints[0].secret: " + notUTF8},
		{"json surrogate", "c.json", "{\"endpoints\": [{\"name\": \"a\", \"url\": \"https://a/\", \"secret\": \"s\",\n \"headers\": {\"X-Key\": \"sec-\\ud800-ret\"}}]}",
			"c.json:2: endpoints[0].headers.X-Key: " + notUTF8},
		{"json reversed pair", "c.json", "{\"endpoints\": [{\"name\": \"a\", \"url\": \"https://a/\", \"secret\": \"sec-\\udc00\\ud800-ret\"}]}",
			"c.json:1: endpoints[0].secret: " + notUTF8},
		{"json key", "c.json", "{\"endpoints\": [{\"name\": \"a\", \"url\": \"https://a/\", \"secret\": \"s\",\n\"redact_fields\": {\"ca\xffrd\": 1}}]}",
			"c.json:2: endpoints[0].redact_fields[\"ca\uFFFDrd\"]: " + notUTF8},
		{"json encoded surrogate", "c.json", "{\"endpoints\": [{\"name\": \"a\", \"url\": \"https://a/\", \"secret\": \"sec-\xed\xa0\x80-ret\"}]}",
			"c.json:1: endpoints[0].secret: " + notUTF8},
		{"yaml plain secret", "c.yaml", endpointHead + "    previous_secret: sec-\xfe-ret\n",
			"c.yaml:5: endpoints[0].previous_secret: " + notUTF8},
		{"yaml quoted", "c.yaml", endpointHead + "    auth:\n      type: oauth2\n      client_secret: \"sec-\xc3-ret\"\n",
			"c.yaml:7: endpoints[0].auth.client_secret: " + notUTF8},
		{"yaml key", "c.yaml", endpointHead + "    headers: {X-\xff: a}\n",
			"c.yaml:5: endpoints[0].headers[\"X-\uFFFD\"]: " + notUTF8},
		{"yaml comment", "c.yaml", endpointHead + "    # sec-\xff-ret\n", "c.yaml:5:11: invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tt.file)
			require.NoError(t, os.WriteFile(path, []byte(tt.src), 0o600))
			_, err := webhook.LoadConfig(path)
			require.Error(t, err)
			assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
			assert.Contains(t, strings.Split(err.Error(), "\n"), "webhook: "+filepath.Join(filepath.Dir(path), tt.want))
			assert.NotContains(t, err.Error(), "sec-")
			assert.NotContains(t, err.Error(), "-ret")
		})
	}
}
