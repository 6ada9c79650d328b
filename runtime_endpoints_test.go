package webhook_test

// Tests of the endpoints that change while the Emitter runs: tenant
// routing, AddEndpoint / UpdateEndpoint / RemoveEndpoint (alone and under
// a stream of Emits), what becomes of the deliveries queued for an
// endpoint that is updated or removed, Recover, LogQuery's time range,
// and the EndpointStore that shares the endpoints between Emitters.
// Helpers are prefixed "rt".

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrail/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---- helpers ----

// rtSecret is the secret of the endpoint name: each endpoint has its own,
// so that a request signed for another endpoint fails verification.
func rtSecret(name string) string { return "secret-" + name + "-0123456789" }

// rtTenant is the name of tenant i.
func rtTenant(i int) string { return fmt.Sprintf("t%02d", i) }

// rtEvent is an event of model store.Order with the given id and tenant.
func rtEvent(id, tenant string, typ webhook.EventType) webhook.Event {
	return webhook.Event{ID: id, Type: typ, Model: "store.Order", Object: map[string]any{"ref": id}, Tenant: tenant}
}

// rtVerify checks that r is signed with secret and that its event id
// header is the body's "id", and returns that id.
func rtVerify(r hookRequest, secret string) (string, error) {
	if err := webhook.Verify(secret, r.Header, r.Body); err != nil {
		return "", err
	}
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		return "", err
	}
	if env.ID == "" || env.ID != r.eventID() {
		return "", fmt.Errorf("event id header %q, body id %q", r.eventID(), env.ID)
	}
	return env.ID, nil
}

// rtReceived returns how many times each event reached path on rc,
// reporting every request that is not signed with secret.
func rtReceived(t *testing.T, rc *hookReceiver, path, secret string) map[string]int {
	t.Helper()
	got := map[string]int{}
	bad := 0
	for _, r := range rc.take(path) {
		id, err := rtVerify(r, secret)
		if err != nil {
			if bad++; bad <= 3 {
				t.Errorf("%s: request %d does not verify: %v", path, r.N, err)
			}
			continue
		}
		got[id]++
	}
	if bad > 3 {
		t.Errorf("%s: %d requests in all do not verify", path, bad)
	}
	return got
}

// rtSample returns up to 5 of the keys of m, sorted, for messages.
func rtSample[V any](m map[string]V) []string {
	keys := slices.Sorted(maps.Keys(m))
	return keys[:min(len(keys), 5)]
}

// rtExactlyOnce checks that got holds every id of want once, and nothing
// else.
func rtExactlyOnce(t *testing.T, what string, got map[string]int, want map[string]bool) {
	t.Helper()
	missing, extra, twice := map[string]bool{}, map[string]int{}, map[string]int{}
	for id := range want {
		if got[id] == 0 {
			missing[id] = true
		}
	}
	for id, n := range got {
		switch {
		case !want[id]:
			extra[id] = n
		case n > 1:
			twice[id] = n
		}
	}
	assert.Empty(t, missing, "%s: %d of its %d events never arrived, e.g. %v", what, len(missing), len(want), rtSample(missing))
	assert.Empty(t, extra, "%s: %d events arrived that it must not get, e.g. %v", what, len(extra), rtSample(extra))
	assert.Empty(t, twice, "%s: %d events arrived more than once, e.g. %v", what, len(twice), rtSample(twice))
}

// rtNames returns the names of e's endpoints, in order.
func rtNames(e *webhook.Emitter) []string {
	var names []string
	for _, ep := range e.Endpoints() {
		names = append(names, ep.Name)
	}
	return names
}

// rtFind returns e's endpoint of that name.
func rtFind(e *webhook.Emitter, name string) (webhook.Endpoint, bool) {
	for _, ep := range e.Endpoints() {
		if ep.Name == name {
			return ep, true
		}
	}
	return webhook.Endpoint{}, false
}

// rtLogs returns every delivery log of the endpoint.
func rtLogs(t *testing.T, e *webhook.Emitter, endpoint string, status webhook.DeliveryStatus) []webhook.DeliveryLog {
	t.Helper()
	logs, err := e.Logs(context.Background(), webhook.LogQuery{Endpoint: endpoint, Status: status, Limit: 1_000_000})
	require.NoError(t, err)
	return logs
}

// rtFailures returns the failures of the endpoint among fs.
func rtFailures(fs []webhook.Failure, endpoint string) []webhook.Failure {
	var out []webhook.Failure
	for _, f := range fs {
		if f.Endpoint == endpoint {
			out = append(out, f)
		}
	}
	return out
}

// rtHold is a receiver that holds every request until release is called
// (or the client goes away), then answers with code.
func rtHold(t *testing.T, code int) (rc *hookReceiver, release func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	rc = newHookReceiver(t, func(w http.ResponseWriter, r *http.Request, _ hookRequest) {
		select {
		case <-gate:
			w.WriteHeader(code)
		case <-r.Context().Done():
		}
	})
	// Registered after the receiver's Close: runs before it.
	t.Cleanup(release)
	return rc, release
}

// ---- tenant routing ----

// TestTenantRouting emits 2,000 events of random tenants (some without
// one, some of a tenant without an endpoint) from 4 goroutines to 20
// tenant endpoints and 2 global ones (plus one endpoint of each kind that
// takes only deleted events), and checks, by signature and event id, that
// every endpoint got exactly the events of its tenant that its own
// filters let through, each once, global endpoints every event, and that
// the body is the same envelope whatever the tenant. Preview explains a
// skipped tenant endpoint.
func TestTenantRouting(t *testing.T) {
	t.Parallel()
	const tenants, events, emitters = 20, 2000, 4
	rc := newHookReceiver(t, nil)
	var eps []webhook.Endpoint
	add := func(name, tenant string, types ...webhook.EventType) {
		eps = append(eps, webhook.Endpoint{Name: name, URL: rc.URL + "/" + name, Secret: rtSecret(name), Tenant: tenant, Events: types})
	}
	add("global", "")
	for i := range tenants {
		add("tenant-"+rtTenant(i), rtTenant(i))
	}
	add("global-deleted", "", webhook.Deleted)
	add("t00-deleted", "t00", webhook.Deleted)
	fl := newFailureLog()
	e := newEmitter(t, webhook.Config{Endpoints: eps, Workers: 16, QueueSize: 200_000, OnFailure: fl.record})

	rng := rand.New(rand.NewPCG(7, 11))
	evs := make([]webhook.Event, events)
	kinds := map[string]int{}
	for i := range evs {
		tenant := ""
		switch k := rng.IntN(tenants + 2); {
		case k < tenants:
			tenant = rtTenant(k)
		case k == tenants:
			kinds["none"]++
		default:
			tenant = "t-without-endpoint"
			kinds["orphan"]++
		}
		typ := webhook.Created
		if rng.IntN(3) == 0 {
			typ = webhook.Deleted
		}
		evs[i] = rtEvent(fmt.Sprintf("evt-%04d", i), tenant, typ)
	}
	require.Positive(t, kinds["none"])
	require.Positive(t, kinds["orphan"])
	want := map[string]map[string]bool{}
	total := 0
	for _, ep := range eps {
		want[ep.Name] = map[string]bool{}
		for _, ev := range evs {
			if (ep.Tenant == "" || ep.Tenant == ev.Tenant) && (len(ep.Events) == 0 || slices.Contains(ep.Events, ev.Type)) {
				want[ep.Name][ev.ID] = true
				total++
			}
		}
	}

	ctx := testCtx(t, 60*time.Second)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, events)
	for g := range emitters {
		wg.Go(func() {
			for i := g; i < events; i += emitters {
				if err := e.Emit(ctx, evs[i]); err != nil {
					errs <- fmt.Errorf("%s: %w", evs[i].ID, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Preview: another tenant's endpoint is skipped, and says why.
	preview := func(ev webhook.Event) map[string]webhook.Preview {
		ps, err := e.Preview(ctx, ev)
		require.NoError(t, err)
		require.Len(t, ps, len(eps))
		out := map[string]webhook.Preview{}
		for _, p := range ps {
			out[p.Endpoint] = p
		}
		return out
	}
	const otherTenant = "the endpoint is another tenant's"
	p := preview(rtEvent("preview-1", "t03", webhook.Created))
	require.NotNil(t, p["global"].Body)
	require.NotNil(t, p["tenant-t03"].Body)
	assert.JSONEq(t, string(p["global"].Body), string(p["tenant-t03"].Body), "the tenant changes nothing in the envelope")
	assert.Empty(t, p["tenant-t03"].Skipped)
	assert.Nil(t, p["tenant-t04"].Body)
	assert.Equal(t, otherTenant, p["tenant-t04"].Skipped)
	assert.Equal(t, otherTenant, p["t00-deleted"].Skipped)
	assert.Contains(t, p["global-deleted"].Skipped, "events does not list created")
	p = preview(rtEvent("preview-2", "", webhook.Deleted))
	require.NotNil(t, p["global"].Body)
	require.NotNil(t, p["global-deleted"].Body)
	for _, ep := range eps {
		if ep.Tenant != "" {
			assert.Equal(t, otherTenant, p[ep.Name].Skipped, "an event without a tenant, endpoint %s", ep.Name)
		}
	}
	p = preview(rtEvent("preview-3", "t00", webhook.Deleted))
	assert.NotNil(t, p["t00-deleted"].Body)
	assert.NotNil(t, p["tenant-t00"].Body)
	assert.Equal(t, otherTenant, p["tenant-t01"].Skipped)

	closeEmitter(t, e, 60*time.Second)
	t.Logf("%d events, %d deliveries in %s", events, total, time.Since(start).Round(time.Millisecond))
	require.Empty(t, fl.all(), "no delivery may fail")
	require.Equal(t, total, rc.count(), "requests in all")

	for _, ep := range eps {
		rtExactlyOnce(t, ep.Name, rtReceived(t, rc, "/"+ep.Name, ep.Secret), want[ep.Name])
	}
	// The envelope: the same bytes for every endpoint, and no tenant in it.
	bodies := map[string][]byte{}
	var keys []string
	for _, r := range rc.requests() {
		id := r.eventID()
		if b, ok := bodies[id]; !ok {
			bodies[id] = r.Body
		} else if !bytes.Equal(b, r.Body) {
			t.Fatalf("event %s: %s got a body other endpoints did not:\n%s\n%s", id, r.Path, b, r.Body)
		}
		if keys == nil {
			var env map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(r.Body, &env))
			keys = slices.Sorted(maps.Keys(env))
		}
	}
	assert.Equal(t, []string{"changes", "event", "id", "model", "object", "timestamp", "user"}, keys)
	assert.NotContains(t, string(bodies["evt-0000"]), "t-without-endpoint")
	for _, b := range bodies {
		assert.NotContains(t, string(b), `"tenant"`)
	}
}

// ---- AddEndpoint, UpdateEndpoint, RemoveEndpoint under a stream ----

// rtEmitted is one Emit of the stream: its window on the test's logical
// clock (start taken before the call, end after it returned).
type rtEmitted struct {
	id, tenant string
	start, end int64
}

// rtWindow is an endpoint change's window on the logical clock.
type rtWindow struct{ start, end int64 }

// before reports whether the Emit returned before the change was called;
// after, whether it was called after the change returned.
func (w rtWindow) before(ev rtEmitted) bool { return ev.end < w.start }
func (w rtWindow) after(ev rtEmitted) bool  { return ev.start > w.end }

// TestEndpointChangesDuringStream emits from 4 goroutines (for about a
// second, each pausing 2 ms between Emits) while another adds a tenant endpoint, moves one to another receiver with
// a new secret, removes one (whose receiver holds its requests until it is
// removed, so that deliveries are queued for it then) and adds a global
// one. After a draining Close it checks, with a logical clock ordering
// every Emit against every change:
//   - the endpoints there throughout got every event of their tenant
//     exactly once (the moved one at one receiver or the other, signed
//     with the secret of that receiver's side, and only at the new one
//     once the Update returned);
//   - an added endpoint got every event of its tenant emitted after
//     AddEndpoint returned, none emitted before it was called;
//   - the removed one got nothing emitted after RemoveEndpoint returned,
//     and each event emitted before it was called was either delivered or
//     reported to OnFailure with ErrEndpointRemoved;
//   - every delivery made (a log) ended delivered or failed: delivered
//     logs match the requests, failed ones the OnFailure calls, which are
//     all the removed endpoint's, with ErrEndpointRemoved.
func TestEndpointChangesDuringStream(t *testing.T) {
	t.Parallel()
	// Each emitter pauses 2 ms between its Emits, so that the stream lasts
	// about a second and deliveries run while it goes on.
	const emitters, step, pause = 4, 300, 2 * time.Millisecond
	rcA := newHookReceiver(t, nil)
	rcB := newHookReceiver(t, nil)
	rcR, releaseR := rtHold(t, http.StatusOK)
	ep := func(name, tenant string, rc *hookReceiver) webhook.Endpoint {
		return webhook.Endpoint{Name: name, URL: rc.URL + "/" + name, Secret: rtSecret(name), Tenant: tenant}
	}
	stayAll := ep("stay-all", "", rcA)
	stayT1 := ep("stay-t1", "t1", rcA)
	moved := ep("moved-t2", "t2", rcA)
	removed := ep("removed-t3", "t3", rcR)
	addedT1 := ep("added-t1", "t1", rcB)
	addedAll := ep("added-all", "", rcB)
	movedTo := moved
	movedTo.URL = rcB.URL + "/moved-t2"
	movedTo.Secret = "moved-secret-9876543210"
	movedTo.Headers = map[string]string{"X-Moved": "yes"}

	fl := newFailureLog()
	logs := webhook.NewMemoryLogStore(1_000_000)
	e := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{stayAll, stayT1, moved, removed},
		// Removed-t3's receiver holds at most 2 workers.
		Queue:    webhook.NewMemoryQueue(webhook.MemoryQueueConfig{Workers: 16, EndpointConcurrency: 2, Size: 1_000_000}),
		LogStore: logs, OnFailure: fl.record,
		Retry: &webhook.RetryConfig{MaxRetries: 0},
	})

	var clock atomic.Int64 // the logical clock
	var emitted atomic.Int64
	var stop atomic.Bool
	ctx := testCtx(t, 60*time.Second)
	tenants := []string{"t1", "t2", "t3", ""}
	results := make([][]rtEmitted, emitters)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for g := range emitters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for n := 0; !stop.Load() && n < 100_000; n++ {
				ev := rtEmitted{id: fmt.Sprintf("g%d-%05d", g, n), tenant: tenants[rng.IntN(len(tenants))]}
				ev.start = clock.Add(1)
				err := e.Emit(ctx, rtEvent(ev.id, ev.tenant, webhook.Created))
				ev.end = clock.Add(1)
				if err != nil {
					select {
					case errs <- fmt.Errorf("%s: %w", ev.id, err):
					default:
					}
				}
				results[g] = append(results[g], ev)
				emitted.Add(1)
				time.Sleep(pause)
			}
		})
	}
	t.Cleanup(func() { stop.Store(true); wg.Wait() }) // should the test fail early
	// The changes, each once step more events have been emitted since the
	// last; the stream goes on meanwhile (the removal, giving up hundreds
	// of deliveries, takes a while).
	var ops []rtWindow
	t0 := time.Now()
	change := func(what string, f func() error) {
		t.Helper()
		target := emitted.Load() + step
		waitFor(t, 20*time.Second, "the stream to go on", func() bool { return emitted.Load() >= target })
		w := rtWindow{start: clock.Add(1)}
		err := f()
		w.end = clock.Add(1)
		require.NoError(t, err, what)
		t.Logf("%s at event %d, %s", what, emitted.Load(), time.Since(t0).Round(time.Millisecond))
		ops = append(ops, w)
	}
	change("add added-t1", func() error { return e.AddEndpoint(ctx, addedT1) })
	change("update moved-t2", func() error { return e.UpdateEndpoint(ctx, movedTo) })
	change("remove removed-t3", func() error { return e.RemoveEndpoint(ctx, removed.Name) })
	releaseR() // its held requests now answer 200
	change("add added-all", func() error { return e.AddEndpoint(ctx, addedAll) })
	target := emitted.Load() + step
	waitFor(t, 20*time.Second, "the stream to go on", func() bool { return emitted.Load() >= target })
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Emit: %v", err)
	}
	t.Logf("stream stopped at %s", time.Since(t0).Round(time.Millisecond))
	closeEmitter(t, e, 30*time.Second)
	t.Logf("closed at %s", time.Since(t0).Round(time.Millisecond))
	addT1, update, remove, addAll := ops[0], ops[1], ops[2], ops[3]

	var all []rtEmitted
	for _, r := range results {
		all = append(all, r...)
	}
	t.Logf("%d events emitted", len(all))
	wantOf := func(keep func(rtEmitted) bool) map[string]bool {
		m := map[string]bool{}
		for _, ev := range all {
			if keep(ev) {
				m[ev.id] = true
			}
		}
		return m
	}
	of := func(tenant string) func(rtEmitted) bool {
		return func(ev rtEmitted) bool { return tenant == "" || ev.tenant == tenant }
	}

	// There throughout.
	rtExactlyOnce(t, "stay-all", rtReceived(t, rcA, "/stay-all", stayAll.Secret), wantOf(of("")))
	rtExactlyOnce(t, "stay-t1", rtReceived(t, rcA, "/stay-t1", stayT1.Secret), wantOf(of("t1")))

	// Moved: once, at either receiver, signed for that side; at the new
	// one only once the update returned.
	atOld := rtReceived(t, rcA, "/moved-t2", moved.Secret)
	atNew := rtReceived(t, rcB, "/moved-t2", movedTo.Secret)
	both := maps.Clone(atOld)
	for id, n := range atNew {
		both[id] += n
	}
	rtExactlyOnce(t, "moved-t2", both, wantOf(of("t2")))
	for _, ev := range all {
		if ev.tenant == "t2" && update.after(ev) && atOld[ev.id] > 0 {
			t.Errorf("moved-t2: event %s, emitted after UpdateEndpoint returned, went to the old URL", ev.id)
		}
	}
	for _, r := range rcB.take("/moved-t2") {
		assert.Equal(t, "yes", r.Header.Get("X-Moved"), "a request to the new URL has the new headers")
	}
	t.Logf("moved-t2: %d events at the old receiver, %d at the new", len(atOld), len(atNew))

	// Added: everything of its tenant after it was added, nothing before.
	for _, c := range []struct {
		ep     webhook.Endpoint
		window rtWindow
	}{{addedT1, addT1}, {addedAll, addAll}} {
		got := rtReceived(t, rcB, "/"+c.ep.Name, c.ep.Secret)
		must := wantOf(func(ev rtEmitted) bool { return of(c.ep.Tenant)(ev) && c.window.after(ev) })
		may := wantOf(func(ev rtEmitted) bool { return of(c.ep.Tenant)(ev) && !c.window.before(ev) })
		require.NotEmpty(t, must, "%s: the stream went on after it was added", c.ep.Name)
		for id := range must {
			assert.Equal(t, 1, got[id], "%s: event %s emitted after AddEndpoint returned", c.ep.Name, id)
		}
		for id, n := range got {
			assert.True(t, may[id], "%s: got event %s, emitted before AddEndpoint was called, or of another tenant", c.ep.Name, id)
			assert.Equal(t, 1, n, "%s: event %s", c.ep.Name, id)
		}
	}

	// Removed: nothing emitted after; before, delivered or failed with
	// ErrEndpointRemoved, exactly one of the two.
	gotR := rtReceived(t, rcR, "/removed-t3", removed.Secret)
	failedR := map[string]int{}
	for _, f := range rtFailures(fl.all(), removed.Name) {
		assert.ErrorIs(t, f.Err, webhook.ErrEndpointRemoved, "failure of %s", f.EventID)
		failedR[f.EventID]++
	}
	endsR := maps.Clone(gotR)
	for id, n := range failedR {
		endsR[id] += n
	}
	mayR := wantOf(func(ev rtEmitted) bool { return ev.tenant == "t3" && !remove.after(ev) })
	mustR := wantOf(func(ev rtEmitted) bool { return ev.tenant == "t3" && remove.before(ev) })
	for id := range mustR {
		assert.Equal(t, 1, endsR[id], "removed-t3: event %s, emitted before RemoveEndpoint was called, delivered %d times, failed %d times", id, gotR[id], failedR[id])
	}
	for id, n := range endsR {
		assert.True(t, mayR[id], "removed-t3: event %s was not emitted before RemoveEndpoint returned, or is not of t3", id)
		assert.Equal(t, 1, n, "removed-t3: event %s ended %d times", id, n)
	}
	assert.Positive(t, len(failedR), "removed-t3 had deliveries queued when it was removed")
	assert.Positive(t, len(gotR), "removed-t3 had requests under way when it was removed")
	t.Logf("removed-t3: %d delivered, %d given up", len(gotR), len(failedR))

	// None vanishes: every log is finished, and matches a request or a
	// failure.
	assert.Len(t, fl.all(), len(failedR), "only the removed endpoint's deliveries fail")
	for _, name := range []string{stayAll.Name, stayT1.Name, moved.Name, removed.Name, addedT1.Name, addedAll.Name} {
		var delivered, failed int
		for _, l := range rtLogs(t, e, name, "") {
			switch l.Status {
			case webhook.StatusDelivered:
				delivered++
			case webhook.StatusFailed:
				failed++
				assert.Contains(t, l.ErrorMessage, webhook.ErrEndpointRemoved.Error(), "%s: log %s", name, l.ID)
			default:
				t.Errorf("%s: log %s is %s after Close drained", name, l.ID, l.Status)
			}
		}
		requests := len(rcA.take("/"+name)) + len(rcB.take("/"+name)) + len(rcR.take("/"+name))
		assert.Equal(t, requests, delivered, "%s: delivered logs against requests", name)
		assert.Equal(t, len(rtFailures(fl.all(), name)), failed, "%s: failed logs against OnFailure calls", name)
	}

	assert.Equal(t, []string{"stay-all", "stay-t1", "moved-t2", "added-t1", "added-all"}, rtNames(e))
	got, ok := rtFind(e, "moved-t2")
	require.True(t, ok)
	assert.Equal(t, movedTo.URL, got.URL)
}

// ---- queued deliveries of an updated or removed endpoint ----

// TestUpdateEndpointMovesQueuedRetries: deliveries waiting for a retry
// after a 503 make that retry at the URL of the update, signed with its
// new secret and carrying its headers, with the body of their first
// attempt byte for byte; the old receiver gets nothing more.
func TestUpdateEndpointMovesQueuedRetries(t *testing.T) {
	t.Parallel()
	const n = 8
	old := newHookReceiver(t, answerStatus(http.StatusServiceUnavailable))
	moved := newHookReceiver(t, nil)
	retry := &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 1500 * time.Millisecond, BackoffFactor: 1, NoJitter: true}
	ep := webhook.Endpoint{Name: "crm", URL: old.URL + "/old", Secret: "old-secret-0123456789", Retry: retry}
	fl := newFailureLog()
	e := newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{ep}, CircuitBreaker: webhook.CircuitBreaker{Threshold: -1}, OnFailure: fl.record})
	ctx := testCtx(t, 20*time.Second)
	for i := range n {
		require.NoError(t, e.Emit(ctx, rtEvent(fmt.Sprintf("upd-%d", i), "", webhook.Created)))
	}
	first := old.wait(t, n, 10*time.Second)
	waitFor(t, 5*time.Second, "every delivery to wait for its retry", func() bool {
		return len(rtLogs(t, e, "crm", webhook.StatusRetrying)) == n
	})
	upd := ep
	upd.URL = moved.URL + "/new"
	upd.Secret = "new-secret-9876543210"
	upd.Headers = map[string]string{"X-Moved": "yes"}
	require.NoError(t, e.UpdateEndpoint(ctx, upd))

	retried := moved.wait(t, n, 10*time.Second)
	bodies := map[string][]byte{}
	for _, r := range first {
		id, err := rtVerify(r, ep.Secret)
		require.NoError(t, err)
		bodies[id] = r.Body
	}
	seen := map[string]bool{}
	for _, r := range retried {
		assert.Equal(t, "/new", r.Path)
		id, err := rtVerify(r, upd.Secret)
		require.NoError(t, err, "the retry is signed with the new secret")
		require.ErrorIs(t, webhook.Verify(ep.Secret, r.Header, r.Body), webhook.ErrInvalidSignature, "and not with the old one")
		assert.Equal(t, "yes", r.Header.Get("X-Moved"))
		require.Contains(t, bodies, id)
		assert.True(t, bytes.Equal(bodies[id], r.Body), "event %s: the retry's body is the first attempt's", id)
		assert.False(t, seen[id], "event %s retried twice", id)
		seen[id] = true
	}
	closeEmitter(t, e, 10*time.Second)
	assert.Equal(t, n, old.count(), "the old receiver got no request after the update")
	assert.Equal(t, n, moved.count())
	assert.Empty(t, fl.all())
	for _, l := range rtLogs(t, e, "crm", "") {
		assert.Equal(t, webhook.StatusDelivered, l.Status)
		assert.Equal(t, 2, l.Attempts)
	}
}

// TestRemoveEndpointGivesUpQueued: the deliveries of a removed endpoint
// that wait in the memory queue, for a retry a minute away or behind a
// busy worker, are given up at once: OnFailure with ErrEndpointRemoved,
// logs failed, no request more to the receiver, and Close has nothing to
// wait for. Redeliver and Recover of the removed endpoint say it was
// removed.
func TestRemoveEndpointGivesUpQueued(t *testing.T) {
	t.Parallel()
	const n = 6
	minute := &webhook.RetryConfig{MaxRetries: 5, RetryDelay: time.Minute, NoJitter: true}
	t.Run("waiting for a retry", func(t *testing.T) {
		t.Parallel()
		rc := newHookReceiver(t, answerStatus(http.StatusServiceUnavailable))
		fine := newHookReceiver(t, nil)
		fl := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Endpoints:      []webhook.Endpoint{{Name: "crm", URL: rc.URL, Secret: rtSecret("crm"), Retry: minute}, {Name: "other", URL: fine.URL, Secret: rtSecret("other")}},
			CircuitBreaker: webhook.CircuitBreaker{Threshold: -1}, OnFailure: fl.record,
		})
		ctx := testCtx(t, 20*time.Second)
		for i := range n {
			require.NoError(t, e.Emit(ctx, rtEvent(fmt.Sprintf("rm-%d", i), "", webhook.Created)))
		}
		waitFor(t, 10*time.Second, "every delivery to crm to wait for its retry", func() bool {
			return len(rtLogs(t, e, "crm", webhook.StatusRetrying)) == n
		})
		before := len(rc.take("/"))
		require.Equal(t, n, before)
		start := time.Now()
		require.NoError(t, e.RemoveEndpoint(ctx, "crm"))
		fs := fl.wait(t, n, 3*time.Second)
		t.Logf("%d deliveries given up %s after RemoveEndpoint", len(fs), time.Since(start).Round(time.Millisecond))
		rtCheckRemoved(t, e, fs, "crm", n, 1)
		closeEmitter(t, e, 3*time.Second)
		assert.Equal(t, before, len(rc.take("/")), "the removed endpoint's receiver got no request more")
		assert.Equal(t, n, fine.count(), "the other endpoint got its deliveries")
		assert.Len(t, fl.all(), n)
	})
	t.Run("due behind a busy worker", func(t *testing.T) {
		t.Parallel()
		rc, release := rtHold(t, http.StatusOK)
		fl := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Endpoints: []webhook.Endpoint{{Name: "crm", URL: rc.URL, Secret: rtSecret("crm"), Retry: minute}},
			Workers:   1, CircuitBreaker: webhook.CircuitBreaker{Threshold: -1}, OnFailure: fl.record,
		})
		ctx := testCtx(t, 20*time.Second)
		for i := range n {
			require.NoError(t, e.Emit(ctx, rtEvent(fmt.Sprintf("rm-%d", i), "", webhook.Created)))
		}
		rc.wait(t, 1, 5*time.Second)
		require.NoError(t, e.RemoveEndpoint(ctx, "crm"))
		// The others are given up while the first is still under way.
		fs := fl.wait(t, n-1, 3*time.Second)
		assert.Equal(t, 1, rc.count())
		rtCheckRemoved(t, e, fs, "crm", n-1, 0)
		// The attempt under way ends as it would have: delivered.
		release()
		closeEmitter(t, e, 3*time.Second)
		assert.Len(t, fl.all(), n-1)
		assert.Len(t, rtLogs(t, e, "crm", webhook.StatusDelivered), 1)
		assert.Equal(t, 1, rc.count())
	})
}

// rtCheckRemoved checks the failures of deliveries given up because their
// endpoint was removed: n of them, after attempts attempts, with
// ErrEndpointRemoved, logged failed; and that Redeliver and Recover say
// the endpoint was removed.
func rtCheckRemoved(t *testing.T, e *webhook.Emitter, fs []webhook.Failure, endpoint string, n, attempts int) {
	t.Helper()
	require.Len(t, fs, n)
	for _, f := range fs {
		assert.Equal(t, endpoint, f.Endpoint)
		assert.ErrorIs(t, f.Err, webhook.ErrEndpointRemoved)
		assert.Equal(t, attempts, f.Attempts)
		assert.NotEmpty(t, f.Body)
	}
	failed := rtLogs(t, e, endpoint, webhook.StatusFailed)
	assert.Len(t, failed, n)
	for _, l := range failed {
		assert.Contains(t, l.ErrorMessage, webhook.ErrEndpointRemoved.Error())
		assert.NotNil(t, l.CompletedAt)
	}
	ctx := testCtx(t, 5*time.Second)
	_, err := e.Redeliver(ctx, fs[0].DeliveryID)
	assert.ErrorIs(t, err, webhook.ErrEndpointRemoved)
	_, err = e.Recover(ctx, endpoint, time.Time{})
	assert.ErrorIs(t, err, webhook.ErrEndpointRemoved)
	assert.NotContains(t, rtNames(e), endpoint)
}

// TestRemoveEndpointDuringAttempt: an attempt under way when its endpoint
// is removed ends as it would have, but when it fails it must not start a
// retry series of an endpoint that is gone. Its delivery, queued again for
// a retry, is the removed endpoint's: the memory queue gives it up at once
// (ErrEndpointRemoved), and never sends it to another endpoint added since
// under the same name.
func TestRemoveEndpointDuringAttempt(t *testing.T) {
	t.Parallel()
	t.Run("its retry is given up at once", func(t *testing.T) {
		t.Parallel()
		rc, release := rtHold(t, http.StatusServiceUnavailable)
		fl := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Endpoints:      []webhook.Endpoint{{Name: "crm", URL: rc.URL, Secret: rtSecret("crm"), Retry: &webhook.RetryConfig{MaxRetries: 3, RetryDelay: time.Minute, NoJitter: true}}},
			CircuitBreaker: webhook.CircuitBreaker{Threshold: -1}, OnFailure: fl.record,
		})
		ctx := testCtx(t, 20*time.Second)
		require.NoError(t, e.Emit(ctx, rtEvent("inflight-1", "", webhook.Created)))
		rc.wait(t, 1, 5*time.Second)
		require.NoError(t, e.RemoveEndpoint(ctx, "crm"))
		release() // the attempt under way gets its 503
		if f, ok := rtNextFailure(fl, 2*time.Second); assert.True(t, ok, "the delivery is given up within 2 s, not at its retry a minute away") {
			assert.ErrorIs(t, f.Err, webhook.ErrEndpointRemoved)
		}
		assert.NoError(t, closeWithin(e, time.Second), "Close has nothing left to wait for")
		assert.Equal(t, 1, rc.count())
	})
	t.Run("its retry never reaches a new endpoint of the name", func(t *testing.T) {
		t.Parallel()
		rc, release := rtHold(t, http.StatusServiceUnavailable)
		other := newHookReceiver(t, nil)
		fl := newFailureLog()
		e := newEmitter(t, webhook.Config{
			Endpoints:      []webhook.Endpoint{{Name: "crm", URL: rc.URL, Secret: rtSecret("crm"), Tenant: "acme", Retry: &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 200 * time.Millisecond, NoJitter: true}}},
			CircuitBreaker: webhook.CircuitBreaker{Threshold: -1}, OnFailure: fl.record,
		})
		ctx := testCtx(t, 20*time.Second)
		require.NoError(t, e.Emit(ctx, rtEvent("acme-secret-order", "acme", webhook.Created)))
		rc.wait(t, 1, 5*time.Second)
		require.NoError(t, e.RemoveEndpoint(ctx, "crm"))
		// Another tenant's endpoint, under the name that is free again.
		require.NoError(t, e.AddEndpoint(ctx, webhook.Endpoint{Name: "crm", URL: other.URL, Secret: rtSecret("globex"), Tenant: "globex"}))
		release() // the attempt under way gets its 503; its retry would be due 200 ms later
		deadline := time.Now().Add(3 * time.Second)
		for len(fl.all()) == 0 && other.count() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // a request to the new endpoint would be recorded by now
		if fs := fl.all(); assert.Len(t, fs, 1, "the delivery is given up") {
			assert.ErrorIs(t, fs[0].Err, webhook.ErrEndpointRemoved)
		}
		assert.NoError(t, closeWithin(e, 2*time.Second))
		for _, r := range other.requests() {
			t.Errorf("acme's event %s went to globex's endpoint, the new %q", r.eventID(), "crm")
		}
	})
}

// rtNextFailure waits for the next OnFailure call, at most d; false when
// none came.
func rtNextFailure(fl *failureLog, d time.Duration) (webhook.Failure, bool) {
	select {
	case f := <-fl.ch:
		return f, true
	case <-time.After(d):
		return webhook.Failure{}, false
	}
}

// ---- Recover, and the logs' time range ----

// TestRecover: failures of an endpoint (500, no retry) at three moments
// of an injected clock; once the receiver is fixed, Recover from a time
// between the second and the third sends exactly the third's again (same
// event ids, same bodies, signed), marks their logs RedeliveredAs, and a
// second call finds nothing; Recover from before them all then sends the
// two older groups (one far older than the endpoint's retry window, the
// other within it, so both of Recover's filters are at work). Unknown
// endpoint: ErrEndpointNotFound. LogQuery.Since/Until and LogsHandler's
// since/until select by creation time.
func TestRecover(t *testing.T) {
	t.Parallel()
	clock := newTestClock(time.Now().Truncate(time.Second))
	base := clock.Now()
	var healthy atomic.Bool
	rc := newHookReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ hookRequest) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	ep := webhook.Endpoint{Name: "billing", URL: rc.URL, Secret: rtSecret("billing"), Retry: &webhook.RetryConfig{MaxRetries: 0}}
	fl := newFailureLog()
	e := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{ep, {Name: "ledger", URL: rc.URL + "/ledger", Secret: rtSecret("ledger"), Events: []webhook.EventType{webhook.Deleted}}},
		Now:       clock.Now, CircuitBreaker: webhook.CircuitBreaker{Threshold: -1}, OnFailure: fl.record,
	})
	ctx := testCtx(t, 20*time.Second)
	failed := 0
	group := func(prefix string, n int, at time.Time) map[string]bool {
		clock.Set(at)
		ids := map[string]bool{}
		for i := range n {
			id := fmt.Sprintf("%s-%d", prefix, i)
			ids[id] = true
			require.NoError(t, e.Emit(ctx, rtEvent(id, "", webhook.Created)))
		}
		failed += n
		fl.wait(t, failed, 5*time.Second)
		return ids
	}
	farOld := group("far", 3, base.Add(-time.Hour))
	nearOld := group("near", 4, base)
	fresh := group("fresh", 5, base.Add(10*time.Second))
	bodies := map[string][]byte{}
	for _, r := range rc.requests() {
		bodies[r.eventID()] = r.Body
	}
	require.Len(t, bodies, 12)

	// The logs' time range, by creation.
	logs, err := e.Logs(ctx, webhook.LogQuery{Endpoint: "billing", Since: base.Add(-time.Second), Until: base.Add(time.Second)})
	require.NoError(t, err)
	assert.Equal(t, slices.Sorted(maps.Keys(nearOld)), rtEventIDs(logs))
	logs, err = e.Logs(ctx, webhook.LogQuery{Endpoint: "billing", Until: base})
	require.NoError(t, err)
	assert.Equal(t, slices.Sorted(maps.Keys(farOld)), rtEventIDs(logs), "until is exclusive")
	srv := httptest.NewServer(e.LogsHandler())
	defer srv.Close()
	get := func(query string) (int, []webhook.DeliveryLog) {
		res, err := http.Get(srv.URL + "?" + query)
		require.NoError(t, err)
		defer res.Body.Close()
		var out []webhook.DeliveryLog
		if res.StatusCode == http.StatusOK {
			require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		}
		return res.StatusCode, out
	}
	code, got := get("endpoint=billing&since=" + base.Add(5*time.Second).Format(time.RFC3339Nano))
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, slices.Sorted(maps.Keys(fresh)), rtEventIDs(got))
	code, got = get("endpoint=billing&since=" + base.Add(-2*time.Hour).Format(time.RFC3339) + "&until=" + base.Format(time.RFC3339))
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, slices.Sorted(maps.Keys(farOld)), rtEventIDs(got))
	code, _ = get("since=yesterday")
	assert.Equal(t, http.StatusBadRequest, code)

	healthy.Store(true)
	recoverAndCheck := func(since time.Time, want map[string]bool) {
		t.Helper()
		before := rc.count()
		n, err := e.Recover(ctx, "billing", since)
		require.NoError(t, err)
		require.Equal(t, len(want), n)
		reqs := rc.wait(t, before+n, 5*time.Second)[before:]
		got := map[string]int{}
		for _, r := range reqs {
			id, err := rtVerify(r, ep.Secret)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(bodies[id], r.Body), "event %s: the redelivery's body is the original's", id)
			got[id]++
		}
		rtExactlyOnce(t, "billing's redeliveries", got, want)
		n, err = e.Recover(ctx, "billing", since)
		require.NoError(t, err)
		assert.Zero(t, n, "a second Recover finds nothing more")
	}
	recoverAndCheck(base.Add(5*time.Second), fresh)
	for _, l := range rtLogs(t, e, "billing", webhook.StatusFailed) {
		if !fresh[l.EventID] {
			assert.Empty(t, l.RedeliveredAs, "%s failed before since", l.EventID)
			continue
		}
		require.NotEmpty(t, l.RedeliveredAs, "%s", l.EventID)
		var again webhook.DeliveryLog
		waitFor(t, 5*time.Second, "the redelivery of "+l.EventID+" to be logged delivered", func() bool {
			again = webhook.DeliveryLog{}
			logs, err := e.Logs(ctx, webhook.LogQuery{Endpoint: "billing", Status: webhook.StatusDelivered, Limit: 1000})
			require.NoError(t, err)
			if i := slices.IndexFunc(logs, func(a webhook.DeliveryLog) bool { return a.ID == l.RedeliveredAs }); i >= 0 {
				again = logs[i]
			}
			return again.ID != ""
		})
		assert.Equal(t, l.EventID, again.EventID)
		assert.True(t, bytes.Equal(l.Payload, again.Payload))
	}
	older := maps.Clone(farOld)
	maps.Copy(older, nearOld)
	recoverAndCheck(base.Add(-2*time.Hour), older)

	closeEmitter(t, e, 5*time.Second)
	assert.Equal(t, 12+12, rc.count())
	assert.Empty(t, rc.take("/ledger"), "Recover sends only the endpoint's failures")

	e2 := newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{ep}})
	_, err = e2.Recover(ctx, "nope", time.Time{})
	assert.ErrorIs(t, err, webhook.ErrEndpointNotFound)
	n, err := e2.Recover(ctx, "billing", time.Time{})
	assert.NoError(t, err)
	assert.Zero(t, n)
}

// rtEventIDs returns the event ids of logs, sorted.
func rtEventIDs(logs []webhook.DeliveryLog) []string {
	ids := make([]string, 0, len(logs))
	for _, l := range logs {
		ids = append(ids, l.EventID)
	}
	sort.Strings(ids)
	return ids
}

// ---- validation and errors ----

// TestAddEndpointValidation: AddEndpoint and UpdateEndpoint refuse what
// New refuses, with New's very message (wrapping ErrInvalidConfig, naming
// the endpoint and the field, every problem of the endpoint reported), and
// leave the endpoints as they were.
func TestAddEndpointValidation(t *testing.T) {
	t.Parallel()
	const secret = "good-secret-0123456789"
	rc := newHookReceiver(t, nil)
	base := webhook.Endpoint{Name: "crm", URL: rc.URL, Secret: secret}
	cases := []struct {
		name   string
		edit   func(*webhook.Endpoint)
		fields []string // each in the message
	}{
		{"scheme", func(ep *webhook.Endpoint) { ep.URL = "ftp://example.com/hook" }, []string{"url:"}},
		{"unparsable url", func(ep *webhook.Endpoint) { ep.URL = "http://[::1" }, []string{"url:"}},
		{"empty url", func(ep *webhook.Endpoint) { ep.URL = "" }, []string{"url:"}},
		{"short secret", func(ep *webhook.Endpoint) { ep.Secret = "short" }, []string{"secret:"}},
		{"no secret", func(ep *webhook.Endpoint) { ep.Secret = "" }, []string{"secret:"}},
		{"negative timeout", func(ep *webhook.Endpoint) { ep.Timeout = -time.Second }, []string{"timeout:"}},
		{"unknown event", func(ep *webhook.Endpoint) { ep.Events = []webhook.EventType{"archived"} }, []string{"events:"}},
		{"reserved header", func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"X-Webhook-Signature": "x"} }, []string{"headers:"}},
		{"retry", func(ep *webhook.Endpoint) { ep.Retry = &webhook.RetryConfig{MaxRetries: -1} }, []string{"retry"}},
		{"spaced name", func(ep *webhook.Endpoint) { ep.Name = " crm" }, []string{"name: leading or trailing space"}},
		{"several", func(ep *webhook.Endpoint) { ep.URL, ep.Secret = "ftp://x", "short" }, []string{"url:", "secret:"}},
	}
	e := newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{base}})
	ctx := testCtx(t, 10*time.Second)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ep := base
			c.edit(&ep)
			_, newErr := webhook.New(webhook.Config{Endpoints: []webhook.Endpoint{ep}, Logger: quietLogger})
			require.Error(t, newErr)
			for verb, f := range map[string]func(context.Context, webhook.Endpoint) error{"add": e.AddEndpoint, "update": e.UpdateEndpoint} {
				err := f(ctx, ep)
				require.Error(t, err, verb)
				assert.ErrorIs(t, err, webhook.ErrInvalidConfig, verb)
				assert.NotErrorIs(t, err, webhook.ErrEndpointNotFound, verb)
				assert.NotErrorIs(t, err, webhook.ErrEndpointExists, verb)
				assert.Contains(t, err.Error(), fmt.Sprintf("endpoint %q", ep.Name), verb)
				for _, field := range c.fields {
					assert.Contains(t, err.Error(), field, verb)
				}
				assert.Equal(t, newErr.Error(), err.Error(), "%s: the message New gives", verb)
			}
			assert.Equal(t, []webhook.Endpoint{base}, e.Endpoints())
		})
	}
	t.Run("empty name", func(t *testing.T) {
		err := e.AddEndpoint(ctx, webhook.Endpoint{URL: rc.URL, Secret: secret})
		assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "name: empty")
		assert.Equal(t, []webhook.Endpoint{base}, e.Endpoints())
	})
}

// TestEndpointChangeErrors: names taken and unknown, Endpoints' order
// through adds, updates and removes (and the routing that follows it),
// Transform allowed without an EndpointStore, Sync mode, and the calls on
// a closed or zero Emitter.
func TestEndpointChangeErrors(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, nil)
	ep := func(name string) webhook.Endpoint {
		return webhook.Endpoint{Name: name, URL: rc.URL + "/" + name, Secret: rtSecret(name)}
	}
	e := newEmitter(t, webhook.Config{Endpoints: []webhook.Endpoint{ep("a"), ep("b")}})
	ctx := testCtx(t, 10*time.Second)

	require.NoError(t, e.AddEndpoint(ctx, ep("c")))
	d := ep("d")
	d.Transform = func(p webhook.Payload) (any, error) { return map[string]string{"shaped": p.ID}, nil }
	require.NoError(t, e.AddEndpoint(ctx, d), "a Transform is fine without an EndpointStore")
	for _, name := range []string{"a", "c"} {
		err := e.AddEndpoint(ctx, ep(name))
		assert.ErrorIs(t, err, webhook.ErrEndpointExists, name)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", name))
	}
	err := e.UpdateEndpoint(ctx, ep("x"))
	assert.ErrorIs(t, err, webhook.ErrEndpointNotFound)
	assert.Contains(t, err.Error(), `"x"`)
	err = e.RemoveEndpoint(ctx, "x")
	assert.ErrorIs(t, err, webhook.ErrEndpointNotFound)
	assert.Contains(t, err.Error(), `"x"`)
	assert.Equal(t, []string{"a", "b", "c", "d"}, rtNames(e))

	b2 := ep("b")
	b2.URL = rc.URL + "/b2"
	require.NoError(t, e.UpdateEndpoint(ctx, b2), "a Config endpoint can be updated without a store")
	require.NoError(t, e.RemoveEndpoint(ctx, "a"))
	assert.Equal(t, []string{"b", "c", "d"}, rtNames(e))
	assert.ErrorIs(t, e.RemoveEndpoint(ctx, "a"), webhook.ErrEndpointNotFound)
	require.NoError(t, e.AddEndpoint(ctx, ep("a")), "a removed name can be taken again")
	assert.Equal(t, []string{"b", "c", "d", "a"}, rtNames(e))
	got, _ := rtFind(e, "b")
	assert.Equal(t, b2.URL, got.URL)

	require.NoError(t, e.Emit(ctx, rtEvent("after-changes", "", webhook.Created)))
	rc.wait(t, 4, 5*time.Second)
	closeEmitter(t, e, 5*time.Second)
	paths := map[string]int{}
	for _, r := range rc.requests() {
		paths[r.Path]++
	}
	assert.Equal(t, map[string]int{"/b2": 1, "/c": 1, "/d": 1, "/a": 1}, paths)
	assert.JSONEq(t, `{"shaped":"after-changes"}`, string(rc.take("/d")[0].Body))

	// Closed.
	assert.ErrorIs(t, e.AddEndpoint(ctx, ep("z")), webhook.ErrClosed)
	assert.ErrorIs(t, e.UpdateEndpoint(ctx, ep("c")), webhook.ErrClosed)
	assert.ErrorIs(t, e.RemoveEndpoint(ctx, "c"), webhook.ErrClosed)
	_, err = e.Recover(ctx, "c", time.Time{})
	assert.ErrorIs(t, err, webhook.ErrClosed)

	// Zero.
	var zero webhook.Emitter
	assert.Error(t, zero.AddEndpoint(ctx, ep("z")))
	assert.Error(t, zero.UpdateEndpoint(ctx, ep("z")))
	assert.Error(t, zero.RemoveEndpoint(ctx, "z"))
	assert.Nil(t, zero.Endpoints())
	_, err = zero.Recover(ctx, "z", time.Time{})
	assert.Error(t, err)

	// Sync mode: an added endpoint is delivered to inside Emit.
	rs := newHookReceiver(t, nil)
	s := newEmitter(t, webhook.Config{Sync: true})
	require.NoError(t, s.AddEndpoint(ctx, webhook.Endpoint{Name: "s", URL: rs.URL, Secret: rtSecret("s"), Tenant: "acme"}))
	require.NoError(t, s.Emit(ctx, rtEvent("sync-1", "acme", webhook.Created)))
	require.NoError(t, s.Emit(ctx, rtEvent("sync-2", "globex", webhook.Created)))
	require.Equal(t, 1, rs.count())
	assert.Equal(t, "sync-1", rs.requests()[0].eventID())
	require.NoError(t, s.RemoveEndpoint(ctx, "s"))
	require.NoError(t, s.Emit(ctx, rtEvent("sync-3", "acme", webhook.Created)))
	assert.Equal(t, 1, rs.count())
}

// ---- EndpointStore ----

// rtStore is an in-memory EndpointStore, as the interface describes one:
// one latest record per name, a version above every earlier one at each
// change, removals kept as records without a spec.
type rtStore struct {
	mu      sync.Mutex
	version int64
	recs    map[string]webhook.EndpointRecord
	polls   int
}

var _ webhook.EndpointStore = (*rtStore)(nil)

func newRTStore() *rtStore { return &rtStore{recs: map[string]webhook.EndpointRecord{}} }

func (s *rtStore) PutEndpoint(ctx context.Context, name string, spec []byte, create bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if spec == nil {
		return errors.New("rtStore: nil spec")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[name]
	live := ok && r.Spec != nil
	switch {
	case create && live:
		return fmt.Errorf("rtStore: %q: %w", name, webhook.ErrEndpointExists)
	case !create && !live:
		return fmt.Errorf("rtStore: %q: %w", name, webhook.ErrEndpointNotFound)
	}
	s.version++
	s.recs[name] = webhook.EndpointRecord{Name: name, Spec: bytes.Clone(spec), Version: s.version, UpdatedAt: time.Now()}
	return nil
}

func (s *rtStore) DeleteEndpoint(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recs[name]; !ok || r.Spec == nil {
		return fmt.Errorf("rtStore: %q: %w", name, webhook.ErrEndpointNotFound)
	}
	s.version++
	s.recs[name] = webhook.EndpointRecord{Name: name, Version: s.version, UpdatedAt: time.Now()}
	return nil
}

func (s *rtStore) EndpointChanges(ctx context.Context, after int64) ([]webhook.EndpointRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	var out []webhook.EndpointRecord
	for _, r := range s.recs {
		if r.Version > after {
			r.Spec = bytes.Clone(r.Spec)
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b webhook.EndpointRecord) int { return int(a.Version - b.Version) })
	return out, nil
}

// live returns the names the store holds a spec for, sorted.
func (s *rtStore) live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name, r := range s.recs {
		if r.Spec != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// TestEndpointStoreSync: two Emitters share a store, polling it every
// 50 ms. What A adds, B takes (every setting it has, but Transform) and
// delivers to; A's update moves B's deliveries to the new URL and secret;
// A's removal makes B drop the endpoint and give up what it had queued
// for it; what B adds, A takes; an Emitter made later has the stored
// endpoints from New on; a name taken in the store is taken for everyone.
func TestEndpointStoreSync(t *testing.T) {
	t.Parallel()
	const within = 3 * time.Second // sync is every 50 ms
	store := newRTStore()
	rc1 := newHookReceiver(t, nil)
	rc2 := newHookReceiver(t, nil)
	flaky := newHookReceiver(t, answerStatus(http.StatusServiceUnavailable))
	flB := newFailureLog()
	cfg := func(fl *failureLog) webhook.Config {
		c := webhook.Config{EndpointStore: store, EndpointSync: 50 * time.Millisecond, CircuitBreaker: webhook.CircuitBreaker{Threshold: -1}}
		if fl != nil {
			c.OnFailure = fl.record
		}
		return c
	}
	a := newEmitter(t, cfg(nil))
	b := newEmitter(t, cfg(flB))
	ctx := testCtx(t, 20*time.Second)
	has := func(e *webhook.Emitter, name string) func() bool {
		return func() bool { _, ok := rtFind(e, name); return ok }
	}

	// Add on A, used by B.
	crm := webhook.Endpoint{
		Name: "acme-crm", URL: rc1.URL + "/crm", Secret: "acme-secret-0123456789", Tenant: "acme",
		Events: []webhook.EventType{webhook.Created, webhook.Deleted}, Headers: map[string]string{"X-Tenant": "acme"},
		ExcludeFields: map[string][]string{"store.Order": {"internal"}},
		Retry:         &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 100 * time.Millisecond, BackoffFactor: 2, MaxDelay: time.Second, RetryOnStatus: []int{503}, NoJitter: true},
		Timeout:       5 * time.Second, RateLimit: 100,
	}
	require.NoError(t, a.AddEndpoint(ctx, crm))
	assert.Equal(t, []string{"acme-crm"}, store.live())
	waitFor(t, within, "B to take acme-crm", has(b, "acme-crm"))
	got, _ := rtFind(b, "acme-crm")
	assert.Equal(t, crm, got, "B's endpoint has every setting A's has")
	require.NoError(t, b.Emit(ctx, rtEvent("store-1", "acme", webhook.Created)))
	require.NoError(t, b.Emit(ctx, rtEvent("store-1-globex", "globex", webhook.Created)))
	r := rc1.wait(t, 1, 5*time.Second)[0]
	id, err := rtVerify(r, crm.Secret)
	require.NoError(t, err)
	assert.Equal(t, "store-1", id)
	assert.Equal(t, "acme", r.Header.Get("X-Tenant"))

	// Update on A, seen by B.
	upd := crm
	upd.URL = rc2.URL + "/crm2"
	upd.Secret = "acme-secret-rotated-98765"
	require.NoError(t, a.UpdateEndpoint(ctx, upd))
	waitFor(t, within, "B to take the update", func() bool { got, _ := rtFind(b, "acme-crm"); return got.URL == upd.URL })
	require.NoError(t, b.Emit(ctx, rtEvent("store-2", "acme", webhook.Created)))
	r = rc2.wait(t, 1, 5*time.Second)[0]
	id, err = rtVerify(r, upd.Secret)
	require.NoError(t, err)
	assert.Equal(t, "store-2", id)

	// Removal on A: B drops the endpoint and gives up what it queued.
	flakyEP := webhook.Endpoint{Name: "acme-flaky", URL: flaky.URL, Secret: rtSecret("flaky"), Tenant: "acme",
		Retry: &webhook.RetryConfig{MaxRetries: 5, RetryDelay: time.Minute, NoJitter: true}}
	require.NoError(t, a.AddEndpoint(ctx, flakyEP))
	waitFor(t, within, "B to take acme-flaky", has(b, "acme-flaky"))
	require.NoError(t, b.Emit(ctx, rtEvent("store-3", "acme", webhook.Created)))
	flaky.wait(t, 1, 5*time.Second)
	rc2.wait(t, 2, 5*time.Second)
	waitFor(t, 5*time.Second, "B's delivery to acme-flaky to wait for its retry", func() bool {
		return len(rtLogs(t, b, "acme-flaky", webhook.StatusRetrying)) == 1
	})
	require.NoError(t, a.RemoveEndpoint(ctx, "acme-flaky"))
	require.NoError(t, a.RemoveEndpoint(ctx, "acme-crm"))
	assert.Empty(t, store.live())
	f := flB.next(t, within)
	assert.Equal(t, "acme-flaky", f.Endpoint)
	assert.Equal(t, "store-3", f.EventID)
	assert.ErrorIs(t, f.Err, webhook.ErrEndpointRemoved)
	waitFor(t, within, "B to drop acme-crm", func() bool { return len(b.Endpoints()) == 0 })
	require.NoError(t, b.Emit(ctx, rtEvent("store-4", "acme", webhook.Created)))
	_, err = b.Recover(ctx, "acme-crm", time.Time{})
	assert.ErrorIs(t, err, webhook.ErrEndpointRemoved, "B knows the endpoint was removed")

	// B adds, A takes; the name is taken for A as well.
	globex := webhook.Endpoint{Name: "globex-hook", URL: rc1.URL + "/globex", Secret: rtSecret("globex"), Tenant: "globex"}
	require.NoError(t, b.AddEndpoint(ctx, globex))
	assert.ErrorIs(t, a.AddEndpoint(ctx, globex), webhook.ErrEndpointExists)
	waitFor(t, within, "A to take globex-hook", has(a, "globex-hook"))

	// An Emitter made later has the stored endpoints at New.
	c := newEmitter(t, cfg(nil))
	assert.Equal(t, []webhook.Endpoint{globex}, c.Endpoints())
	require.NoError(t, c.Emit(ctx, rtEvent("store-5", "globex", webhook.Created)))
	r = rc1.wait(t, 2, 5*time.Second)[1]
	id, err = rtVerify(r, globex.Secret)
	require.NoError(t, err)
	assert.Equal(t, "store-5", id)
	assert.Equal(t, "/globex", r.Path)

	for _, e := range []*webhook.Emitter{a, b, c} {
		closeEmitter(t, e, 5*time.Second)
	}
	assert.Equal(t, 2, rc1.count(), "nothing of globex went to acme's endpoint, nor the reverse")
	assert.Equal(t, 2, rc2.count())
	assert.Equal(t, 1, flaky.count())
	assert.Len(t, flB.all(), 1)
}

// TestEndpointStoreFixed: with an EndpointStore, Config's endpoints cannot
// be updated or removed at runtime (ErrEndpointFixed), their names cannot
// be added, a stored endpoint of the same name (added by a process without
// it) leaves them as they are, at New and at a sync; a Transform cannot
// be stored, and nothing is stored or added then.
func TestEndpointStoreFixed(t *testing.T) {
	t.Parallel()
	store := newRTStore()
	rc := newHookReceiver(t, nil)
	audit := webhook.Endpoint{Name: "audit", URL: rc.URL + "/audit", Secret: rtSecret("audit")}
	cfg := webhook.Config{Endpoints: []webhook.Endpoint{audit}, EndpointStore: store, EndpointSync: 50 * time.Millisecond}
	e := newEmitter(t, cfg)
	ctx := testCtx(t, 20*time.Second)

	moved := audit
	moved.URL = rc.URL + "/elsewhere"
	err := e.UpdateEndpoint(ctx, moved)
	assert.ErrorIs(t, err, webhook.ErrEndpointFixed)
	assert.Contains(t, err.Error(), `"audit"`)
	err = e.RemoveEndpoint(ctx, "audit")
	assert.ErrorIs(t, err, webhook.ErrEndpointFixed)
	assert.Contains(t, err.Error(), `"audit"`)
	assert.ErrorIs(t, e.AddEndpoint(ctx, moved), webhook.ErrEndpointExists)

	shaped := webhook.Endpoint{Name: "shaped", URL: rc.URL + "/shaped", Secret: rtSecret("shaped"),
		Transform: func(p webhook.Payload) (any, error) { return p.ID, nil }}
	err = e.AddEndpoint(ctx, shaped)
	assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `endpoint "shaped"`)
	assert.Contains(t, err.Error(), "transform")
	assert.Empty(t, store.live(), "nothing stored")
	assert.Equal(t, []webhook.Endpoint{audit}, e.Endpoints())

	// Another process, without the Config endpoint, stores one of its name.
	other := newEmitter(t, webhook.Config{EndpointStore: store, EndpointSync: 50 * time.Millisecond})
	require.NoError(t, other.AddEndpoint(ctx, moved))
	require.NoError(t, other.AddEndpoint(ctx, webhook.Endpoint{Name: "marker", URL: rc.URL + "/marker", Secret: rtSecret("marker")}))
	waitFor(t, 3*time.Second, "the sync to take marker", func() bool { _, ok := rtFind(e, "marker"); return ok })
	assert.Equal(t, []string{"audit", "marker"}, rtNames(e))
	got, _ := rtFind(e, "audit")
	assert.Equal(t, audit.URL, got.URL, "the Config endpoint wins over the stored one")
	late := newEmitter(t, cfg)
	assert.Equal(t, []string{"audit", "marker"}, rtNames(late))
	got, _ = rtFind(late, "audit")
	assert.Equal(t, audit.URL, got.URL, "at New as well")

	require.NoError(t, late.Emit(ctx, rtEvent("fixed-1", "", webhook.Created)))
	closeEmitter(t, late, 5*time.Second)
	assert.Len(t, rc.take("/audit"), 1)
	assert.Empty(t, rc.take("/elsewhere"))
	assert.Len(t, rc.take("/marker"), 1)
	assert.Positive(t, func() int { store.mu.Lock(); defer store.mu.Unlock(); return store.polls }())
}

// rtDownStore is an EndpointStore whose writes fail, as a database that
// is down.
type rtDownStore struct{ *rtStore }

var errStoreDown = errors.New("store down")

func (rtDownStore) PutEndpoint(context.Context, string, []byte, bool) error { return errStoreDown }
func (rtDownStore) DeleteEndpoint(context.Context, string) error            { return errStoreDown }

// TestAddEndpointStoreFailure: an AddEndpoint that the EndpointStore
// refuses returns its error and leaves everything as it was: no endpoint
// added, and the memory queue's room still divided among the endpoints
// there are. With QueueSize 2 and one endpoint whose receiver holds its
// requests, that endpoint holds 2 deliveries; were the refused endpoint
// counted, it would hold 1, and the second Emit would wait for room until
// its context ended (ErrQueueFull).
func TestAddEndpointStoreFailure(t *testing.T) {
	t.Parallel()
	rc, release := rtHold(t, http.StatusOK)
	e := newEmitter(t, webhook.Config{
		Endpoints:     []webhook.Endpoint{{Name: "main", URL: rc.URL, Secret: rtSecret("main")}},
		EndpointStore: rtDownStore{newRTStore()}, EndpointSync: time.Hour, QueueSize: 2,
	})
	ctx := testCtx(t, 10*time.Second)
	for _, name := range []string{"refused-1", "refused-2"} {
		err := e.AddEndpoint(ctx, webhook.Endpoint{Name: name, URL: rc.URL, Secret: rtSecret(name)})
		assert.ErrorIs(t, err, errStoreDown)
	}
	assert.ErrorIs(t, e.RemoveEndpoint(ctx, "main"), webhook.ErrEndpointFixed)
	assert.Equal(t, []string{"main"}, rtNames(e))
	for i := range 2 {
		emitCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := e.Emit(emitCtx, rtEvent(fmt.Sprintf("room-%d", i), "", webhook.Created))
		cancel()
		assert.NoError(t, err, "event %d: main's share of the queue is the whole queue", i)
	}
	release()
	closeEmitter(t, e, 5*time.Second)
}
