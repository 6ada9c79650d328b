// Command tenants is a small SaaS whose customers register their own
// webhook endpoints at runtime, through the service's HTTP API, and each
// receive only the events of their own account.
//
//	go run ./examples/tenants
//
// The host service (a shop that keeps orders for several customer
// accounts, the tenants) serves an API on 127.0.0.1 (a random port). Each
// customer authenticates with its bearer token and manages its own
// endpoints:
//
//	POST   /webhooks/endpoints         {"url": …, "events": […]}: 201, with the signing secret, shown once
//	GET    /webhooks/endpoints         the caller's endpoints, without secrets
//	PATCH  /webhooks/endpoints/{name}  {"url": …} and/or {"events": […]}: move or refilter one
//	DELETE /webhooks/endpoints/{name}  remove one
//
// The tenant comes from the token, never from the request body; the
// endpoint's name ("acme-1") and its secret are made by the service; another
// tenant's endpoint is answered 404, as one that does not exist. Behind the
// API are Emitter.AddEndpoint, UpdateEndpoint, RemoveEndpoint and
// Endpoints, every customer endpoint with its Endpoint.Tenant, and the
// endpoints of customers on the free plan with an Endpoint.RateLimit. Every
// order event the service emits carries its Event.Tenant, so it goes to
// that tenant's endpoints only, and to the service's own "warehouse"
// endpoint, which has no tenant and gets every event. URLs come from
// customers, so deliveries run behind an SSRFGuard; it lets 127.0.0.0/8
// through only because every receiver here is local.
//
// The program then plays three customers, each with a receiver of its own
// on 127.0.0.1 that verifies signatures (webhook.Receiver) with the secret
// the API gave it. They register through the API, the service emits a mix
// of order events for all of them, and each receiver is checked to have got
// exactly its own tenant's events, no more, no fewer. Then acme moves its
// receiver (PATCH), initech deletes its endpoint, and the next events are
// checked again. The program exits 0 when every check passed and 1
// otherwise, within a few seconds.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookrail/webhook"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tenants:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------------
// The host service.

// Order is the service's model. Account is the tenant the order belongs to.
type Order struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Status  string `json:"status"`
	Total   string `json:"total"`
}

func (Order) WebhookLabel() string { return "shop.Order" }

// maxEndpoints is the most endpoints one tenant may register.
const maxEndpoints = 5

// service is the host: its webhook Emitter, and the API through which
// customers manage their endpoints.
type service struct {
	emitter *webhook.Emitter
	tokens  map[[sha256.Size]byte]string // SHA-256 of an API token → its tenant; set before the API serves
	limits  map[string]float64           // tenant → RateLimit of its endpoints (its plan); absent: none

	mu   sync.Mutex     // one endpoint change at a time: numbering, and PATCH's read-modify-write
	last map[string]int // tenant → the number of its last endpoint

	seq atomic.Int64 // event numbers
}

// newService makes the service's Emitter. The service's own data
// warehouse is an endpoint of the Config, without a tenant: it gets every
// event.
func newService(warehouseURL, warehouseSecret string, onFailure func(webhook.Failure)) (*service, error) {
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{{
			Name:   "warehouse",
			URL:    warehouseURL,
			Secret: warehouseSecret,
		}},
		// Short retries, so that a hiccup is retried within the run.
		Retry:   &webhook.RetryConfig{MaxRetries: 2, RetryDelay: 200 * time.Millisecond},
		Timeout: 5 * time.Second,
		// Customers choose the URLs: refuse internal addresses. Loopback is
		// let through only because this demo's receivers are local.
		SSRFGuard: &webhook.SSRFGuard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		OnFailure: onFailure,
	})
	if err != nil {
		return nil, err
	}
	return &service{
		emitter: emitter,
		tokens:  map[[sha256.Size]byte]string{},
		limits:  map[string]float64{},
		last:    map[string]int{},
	}, nil
}

// addAccount opens a tenant's account and returns its API token, as the
// service's dashboard would show it. rateLimit is its plan's limit on
// each of its endpoints, requests per second; 0: none. Call it before the
// API serves.
func (s *service) addAccount(tenant string, rateLimit float64) string {
	token := "tok_" + rand.Text()
	s.tokens[sha256.Sum256([]byte(token))] = tenant
	if rateLimit > 0 {
		s.limits[tenant] = rateLimit
	}
	return token
}

// The model's hooks: each event carries the tenant of its order, and an id
// of the service's own, so that the program can check who got what.

func (s *service) orderCreated(ctx context.Context, o Order) (string, error) {
	return s.emit(ctx, o.Account, webhook.Create(o))
}

func (s *service) orderUpdated(ctx context.Context, before, after Order) (string, error) {
	return s.emit(ctx, after.Account, webhook.Update(before, after))
}

func (s *service) orderDeleted(ctx context.Context, o Order) (string, error) {
	return s.emit(ctx, o.Account, webhook.Delete(o))
}

func (s *service) emit(ctx context.Context, tenant string, ev webhook.Event) (string, error) {
	ev.ID = fmt.Sprintf("evt_%03d", s.seq.Add(1))
	ev.Tenant = tenant
	return ev.ID, s.emitter.Emit(ctx, ev)
}

// idle waits until the Emitter holds no delivery: each one emitted so far
// was delivered or given up.
func (s *service) idle(ctx context.Context) error {
	for {
		st, err := s.emitter.Stats(ctx)
		if err != nil {
			return err
		}
		if st.Queued == 0 && st.InFlight == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deliveries still under way: %d queued, %d in flight", st.Queued, st.InFlight)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// The API.

// endpointRequest is the body of POST (URL required) and PATCH (each
// field optional). There is no tenant field: the tenant is the caller's.
type endpointRequest struct {
	URL    *string              `json:"url"`
	Events *[]webhook.EventType `json:"events"`
}

// endpointView is an endpoint as the API shows it.
type endpointView struct {
	Name      string              `json:"name"`
	URL       string              `json:"url"`
	Events    []webhook.EventType `json:"events"`
	RateLimit float64             `json:"rate_limit,omitempty"`
	Secret    string              `json:"secret,omitempty"` // in the answer to POST only
}

func view(ep webhook.Endpoint) endpointView {
	events := ep.Events
	if len(events) == 0 {
		events = []webhook.EventType{webhook.Created, webhook.Updated, webhook.Deleted}
	}
	return endpointView{Name: ep.Name, URL: ep.URL, Events: events, RateLimit: ep.RateLimit}
}

func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/endpoints", s.auth(s.createEndpoint))
	mux.Handle("GET /webhooks/endpoints", s.auth(s.listEndpoints))
	mux.Handle("PATCH /webhooks/endpoints/{name}", s.auth(s.updateEndpoint))
	mux.Handle("DELETE /webhooks/endpoints/{name}", s.auth(s.deleteEndpoint))
	return mux
}

// auth finds the caller's tenant from its bearer token. Tokens are looked
// up by their SHA-256, so the lookup's timing tells nothing of a token.
func (s *service) auth(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tenant := s.tokens[sha256.Sum256([]byte(token))]
		if !ok || tenant == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="webhooks"`)
			apiError(w, http.StatusUnauthorized, "missing or unknown API token")
			return
		}
		h(w, r, tenant)
	})
}

func (s *service) createEndpoint(w http.ResponseWriter, r *http.Request, tenant string) {
	var req endpointRequest
	if !decode(w, r, &req) {
		return
	}
	if req.URL == nil {
		apiError(w, http.StatusBadRequest, "url: required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.own(tenant)) >= maxEndpoints {
		apiError(w, http.StatusConflict, fmt.Sprintf("at most %d endpoints per account", maxEndpoints))
		return
	}
	n := s.last[tenant] + 1 // never reused, even after a DELETE
	ep := webhook.Endpoint{
		Name:      fmt.Sprintf("%s-%d", tenant, n),
		URL:       *req.URL,
		Secret:    newSecret(),
		Tenant:    tenant,
		RateLimit: s.limits[tenant],
	}
	if req.Events != nil {
		ep.Events = *req.Events
	}
	if err := s.emitter.AddEndpoint(r.Context(), ep); err != nil {
		s.endpointError(w, err)
		return
	}
	s.last[tenant] = n
	v := view(ep)
	v.Secret = ep.Secret // once: it is never shown again
	w.Header().Set("Location", "/webhooks/endpoints/"+ep.Name)
	writeJSON(w, http.StatusCreated, v)
}

func (s *service) listEndpoints(w http.ResponseWriter, r *http.Request, tenant string) {
	views := []endpointView{}
	for _, ep := range s.own(tenant) {
		views = append(views, view(ep))
	}
	writeJSON(w, http.StatusOK, views)
}

func (s *service) updateEndpoint(w http.ResponseWriter, r *http.Request, tenant string) {
	var req endpointRequest
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, ok := s.find(tenant, r.PathValue("name"))
	if !ok {
		apiError(w, http.StatusNotFound, "no such endpoint")
		return
	}
	if req.URL != nil {
		ep.URL = *req.URL
	}
	if req.Events != nil {
		ep.Events = *req.Events
	}
	if err := s.emitter.UpdateEndpoint(r.Context(), ep); err != nil {
		s.endpointError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, view(ep))
}

func (s *service) deleteEndpoint(w http.ResponseWriter, r *http.Request, tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, ok := s.find(tenant, r.PathValue("name"))
	if !ok {
		apiError(w, http.StatusNotFound, "no such endpoint")
		return
	}
	if err := s.emitter.RemoveEndpoint(r.Context(), ep.Name); err != nil {
		s.endpointError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// own returns the tenant's endpoints, in the order they were added.
func (s *service) own(tenant string) []webhook.Endpoint {
	return s.emitter.TenantEndpoints(tenant)
}

// find returns the tenant's endpoint of that name. Another tenant's is
// not found, as one that does not exist: the API does not tell them apart.
func (s *service) find(tenant, name string) (webhook.Endpoint, bool) {
	ep, ok := s.emitter.Endpoint(name)
	if !ok || ep.Tenant != tenant {
		return webhook.Endpoint{}, false
	}
	return ep, true
}

// endpointError answers an error of AddEndpoint, UpdateEndpoint or
// RemoveEndpoint. ErrInvalidConfig's message names the field and never a
// secret.
func (s *service) endpointError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, webhook.ErrInvalidConfig):
		apiError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, webhook.ErrEndpointNotFound):
		apiError(w, http.StatusNotFound, "no such endpoint")
	default:
		fmt.Fprintln(os.Stderr, "service: endpoint change:", err)
		apiError(w, http.StatusInternalServerError, "internal error")
	}
}

// newSecret returns a signing secret: 32 random bytes, in hex.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// decode reads one JSON object of at most 16 KiB, without unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("want one JSON object")
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // answers may hold a secret
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// ---------------------------------------------------------------------
// The customers' side.

// inbox is a receiver of webhooks: a server on 127.0.0.1 that verifies
// each request with webhook.Receiver and keeps the events it got.
type inbox struct {
	owner string // the tenant, or "warehouse"
	label string // as printed
	url   string
	ln    net.Listener
	srv   *http.Server

	mu  sync.Mutex
	got []delivery
}

// delivery is an event an inbox got.
type delivery struct {
	id      string
	event   webhook.EventType
	order   string
	account string
	at      time.Time
}

// listen opens an inbox's port: its URL is known before the secret, which
// the API gives at registration. It serves once serve has the secret.
func listen(owner string) (*inbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &inbox{owner: owner, label: owner, url: "http://" + ln.Addr().String() + "/hooks/orders", ln: ln}, nil
}

func (in *inbox) serve(secret string) {
	rc := &webhook.Receiver{
		Verifier: webhook.Verifier{Secrets: []string{secret}},
		Dedup:    webhook.NewMemoryDedup(webhook.MemoryDedupConfig{}),
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/orders", rc.Middleware(http.HandlerFunc(in.handle)))
	in.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go in.srv.Serve(in.ln)
}

// handle gets each verified event once (the Receiver deduplicates).
func (in *inbox) handle(w http.ResponseWriter, r *http.Request) {
	var p webhook.Payload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	d := delivery{id: p.ID, event: p.Event, at: time.Now()}
	d.order, _ = p.Object["id"].(string)
	d.account, _ = p.Object["account"].(string)
	in.mu.Lock()
	in.got = append(in.got, d)
	in.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (in *inbox) received() []delivery {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.got)
}

func (in *inbox) close() {
	if in.srv != nil {
		in.srv.Close()
	} else {
		in.ln.Close()
	}
}

// customer is a tenant using the API.
type customer struct {
	tenant   string
	token    string
	api      string              // the API's base URL
	events   []webhook.EventType // what it subscribes to; nil: all
	inbox    *inbox              // where its endpoint points; nil: it has none
	endpoint string              // its endpoint's name, given by the API
	secret   string              // its endpoint's secret, given by the API
}

var client = &http.Client{Timeout: 5 * time.Second}

// call sends a request to the API as c (without a token when c.token is
// empty), and decodes a 2xx answer into out. It returns the status and,
// for any other, the API's error message.
func (c *customer) call(ctx context.Context, method, path string, in, out any) (int, string, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, "", err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, body)
	if err != nil {
		return 0, "", err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error, nil
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, "", fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, "", nil
}

// wants reports whether c's endpoint gets an event of its own of type t.
func (c *customer) wants(t webhook.EventType) bool {
	return c.inbox != nil && (len(c.events) == 0 || slices.Contains(c.events, t))
}

// ---------------------------------------------------------------------
// The scenario.

// scenario holds what the program expects and what went wrong.
type scenario struct {
	ctx       context.Context
	w         io.Writer
	svc       *service
	customers []*customer
	warehouse *inbox
	inboxes   []*inbox // every receiver, the warehouse first

	want     map[*inbox][]string // inbox → the event ids it should have got so far
	seen     map[*inbox]int      // inbox → deliveries already printed
	problems []string

	mu       sync.Mutex
	failures []webhook.Failure
}

func (sc *scenario) printf(format string, args ...any) { fmt.Fprintf(sc.w, format, args...) }

func (sc *scenario) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	sc.problems = append(sc.problems, msg)
	sc.printf("  FAIL %s\n", msg)
}

// request makes c's call to the API, prints it (as shown, when not
// empty) with its answer, and checks the answer's status.
func (sc *scenario) request(c *customer, method, path, shown string, in, out any, want int) (int, error) {
	status, msg, err := c.call(sc.ctx, method, path, in, out)
	if err != nil {
		return 0, err
	}
	who := c.tenant
	if c.token == "" {
		who = "(no token)"
	}
	if shown == "" {
		shown = method + " " + path
	}
	if msg != "" {
		msg = ": " + msg
	}
	sc.printf("%-10s %s -> %d%s\n", who, shown, status, msg)
	if status != want {
		sc.fail("%s %s: status %d, want %d", who, shown, status, want)
	}
	return status, nil
}

func run(ctx context.Context, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	sc := &scenario{ctx: ctx, w: w, want: map[*inbox][]string{}, seen: map[*inbox]int{}}
	// On the way out, whatever happened: the Emitter first, while the
	// receivers still answer, then the API and the receivers.
	var svc *service
	var api *http.Server
	emitterClosed := false
	defer func() {
		if svc != nil && !emitterClosed {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			svc.emitter.Close(closeCtx)
		}
		if api != nil {
			api.Close()
		}
		for _, in := range sc.inboxes {
			in.close()
		}
	}()

	// The service's own data warehouse gets every event.
	warehouse, err := listen("warehouse")
	if err != nil {
		return err
	}
	warehouseSecret := newSecret()
	warehouse.serve(warehouseSecret)
	sc.warehouse = warehouse
	sc.inboxes = append(sc.inboxes, warehouse)

	svc, err = newService(warehouse.url, warehouseSecret, func(f webhook.Failure) {
		sc.mu.Lock()
		sc.failures = append(sc.failures, f)
		sc.mu.Unlock()
	})
	if err != nil {
		return err
	}
	sc.svc = svc

	// Three accounts; globex is on the free plan: 4 requests a second.
	const freePlan = 4
	tokens := map[string]string{
		"acme":    svc.addAccount("acme", 0),
		"globex":  svc.addAccount("globex", freePlan),
		"initech": svc.addAccount("initech", 0),
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	api = &http.Server{Handler: svc.handler(), ReadHeaderTimeout: 5 * time.Second}
	go api.Serve(ln)
	apiURL := "http://" + ln.Addr().String()
	sc.printf("service API on %s; its warehouse endpoint (no tenant) gets every event\n\n", apiURL)

	// Each customer opens a receiver and registers it.
	sc.printf("--- customers register their endpoints\n")
	for _, c := range []*customer{
		{tenant: "acme"},
		{tenant: "globex", events: []webhook.EventType{webhook.Created, webhook.Updated}},
		{tenant: "initech"},
	} {
		c.token, c.api = tokens[c.tenant], apiURL
		in, err := listen(c.tenant)
		if err != nil {
			return err
		}
		sc.inboxes = append(sc.inboxes, in)
		var ep endpointView
		req := map[string]any{"url": in.url, "events": c.events}
		if status, err := sc.request(c, "POST", "/webhooks/endpoints", "", req, &ep, http.StatusCreated); err != nil {
			return err
		} else if status != http.StatusCreated {
			return fmt.Errorf("%s could not register its endpoint", c.tenant)
		}
		c.inbox, c.endpoint, c.secret = in, ep.Name, ep.Secret
		in.serve(ep.Secret) // the customer configures its receiver with the secret
		limit := ""
		if ep.RateLimit > 0 {
			limit = fmt.Sprintf(", at most %g/s (free plan)", ep.RateLimit)
		}
		sc.printf("           endpoint %s -> %s, events %v%s, secret %s… (shown once)\n",
			ep.Name, ep.URL, ep.Events, limit, ep.Secret[:8])
		sc.customers = append(sc.customers, c)
	}
	acme, globex, initech := sc.customers[0], sc.customers[1], sc.customers[2]

	// The API keeps tenants apart.
	sc.printf("\n--- the API keeps tenants apart\n")
	var list []endpointView
	if _, err := sc.request(globex, "GET", "/webhooks/endpoints", "", nil, &list, http.StatusOK); err != nil {
		return err
	}
	sc.checkList(globex, list, []string{globex.endpoint})
	for _, step := range []struct {
		c            *customer
		method, path string
		shown        string
		body         any
		want         int
	}{
		{globex, "DELETE", "/webhooks/endpoints/" + acme.endpoint, "", nil, http.StatusNotFound},
		{globex, "POST", "/webhooks/endpoints", `POST {"url":…, "tenant":"acme"}`,
			map[string]any{"url": globex.inbox.url, "tenant": "acme"}, http.StatusBadRequest},
		{globex, "POST", "/webhooks/endpoints", `POST {"url":"ftp://…"}`,
			map[string]any{"url": "ftp://example.com/"}, http.StatusBadRequest},
		{&customer{api: apiURL}, "GET", "/webhooks/endpoints", "", nil, http.StatusUnauthorized},
	} {
		if _, err := sc.request(step.c, step.method, step.path, step.shown, step.body, nil, step.want); err != nil {
			return err
		}
	}

	// Phase 1: orders of every tenant, interleaved.
	sc.printf("\n--- phase 1: the service emits events for every tenant\n")
	a1 := Order{ID: "A-1001", Account: "acme", Status: "pending", Total: "120.00"}
	g1 := Order{ID: "G-2001", Account: "globex", Status: "pending", Total: "15.50"}
	g2 := Order{ID: "G-2002", Account: "globex", Status: "pending", Total: "99.00"}
	i1 := Order{ID: "I-3001", Account: "initech", Status: "pending", Total: "42.00"}
	a1paid := with(a1, "paid")
	if err := errors.Join( // each in turn, left to right
		sc.created(a1),
		sc.created(g1),
		sc.created(i1),
		sc.created(g2),
		sc.updated(a1, a1paid),
		sc.updated(g1, with(g1, "paid")),
		sc.deleted(g2), // globex subscribed to created and updated only
		sc.deleted(i1),
	); err != nil {
		return err
	}
	if err := sc.settle(ctx); err != nil {
		return err
	}

	// globex's plan: its deliveries were paced, acme's were not.
	paced, unpaced := globex.inbox.received(), acme.inbox.received()
	span := func(ds []delivery) time.Duration { return ds[len(ds)-1].at.Sub(ds[0].at).Round(100 * time.Microsecond) }
	least := time.Duration(float64(len(paced)-1) / freePlan * float64(time.Second))
	sc.printf("rate limit: globex's %d deliveries arrived over %v, paced at its plan's %d/s; acme's %d over %v\n",
		len(paced), span(paced), freePlan, len(unpaced), span(unpaced))
	if span(paced) < least*9/10 { // sent at least 1/limit apart; arrivals may bunch a little on the way
		sc.fail("globex: %d deliveries over %v, faster than %d/s", len(paced), span(paced), freePlan)
	}

	// Phase 2: acme moves its receiver, initech leaves.
	sc.printf("\n--- phase 2: acme moves its receiver, initech deletes its endpoint\n")
	moved, err := listen("acme")
	if err != nil {
		return err
	}
	sc.inboxes = append(sc.inboxes, moved)
	acme.inbox.label, moved.label = "acme (old)", "acme (new)"
	moved.serve(acme.secret) // the same endpoint, so the same secret
	var ep endpointView
	status, err := sc.request(acme, "PATCH", "/webhooks/endpoints/"+acme.endpoint, "",
		map[string]any{"url": moved.url}, &ep, http.StatusOK)
	if err != nil {
		return err
	}
	if status == http.StatusOK {
		sc.printf("           endpoint %s -> %s\n", ep.Name, ep.URL)
		acme.inbox = moved
	}
	status, err = sc.request(initech, "DELETE", "/webhooks/endpoints/"+initech.endpoint, "", nil, nil, http.StatusNoContent)
	if err != nil {
		return err
	}
	if status == http.StatusNoContent {
		initech.inbox = nil
	}
	list = nil
	if _, err := sc.request(initech, "GET", "/webhooks/endpoints", "", nil, &list, http.StatusOK); err != nil {
		return err
	}
	sc.checkList(initech, list, nil)

	a2 := Order{ID: "A-1002", Account: "acme", Status: "pending", Total: "310.00"}
	g3 := Order{ID: "G-2003", Account: "globex", Status: "pending", Total: "8.00"}
	i2 := Order{ID: "I-3002", Account: "initech", Status: "pending", Total: "77.00"}
	if err := errors.Join(
		sc.updated(a1paid, with(a1paid, "shipped")),
		sc.created(i2), // initech has no endpoint now: only the warehouse gets it
		sc.created(g3),
		sc.created(a2),
	); err != nil {
		return err
	}
	if err := sc.settle(ctx); err != nil {
		return err
	}

	// Shut down: drain, then read the delivery log.
	sc.printf("\n--- shutdown\n")
	closeCtx, cancelClose := context.WithTimeout(ctx, 5*time.Second)
	defer cancelClose()
	emitterClosed = true
	if err := svc.emitter.Close(closeCtx); err != nil {
		sc.fail("close: %v", err)
	}
	logs, err := svc.emitter.Logs(context.Background(), webhook.LogQuery{Limit: 1000})
	if err != nil {
		return err
	}
	delivered, failed := 0, 0
	for _, l := range logs {
		switch l.Status {
		case webhook.StatusDelivered:
			delivered++
		case webhook.StatusFailed:
			failed++
		}
	}
	total := 0
	for _, ids := range sc.want {
		total += len(ids)
	}
	sc.printf("delivery log: %d delivered, %d failed; %d deliveries expected\n", delivered, failed, total)
	if delivered != total || failed != 0 {
		sc.fail("the delivery log has %d delivered and %d failed, want %d and 0", delivered, failed, total)
	}
	sc.mu.Lock()
	for _, f := range sc.failures {
		sc.fail("delivery %s of %s to %s given up: %v", f.DeliveryID, f.EventID, f.Endpoint, f.Err)
	}
	sc.mu.Unlock()

	if len(sc.problems) > 0 {
		sc.printf("FAIL: %d problems\n", len(sc.problems))
		return fmt.Errorf("%d checks failed, the first: %s", len(sc.problems), sc.problems[0])
	}
	sc.printf("OK: every customer got exactly its own tenant's events, verified, before and after the changes\n")
	return nil
}

func with(o Order, status string) Order {
	o.Status = status
	return o
}

// created, updated and deleted make a change in the service, which emits
// its event, and note who should get it.

func (sc *scenario) created(o Order) error {
	id, err := sc.svc.orderCreated(sc.ctx, o)
	return sc.sent(id, webhook.Created, o, err)
}

func (sc *scenario) updated(before, after Order) error {
	id, err := sc.svc.orderUpdated(sc.ctx, before, after)
	return sc.sent(id, webhook.Updated, after, err)
}

func (sc *scenario) deleted(o Order) error {
	id, err := sc.svc.orderDeleted(sc.ctx, o)
	return sc.sent(id, webhook.Deleted, o, err)
}

// sent notes who should get an event: the warehouse, and the endpoint of
// the order's tenant if it wants that type.
func (sc *scenario) sent(id string, typ webhook.EventType, o Order, err error) error {
	if err != nil {
		return fmt.Errorf("emit %s: %w", id, err)
	}
	to := []string{"warehouse"}
	sc.want[sc.warehouse] = append(sc.want[sc.warehouse], id)
	for _, c := range sc.customers {
		if c.tenant == o.Account && c.wants(typ) {
			sc.want[c.inbox] = append(sc.want[c.inbox], id)
			to = append(to, c.tenant)
		}
	}
	sc.printf("service    %s %-7s %s of %-7s -> %s\n", id, typ, o.ID, o.Account, strings.Join(to, ", "))
	return nil
}

// settle waits for the deliveries to end, prints what each inbox got since
// the last time, and checks that each has got exactly the events meant for
// it.
func (sc *scenario) settle(ctx context.Context) error {
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sc.svc.idle(waitCtx); err != nil {
		return err
	}
	problems := len(sc.problems)
	sc.printf("\n")
	for _, in := range sc.inboxes {
		got := in.received()
		fresh := got[min(sc.seen[in], len(got)):]
		sc.seen[in] = len(got)
		slices.SortFunc(fresh, func(a, b delivery) int { return strings.Compare(a.id, b.id) })
		var ids []string
		for _, d := range fresh {
			if in == sc.warehouse {
				ids = append(ids, d.id)
				continue
			}
			ids = append(ids, fmt.Sprintf("%s %s %s", d.id, d.event, d.order))
			if d.account != in.owner {
				sc.fail("%s's receiver got %s, an order of %s", in.owner, d.id, d.account)
			}
		}
		if len(ids) == 0 {
			ids = []string{"nothing"}
		}
		_, port, _ := net.SplitHostPort(in.ln.Addr().String())
		sc.printf("%-10s receiver :%s got %s\n", in.label, port, strings.Join(ids, ", "))

		var gotIDs []string
		for _, d := range got {
			gotIDs = append(gotIDs, d.id)
		}
		slices.Sort(gotIDs)
		want := slices.Sorted(slices.Values(sc.want[in]))
		if !slices.Equal(gotIDs, want) {
			sc.fail("%s's receiver %s has got %v, want %v", in.owner, in.url, gotIDs, want)
		}
	}
	if len(sc.problems) == problems {
		sc.printf("check: each receiver got exactly the events meant for it, every signature verified\n")
	}
	return nil
}

// checkList checks the endpoints the API lists for c: exactly names, and
// no secret.
func (sc *scenario) checkList(c *customer, list []endpointView, names []string) {
	var got []string
	for _, v := range list {
		got = append(got, v.Name)
		if v.Secret != "" {
			sc.fail("%s: GET lists the secret of %s", c.tenant, v.Name)
		}
	}
	sc.printf("           lists %v\n", got)
	if !slices.Equal(got, names) {
		sc.fail("%s: GET lists %v, want %v", c.tenant, got, names)
	}
}
