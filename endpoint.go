package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Endpoint is one receiver of webhooks and the rules for what it gets.
// Only Name, URL and Secret are required.
type Endpoint struct {
	// Name identifies the endpoint in logs, errors, Failure values and
	// delivery logs. Required and unique.
	Name string

	// URL is where deliveries are POSTed: http or https. Redirects are not
	// followed: a 3xx answer fails the attempt.
	URL string

	// Secret is the HMAC key the body is signed with. Required.
	Secret string

	// Events lists the event types this endpoint gets. Empty: all.
	Events []EventType

	// IncludeModels lists the model labels ("store.Order") this endpoint
	// gets. Empty: all.
	IncludeModels []string

	// ExcludeModels lists model labels this endpoint never gets. It wins
	// over IncludeModels.
	ExcludeModels []string

	// IncludeFields maps a model label, or "*" for every model, to the
	// only fields sent for it; dotted paths ("customer.name") reach into
	// nested objects and into every element of nested arrays. A model's
	// own list replaces the "*" list. Nil: every field.
	IncludeFields map[string][]string

	// ExcludeFields maps a model label, or "*", to fields that are never
	// sent. The "*" entries and the model's own both apply.
	ExcludeFields map[string][]string

	// RedactFields maps a model label, or "*", to fields whose values are
	// replaced before sending (field → replacement). The "*" entries and the
	// model's own both apply; the model's own replacement wins.
	//
	// Include, exclude and redact rules apply to "changes" as well as
	// "object", and run before Transform, so nothing they hide leaves the
	// process.
	RedactFields map[string]map[string]any

	// Headers are static headers sent with every request, for example
	// Authorization or X-API-Key. They cannot replace Content-Type or the
	// signature headers.
	Headers map[string]string

	// OAuth2, if set, fetches a client-credentials token, caches it across
	// workers and refreshes it before it expires, and sends it as
	// Authorization.
	OAuth2 *OAuth2

	// Retry is this endpoint's retry policy. Nil: the Config's.
	Retry *RetryConfig

	// Transform, if set, shapes the body: it receives the envelope after
	// field filtering and redaction, and what it returns is marshalled to
	// JSON, signed and sent (return json.RawMessage to send bytes as they
	// are). An error or panic fails this endpoint's delivery of the event
	// only. It runs inside Emit, on the caller's goroutine, and must be safe
	// for concurrent use.
	Transform func(Payload) (any, error)

	// Timeout bounds one attempt, from dialling to reading the answer.
	// 0: the Config's.
	Timeout time.Duration

	// Scheme is the signature scheme. "": SchemeHMAC, the seed's
	// X-Webhook-Signature headers.
	Scheme SignatureScheme

	// Disabled stops deliveries to this endpoint; events are not queued
	// for it. Defaults to false.
	Disabled bool
}

// OAuth2 configures the client-credentials grant for an endpoint.
type OAuth2 struct {
	ClientID     string
	ClientSecret string
	TokenURL     string
	Scopes       []string
}

// eventMask is a set of event types.
type eventMask uint8

func maskOf(t EventType) eventMask {
	switch t {
	case Created:
		return 1
	case Updated:
		return 2
	case Deleted:
		return 4
	}
	return 0
}

func eventsMask(field string, types []EventType) (eventMask, error) {
	if len(types) == 0 {
		return 7, nil
	}
	var m eventMask
	for _, t := range types {
		bit := maskOf(t)
		if bit == 0 {
			return 0, fmt.Errorf("%s: unknown event type %q (want created, updated or deleted)", field, t)
		}
		m |= bit
	}
	return m, nil
}

// endpoint is an Endpoint compiled by New: validated, with everything the
// hot path needs prepared once.
type endpoint struct {
	Endpoint
	index         int
	events        eventMask
	includeModels map[string]bool // nil: all
	excludeModels map[string]bool
	rules         ruleSet
	signer        *hmacSigner
	headers       http.Header // static headers, canonical keys
	retry         retryPolicy
	timeout       time.Duration
	tokens        oauth2.TokenSource // nil: no OAuth2
	gone          atomic.Bool        // a 410 answer disabled it

	mu     sync.Mutex // guards the health fields below
	health health
}

// reservedHeaders cannot be set through Endpoint.Headers.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", HeaderSignature, HeaderTimestamp, HeaderEventID}

// compileEndpoint validates ep and prepares it. Errors name the field; the
// caller adds the endpoint's name.
func compileEndpoint(ep Endpoint, cfg *Config, client *http.Client) (*endpoint, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	c := &endpoint{Endpoint: ep}
	if u, err := url.Parse(ep.URL); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		bad("url: cannot parse: %v", err)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			bad("url: no scheme (want http or https)")
		} else {
			bad("url: scheme %q not supported (want http or https)", u.Scheme)
		}
	} else if u.Host == "" {
		bad("url: no host")
	} else if u.User != nil {
		bad("url: must not carry credentials; use Headers or OAuth2")
	}
	if ep.Secret == "" {
		bad("secret: empty")
	}
	switch ep.Scheme {
	case "", SchemeHMAC:
		c.signer = newHMACSigner(ep.Secret)
	default:
		bad("scheme: %q not supported (want %q)", ep.Scheme, SchemeHMAC)
	}
	var err error
	if c.events, err = eventsMask("events", ep.Events); err != nil {
		errs = append(errs, err)
	}
	if c.includeModels, err = labelSet("include_models", ep.IncludeModels); err != nil {
		errs = append(errs, err)
	}
	if c.excludeModels, err = labelSet("exclude_models", ep.ExcludeModels); err != nil {
		errs = append(errs, err)
	}
	if c.rules, err = compileRules(&ep); err != nil {
		errs = append(errs, err)
	}
	if c.headers, err = staticHeaders(ep.Headers); err != nil {
		errs = append(errs, err)
	}
	retry := ep.Retry
	if retry == nil {
		retry = cfg.Retry
	}
	if c.retry, err = resolveRetry(retry); err != nil {
		errs = append(errs, err)
	}
	c.timeout = ep.Timeout
	switch {
	case c.timeout < 0:
		bad("timeout: %s is negative", c.timeout)
	case c.timeout == 0:
		c.timeout = cfg.Timeout
	}
	if o := ep.OAuth2; o != nil {
		switch {
		case o.ClientID == "":
			bad("oauth2: client_id: empty")
		case o.TokenURL == "":
			bad("oauth2: token_url: empty")
		default:
			if u, err := url.Parse(o.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("oauth2: token_url: want an http or https URL")
			}
		}
		cc := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
		// The context is kept for every later refresh: it must not be a
		// request's. It carries our client so that tokens obey its transport.
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
		c.tokens = cc.TokenSource(ctx)
	}
	return c, errs
}

func labelSet(field string, labels []string) (map[string]bool, error) {
	if len(labels) == 0 {
		return nil, nil
	}
	set := make(map[string]bool, len(labels))
	for _, l := range labels {
		if _, err := parseLabel(l); err != nil {
			return nil, fmt.Errorf("%s: model %q: want \"app.Name\"", field, l)
		}
		set[l] = true
	}
	return set, nil
}

func staticHeaders(h map[string]string) (http.Header, error) {
	out := make(http.Header, len(h))
	for k, v := range h {
		ck := http.CanonicalHeaderKey(k)
		if !validHeaderName(k) {
			return nil, fmt.Errorf("headers: %q is not a valid header name", k)
		}
		if slices.Contains(reservedHeaders, ck) {
			return nil, fmt.Errorf("headers: %q is set by the library and cannot be overridden", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("headers: %q: value contains a control character", k)
		}
		out[ck] = []string{v}
	}
	return out, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// wants reports whether the endpoint gets events of this type and model.
func (c *endpoint) wants(t EventType, label string) bool {
	if c.Disabled || c.gone.Load() || c.events&maskOf(t) == 0 {
		return false
	}
	if c.includeModels != nil && !c.includeModels[label] {
		return false
	}
	return !c.excludeModels[label]
}
