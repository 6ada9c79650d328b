package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Endpoint is one receiver of webhooks and the rules for what it gets.
// Only Name, URL and Secret are required.
//
// However it is printed (String, fmt.Formatter for every verb), logged
// (slog.LogValuer) or encoded (MarshalJSON, MarshalText), an Endpoint
// shows its name, its URL without query or user information, the names of
// its headers and its other settings, and never Secret, PreviousSecret, a
// header's value or the OAuth2 client secret. Only fmt's %p, which has no
// pointer to print for a value, and a %w given a non-error, print the
// fields as they are.
type Endpoint struct {
	// Name identifies the endpoint in logs, errors, Failure values and
	// delivery logs. Required and unique.
	Name string

	// URL is where deliveries are POSTed: http or https. Redirects are not
	// followed: a 3xx answer fails the attempt.
	URL string

	// Secret is the key the body is signed with. Required. With
	// SchemeHMAC (the default) it must be at least 8 bytes long; 32 random
	// bytes are recommended. With SchemeStandard it is a "whsec_…" secret
	// or a "whsk_…" ed25519 signing key.
	Secret string

	// PreviousSecret is the secret being rotated out, under the same rules
	// as Secret. Until PreviousSecretUntil, every request carries two
	// signatures, one per secret (space-separated in the signature header,
	// the current one first), so receivers can switch secrets at their own
	// pace. Empty: no rotation.
	//
	// To rotate: give the receiver the new secret as well as the old
	// (Verifier.Secrets accepts several); set Secret to the new one,
	// PreviousSecret to the old one and PreviousSecretUntil to a deadline;
	// once the receiver has dropped the old secret, or at the deadline,
	// remove PreviousSecret.
	//
	// Rail Django's Python and Node verifiers compare the whole header with
	// one value, so they reject requests while two signatures are sent:
	// receivers that rotate need a verifier that accepts several, such as
	// Verifier.
	PreviousSecret string

	// PreviousSecretUntil ends the rotation. Required with PreviousSecret.
	PreviousSecretUntil time.Time

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
	//
	// Rules match keys exactly as the JSON has them, case included: a
	// struct field without a json tag keeps its Go name ("Email"), which a
	// rule for "email" does not reach, so tag the fields rules name. A
	// rule's dots separate path elements, and an object key that itself
	// contains dots ("ip.country", as in a flattened map) is read as the
	// path it spells: a rule for "ip" reaches it as it reaches the nested
	// {"ip": {"country": …}}.
	RedactFields map[string]map[string]any

	// Headers are static headers sent with every request, for example
	// Authorization or X-API-Key. They cannot replace Content-Type or the
	// signature headers. Names must be HTTP tokens, and values must not
	// hold control characters other than tab (CR, LF and NUL included).
	Headers map[string]string

	// OAuth2, if set, fetches a client-credentials token, caches it across
	// workers and refreshes it before it expires, and sends it as
	// Authorization; a 401 answer forces one refresh and one immediate
	// retry. It wins over an Authorization entry in Headers.
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

	// Scheme is the signature scheme. "": SchemeHMAC, Rail Django's
	// X-Webhook-Signature headers.
	Scheme SignatureScheme

	// SendFilteredUpdates sends an update to this endpoint even when its
	// field rules hide every change the update made: the receiver then
	// gets "changes": {} and an object that may look as it was. By default
	// such an update is not sent to this endpoint, which would learn from
	// it only that something it may not see has changed. An update whose
	// object did not change at all is sent either way.
	SendFilteredUpdates bool

	// Disabled stops deliveries to this endpoint; events are not queued
	// for it. Defaults to false.
	Disabled bool

	// Tenant, if set, makes this endpoint get only the events of that
	// tenant (Event.Tenant), after its own filters. Empty: every event,
	// whatever its tenant.
	Tenant string

	// RateLimit is the most requests per second sent to this endpoint,
	// retries included; 0: no limit. A delivery over the limit waits in
	// the queue for its turn, not in a worker, so other endpoints keep
	// their pace; the wait does not count as an attempt. The limit holds
	// per process: n processes sharing a durable queue may send n times
	// as many.
	RateLimit float64
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
	static        bool   // from Config.Endpoints
	spec          []byte // as stored in the EndpointStore; nil: not stored
	pace          *pacer // nil: no RateLimit
	events        eventMask
	includeModels map[string]bool // nil: all
	excludeModels map[string]bool
	rules         ruleSet
	signer        signer
	rotating      signer            // current and previous secret; nil: no rotation
	rotateUntil   time.Time         // rotating is used before this time
	url           *url.URL          // URL, parsed once: every request shares it, read-only
	fixed         []fixedHeader     // the headers every request carries: Content-Type, User-Agent, Headers (canonical keys)
	roundTrip     http.RoundTripper // non-nil: requests skip http.Client (see send)
	reuseContext  bool              // roundTrip is the Transport New made: attempts may reuse a worker's context (see attemptContext)
	retry         retryPolicy
	timeout       time.Duration
	tokens        *tokens               // nil: no OAuth2
	client        *retryablehttp.Client // this endpoint's: its retry hooks know it
	window        time.Duration         // a delivery's deadline, after its creation (see CircuitBreaker)
	gone          atomic.Bool           // a 410 answer disabled it
	paused        atomic.Bool           // PauseEndpoint: its deliveries wait

	mu     sync.Mutex // guards the health fields below
	health health

	// troubled is whether health differs from its zero value (no
	// failure in a row, circuit closed), stored under mu: while it is
	// false, an attempt that is admitted and succeeds changes nothing,
	// and takes no lock that every worker would share.
	troubled atomic.Bool
}

// reservedHeaders cannot be set through Endpoint.Headers.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "Transfer-Encoding",
	HeaderSignature, HeaderTimestamp, HeaderEventID,
	HeaderStandardID, HeaderStandardTimestamp, HeaderStandardSignature}

// compileEndpoint validates ep and prepares it for e. Errors name the
// field; the caller adds the endpoint's name.
func (e *Emitter) compileEndpoint(ep Endpoint) (*endpoint, []error) {
	cfg := &e.cfg
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	c := &endpoint{Endpoint: ep}
	if u, err := url.Parse(ep.URL); err != nil {
		// The parser's message quotes parts of the URL, which may hold a
		// password or token: say only that it is not a URL.
		bad("url: not a valid URL")
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
	} else if cfg.HTTPSOnly && u.Scheme != "https" {
		bad("url: scheme %q not allowed: https_only is set", u.Scheme)
	} else {
		// As http.NewRequest has it.
		u.Host = strings.TrimSuffix(u.Host, ":")
		c.url = u
	}
	if ep.Secret == "" {
		bad("secret: empty")
	}
	var err error
	schemeOK := ep.Scheme == "" || ep.Scheme == SchemeHMAC || ep.Scheme == SchemeStandard
	if !schemeOK {
		bad("scheme: %q unknown (want %q or %q)", ep.Scheme, SchemeHMAC, SchemeStandard)
	}
	hmacScheme := ep.Scheme == "" || ep.Scheme == SchemeHMAC
	if ep.Secret != "" && schemeOK {
		if hmacScheme && len(ep.Secret) < minHMACSecret {
			bad("secret: %s", shortSecret(len(ep.Secret)))
		} else if c.signer, err = newSigner(ep.Scheme, ep.Secret); err != nil {
			bad("secret: %v", err)
		}
	}
	if ep.PreviousSecret != "" {
		if ep.PreviousSecretUntil.IsZero() {
			bad("previous_secret_until: required with previous_secret")
		}
		if ep.PreviousSecret == ep.Secret {
			bad("previous_secret: same as secret")
		}
		// When the secret or the scheme is wrong, that is reported already;
		// otherwise an error can only be the previous secret's.
		if hmacScheme && schemeOK && len(ep.PreviousSecret) < minHMACSecret {
			bad("previous_secret: %s", shortSecret(len(ep.PreviousSecret)))
		} else if c.signer != nil {
			if rotating, err := newSigner(ep.Scheme, ep.Secret, ep.PreviousSecret); err != nil {
				bad("previous_secret: %v", err)
			} else {
				c.rotating = rotating
			}
		}
		c.rotateUntil = ep.PreviousSecretUntil
	}
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
	headers, err := staticHeaders(ep.Headers)
	if err != nil {
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
			bad("oauth2.client_id: empty")
		case o.TokenURL == "":
			bad("oauth2.token_url: empty")
		default:
			// The client secret goes to the token URL: it gets the URL's
			// rules, and the parser's message, which may quote a
			// credential, is not shown.
			if u, err := url.Parse(o.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("oauth2.token_url: want an http or https URL")
			} else if cfg.HTTPSOnly && u.Scheme != "https" {
				bad("oauth2.token_url: scheme %q not allowed: https_only is set (the client secret would travel in clear text)", u.Scheme)
			}
		}
		c.tokens = newTokens(o, e.client, c.timeout, &e.life)
	}
	c.client = newClient(e.client, c)
	if c.tokens == nil && e.client.Jar == nil && e.client.Timeout == 0 {
		// http.Client would add nothing but its cost: no cookies, no
		// deadline of its own, no redirects followed.
		c.roundTrip = e.client.Transport
		c.reuseContext = e.madeClient
	}
	c.fixed = append(c.fixed, fixedHeader{"Content-Type", contentTypeJSON}, fixedHeader{"User-Agent", userAgentValue})
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		c.fixed = append(c.fixed, fixedHeader{k, headers[k]})
	}
	switch r := ep.RateLimit; {
	case math.IsNaN(r) || math.IsInf(r, 0) || r < 0:
		bad("rate_limit: %v is not a rate (want requests per second, 0 for none)", r)
	case r > 0:
		c.pace = newPacer(r)
	}
	c.window = window(&c.retry, c.timeout, e.breaker)
	return c, errs
}

// fixedHeader is a header every request of an endpoint carries.
type fixedHeader struct {
	key  string
	vals []string // shared by every request: never modified
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

// minHMACSecret is the shortest secret SchemeHMAC accepts, in bytes.
const minHMACSecret = 8

// shortSecret says why an HMAC secret of n bytes is refused.
func shortSecret(n int) string {
	unit := "bytes"
	if n == 1 {
		unit = "byte"
	}
	return fmt.Sprintf("%d %s is too short: an HMAC secret needs at least %d bytes (32 random bytes are recommended)", n, unit, minHMACSecret)
}

// staticHeaders checks the Headers of an endpoint, in the order of their
// names, and returns them with canonical keys. Errors name the header,
// never its value.
func staticHeaders(h map[string]string) (http.Header, error) {
	out := make(http.Header, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		v := h[k]
		ck := http.CanonicalHeaderKey(k)
		if !validHeaderName(k) {
			return nil, fmt.Errorf("headers: %q is not a valid header name", k)
		}
		if slices.Contains(reservedHeaders, ck) {
			return nil, fmt.Errorf("headers: %q is set by the library and cannot be overridden", k)
		}
		if i := strings.IndexFunc(v, isControl); i >= 0 {
			return nil, fmt.Errorf("headers: %q: value contains control character %U (only tab is allowed)", k, v[i])
		}
		out[ck] = []string{v}
	}
	return out, nil
}

// isControl reports whether r may not appear in a header value: the C0
// controls but tab, and DEL (RFC 9110, section 5.5).
func isControl(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }

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

// sign sets the signature headers of an attempt of d made at now.
func (c *endpoint) sign(h http.Header, d *Delivery, now time.Time) {
	c.signerAt(now).setHeaders(h, d.EventID, now.Unix(), d.Body)
}

// signerAt returns the signer for an attempt made at now.
func (c *endpoint) signerAt(now time.Time) signer {
	if c.rotating != nil && now.Before(c.rotateUntil) {
		return c.rotating
	}
	return c.signer
}

// unavailable returns why the endpoint takes no deliveries: disabled in
// its configuration (ErrEndpointDisabled) or by a 410 answer
// (ErrEndpointGone); nil when it takes them.
func (c *endpoint) unavailable() error {
	switch {
	case c.Disabled:
		return ErrEndpointDisabled
	case c.gone.Load():
		return ErrEndpointGone
	}
	return nil
}

// passReason is why an endpoint does not get an event.
type passReason int

const (
	wanted       passReason = iota // it gets the event
	passDisabled                   // Disabled, or a 410 answer disabled it
	passEvents                     // the event type is not in Events
	passIncluded                   // the model is not in IncludeModels
	passExcluded                   // the model is in ExcludeModels
	passFiltered                   // an update whose changes the field rules all hide
	passModel                      // the model is disabled, not for this type, or ShouldSend said no
	passEmitter                    // Config.Disabled
	passTenant                     // the endpoint is another tenant's
)

// explain says why an endpoint passes on an event of type t and model label.
func (r passReason) explain(t EventType, label string) string {
	switch r {
	case passDisabled:
		return "the endpoint is disabled"
	case passEvents:
		return fmt.Sprintf("events does not list %s", t)
	case passIncluded:
		return fmt.Sprintf("include_models does not list %s", label)
	case passExcluded:
		return fmt.Sprintf("exclude_models lists %s", label)
	case passFiltered:
		return "the field rules hide every change of the update (see send_filtered_updates)"
	case passModel:
		return fmt.Sprintf("the settings of model %s (disabled, events or ShouldSend) leave the %s event out", label, t)
	case passEmitter:
		return "webhooks are disabled (Config.Disabled)"
	case passTenant:
		return "the endpoint is another tenant's"
	}
	return ""
}

// pass reports why the endpoint does not get events of this type and
// model; wanted when it does.
func (c *endpoint) pass(t EventType, label string) passReason {
	switch {
	case c.unavailable() != nil:
		return passDisabled
	case c.events&maskOf(t) == 0:
		return passEvents
	case c.includeModels != nil && !c.includeModels[label]:
		return passIncluded
	case c.excludeModels[label]:
		return passExcluded
	}
	return wanted
}

// LogValue keeps the endpoint's secrets (Secret, PreviousSecret, header
// values, the OAuth2 client secret, the query and user information of the
// URLs) out of logs.
func (ep Endpoint) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("name", ep.Name),
		slog.String("url", redactURL(ep.URL)),
		slog.String("secret", redacted(ep.Secret)),
	}
	if ep.PreviousSecret != "" {
		attrs = append(attrs, slog.String("previous_secret", redacted(ep.PreviousSecret)))
	}
	if len(ep.Events) > 0 {
		attrs = append(attrs, slog.Any("events", ep.Events))
	}
	if len(ep.Headers) > 0 {
		attrs = append(attrs, slog.Any("headers", headerNames(ep.Headers)))
	}
	if ep.OAuth2 != nil {
		attrs = append(attrs, slog.Any("oauth2", *ep.OAuth2))
	}
	if ep.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", ep.Tenant))
	}
	return slog.GroupValue(attrs...)
}

// String describes the endpoint without its secrets: name, URL without
// query or user information, which secrets are set, events, header names
// and the OAuth2 settings.
func (ep Endpoint) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Name:%s URL:%s Secret:%s", ep.Name, redactURL(ep.URL), redacted(ep.Secret))
	if ep.PreviousSecret != "" {
		b.WriteString(" PreviousSecret:" + redacted(ep.PreviousSecret))
	}
	if len(ep.Events) > 0 {
		fmt.Fprintf(&b, " Events:%v", []EventType(ep.Events))
	}
	if len(ep.Headers) > 0 {
		fmt.Fprintf(&b, " Headers:%v", headerNames(ep.Headers))
	}
	if ep.OAuth2 != nil {
		b.WriteString(" OAuth2:" + ep.OAuth2.String())
	}
	if ep.Scheme != "" {
		fmt.Fprintf(&b, " Scheme:%s", string(ep.Scheme))
	}
	if ep.Disabled {
		b.WriteString(" Disabled:true")
	}
	if ep.Tenant != "" {
		fmt.Fprintf(&b, " Tenant:%s", ep.Tenant)
	}
	if ep.RateLimit != 0 {
		fmt.Fprintf(&b, " RateLimit:%g", ep.RateLimit)
	}
	b.WriteString("}")
	return b.String()
}

// GoString describes the endpoint without its secrets, for fmt's %#v.
func (ep Endpoint) GoString() string { return "webhook.Endpoint" + ep.String() }

// Format implements fmt.Formatter so that every verb, not only %v and %s,
// prints the description of String, which holds no secret: %q and %x
// quote or encode it, %#v prints GoString, and any other verb prints it
// as fmt's wrong-verb notice does ("%!d(webhook.Endpoint={Name:…})").
func (ep Endpoint) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, "webhook.Endpoint", ep.String())
}

// MarshalJSON encodes the endpoint without its secrets, for debugging:
// the fields String shows and the other settings that hold no secret,
// header names and field names without values. It cannot be decoded back
// into a working Endpoint.
func (ep Endpoint) MarshalJSON() ([]byte, error) {
	v := endpointView{
		Name:                ep.Name,
		URL:                 redactURL(ep.URL),
		Secret:              redacted(ep.Secret),
		PreviousSecret:      redacted(ep.PreviousSecret),
		PreviousSecretUntil: ep.PreviousSecretUntil,
		Scheme:              ep.Scheme,
		Events:              ep.Events,
		IncludeModels:       ep.IncludeModels,
		ExcludeModels:       ep.ExcludeModels,
		IncludeFields:       ep.IncludeFields,
		ExcludeFields:       ep.ExcludeFields,
		Headers:             headerNames(ep.Headers),
		OAuth2:              ep.OAuth2,
		Transform:           ep.Transform != nil,
		SendFilteredUpdates: ep.SendFilteredUpdates,
		Disabled:            ep.Disabled,
		Tenant:              ep.Tenant,
		RateLimit:           ep.RateLimit,
	}
	if ep.Timeout != 0 {
		v.Timeout = ep.Timeout.String()
	}
	if len(ep.RedactFields) > 0 {
		v.RedactFields = make(map[string][]string, len(ep.RedactFields))
		for label, fields := range ep.RedactFields {
			v.RedactFields[label] = slices.Sorted(maps.Keys(fields))
		}
	}
	return json.Marshal(v)
}

// MarshalText returns String's description, so that encoders that use
// encoding.TextMarshaler (encoding/xml, YAML libraries, slog's text
// handler) never see the secrets.
func (ep Endpoint) MarshalText() ([]byte, error) { return []byte(ep.String()), nil }

// endpointView is what Endpoint.MarshalJSON encodes.
type endpointView struct {
	Name                string              `json:"name"`
	URL                 string              `json:"url"`
	Secret              string              `json:"secret,omitempty"`
	PreviousSecret      string              `json:"previous_secret,omitempty"`
	PreviousSecretUntil time.Time           `json:"previous_secret_until,omitzero"`
	Scheme              SignatureScheme     `json:"scheme,omitempty"`
	Events              []EventType         `json:"events,omitempty"`
	IncludeModels       []string            `json:"include_models,omitempty"`
	ExcludeModels       []string            `json:"exclude_models,omitempty"`
	IncludeFields       map[string][]string `json:"include_fields,omitempty"`
	ExcludeFields       map[string][]string `json:"exclude_fields,omitempty"`
	RedactFields        map[string][]string `json:"redact_fields,omitempty"` // the fields, not their replacements
	Headers             []string            `json:"headers,omitempty"`       // the names, not the values
	OAuth2              *OAuth2             `json:"oauth2,omitempty"`
	Timeout             string              `json:"timeout,omitempty"`
	Transform           bool                `json:"transform,omitempty"`
	SendFilteredUpdates bool                `json:"send_filtered_updates,omitempty"`
	Disabled            bool                `json:"disabled,omitempty"`
	Tenant              string              `json:"tenant,omitempty"`
	RateLimit           float64             `json:"rate_limit,omitempty"`
}

// headerNames returns the sorted names of h; nil when it is empty.
func headerNames(h map[string]string) []string {
	if len(h) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(h))
}

// formatRedacted is the Format method of the types whose fields hold
// secrets: it prints s, the value's description without secrets, for
// every verb. fmt calls String only for %v, %s, %q, %x and %X; for any
// other verb it would print the fields, secrets included. typ is the
// type's name, for %#v and for the notice of a verb that does not apply.
func formatRedacted(f fmt.State, verb rune, typ, s string) {
	switch verb {
	case 'v', 's':
		if verb == 'v' && f.Flag('#') {
			s = typ + s
		}
		fmt.Fprintf(f, fmt.FormatString(f, 's'), s)
	case 'q', 'x', 'X':
		fmt.Fprintf(f, fmt.FormatString(f, verb), s)
	default:
		fmt.Fprintf(f, "%%!%c(%s=%s)", verb, typ, s)
	}
}

// RedactedURL returns the URL as String, logs and MarshalJSON show it:
// without user information or fragment, its query (which may carry a
// token) replaced by "[REDACTED]"; "[unparsable URL]" if it is not one.
func (ep Endpoint) RedactedURL() string { return redactURL(ep.URL) }

// redactURL drops the query and user information of a URL, which may
// carry tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "[REDACTED]"
	}
	u.Fragment = ""
	return u.String()
}

// EnableEndpoint re-enables an endpoint that a 410 Gone answer disabled.
// While it was disabled, events were not queued for it (nothing is logged
// for them: the receiver said it is gone); the delivery that got the 410
// can be sent again with Redeliver. ctx bounds the call for queues that
// store an endpoint's state.
func (e *Emitter) EnableEndpoint(ctx context.Context, name string) error {
	ep, err := e.operated(name)
	if err != nil {
		return err
	}
	ep.gone.Store(false)
	return nil
}
