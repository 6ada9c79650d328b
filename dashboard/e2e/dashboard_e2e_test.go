package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/dashboard"
)

// chromiumPath is where the test looks for the browser (Debian's
// chromium package).
const chromiumPath = "/usr/bin/chromium"

// Environment variables: WEBHOOK_TEST_CHROMIUM set (CI sets it) makes a
// missing browser fail the test instead of skipping it;
// DASHBOARD_SCREENSHOT=path also writes the screenshot there.
const (
	envRequire    = "WEBHOOK_TEST_CHROMIUM"
	envScreenshot = "DASHBOARD_SCREENSHOT"
)

// receiver is a webhook receiver on 127.0.0.1: it answers 503 with a body
// while failing is set, 200 otherwise, and records what it accepted.
type receiver struct {
	*httptest.Server
	failing  atomic.Bool
	mu       sync.Mutex
	accepted []string // "path event-id" of each accepted request
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if rc.failing.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error": "maintenance window <until 02:00 UTC>"}`)
			return
		}
		rc.mu.Lock()
		rc.accepted = append(rc.accepted, r.URL.Path+" "+r.Header.Get("X-Webhook-Event-Id"))
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got(path, eventID string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Contains(rc.accepted, path+" "+eventID)
}

// order is the host's model.
type order struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Total    string `json:"total"`
	Customer struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"customer"`
}

func (order) WebhookLabel() string { return "store.Order" }

func newOrder(id, status, total, name string) order {
	o := order{ID: id, Status: status, Total: total}
	o.Customer.Name, o.Customer.Email = name, strings.ToLower(strings.Fields(name)[0])+"@example.com"
	return o
}

// TestDashboardRedeliver drives the dashboard in headless Chromium: the
// failed deliveries are listed, the receiver comes back, the operator
// presses Redeliver on one, and it arrives.
func TestDashboardRedeliver(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv(envRequire) != "" {
			t.Fatalf("%s is set but Chromium is not at %s (%v): install it (apt-get install chromium)", envRequire, chromiumPath, err)
		}
		t.Skipf("Chromium is not at %s: install it (apt-get install chromium) to run this browser test; set %s to make its absence fail", chromiumPath, envRequire)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	// The Emitter: crm and acme-orders never retry; billing retries in an
	// hour, so its failures stay retrying.
	rc := newReceiver(t)
	emitter, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "crm", URL: rc.URL + "/crm", Secret: "crm-secret-0123456789", Retry: &webhook.RetryConfig{MaxRetries: 0},
				RedactFields: map[string]map[string]any{"store.Order": {"customer.email": "[REDACTED]"}}},
			{Name: "billing", URL: rc.URL + "/billing?key=k3y", Secret: "billing-secret-0123456789",
				Retry: &webhook.RetryConfig{MaxRetries: 3, RetryDelay: time.Hour}},
			{Name: "acme-orders", URL: rc.URL + "/acme", Secret: "acme-secret-0123456789", Tenant: "acme",
				Retry: &webhook.RetryConfig{MaxRetries: 0}, Events: []webhook.EventType{webhook.Created}},
		},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
		Logger:         quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// billing's retries wait an hour: give them up.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		var undelivered *webhook.UndeliveredError
		if err := emitter.Close(ctx); err != nil && !errors.As(err, &undelivered) {
			t.Error(err)
		}
	})

	emit := func(ev webhook.Event) {
		t.Helper()
		if err := emitter.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	settle := func() {
		t.Helper()
		for {
			logs, err := emitter.Logs(ctx, webhook.LogQuery{Status: webhook.StatusPending})
			if err != nil {
				t.Fatal(err)
			}
			if len(logs) == 0 {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("deliveries still pending: %v", ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	ada := newOrder("ord_1001", "paid", "129.00", "Ada Lovelace")
	emit(webhook.Event{ID: "evt_order_1001", Type: webhook.Created, Object: ada})
	settle()
	rc.failing.Store(true) // the receivers go down
	shipped := ada
	shipped.Status = "shipped"
	update := webhook.Update(ada, shipped)
	update.ID = "evt_order_1001_shipped"
	emit(update)
	emit(webhook.Event{ID: "evt_order_1002", Type: webhook.Created, Object: newOrder("ord_1002", "paid", "54.90", "Grace Hopper"), Tenant: "acme"})
	emit(webhook.Event{ID: "evt_order_1003", Type: webhook.Deleted, Object: newOrder("ord_1003", "cancelled", "18.00", "Alan Turing")})
	settle()

	failed, err := emitter.Logs(ctx, webhook.LogQuery{Endpoint: "crm", EventID: "evt_order_1002", Status: webhook.StatusFailed})
	if err != nil || len(failed) != 1 {
		t.Fatalf("crm's failed delivery of evt_order_1002: %v, %v", failed, err)
	}
	target := failed[0].ID

	// The dashboard, as a host mounts it.
	mux := http.NewServeMux()
	mux.Handle("/admin/webhooks/", http.StripPrefix("/admin/webhooks", dashboard.New(emitter, dashboard.Options{Title: "Webhooks — shop", Logger: quiet})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The browser: headless, reaching 127.0.0.1 only.
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1440, 1000),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-component-update", true),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, allocOpts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("starting Chromium: %v", err)
	}

	// Every error the page writes to the console (a CSP violation, a
	// failed request, an exception) fails the test.
	cctx, ccancel := context.WithCancel(bctx)
	messages := chromedp.Console(cctx)
	var consoleErrs []string
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Source == "network" && strings.Contains(m.Text, "status of 409") && strings.HasSuffix(m.URL, "/api/redeliver") {
				continue // the second click's answer, expected
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				consoleErrs = append(consoleErrs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
			}
		}
	}()

	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitJS waits until the expression is true.
	waitJS := func(what, expr string) {
		t.Helper()
		do(what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	}
	row := func(id string) string { return `#logs-body tr.log[data-id="` + id + `"]` }
	detail := func(id, sel string) chromedp.CSS {
		return chromedp.CSS(`#logs-body tr.detail[data-id="` + id + `"] ` + sel)
	}

	do("load the page",
		chromedp.Navigate(srv.URL+"/admin/webhooks/"),
		chromedp.WaitVisible(chromedp.CSS(row(target))),
		chromedp.WaitVisible(chromedp.CSS(`#endpoints .card[data-endpoint="billing"]`)),
	)

	// Failed deliveries only.
	do("filter to failed deliveries",
		chromedp.SetValue(chromedp.CSS(`#f-status`), "failed"),
		chromedp.Click(chromedp.CSS(`#f-apply`)),
	)
	waitJS("only failed deliveries listed", `(() => {
		const rows = [...document.querySelectorAll('#logs-body tr.log')];
		return rows.length === 4 && rows.every(r => r.dataset.status === 'failed');
	})()`)
	if hash, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash`)); err != nil || !strings.Contains(hash, "status=failed") {
		t.Errorf("the filter is not in the address: %q, %v", hash, err)
	}

	// The receiver is back: open the delivery and send it again.
	rc.failing.Store(false)
	do("open the delivery",
		chromedp.Click(chromedp.CSS(row(target))),
		chromedp.WaitVisible(detail(target, "pre.payload")),
	)
	payload, err := chromedp.Run(bctx, chromedp.Text(detail(target, "pre.payload")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id": "evt_order_1002"`, `"email": "[REDACTED]"`, `"name": "Grace Hopper"`} {
		if !strings.Contains(payload, want) {
			t.Errorf("the payload shown lacks %s:\n%s", want, payload)
		}
	}
	// What receivers and users wrote is text, never markup.
	waitJS("the response body shown as text", `(() => {
		const pre = [...document.querySelectorAll('#logs-body tr.detail[data-id="`+target+`"] pre')].find(p => p.textContent.includes('maintenance window'));
		return !!pre && pre.textContent.includes('<until 02:00 UTC>') && pre.childElementCount === 0;
	})()`)
	do("press Redeliver", chromedp.Click(detail(target, "button.redeliver")))
	waitJS("the page says it was sent again", `(() => {
		const n = document.querySelector('#logs-body tr.detail[data-id="`+target+`"] .note.ok');
		return !!n && n.textContent.startsWith('Sent again as dlv_');
	})()`)

	// It arrives, and the list shows the new delivery delivered.
	deadline := time.Now().Add(10 * time.Second)
	for !rc.got("/crm", "evt_order_1002") {
		if time.Now().After(deadline) {
			t.Fatal("the receiver did not get the redelivery")
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs, err := emitter.Logs(ctx, webhook.LogQuery{Endpoint: "crm", EventID: "evt_order_1002"})
	if err != nil {
		t.Fatal(err)
	}
	var newID string
	for _, l := range logs {
		if l.ID == target {
			newID = l.RedeliveredAs
		}
	}
	if newID == "" {
		t.Fatalf("the log of %s does not link to its redelivery: %+v", target, logs)
	}
	do("show every status", chromedp.Click(chromedp.CSS(`#f-clear`)))
	waitJS("the redelivery listed as delivered", `(() => {
		const r = document.querySelector('`+row(newID)+`');
		if (!r || r.dataset.status !== 'delivered') { document.getElementById('refresh').click(); return false; }
		return true;
	})()`)
	do("wait for the follow-up refreshes", chromedp.Sleep(3*time.Second))

	// The screenshot: every delivery, the one sent again open.
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil || len(png) == 0 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv(envScreenshot); p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", p)
	}

	// A second click: the page says it was sent already, and offers to
	// send it once more.
	do("press Redeliver again",
		chromedp.Click(detail(target, "button.redeliver")),
		chromedp.WaitVisible(detail(target, "button.again")),
	)
	do("send once more", chromedp.Click(detail(target, "button.again")))
	waitJS("sent once more", `(() => {
		const n = document.querySelector('#logs-body tr.detail[data-id="`+target+`"] .note.ok');
		return !!n && n.textContent.startsWith('Sent again as dlv_');
	})()`)

	// The endpoint panel: pause and resume crm, recover acme-orders's
	// failure (the form's time is an hour ago).
	card := func(name, sel string) chromedp.CSS {
		return chromedp.CSS(`#endpoints .card[data-endpoint="` + name + `"] ` + sel)
	}
	do("pause crm",
		chromedp.Click(card("crm", "button.pause")),
		chromedp.WaitVisible(card("crm", ".badge.paused")),
		chromedp.WaitVisible(card("crm", "button.resume")),
	)
	if st, err := emitter.Stats(ctx); err != nil || !st.Endpoints["crm"].Paused {
		t.Errorf("crm not paused: %+v, %v", st.Endpoints["crm"], err)
	}
	do("resume crm",
		chromedp.Click(card("crm", "button.resume")),
		chromedp.WaitVisible(card("crm", "button.pause")),
	)
	if st, err := emitter.Stats(ctx); err != nil || st.Endpoints["crm"].Paused {
		t.Errorf("crm still paused: %+v, %v", st.Endpoints["crm"], err)
	}
	do("recover acme-orders", chromedp.Click(card("acme-orders", `.recover button[type="submit"]`)))
	waitJS("recovered one", `(() => {
		const r = document.querySelector('#endpoints .card[data-endpoint="acme-orders"] .result.ok');
		return !!r && r.textContent.startsWith('Sent again 1 delivery that failed since');
	})()`)
	deadline = time.Now().Add(10 * time.Second)
	for !rc.got("/acme", "evt_order_1002") {
		if time.Now().After(deadline) {
			t.Fatal("the receiver did not get acme-orders's recovered delivery")
		}
		time.Sleep(20 * time.Millisecond)
	}

	ccancel()
	<-consoleDone
	for _, msg := range consoleErrs {
		t.Errorf("the page logged an error: %s", msg)
	}
}
