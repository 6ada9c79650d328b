package webhook_test

// Every way of printing or encoding an Endpoint, an OAuth2, a Config or an
// Emitter shows the redacted form: every fmt verb (fmt calls String only
// for %v, %s, %x, %X and %q), json, xml, and slog's JSON and text
// handlers. The redacted form keeps what helps debugging: names, hosts,
// paths, header names, event lists.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

const (
	fmtSecret      = "fmt-current-S3CRET-1111"
	fmtPrevious    = "fmt-previous-S3CRET-2222"
	fmtClient      = "fmt-oauth-client-S3CRET-3333"
	fmtHeader      = "fmt-header-S3CRET-4444"
	fmtURLQuery    = "fmt-url-query-S3CRET-5555"
	fmtURLPassword = "fmt-url-password-S3CRET-6666"
	fmtTokenQuery  = "fmt-token-query-S3CRET-7777"
	fmtTokenPass   = "fmt-token-password-S3CRET-8888"
	fmtParam       = "fmt-endpoint-param-S3CRET-9999"
)

var fmtSecrets = []string{fmtSecret, fmtPrevious, fmtClient, fmtHeader, fmtURLQuery,
	fmtURLPassword, fmtTokenQuery, fmtTokenPass, fmtParam}

// fmtEndpoint holds every kind of secret. With userinfo, its URL is one
// New refuses; without, New accepts it.
func fmtEndpoint(userinfo bool) webhook.Endpoint {
	u := "https://crm.example.com/hooks/in?token=" + fmtURLQuery
	if userinfo {
		u = "https://user:" + fmtURLPassword + "@crm.example.com/hooks/in?token=" + fmtURLQuery
	}
	return webhook.Endpoint{
		Name:                "crm",
		URL:                 u,
		Secret:              fmtSecret,
		PreviousSecret:      fmtPrevious,
		PreviousSecretUntil: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Events:              []webhook.EventType{webhook.Created, webhook.Deleted},
		Headers:             map[string]string{"Authorization": "Bearer " + fmtHeader, "X-API-Key": fmtHeader},
		RedactFields:        map[string]map[string]any{"*": {"email": fmtHeader}},
		OAuth2: &webhook.OAuth2{
			ClientID:       "crm-client",
			ClientSecret:   fmtClient,
			TokenURL:       "https://tok:" + fmtTokenPass + "@auth.example.com/oauth/token?assertion=" + fmtTokenQuery,
			Scopes:         []string{"webhooks:write"},
			EndpointParams: map[string][]string{"audience": {fmtParam}},
		},
	}
}

// fmtCheckNoSecret fails if text holds a secret, as it is or hex-encoded.
func fmtCheckNoSecret(t *testing.T, text string) {
	t.Helper()
	for _, s := range fmtSecrets {
		for _, form := range []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))} {
			assert.NotContains(t, text, form)
		}
	}
}

// fmtHolder is a user's type that holds an Endpoint.
type fmtHolder struct {
	Hook webhook.Endpoint
}

// fmtValues are the values under test, by name; useful lists what their
// redacted forms must still show.
func fmtValues(t *testing.T) map[string]struct {
	v      any
	useful []string
} {
	ep := fmtEndpoint(true)
	o := *ep.OAuth2
	cfg := webhook.Config{Endpoints: []webhook.Endpoint{ep}, Workers: 3}
	e := newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{fmtEndpoint(false)}, Logger: quietLogger})
	epUseful := []string{"crm", "crm.example.com", "/hooks/in", "Authorization", "X-API-Key", "created", "deleted", "crm-client", "auth.example.com", "/oauth/token"}
	oUseful := []string{"crm-client", "auth.example.com", "/oauth/token", "webhooks:write", "audience"}
	type value = struct {
		v      any
		useful []string
	}
	return map[string]value{
		"Endpoint":    {ep, epUseful},
		"*Endpoint":   {&ep, epUseful},
		"[]Endpoint":  {[]webhook.Endpoint{ep, ep}, epUseful},
		"map":         {map[string]webhook.Endpoint{"x": ep}, epUseful},
		"OAuth2":      {o, oUseful},
		"*OAuth2":     {&o, oUseful},
		"Config":      {cfg, epUseful},
		"*Config":     {&cfg, epUseful},
		"*Emitter":    {e, epUseful},
		"user struct": {fmtHolder{Hook: ep}, epUseful},
	}
}

func TestSecretsFormatEveryVerb(t *testing.T) {
	t.Parallel()
	verbs := []string{
		"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%o", "%O", "%b",
		"%e", "%E", "%f", "%F", "%g", "%G", "%c", "%U", "%z",
		"%-80v", "%80s", "%.20s", "%+q", "%#q", "% x", "%#x", "%08d", "%+d", "%#o", "%x %[1]d %[1]v",
	}
	for name, tc := range fmtValues(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, verb := range verbs {
				out := fmt.Sprintf(verb, tc.v)
				fmtCheckNoSecret(t, out)
				if !strings.ContainsAny(verb, "xX.") {
					assert.Contains(t, out, "crm", "%s of %s does not name the endpoint: %s", verb, name, out)
				}
			}
			for _, verb := range []string{"%v", "%+v", "%s"} {
				out := fmt.Sprintf(verb, tc.v)
				for _, u := range tc.useful {
					assert.Contains(t, out, u, "%s of %s", verb, name)
				}
				assert.Contains(t, out, "REDACTED", "%s of %s", verb, name)
			}
			// %p of a pointer prints the address, which is fine.
			if strings.HasPrefix(name, "*") {
				assert.True(t, strings.HasPrefix(fmt.Sprintf("%p", tc.v), "0x"))
			}
		})
	}
}

func TestSecretsEncoders(t *testing.T) {
	t.Parallel()
	for name, tc := range fmtValues(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.v)
			require.NoError(t, err, "json.Marshal")
			fmtCheckNoSecret(t, string(b))
			if name != "*Emitter" && name != "user struct" {
				for _, u := range tc.useful {
					assert.Contains(t, string(b), u, "json of %s", name)
				}
			}
			b, err = json.MarshalIndent(tc.v, "", "  ")
			require.NoError(t, err, "json.MarshalIndent")
			fmtCheckNoSecret(t, string(b))

			if !strings.HasPrefix(name, "map") {
				b, err = xml.Marshal(tc.v)
				require.NoError(t, err, "xml.Marshal")
				fmtCheckNoSecret(t, string(b))
				assert.Contains(t, string(b), "crm", "xml of %s", name)
				var buf bytes.Buffer
				enc := xml.NewEncoder(&buf)
				enc.Indent("", " ")
				require.NoError(t, enc.Encode(tc.v), "xml.Encoder")
				fmtCheckNoSecret(t, buf.String())
			}
		})
	}
}

func TestSecretsSlogHandlers(t *testing.T) {
	t.Parallel()
	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
	} {
		for name, tc := range fmtValues(t) {
			t.Run(h.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				log := slog.New(h.new(&buf))
				log.Info("value", "v", tc.v)
				log.Info("any", slog.Any("v", tc.v))
				log.With("v", tc.v).WithGroup("g").Info("with", "v", tc.v)
				out := buf.String()
				fmtCheckNoSecret(t, out)
				assert.NotContains(t, out, "!ERROR", "a value failed to log")
				assert.Contains(t, out, "crm")
				if name != "user struct" {
					for _, u := range tc.useful {
						assert.Contains(t, out, u, "%s log of %s", h.name, name)
					}
				}
			})
		}
	}
}

// The redacted forms say which secrets are set, and nothing of an unset
// one.
func TestSecretsRedactedForms(t *testing.T) {
	t.Parallel()
	ep := webhook.Endpoint{Name: "bare", URL: "https://bare.example.com/x", Secret: fmtSecret}
	tests := []struct {
		name string
		v    any
		want []string
		not  []string
	}{
		{"endpoint String", ep.String(), []string{"bare", "Secret:[REDACTED]", "https://bare.example.com/x"}, []string{"PreviousSecret", "OAuth2"}},
		{"endpoint GoString", ep.GoString(), []string{"webhook.Endpoint{", "bare"}, nil},
		{"oauth2 String", (&webhook.OAuth2{ClientID: "id", TokenURL: "https://a.example.com/t?x=" + fmtTokenQuery}).String(),
			[]string{"ClientID:id", "TokenURL:https://a.example.com/t?[REDACTED]"}, []string{"ClientSecret:[REDACTED]"}},
		{"config GoString", fmt.Sprintf("%#v", webhook.Config{Endpoints: []webhook.Endpoint{ep}}), []string{"webhook.Config{", "bare"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := fmt.Sprint(tc.v)
			fmtCheckNoSecret(t, s)
			for _, w := range tc.want {
				assert.Contains(t, s, w)
			}
			for _, n := range tc.not {
				assert.NotContains(t, s, n)
			}
		})
	}
}

func TestSecretsEndpointJSONShape(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(fmtEndpoint(true))
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, "crm", got["name"])
	assert.Equal(t, "https://crm.example.com/hooks/in?[REDACTED]", got["url"])
	assert.Equal(t, "[REDACTED]", got["secret"])
	assert.Equal(t, "[REDACTED]", got["previous_secret"])
	assert.Equal(t, []any{"Authorization", "X-API-Key"}, got["headers"])
	assert.Equal(t, []any{"created", "deleted"}, got["events"])
	o, ok := got["oauth2"].(map[string]any)
	require.True(t, ok, "oauth2 = %v", got["oauth2"])
	assert.Equal(t, "crm-client", o["client_id"])
	assert.Equal(t, "[REDACTED]", o["client_secret"])
	assert.Equal(t, "https://auth.example.com/oauth/token?[REDACTED]", o["token_url"])
	assert.Equal(t, []any{"audience"}, o["endpoint_params"])
}
