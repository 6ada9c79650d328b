package webhook_test

// Secrets stay secret: an endpoint's Secret, PreviousSecret, OAuth2
// client secret, static header values (Authorization, X-API-Key) and a
// token in the URL's query never appear in fmt output of an Endpoint or a
// Config, in slog output of an Endpoint, in New's validation errors, or in
// what a failing delivery leaves behind (errors, Failure, DeliveryLog,
// log lines).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

const (
	secSecret       = "sec-current-S3CRET-aaaa"
	secPrevious     = "sec-previous-S3CRET-bbbb"
	secClientSecret = "sec-oauth-client-S3CRET-cccc"
	secStaticToken  = "sec-static-token-S3CRET-dddd"
	secAPIKey       = "sec-api-key-S3CRET-eeee"
	secURLToken     = "sec-url-token-S3CRET-ffff"
)

var secAll = []string{secSecret, secPrevious, secClientSecret, secStaticToken, secAPIKey, secURLToken}

// secEndpoint is an endpoint holding every kind of secret.
func secEndpoint(url, tokenURL string) webhook.Endpoint {
	return webhook.Endpoint{
		Name:                "crm",
		URL:                 url + "?token=" + secURLToken,
		Secret:              secSecret,
		PreviousSecret:      secPrevious,
		PreviousSecretUntil: time.Now().Add(time.Hour),
		Headers: map[string]string{
			"Authorization": "Bearer " + secStaticToken,
			"X-API-Key":     secAPIKey,
		},
		OAuth2: &webhook.OAuth2{
			ClientID:     "crm-client",
			ClientSecret: secClientSecret,
			TokenURL:     tokenURL,
			Scopes:       []string{"webhooks:write"},
		},
	}
}

// secCheck fails the test if text holds a secret.
func secCheck(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range secAll {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the secret %q:\n%s", where, s, text)
		}
	}
}

func TestSecretsNotInFormat(t *testing.T) {
	t.Parallel()
	ep := secEndpoint("https://crm.example.com/hooks", "https://auth.example.com/token")
	cfg := webhook.Config{Endpoints: []webhook.Endpoint{ep}}
	values := map[string]any{
		"Endpoint":       ep,
		"*Endpoint":      &ep,
		"[]Endpoint":     []webhook.Endpoint{ep},
		"Config":         cfg,
		"*Config":        &cfg,
		"OAuth2":         *ep.OAuth2,
		"*OAuth2":        ep.OAuth2,
		"map of configs": map[string]webhook.Config{"x": cfg},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out := fmt.Sprintf(verb, v)
			secCheck(t, name+" "+verb, out)
			if verb == "%+v" && strings.HasPrefix(name, "Endpoint") && !strings.Contains(out, "crm") {
				t.Errorf("%s %s does not name the endpoint: %s", name, verb, out)
			}
		}
	}
	// The redacted forms still say which fields are set.
	if s := fmt.Sprint(ep); !strings.Contains(s, "REDACTED") || !strings.Contains(s, "Authorization") {
		t.Errorf("fmt.Sprint(ep) = %s; want the secrets shown as redacted and the header names", s)
	}
}

func TestSecretsNotInSlog(t *testing.T) {
	t.Parallel()
	ep := secEndpoint("https://crm.example.com/hooks", "https://auth.example.com/token")
	for _, h := range []struct {
		name string
		new  func(*logBuffer) slog.Handler
	}{
		{"json", func(b *logBuffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{"text", func(b *logBuffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
	} {
		var buf logBuffer
		log := slog.New(h.new(&buf))
		log.Info("endpoint", slog.Any("endpoint", ep))
		log.Info("endpoint pointer", slog.Any("endpoint", &ep))
		log.Info("endpoint as arg", "endpoint", ep)
		log.Info("oauth2", slog.Any("oauth2", ep.OAuth2), slog.Any("oauth2 value", *ep.OAuth2))
		log.With("endpoint", ep).Info("with")
		log.WithGroup("g").Info("group", "endpoint", ep)
		// Not LogValuers themselves: their elements are formatted by fmt
		// (text) or cannot be marshalled at all (json: Transform is a func).
		log.Info("endpoints", "endpoints", []webhook.Endpoint{ep})
		log.Info("config", "config", webhook.Config{Endpoints: []webhook.Endpoint{ep}})
		out := buf.String()
		secCheck(t, h.name+" log", out)
		if !strings.Contains(out, "crm") || !strings.Contains(out, "crm-client") {
			t.Errorf("%s log does not name the endpoint or the client: %s", h.name, out)
		}
	}
}

// New's errors name the endpoint and the field, never a secret.
func TestSecretsNotInValidationErrors(t *testing.T) {
	t.Parallel()
	base := func() webhook.Endpoint {
		return secEndpoint("https://crm.example.com/hooks", "https://auth.example.com/token")
	}
	for _, tc := range []struct {
		name string
		mod  func(*webhook.Endpoint, *webhook.Config)
	}{
		{"no name", func(e *webhook.Endpoint, _ *webhook.Config) { e.Name = "" }},
		{"duplicate name", func(e *webhook.Endpoint, c *webhook.Config) { c.Endpoints = append(c.Endpoints, *e) }},
		{"url scheme", func(e *webhook.Endpoint, _ *webhook.Config) { e.URL = "ftp://crm.example.com/?token=" + secURLToken }},
		{"url unparsable", func(e *webhook.Endpoint, _ *webhook.Config) { e.URL = "https://crm example.com/?token=" + secURLToken }},
		// A '#' (or '/', '?') in a password ends the authority early: what
		// came before it is parsed as a port.
		{"url password with #", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.URL = "https://user:" + secURLToken + "#1@crm.example.com/"
		}},
		{"url credentials", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.URL = "https://user:" + secURLToken + "@crm.example.com/"
		}},
		{"url http with https_only", func(e *webhook.Endpoint, c *webhook.Config) {
			e.URL = "http://crm.example.com/?token=" + secURLToken
			c.HTTPSOnly = true
		}},
		{"no secret", func(e *webhook.Endpoint, _ *webhook.Config) { e.Secret = "" }},
		{"standard secret not base64", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.Scheme = webhook.SchemeStandard
			e.Secret = "whsec_!!" + secSecret
		}},
		{"standard signing key bad", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.Scheme = webhook.SchemeStandard
			e.Secret = "whsk_" + secSecret
		}},
		{"unknown scheme", func(e *webhook.Endpoint, _ *webhook.Config) { e.Scheme = "rot13" }},
		{"previous secret without until", func(e *webhook.Endpoint, _ *webhook.Config) { e.PreviousSecretUntil = time.Time{} }},
		{"previous secret same", func(e *webhook.Endpoint, _ *webhook.Config) { e.PreviousSecret = e.Secret }},
		{"previous secret bad standard", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.Scheme = webhook.SchemeStandard
			e.Secret = "whsec_c2VjcmV0"
			e.PreviousSecret = "whsec_!!" + secPrevious
		}},
		{"reserved header", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.Headers = map[string]string{"X-Webhook-Signature": secStaticToken}
		}},
		{"header with newline", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.Headers = map[string]string{"Authorization": "Bearer " + secStaticToken + "\r\nX-Evil: 1"}
		}},
		{"header bad name", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.Headers = map[string]string{"Bad Header": secAPIKey}
		}},
		{"oauth2 no client id", func(e *webhook.Endpoint, _ *webhook.Config) { e.OAuth2.ClientID = "" }},
		{"oauth2 no token url", func(e *webhook.Endpoint, _ *webhook.Config) { e.OAuth2.TokenURL = "" }},
		{"oauth2 bad token url", func(e *webhook.Endpoint, _ *webhook.Config) {
			e.OAuth2.TokenURL = "ftp://auth.example.com/token?secret=" + secURLToken
		}},
		{"events", func(e *webhook.Endpoint, _ *webhook.Config) { e.Events = []webhook.EventType{"archived"} }},
		{"include models", func(e *webhook.Endpoint, _ *webhook.Config) { e.IncludeModels = []string{"nodot"} }},
		{"timeout", func(e *webhook.Endpoint, _ *webhook.Config) { e.Timeout = -time.Second }},
		{"retry", func(e *webhook.Endpoint, _ *webhook.Config) { e.Retry = &webhook.RetryConfig{MaxRetries: -1} }},
		{"config workers", func(_ *webhook.Endpoint, c *webhook.Config) { c.Workers = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := base()
			o := *ep.OAuth2
			ep.OAuth2 = &o
			cfg := webhook.Config{Logger: quietLogger}
			tc.mod(&ep, &cfg)
			cfg.Endpoints = append([]webhook.Endpoint{ep}, cfg.Endpoints...)
			e, err := webhook.New(cfg)
			if err == nil {
				e.Close(context.Background())
				t.Fatal("New accepted the config")
			}
			if !errors.Is(err, webhook.ErrInvalidConfig) {
				t.Errorf("New = %v, want ErrInvalidConfig", err)
			}
			secCheck(t, "New's error", err.Error())
			secCheck(t, "New's error %+v", fmt.Sprintf("%+v", err))
		})
	}
}

// What failing deliveries leave behind holds no secret.
func TestSecretsNotInFailures(t *testing.T) {
	t.Parallel()
	ts := newOAuthTokenServer(t, 3600)
	var logs logBuffer
	fails := newFailureLog()

	status500 := newHookReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ hookRequest) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "internal error")
	})
	status401 := newHookReceiver(t, answerStatus(http.StatusUnauthorized))
	redirect := newHookReceiver(t, func(w http.ResponseWriter, r *http.Request, _ hookRequest) {
		http.Redirect(w, r, "http://127.0.0.1:9/elsewhere", http.StatusFound)
	})
	slowDone := make(chan struct{})
	slow := newHookReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ hookRequest) {
		select {
		case <-r.Context().Done():
		case <-slowDone:
		case <-time.After(5 * time.Second):
		}
	})
	t.Cleanup(func() { close(slowDone) })
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()

	oauthOK := func(name, url string) webhook.Endpoint {
		ep := secEndpoint(url, "")
		ep.Name = name
		ep.OAuth2 = ts.oauth2()
		ep.OAuth2.ClientSecret = oauthClientSecret
		return ep
	}
	static := func(name, url string) webhook.Endpoint {
		ep := secEndpoint(url, "")
		ep.Name = name
		ep.OAuth2 = nil
		return ep
	}
	badToken := secEndpoint(status500.URL, ts.URL+"/oauth/token")
	badToken.Name = "bad-token" // the token server refuses "crm-client"
	slowEp := static("slow", slow.URL)
	slowEp.Timeout = 200 * time.Millisecond

	e := newEmitter(t, webhook.Config{
		Sync:      true,
		Logger:    logs.debugLogger(),
		Retry:     &webhook.RetryConfig{MaxRetries: 1, RetryDelay: 5 * time.Millisecond, NoJitter: true},
		OnFailure: fails.record,
		Endpoints: []webhook.Endpoint{
			static("status-500", status500.URL),
			static("redirect", redirect.URL),
			static("refused", refusedURL),
			slowEp,
			oauthOK("oauth-401", status401.URL),
			badToken,
		},
	})
	err := e.Emit(testCtx(t, 20*time.Second), oauthEvent(1))
	if err == nil {
		t.Fatal("Emit = nil, want every endpoint's failure")
	}
	secCheck(t, "Emit's error", err.Error())
	secCheck(t, "Emit's error %+v", fmt.Sprintf("%+v", err))
	for _, name := range []string{"status-500", "redirect", "refused", "slow", "oauth-401", "bad-token"} {
		if !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("Emit's error does not name endpoint %s: %v", name, err)
		}
	}
	var de *webhook.DeliveryError
	if errors.As(err, &de) {
		secCheck(t, "DeliveryError", fmt.Sprintf("%v %+v %#v", de, *de, de.Err))
	}
	fs := fails.all()
	if len(fs) != 6 {
		t.Errorf("%d failures, want 6", len(fs))
	}
	for _, f := range fs {
		secCheck(t, "Failure of "+f.Endpoint, fmt.Sprintf("%v %+v %s", f, f, f.Err))
	}
	dls, qerr := e.Logs(context.Background(), webhook.LogQuery{Limit: 100})
	if qerr != nil {
		t.Fatal(qerr)
	}
	if len(dls) != 6 {
		t.Errorf("%d delivery logs, want 6", len(dls))
	}
	for _, l := range dls {
		b, _ := json.Marshal(l)
		secCheck(t, "DeliveryLog of "+l.EndpointName, fmt.Sprintf("%+v %s", l, b))
		if l.Status != webhook.StatusFailed {
			t.Errorf("%s: status %s, want failed", l.EndpointName, l.Status)
		}
	}
	secCheck(t, "log output", logs.String())
	// The OAuth2 client secret of the endpoints that got a token, and
	// the access token itself.
	for _, s := range append(oauthSecretForms(), "tok-1", "tok-2") {
		if text := logs.String() + err.Error(); strings.Contains(text, s) {
			t.Errorf("logs or errors show %q", s)
		}
	}
}
