package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OAuth2 configures the client-credentials grant for an endpoint: the
// token is fetched once, shared by every worker, refreshed before it
// expires, and sent as Authorization. A 401 answer forces one refresh and
// one immediate retry within the same attempt.
//
// Its String, Format, LogValue, MarshalJSON and MarshalText show the
// client id, the token URL without its query or user information, the
// scopes and the names of EndpointParams, never ClientSecret nor a
// parameter's value.
type OAuth2 struct {
	ClientID     string // the client's id
	ClientSecret string // the client's secret; never logged, never in an error
	// TokenURL is the token endpoint, http or https (https only with
	// Config.HTTPSOnly); the SSRF guard checks its address as it checks an
	// endpoint's.
	TokenURL string
	Scopes   []string // requested scopes; nil: none
	// EndpointParams are extra parameters for the token request, such as
	// "audience". Their values are never printed nor logged.
	EndpointParams map[string][]string
}

// LogValue keeps the client secret, the token URL's query and user
// information and the EndpointParams values out of logs.
func (o OAuth2) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("client_id", o.ClientID),
		slog.String("client_secret", redacted(o.ClientSecret)),
		slog.String("token_url", redactURL(o.TokenURL)),
		slog.Any("scopes", o.Scopes),
	}
	if len(o.EndpointParams) > 0 {
		attrs = append(attrs, slog.Any("endpoint_params", paramNames(o.EndpointParams)))
	}
	return slog.GroupValue(attrs...)
}

// String describes the settings without the client secret, the token
// URL's query and user information, or the EndpointParams values.
func (o OAuth2) String() string {
	s := fmt.Sprintf("{ClientID:%s ClientSecret:%s TokenURL:%s Scopes:%v", o.ClientID, redacted(o.ClientSecret), redactURL(o.TokenURL), o.Scopes)
	if len(o.EndpointParams) > 0 {
		s += fmt.Sprintf(" EndpointParams:%v", paramNames(o.EndpointParams))
	}
	return s + "}"
}

// GoString describes the settings as String does, for fmt's %#v.
func (o OAuth2) GoString() string { return "webhook.OAuth2" + o.String() }

// Format implements fmt.Formatter so that every fmt verb prints String's
// description (see Endpoint.Format).
func (o OAuth2) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, "webhook.OAuth2", o.String())
}

// MarshalJSON encodes the settings without their secrets, for debugging;
// it cannot be decoded back into working settings.
func (o OAuth2) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientID       string   `json:"client_id"`
		ClientSecret   string   `json:"client_secret,omitempty"`
		TokenURL       string   `json:"token_url"`
		Scopes         []string `json:"scopes,omitempty"`
		EndpointParams []string `json:"endpoint_params,omitempty"` // the names, not the values
	}{o.ClientID, redacted(o.ClientSecret), redactURL(o.TokenURL), o.Scopes, paramNames(o.EndpointParams)})
}

// MarshalText returns String's description (see Endpoint.MarshalText).
func (o OAuth2) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// paramNames returns the sorted names of p; nil when it is empty.
func paramNames(p map[string][]string) []string {
	if len(p) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(p))
}

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// tokens is an endpoint's shared, refreshing token source, which a 401
// can invalidate. clientcredentials has no invalidate call: a new
// TokenSource forces a fetch.
type tokens struct {
	cfg  clientcredentials.Config
	ctx  context.Context // the Emitter's life, with our HTTP client; kept for every refresh
	life *lifetime       // the Emitter's: Close ends every fetch and waits for it

	mu  sync.Mutex
	src oauth2.TokenSource
	cur *oauth2.Token // the last token fetched from src
	gen int           // bumped by each invalidation
}

// newTokens returns an endpoint's token source. Its fetches run under
// life, which Close ends.
func newTokens(o *OAuth2, client *http.Client, timeout time.Duration, life *lifetime) *tokens {
	// Token requests get the endpoint's timeout: the token source's own
	// context is not a request's, and ends only with the Emitter.
	c := *client
	c.Timeout = timeout
	t := &tokens{
		cfg: clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL,
			Scopes: o.Scopes, EndpointParams: o.EndpointParams},
		// It carries our client so that token requests use the same
		// transport (and SSRF guard) as deliveries.
		ctx:  context.WithValue(life.ctx, oauth2.HTTPClient, &c),
		life: life,
	}
	t.src = t.cfg.TokenSource(t.ctx)
	return t
}

// tokenMargin is how long before its expiry a cached token is no longer
// handed out; clientcredentials refreshes 10 s ahead too.
const tokenMargin = 10 * time.Second

// token returns a valid token and the generation it belongs to. A cached
// token is returned at once; a fetch waits at most until ctx ends. The
// fetch itself, which the token source cannot cancel per call, goes on
// for the attempts waiting behind it until it ends or Close ends it.
func (t *tokens) token(ctx context.Context) (*oauth2.Token, int, error) {
	t.mu.Lock()
	src, gen, cur := t.src, t.gen, t.cur
	t.mu.Unlock()
	if cur != nil && (cur.Expiry.IsZero() || time.Until(cur.Expiry) > tokenMargin) {
		return cur, gen, nil
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	ch := make(chan result, 1)
	if !t.life.Go(func() {
		tok, err := src.Token()
		ch <- result{tok, err}
	}) {
		return nil, gen, fmt.Errorf("%w: %w", ErrToken, ErrClosed)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, gen, tokenError(r.err)
		}
		t.mu.Lock()
		if t.gen == gen {
			t.cur = r.tok
		}
		t.mu.Unlock()
		return r.tok, gen, nil
	case <-ctx.Done():
		return nil, gen, fmt.Errorf("%w: %w", ErrToken, ctx.Err())
	}
}

// invalidate drops the cached token of generation gen, once: concurrent
// 401s for the same token cause a single refresh.
func (t *tokens) invalidate(gen int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == gen {
		t.src = t.cfg.TokenSource(t.ctx)
		t.cur = nil
		t.gen++
	}
}

// ErrToken: the OAuth2 token could not be obtained. The attempt fails and
// is retried like a network error, but for a token URL whose address the
// SSRF guard refuses: that delivery fails at once, with an error that
// wraps ErrBlockedAddress and not ErrToken, as a blocked endpoint's does.
var ErrToken = errors.New("oauth2 token request failed")

// tokenError describes a token failure without the token server's URL
// parameters or the client's credentials.
func tokenError(err error) error {
	if errors.Is(err, ErrBlockedAddress) {
		// Not ErrToken, which is retried: the guard's answer will not
		// change, and a blocked address fails at once.
		return fmt.Errorf("oauth2 token request: %w", stripURL(err))
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := fmt.Sprintf("token server answered %d", re.Response.StatusCode)
		if re.ErrorCode != "" {
			msg += " " + re.ErrorCode
		}
		return fmt.Errorf("%w: %s", ErrToken, msg)
	}
	return fmt.Errorf("%w: %w", ErrToken, stripURL(err))
}

// lifetime is what may outlive an attempt but not the Emitter: OAuth2
// token fetches, which the token source cannot cancel per call.
type lifetime struct {
	ctx context.Context
	end context.CancelFunc
	mu  sync.Mutex // orders Go against close
	wg  sync.WaitGroup
}

// Go runs f on a goroutine of its own, unless the lifetime has ended.
func (l *lifetime) Go(f func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return false
	}
	l.wg.Go(f)
	return true
}

// close ends the lifetime and waits for what runs under it.
func (l *lifetime) close() {
	l.mu.Lock()
	l.end()
	l.mu.Unlock()
	l.wg.Wait()
}
