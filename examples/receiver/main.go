// Command receiver is a webhook receiver service built on webhook.Receiver:
// it verifies every request's signature and timestamp (replays outside
// five minutes are refused), bounds the body, deduplicates by event id,
// and logs each verified event once.
//
//	WEBHOOK_SECRET=… go run ./examples/receiver [-addr 127.0.0.1:8080]
//
// It serves POST /webhooks/ and GET /healthz, and stops gracefully on
// SIGINT or SIGTERM. The shared secret comes from the environment
// (WEBHOOK_SECRET, required), never from a flag that other users could
// read in the process list. While the sender rotates its secret, put the
// old one in WEBHOOK_PREVIOUS_SECRET: requests signed with either pass.
//
// With -selftest it proves itself and exits: it starts on 127.0.0.1 (a
// random port), sends itself signed events with a webhook.Emitter, sends
// one event twice, a forged request and a replayed stale one, checks what
// was processed and prints a summary. It exits 0 when every check passed.
//
//	go run ./examples/receiver -selftest
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookrail/webhook"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	selftest := flag.Bool("selftest", false, "start on 127.0.0.1:0, send signed events to itself, check them and exit")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	secrets := secretsFromEnv()
	if *selftest {
		os.Exit(runSelfTest(logger, secrets))
	}
	if len(secrets) == 0 {
		fmt.Fprintln(os.Stderr, "receiver: WEBHOOK_SECRET is not set (the secret shared with the sender)")
		os.Exit(2)
	}
	if err := serve(*addr, secrets, logger); err != nil {
		logger.Error("receiver stopped", "error", err)
		os.Exit(1)
	}
}

// secretsFromEnv returns WEBHOOK_SECRET and, while a rotation is under
// way, WEBHOOK_PREVIOUS_SECRET.
func secretsFromEnv() []string {
	var s []string
	for _, name := range []string{"WEBHOOK_SECRET", "WEBHOOK_PREVIOUS_SECRET"} {
		if v := os.Getenv(name); v != "" {
			s = append(s, v)
		}
	}
	return s
}

// app is the receiving application: it records each event it processes.
type app struct {
	logger *slog.Logger

	mu   sync.Mutex
	seen []string // event ids, in the order processed
}

// handleEvent is called by the middleware with a verified, first-seen
// event. A real service would hand it to a queue and answer at once (Rail
// Django's "respond quickly"); a non-2xx answer makes the sender retry.
func (a *app) handleEvent(w http.ResponseWriter, r *http.Request) {
	var p webhook.Payload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, "payload is not a webhook envelope", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.seen = append(a.seen, p.ID)
	a.mu.Unlock()
	attrs := []any{"id", p.ID, "event", p.Event, "model", p.Model.Label, "timestamp", p.Timestamp}
	if id, ok := p.Object["id"]; ok {
		attrs = append(attrs, "object_id", id)
	}
	if p.User != nil {
		attrs = append(attrs, "user", p.User.Username)
	}
	a.logger.Info("webhook event", attrs...)
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) processed() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// handler is the service's routes.
func handler(rc *webhook.Receiver, a *app) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/", rc.Middleware(http.HandlerFunc(a.handleEvent)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	return mux
}

func newReceiver(secrets []string) *webhook.Receiver {
	return &webhook.Receiver{
		Verifier:     webhook.Verifier{Secrets: secrets}, // 5 min tolerance
		MaxBodyBytes: 1 << 20,
		Dedup:        webhook.NewMemoryDedup(webhook.MemoryDedupConfig{TTL: 72 * time.Hour}),
	}
}

func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// serve runs the service until SIGINT or SIGTERM.
func serve(addr string, secrets []string, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	a := &app{logger: logger}
	srv := newServer(handler(newReceiver(secrets), a), logger)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logger.Info("receiver listening", "url", "http://"+ln.Addr().String()+"/webhooks/")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// Order is the sending application's model in the self-test.
type Order struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Total  string `json:"total"`
}

func (Order) WebhookLabel() string { return "store.Order" }

// runSelfTest starts the service on 127.0.0.1:0 and exercises it.
func runSelfTest(logger *slog.Logger, secrets []string) int {
	if len(secrets) == 0 {
		b := make([]byte, 24)
		rand.Read(b)
		secrets = []string{hex.EncodeToString(b)}
		fmt.Println("selftest: WEBHOOK_SECRET not set; using a random secret")
	}
	a := &app{logger: logger}
	srv := newServer(handler(newReceiver(secrets), a), logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "selftest: listen:", err)
		return 1
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/webhooks/"
	fmt.Println("selftest: receiver listening on", url)

	emitter, err := webhook.New(webhook.Config{
		Sync:      true, // Emit returns each delivery's outcome
		Logger:    logger,
		Retry:     &webhook.RetryConfig{MaxRetries: 0},
		Endpoints: []webhook.Endpoint{{Name: "self", URL: url, Secret: secrets[0]}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "selftest:", err)
		return 1
	}
	defer emitter.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var failed []string
	check := func(ok bool, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		mark := "ok  "
		if !ok {
			mark = "FAIL"
			failed = append(failed, msg)
		}
		fmt.Printf("selftest: %s %s\n", mark, msg)
	}

	// Three signed events, then the first again: a sender's outbox
	// re-emitting it after a crash (same Event.ID).
	placed := Order{ID: "42", Status: "pending", Total: "299.99"}
	shipped := placed
	shipped.Status = "shipped"
	events := []webhook.Event{webhook.Create(placed), webhook.Update(placed, shipped), webhook.Delete(shipped)}
	run := time.Now().Unix()
	for i := range events {
		events[i].ID = fmt.Sprintf("evt_selftest_%d_%s", run, events[i].Type)
	}
	for _, ev := range events {
		err := emitter.Emit(ctx, ev)
		check(err == nil, "%s event delivered and verified (%v)", ev.Type, errOrOK(err))
	}
	err = emitter.Emit(ctx, events[0])
	check(err == nil, "duplicate of %s answered 2xx (%v)", events[0].ID, errOrOK(err))

	got := a.processed()
	check(len(got) == len(events), "%d events processed, want %d (the duplicate is not processed again)", len(got), len(events))
	for i, ev := range events {
		check(i < len(got) && got[i] == ev.ID, "event %d processed is %s", i+1, ev.ID)
	}

	// Requests that must be refused, built by hand.
	body := []byte(`{"id":"evt_forged","event":"created","timestamp":"2026-01-16T12:00:00Z","model":{"app":"store","name":"Order","label":"store.Order"},"object":{"id":"1"},"changes":null,"user":null}`)
	now := time.Now().Unix()
	status := post(ctx, url, body, signed("not-the-secret", now, body), "evt_forged")
	check(status == http.StatusUnauthorized, "forged signature answered %d, want 401", status)
	stale := now - int64((10*time.Minute)/time.Second)
	status = post(ctx, url, body, signed(secrets[0], stale, body), "evt_forged")
	check(status == http.StatusUnauthorized, "stale replay (10 min old) answered %d, want 401", status)
	status = post(ctx, url, body, http.Header{}, "evt_forged")
	check(status == http.StatusUnauthorized, "unsigned request answered %d, want 401", status)
	huge := append(body[:len(body):len(body)], bytes.Repeat([]byte(" "), 1<<20)...)
	status = post(ctx, url, huge, signed(secrets[0], now, huge), "evt_forged")
	check(status == http.StatusRequestEntityTooLarge, "body over 1 MiB answered %d, want 413", status)
	check(len(a.processed()) == len(events), "nothing refused was processed")

	logs, _ := emitter.Logs(ctx, webhook.LogQuery{Status: webhook.StatusDelivered})
	fmt.Printf("selftest: summary: %d deliveries delivered, %d events processed, %d refused requests, %d checks failed\n",
		len(logs), len(a.processed()), 4, len(failed))
	if len(failed) > 0 {
		fmt.Println("selftest: FAILED:", strings.Join(failed, "; "))
		return 1
	}
	fmt.Println("selftest: PASS")
	return 0
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// signed returns the headers of a hand-built request signed with Rail
// Django's scheme: X-Webhook-Signature "sha256=<hex HMAC-SHA256(secret,
// "<timestamp>.<body>")>" and X-Webhook-Timestamp.
func signed(secret string, ts int64, body []byte) http.Header {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	h := http.Header{}
	h.Set(webhook.HeaderSignature, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	return h
}

// post sends a hand-built request and returns the status (0: no answer).
func post(ctx context.Context, url string, body []byte, h http.Header, eventID string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderEventID, eventID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
