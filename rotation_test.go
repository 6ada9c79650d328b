package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// Tests of secret rotation: Endpoint.PreviousSecret and PreviousSecretUntil,
// with Config.Now steering the clock.

// rotEmitter is a Sync Emitter on clock with one endpoint, ep named "crm"
// at rc's /hooks.
func rotEmitter(t *testing.T, clock *testClock, rc *hookReceiver, ep webhook.Endpoint) *webhook.Emitter {
	t.Helper()
	ep.Name, ep.URL = "crm", rc.URL+"/hooks"
	return newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{ep}, Sync: true, Now: clock.Now})
}

// rotScheme describes, per signature scheme, the header and how to
// compute a signature independently.
type rotScheme struct {
	name                string
	scheme              webhook.SignatureScheme
	current, previous   string
	sigHeader, tsHeader string
	sign                func(secret string, r hookRequest) string
	pattern             *regexp.Regexp // one signature
}

var rotSchemes = []rotScheme{
	{
		name: "hmac", scheme: webhook.SchemeHMAC,
		current: "rot_new_s3cret", previous: "rot_old_s3cret",
		sigHeader: webhook.HeaderSignature, tsHeader: webhook.HeaderTimestamp,
		sign: func(secret string, r hookRequest) string {
			return seedSignature(secret, r.Header.Get(webhook.HeaderTimestamp), r.Body)
		},
		pattern: regexp.MustCompile(`^sha256=[0-9a-f]{64}$`),
	},
	{
		name: "standard", scheme: webhook.SchemeStandard,
		current: stdSecret2, previous: stdSecret,
		sigHeader: webhook.HeaderStandardSignature, tsHeader: webhook.HeaderStandardTimestamp,
		sign: func(secret string, r hookRequest) string {
			key := stdKey
			if secret == stdSecret2 {
				key = stdKey2
			}
			return standardSignature(key, r.Header.Get(webhook.HeaderStandardID), r.Header.Get(webhook.HeaderStandardTimestamp), r.Body)
		},
		pattern: stdV1Pattern,
	},
}

// TestRotation: before PreviousSecretUntil every request carries two
// signatures, current first, and a receiver holding only the old secret
// or only the new one accepts it; from the deadline on there is one
// signature, and the old secret no longer verifies.
func TestRotation(t *testing.T) {
	t.Parallel()
	for _, s := range rotSchemes {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
			deadline := start.Add(24 * time.Hour)
			clock := newTestClock(start)
			rc := newHookReceiver(t, nil)
			em := rotEmitter(t, clock, rc, webhook.Endpoint{
				Scheme: s.scheme, Secret: s.current, PreviousSecret: s.previous, PreviousSecretUntil: deadline,
			})
			ctx := testCtx(t, 30*time.Second)

			verifier := func(secrets ...string) *webhook.Verifier {
				return &webhook.Verifier{Scheme: s.scheme, Secrets: secrets, Now: clock.Now}
			}
			oldOnly, newOnly, both := verifier(s.previous), verifier(s.current), verifier(s.current, s.previous)

			for _, step := range []struct {
				name     string
				at       time.Time
				rotating bool
			}{
				{"at the start", start, true},
				{"a second before the deadline", deadline.Add(-time.Second), true},
				{"at the deadline", deadline, false},
				{"after the deadline", deadline.Add(time.Hour), false},
			} {
				clock.Set(step.at)
				if err := em.Emit(ctx, rotEvent(map[string]any{"id": "7", "name": "Zoë \"rot\" \\"})); err != nil {
					t.Fatalf("%s: Emit: %v", step.name, err)
				}
				reqs := rc.takeNew()
				if len(reqs) != 1 {
					t.Fatalf("%s: %d requests, want 1", step.name, len(reqs))
				}
				r := reqs[0]
				if got := r.Header.Get(s.tsHeader); got != strconv.FormatInt(step.at.Unix(), 10) {
					t.Errorf("%s: %s = %q, want the clock's %d", step.name, s.tsHeader, got, step.at.Unix())
				}
				values := r.Header.Values(s.sigHeader)
				if len(values) != 1 {
					t.Fatalf("%s: %d %s header lines, want 1", step.name, len(values), s.sigHeader)
				}
				sigs := strings.Split(values[0], " ")
				for _, sig := range sigs {
					if !s.pattern.MatchString(sig) {
						t.Errorf("%s: signature %q does not match %s", step.name, sig, s.pattern)
					}
				}
				want := []string{s.sign(s.current, r)}
				if step.rotating {
					want = append(want, s.sign(s.previous, r))
				}
				if strings.Join(sigs, " ") != strings.Join(want, " ") {
					t.Errorf("%s: %s = %q, want %q (current first)", step.name, s.sigHeader, values[0], strings.Join(want, " "))
				}

				if err := newOnly.Verify(r.Header, r.Body); err != nil {
					t.Errorf("%s: Verifier with the new secret only: %v", step.name, err)
				}
				if err := both.Verify(r.Header, r.Body); err != nil {
					t.Errorf("%s: Verifier with both secrets: %v", step.name, err)
				}
				err := oldOnly.Verify(r.Header, r.Body)
				switch {
				case step.rotating && err != nil:
					t.Errorf("%s: Verifier with the old secret only: %v", step.name, err)
				case !step.rotating && !errors.Is(err, webhook.ErrInvalidSignature):
					t.Errorf("%s: Verifier with the old secret only = %v, want %v", step.name, err, webhook.ErrInvalidSignature)
				}
			}
		})
	}
}

// TestRotationRetryResigns: a retry is signed when it is made, so an
// attempt before the deadline carries both signatures and its retry after
// the deadline only the current one.
func TestRotationRetryResigns(t *testing.T) {
	t.Parallel()
	for _, s := range rotSchemes {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			deadline := time.Date(2026, 1, 17, 12, 0, 0, 0, time.UTC)
			clock := newTestClock(deadline.Add(-time.Minute))
			rc := newHookReceiver(t, func(w http.ResponseWriter, _ *http.Request, req hookRequest) {
				if req.N == 1 {
					clock.Set(deadline.Add(time.Minute)) // the deadline passes while it fails
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			em := rotEmitter(t, clock, rc, webhook.Endpoint{
				Scheme: s.scheme, Secret: s.current, PreviousSecret: s.previous, PreviousSecretUntil: deadline,
				Retry: &webhook.RetryConfig{MaxRetries: 1, RetryDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
			})
			if err := em.Emit(testCtx(t, 30*time.Second), rotEvent(map[string]any{"id": "8"})); err != nil {
				t.Fatalf("Emit: %v", err)
			}
			reqs := rc.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2 (a failed attempt and its retry)", len(reqs))
			}
			first := strings.Fields(reqs[0].Header.Get(s.sigHeader))
			retry := strings.Fields(reqs[1].Header.Get(s.sigHeader))
			if len(first) != 2 || len(retry) != 1 {
				t.Fatalf("signatures: first attempt %q, retry %q; want two, then one", first, retry)
			}
			if want := s.sign(s.current, reqs[1]); retry[0] != want {
				t.Errorf("retry signature %q, want the current secret's %q", retry[0], want)
			}
			if got, want := reqs[1].Header.Get(s.tsHeader), strconv.FormatInt(deadline.Add(time.Minute).Unix(), 10); got != want {
				t.Errorf("retry %s = %q, want %q (signed when sent)", s.tsHeader, got, want)
			}
			old := webhook.Verifier{Scheme: s.scheme, Secrets: []string{s.previous}, Now: clock.Now}
			if err := old.Verify(reqs[1].Header, reqs[1].Body); !errors.Is(err, webhook.ErrInvalidSignature) {
				t.Errorf("retry, Verifier with the old secret = %v, want %v", err, webhook.ErrInvalidSignature)
			}
		})
	}
}

// TestRotationEd25519FromHMAC: moving from a "whsec_" secret to a "whsk_"
// signing key, both signatures are sent during the rotation ("v1a,… v1,…"),
// so receivers with the old secret and receivers with the public key both
// accept.
func TestRotationEd25519FromHMAC(t *testing.T) {
	t.Parallel()
	signingKey, publicKey := newSigningKey(t)
	start := time.Unix(stdNow, 0)
	clock := newTestClock(start)
	rc := newHookReceiver(t, nil)
	em := rotEmitter(t, clock, rc, webhook.Endpoint{
		Scheme: webhook.SchemeStandard, Secret: signingKey, PreviousSecret: stdSecret, PreviousSecretUntil: start.Add(time.Hour),
	})
	ctx := testCtx(t, 30*time.Second)
	for _, at := range []time.Time{start, start.Add(2 * time.Hour)} {
		clock.Set(at)
		if err := em.Emit(ctx, rotEvent(map[string]any{"id": "9"})); err != nil {
			t.Fatalf("Emit: %v", err)
		}
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	during := strings.Fields(reqs[0].Header.Get(webhook.HeaderStandardSignature))
	if len(during) != 2 || !stdV1aPattern.MatchString(during[0]) || during[1] != standardSignature(stdKey, reqs[0].Header.Get(webhook.HeaderStandardID), reqs[0].Header.Get(webhook.HeaderStandardTimestamp), reqs[0].Body) {
		t.Errorf("during the rotation: signatures %q, want \"v1a,… v1,<old secret's>\"", during)
	}
	if after := strings.Fields(reqs[1].Header.Get(webhook.HeaderStandardSignature)); len(after) != 1 || !stdV1aPattern.MatchString(after[0]) {
		t.Errorf("after the rotation: signatures %q, want one v1a", after)
	}
	for i, c := range []struct {
		secret string
		want   []error // per request
	}{
		{stdSecret, []error{nil, webhook.ErrInvalidSignature}},
		{publicKey, []error{nil, nil}},
	} {
		v := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: []string{c.secret}, Now: clock.Now}
		for j, r := range reqs {
			clock.Set(time.Unix(rotAtoi(t, r.Header.Get(webhook.HeaderStandardTimestamp)), 0))
			if err := v.Verify(r.Header, r.Body); !errors.Is(err, c.want[j]) {
				t.Errorf("verifier %d, request %d: Verify = %v, want %v", i, j, err, c.want[j])
			}
		}
	}
}

// rotEvent is a created event of the model "store.Order".
func rotEvent(obj map[string]any) webhook.Event {
	ev := webhook.Create(obj)
	ev.Model = "store.Order"
	return ev
}

func rotAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRotationConfigErrors: New rejects a rotation it cannot run, with an
// error that wraps ErrInvalidConfig, names the endpoint and the field, and
// does not contain any secret.
func TestRotationConfigErrors(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	const notBase64 = "whsec_th1s~is!not#base64"
	cases := []struct {
		name  string
		ep    webhook.Endpoint
		field string // the error names `endpoint "crm": <field>: `
		not   string // and does not blame this field
	}{
		{
			name:  "previous secret without deadline",
			ep:    webhook.Endpoint{Secret: "rot_new_s3cret", PreviousSecret: "rot_old_s3cret"},
			field: "previous_secret_until",
		},
		{
			name:  "previous secret same as secret",
			ep:    webhook.Endpoint{Secret: "rot_same_s3cret", PreviousSecret: "rot_same_s3cret", PreviousSecretUntil: until},
			field: "previous_secret",
		},
		{
			name:  "standard previous secret same as secret",
			ep:    webhook.Endpoint{Scheme: webhook.SchemeStandard, Secret: stdSecret, PreviousSecret: stdSecret, PreviousSecretUntil: until},
			field: "previous_secret",
		},
		{
			name:  "standard secret not base64",
			ep:    webhook.Endpoint{Scheme: webhook.SchemeStandard, Secret: notBase64},
			field: "secret",
		},
		{
			name:  "standard secret without prefix, not base64",
			ep:    webhook.Endpoint{Scheme: webhook.SchemeStandard, Secret: "plain secret, not base64"},
			field: "secret",
		},
		{
			name:  "standard previous secret not base64",
			ep:    webhook.Endpoint{Scheme: webhook.SchemeStandard, Secret: stdSecret, PreviousSecret: notBase64, PreviousSecretUntil: until},
			field: "previous_secret",
			not:   "secret",
		},
		{
			name:  "standard secret not base64, previous fine",
			ep:    webhook.Endpoint{Scheme: webhook.SchemeStandard, Secret: notBase64, PreviousSecret: stdSecret, PreviousSecretUntil: until},
			field: "secret",
			not:   "previous_secret",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ep := c.ep
			ep.Name, ep.URL = "crm", "http://127.0.0.1:1/hooks"
			em, err := webhook.New(webhook.Config{Endpoints: []webhook.Endpoint{ep}, Sync: true, Logger: quietLogger})
			if em != nil {
				em.Close(context.Background())
			}
			if err == nil {
				t.Fatal("New accepted the endpoint")
			}
			if !errors.Is(err, webhook.ErrInvalidConfig) {
				t.Errorf("New error %q does not wrap ErrInvalidConfig", err)
			}
			msg := err.Error()
			if want := `endpoint "crm": ` + c.field + `: `; !strings.Contains(msg, want) {
				t.Errorf("New error %q does not contain %q", msg, want)
			}
			if c.not != "" && strings.Contains(msg, `endpoint "crm": `+c.not+`: `) {
				t.Errorf("New error %q also blames %s, which is valid", msg, c.not)
			}
			for _, secret := range []string{ep.Secret, ep.PreviousSecret} {
				if secret == "" {
					continue
				}
				for _, part := range []string{secret, strings.TrimPrefix(secret, "whsec_")} {
					if strings.Contains(msg, part) {
						t.Errorf("New error %q contains a secret", msg)
					}
				}
			}
		})
	}
}
