package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// EndpointStore keeps the endpoints added at runtime, for Emitters in
// several processes that share a durable queue: each stores its changes
// there, and reads the others' from there. The River queue
// (github.com/hookrail/webhook/webhookriver) is one, in the queue's
// database. Implementations must be safe for concurrent use.
//
// The store holds specs it does not read: each is an endpoint encoded by
// the Emitter, secrets included (store it as you would store a password
// of the host's own).
type EndpointStore interface {
	// PutEndpoint stores spec under name: a new endpoint when create (an
	// error wrapping ErrEndpointExists when one has the name), else in
	// place of the one there (an error wrapping ErrEndpointNotFound when
	// none has it). Each change gets a version above every version stored
	// before it.
	PutEndpoint(ctx context.Context, name string, spec []byte, create bool) error

	// DeleteEndpoint removes the endpoint, leaving a record of the
	// removal (a nil Spec) with a new version; an error wrapping
	// ErrEndpointNotFound when none has the name.
	DeleteEndpoint(ctx context.Context, name string) error

	// EndpointChanges returns the latest record of each name changed
	// after version after (0: every name), in version order. A change
	// made after the call returns has a higher version than every record
	// it returned, so that polling with the last version seen misses
	// nothing.
	EndpointChanges(ctx context.Context, after int64) ([]EndpointRecord, error)
}

// EndpointRecord is an endpoint as an [EndpointStore] holds it.
type EndpointRecord struct {
	Name      string
	Spec      []byte // the endpoint, encoded by the Emitter; nil: removed
	Version   int64  // the change's version: above every earlier change's
	UpdatedAt time.Time
}

// DefaultEndpointSync is how often an Emitter reads the changes other
// processes made to its EndpointStore.
const DefaultEndpointSync = 2 * time.Second

// loadTimeout bounds New's reading of the stored endpoints.
const loadTimeout = 30 * time.Second

// storedEndpoint is the spec an EndpointStore keeps: every field of
// Endpoint but Transform, which is code.
type storedEndpoint struct {
	Name                string                    `json:"name"`
	URL                 string                    `json:"url"`
	Secret              string                    `json:"secret"`
	PreviousSecret      string                    `json:"previous_secret,omitempty"`
	PreviousSecretUntil time.Time                 `json:"previous_secret_until,omitzero"`
	Events              []EventType               `json:"events,omitempty"`
	IncludeModels       []string                  `json:"include_models,omitempty"`
	ExcludeModels       []string                  `json:"exclude_models,omitempty"`
	IncludeFields       map[string][]string       `json:"include_fields,omitempty"`
	ExcludeFields       map[string][]string       `json:"exclude_fields,omitempty"`
	RedactFields        map[string]map[string]any `json:"redact_fields,omitempty"`
	Headers             map[string]string         `json:"headers,omitempty"`
	OAuth2              *storedOAuth2             `json:"oauth2,omitempty"`
	Retry               *storedRetry              `json:"retry,omitempty"`
	Timeout             time.Duration             `json:"timeout,omitempty"`
	Scheme              SignatureScheme           `json:"scheme,omitempty"`
	SendFilteredUpdates bool                      `json:"send_filtered_updates,omitempty"`
	Disabled            bool                      `json:"disabled,omitempty"`
	Tenant              string                    `json:"tenant,omitempty"`
	RateLimit           float64                   `json:"rate_limit,omitempty"`
}

type storedOAuth2 struct {
	ClientID       string              `json:"client_id"`
	ClientSecret   string              `json:"client_secret"`
	TokenURL       string              `json:"token_url"`
	Scopes         []string            `json:"scopes,omitempty"`
	EndpointParams map[string][]string `json:"endpoint_params,omitempty"`
}

type storedRetry struct {
	MaxRetries    int           `json:"max_retries"`
	RetryDelay    time.Duration `json:"retry_delay"`
	BackoffFactor float64       `json:"backoff_factor"`
	MaxDelay      time.Duration `json:"max_delay"`
	RetryOnStatus []int         `json:"retry_on_status"`
	NoJitter      bool          `json:"no_jitter,omitempty"`
}

// encodeEndpoint returns ep's spec for an EndpointStore.
func encodeEndpoint(ep Endpoint) ([]byte, error) {
	if ep.Transform != nil {
		return nil, errors.New("transform: a function cannot be stored in the EndpointStore; give this endpoint through Config.Endpoints")
	}
	s := storedEndpoint{
		Name: ep.Name, URL: ep.URL, Secret: ep.Secret, PreviousSecret: ep.PreviousSecret,
		PreviousSecretUntil: ep.PreviousSecretUntil, Events: ep.Events,
		IncludeModels: ep.IncludeModels, ExcludeModels: ep.ExcludeModels,
		IncludeFields: ep.IncludeFields, ExcludeFields: ep.ExcludeFields, RedactFields: ep.RedactFields,
		Headers: ep.Headers, Timeout: ep.Timeout, Scheme: ep.Scheme,
		SendFilteredUpdates: ep.SendFilteredUpdates, Disabled: ep.Disabled,
		Tenant: ep.Tenant, RateLimit: ep.RateLimit,
	}
	if o := ep.OAuth2; o != nil {
		s.OAuth2 = &storedOAuth2{o.ClientID, o.ClientSecret, o.TokenURL, o.Scopes, o.EndpointParams}
	}
	if r := ep.Retry; r != nil {
		s.Retry = &storedRetry{r.MaxRetries, r.RetryDelay, r.BackoffFactor, r.MaxDelay, r.RetryOnStatus, r.NoJitter}
	}
	b, err := json.Marshal(s)
	if err != nil {
		// A redaction's replacement that JSON cannot hold.
		return nil, fmt.Errorf("redact_fields: cannot be stored: %w", err)
	}
	return b, nil
}

// decodeEndpoint reads a spec encodeEndpoint wrote. Numbers among the
// redactions' replacements keep their digits (json.Number).
func decodeEndpoint(spec []byte) (Endpoint, error) {
	var s storedEndpoint
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return Endpoint{}, fmt.Errorf("stored endpoint: %w", err)
	}
	ep := Endpoint{
		Name: s.Name, URL: s.URL, Secret: s.Secret, PreviousSecret: s.PreviousSecret,
		PreviousSecretUntil: s.PreviousSecretUntil, Events: s.Events,
		IncludeModels: s.IncludeModels, ExcludeModels: s.ExcludeModels,
		IncludeFields: s.IncludeFields, ExcludeFields: s.ExcludeFields, RedactFields: s.RedactFields,
		Headers: s.Headers, Timeout: s.Timeout, Scheme: s.Scheme,
		SendFilteredUpdates: s.SendFilteredUpdates, Disabled: s.Disabled,
		Tenant: s.Tenant, RateLimit: s.RateLimit,
	}
	if o := s.OAuth2; o != nil {
		ep.OAuth2 = &OAuth2{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes, EndpointParams: o.EndpointParams}
	}
	if r := s.Retry; r != nil {
		ep.Retry = &RetryConfig{MaxRetries: r.MaxRetries, RetryDelay: r.RetryDelay, BackoffFactor: r.BackoffFactor, MaxDelay: r.MaxDelay, RetryOnStatus: r.RetryOnStatus, NoJitter: r.NoJitter}
	}
	return ep, nil
}

// syncEndpoints applies the changes stored since the last it applied.
// The first (initial, in New, before the queue starts) loads every
// stored endpoint. A record that cannot be used (a Config endpoint of
// the same name, a spec this process refuses) is logged and skipped; a
// queue that cannot take an endpoint stops the sync there, to be tried
// again at the next.
func (e *Emitter) syncEndpoints(ctx context.Context, initial bool) error {
	// Held across the read: a change this process makes meanwhile would
	// otherwise be undone by the older record read before it.
	e.epMu.Lock()
	defer e.epMu.Unlock()
	recs, err := e.store.EndpointChanges(ctx, e.storeSeen)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Version <= e.storeSeen {
			continue
		}
		if err := e.apply(r, initial); err != nil {
			return err
		}
		e.storeSeen = r.Version
	}
	return nil
}

// apply makes a stored record this process's endpoint. e.epMu held.
func (e *Emitter) apply(r EndpointRecord, initial bool) error {
	local := e.endpoint(r.Name)
	switch {
	case local != nil && local.static:
		if initial {
			e.logger.Warn("webhook: stored endpoint ignored: Config.Endpoints has one of that name", "endpoint", r.Name)
		}
		return nil
	case r.Spec == nil:
		if local != nil {
			e.drop(r.Name)
		} else {
			e.removed.Store(r.Name, struct{}{})
		}
		return nil
	case local != nil && bytes.Equal(local.spec, r.Spec):
		return nil
	}
	ep, err := decodeEndpoint(r.Spec)
	var c *endpoint
	if err == nil {
		if ep.Name != r.Name {
			err = fmt.Errorf("stored under the name %q", r.Name)
		} else {
			c, err = e.checkEndpoint(ep)
		}
	}
	if err != nil {
		e.logger.Error("webhook: stored endpoint cannot be used; it is left as it was here", "endpoint", r.Name, "error", err)
		return nil
	}
	c.spec = r.Spec
	if local == nil && !initial {
		if err := e.watchAdd(r.Name); err != nil {
			return fmt.Errorf("endpoint %q: the queue: %w", r.Name, err)
		}
	}
	e.put(c)
	return nil
}

// syncLoop applies the store's changes every Config.EndpointSync until
// ctx ends.
func (e *Emitter) syncLoop(ctx context.Context) {
	defer close(e.syncDone)
	t := time.NewTicker(e.cfg.EndpointSync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, cancel := context.WithTimeout(ctx, max(e.cfg.EndpointSync, loadTimeout))
		err := e.syncEndpoints(c, false)
		cancel()
		if err != nil && ctx.Err() == nil {
			e.logger.Warn("webhook: reading the stored endpoints failed; trying again", "error", err, "retry_in", e.cfg.EndpointSync)
		}
	}
}
