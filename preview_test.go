package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pvOrder is an order whose fields are tagged, but for InternalNote: its
// key is "InternalNote", which a rule for "internal_note" does not reach.
type pvOrder struct {
	ID           int        `json:"id"`
	Status       string     `json:"status"`
	Customer     pvCustomer `json:"customer"`
	InternalNote string
}

type pvCustomer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

var pvTime = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// pvEndpoints are endpoints with every reason to get an event or not.
func pvEndpoints(url string) []webhook.Endpoint {
	ep := func(name string) webhook.Endpoint { return coreEndpoint(name, url+"/"+name) }
	plain := ep("plain")
	rules := ep("rules")
	rules.ExcludeFields = map[string][]string{"store.Order": {"customer.email"}}
	rules.RedactFields = map[string]map[string]any{"*": {"customer.name": "***"}}
	typo := ep("typo")
	typo.IncludeModels = []string{"store.Ordr"}
	created := ep("created-only")
	created.Events = []webhook.EventType{webhook.Created}
	failing := ep("transform")
	failing.Transform = func(webhook.Payload) (any, error) { return nil, errors.New("no mapping for status") }
	note := ep("note")
	note.ExcludeFields = map[string][]string{"store.Order": {"internal_note", "customer.emial"}}
	return []webhook.Endpoint{plain, rules, typo, created, failing, note}
}

// TestPreviewShowsWhatEmitSends: Preview gives, for every endpoint, the
// body Emit sends it byte for byte, or why it gets nothing, and the
// rules that cannot match; it sends, logs and reports nothing.
func TestPreviewShowsWhatEmitSends(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	failures := newFailureLog()
	var logs logBuffer
	e := newEmitter(t, webhook.Config{
		Sync: true, Endpoints: pvEndpoints(rc.URL), Now: func() time.Time { return pvTime },
		OnFailure: failures.record, Logger: logs.debugLogger(),
	})
	ctx := testCtx(t, 10*time.Second)
	ev := webhook.Create(&pvOrder{ID: 7, Status: "new", Customer: pvCustomer{"Ada", "ada@example.com"}, InternalNote: "VIP"})
	ev.Model, ev.ID = "store.Order", "evt_preview1"

	previews, err := e.Preview(ctx, ev)
	require.NoError(t, err)
	assert.Zero(t, rc.count(), "Preview sent a request")
	assert.Empty(t, failures.all(), "Preview reported a failure")
	assert.Empty(t, logs.String(), "Preview logged")
	logged, err := e.Logs(ctx, webhook.LogQuery{})
	require.NoError(t, err)
	assert.Empty(t, logged, "Preview wrote a delivery log")

	byName := map[string]webhook.Preview{}
	var names []string
	for _, p := range previews {
		byName[p.Endpoint] = p
		names = append(names, p.Endpoint)
	}
	assert.Equal(t, []string{"plain", "rules", "typo", "created-only", "transform", "note"}, names, "one preview per endpoint, in order")

	assert.Contains(t, byName["typo"].Skipped, "include_models does not list store.Order")
	require.Len(t, byName["typo"].Warnings, 1)
	assert.Contains(t, byName["typo"].Warnings[0], `"store.Ordr"`)
	assert.Nil(t, byName["typo"].Body)
	assert.Empty(t, byName["created-only"].Skipped, "a create event goes to a created-only endpoint")
	assert.ErrorContains(t, byName["transform"].Err, "no mapping for status")
	assert.Nil(t, byName["transform"].Body)
	assert.Contains(t, string(byName["rules"].Body), `"customer":{"name":"***"}`)
	assert.Empty(t, byName["rules"].Warnings)
	noteWarnings := strings.Join(byName["note"].Warnings, "\n")
	assert.Contains(t, noteWarnings, `"internal_note" matches no key webhook_test.pvOrder writes (did you mean "InternalNote"?)`)
	assert.Contains(t, noteWarnings, `"customer.emial" matches no key webhook_test.pvOrder writes (did you mean "customer.email"?)`)

	// Emit sends what Preview showed, byte for byte.
	err = e.Emit(ctx, ev)
	var de *webhook.DeliveryError
	require.ErrorAs(t, err, &de, "the transform endpoint's delivery fails")
	assert.Equal(t, "transform", de.Endpoint)
	sent := map[string][]byte{}
	for _, r := range rc.requests() {
		sent[strings.TrimPrefix(r.Path, "/")] = r.Body
	}
	for _, p := range previews {
		if p.Body == nil {
			assert.NotContains(t, sent, p.Endpoint)
			continue
		}
		assert.Equal(t, string(p.Body), string(sent[p.Endpoint]), "endpoint %s", p.Endpoint)
	}
	assert.Len(t, sent, 4)
	// Emit logs each rule that cannot match once, Preview's words.
	for _, w := range append(byName["typo"].Warnings, byName["note"].Warnings...) {
		assert.Equal(t, 1, strings.Count(logs.String(), jsonQuoted(t, w)), "logged once: %s\nlog:\n%s", w, logs.String())
	}
}

// jsonQuoted is s as a JSON log line has it inside a string, without the quotes.
func jsonQuoted(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b[1 : len(b)-1])
}

// TestRuleWarningsLoggedOnce: the first Emit of a model's type logs what
// the rules name that it lacks, once per rule, however many events follow
// and however many goroutines emit them.
func TestRuleWarningsLoggedOnce(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	var logs logBuffer
	ep := coreEndpoint("a", rc.URL)
	ep.ExcludeFields = map[string][]string{
		"store.Order": {"internal_note", "customer.email"}, // the first is a near miss
		"*":           {"password"},                        // absent, but "*" rules may name fields other models have
	}
	ep.RedactFields = map[string]map[string]any{"store.Order": {"Customer.Name": "***"}}
	e := newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{ep}, Logger: logs.debugLogger()})
	ctx := testCtx(t, 10*time.Second)
	done := make(chan error)
	for i := range 8 {
		go func() {
			var obj any = pvOrder{ID: i, InternalNote: "x"}
			if i%2 == 1 {
				obj = &pvOrder{ID: i, InternalNote: "x"} // the same keys: the same warnings
			}
			ev := webhook.Create(obj)
			ev.Model = "store.Order"
			done <- e.Emit(ctx, ev)
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
	rc.wait(t, 8, 10*time.Second)
	out := logs.String()
	assert.Equal(t, 2, strings.Count(out, "a field rule cannot match"), "log:\n%s", out)
	assert.Contains(t, out, `exclude_fields[\"store.Order\"]: \"internal_note\" matches no key webhook_test.pvOrder writes (did you mean \"InternalNote\"?)`)
	assert.Contains(t, out, `redact_fields[\"store.Order\"]: \"Customer.Name\" matches webhook_test.pvOrder \"customer.name\" only if case is ignored`)
	assert.NotContains(t, out, "password")
	assert.Contains(t, out, `"level":"WARN"`)

	// The excluded field the near miss names is sent: the warning is what
	// tells the operator.
	assert.Contains(t, string(rc.requests()[0].Body), `"InternalNote":"x"`)

	// Another model's type brings its own warnings, once.
	ev := webhook.Create(pvCustomer{Name: "Ada"})
	ev.Model = "store.Order"
	require.NoError(t, e.Emit(ctx, ev))
	rc.wait(t, 9, 10*time.Second)
	assert.Equal(t, 5, strings.Count(logs.String(), "a field rule cannot match"), "three more, once each; log:\n%s", logs.String())
}

// TestFilteredUpdates: an update whose changes an endpoint's field rules
// all hide is not sent to it, unless the endpoint asks for those; Preview
// says why. An update that changed nothing at all is sent.
func TestFilteredUpdates(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	hide := coreEndpoint("hide", rc.URL+"/hide")
	hide.ExcludeFields = map[string][]string{"store.Order": {"customer.email"}}
	send := hide
	send.Name, send.URL, send.SendFilteredUpdates = "send", rc.URL+"/send", true
	all := coreEndpoint("all", rc.URL+"/all")
	e := newEmitter(t, webhook.Config{Sync: true, Endpoints: []webhook.Endpoint{hide, send, all}})
	ctx := testCtx(t, 10*time.Second)

	old := pvOrder{ID: 1, Status: "new", Customer: pvCustomer{"Ada", "ada@example.com"}}
	emailOnly := old
	emailOnly.Customer.Email = "ada@example.org"
	statusToo := emailOnly
	statusToo.Status = "paid"
	for _, c := range []struct {
		name        string
		new         pvOrder
		wantPaths   []string
		wantChanges map[string]string // endpoint → changes sent
	}{
		{"only a hidden field changed", emailOnly, []string{"/send", "/all"}, map[string]string{
			"/send": `{}`,
			"/all":  `{"customer":{"old":{"name":"Ada","email":"ada@example.com"},"new":{"name":"Ada","email":"ada@example.org"}}}`,
		}},
		{"a visible field changed too", statusToo, []string{"/hide", "/send", "/all"}, map[string]string{
			"/hide": `{"status":{"old":"new","new":"paid"}}`,
		}},
		{"nothing changed", old, []string{"/hide", "/send", "/all"}, map[string]string{"/hide": `{}`}},
	} {
		ev := webhook.Update(old, c.new)
		ev.Model = "store.Order"
		previews, err := e.Preview(ctx, ev)
		require.NoError(t, err)
		require.NoError(t, e.Emit(ctx, ev), c.name)
		reqs := rc.takeNew()
		var paths []string
		for _, r := range reqs {
			paths = append(paths, r.Path)
			if want, ok := c.wantChanges[r.Path]; ok {
				var env struct{ Changes json.RawMessage }
				require.NoError(t, json.Unmarshal(r.Body, &env))
				assert.Equal(t, want, string(env.Changes), "%s: %s", c.name, r.Path)
			}
		}
		assert.ElementsMatch(t, c.wantPaths, paths, c.name)
		hidden := !strings.Contains(strings.Join(paths, " "), "/hide")
		assert.Equal(t, hidden, previews[0].Body == nil, c.name)
		if hidden {
			assert.Contains(t, previews[0].Skipped, "the field rules hide every change", c.name)
		}
	}
}

// TestPreviewEventErrors: Preview returns Emit's error about the event as
// a whole, and says when the settings keep every endpoint out.
func TestPreviewEventErrors(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	e := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{coreEndpoint("a", rc.URL)},
		Models:    map[string]webhook.ModelMeta{"store.Quiet": {Events: []webhook.EventType{webhook.Deleted}}},
	})
	ctx := context.Background()
	_, err := e.Preview(ctx, webhook.Event{Type: "archived", Object: pvOrder{}})
	assert.ErrorIs(t, err, webhook.ErrInvalidEvent)

	ev := webhook.Create(pvOrder{})
	ev.Model = "store.Quiet"
	previews, err := e.Preview(ctx, ev)
	require.NoError(t, err)
	require.Len(t, previews, 1)
	assert.Nil(t, previews[0].Body)
	assert.Contains(t, previews[0].Skipped, "the settings of model store.Quiet")

	// As Emit, Preview asks ShouldSend only when an endpoint wants the
	// event: a panic in it is no error when none does.
	picky := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "a", URL: rc.URL, Secret: coreSecret, IncludeModels: []string{"store.Invoice"}}},
		Models:    map[string]webhook.ModelMeta{"store.Order": {ShouldSend: func(webhook.Event) bool { panic("boom") }}},
	})
	ev = webhook.Create(pvOrder{})
	ev.Model = "store.Order"
	previews, err = picky.Preview(ctx, ev)
	require.NoError(t, err)
	assert.Contains(t, previews[0].Skipped, "include_models does not list store.Order")
	require.NoError(t, picky.Emit(ctx, ev))

	off := newEmitter(t, webhook.Config{Disabled: true, Endpoints: []webhook.Endpoint{coreEndpoint("a", rc.URL)}})
	previews, err = off.Preview(ctx, webhook.Create(pvOrder{}))
	require.NoError(t, err)
	assert.Contains(t, previews[0].Skipped, "Config.Disabled")
	assert.Zero(t, rc.count())
}
