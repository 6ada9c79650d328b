package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookrail/webhook"
)

const listenHelp = `
Receives webhooks on a local address (every path) and prints each request:
the time, the headers that matter, the event's id, type and model, the
body as indented JSON and the verification's result, with the exact
reason when it fails. Without --secret nothing is verified, and each
request is printed as "unverified".

It answers --status to a request that verified (to every request without
--secret), 401 to one whose signature is missing or wrong or whose
timestamp is outside the tolerance, 400 to one with malformed signature
headers and 413 to a body over 1 MiB. It stops on SIGINT (Ctrl-C) or
SIGTERM. With --addr 127.0.0.1:0 it picks a free port; its first line is
"hookrail: listening on http://ADDR/" either way.`

func runListen(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "listen", listenHelp)
	var secrets secretsFlag
	var scheme schemeFlag
	addSchemeFlags(fs, &secrets, &scheme, "`secret` (or whpk_ public key) to verify with; repeat to accept several (default: verify nothing)")
	addr := fs.String("addr", "127.0.0.1:8787", "`address` to listen on; port 0 picks a free one")
	status := fs.Int("status", http.StatusOK, "`status` to answer verified requests with")
	tolerance := fs.Duration("tolerance", webhook.DefaultTolerance, "how far a timestamp may be from now, a `duration` of at most 24h")
	if code, ok := parse(e, fs, args); !ok {
		return code
	}
	if *status < 200 || *status > 599 {
		return usageError(e, fs, "--status %d: want a final HTTP status, 200 to 599", *status)
	}
	if *tolerance <= 0 {
		return usageError(e, fs, "--tolerance must be positive")
	}
	l := &listener{out: e.stdout, status: *status, scheme: scheme.scheme}
	if len(secrets) > 0 {
		l.verifier = webhook.NewVerifier(secrets...)
		l.verifier.Scheme, l.verifier.Tolerance = scheme.scheme, *tolerance
		if err := checkVerifier(l.verifier); err != nil {
			return usageError(e, fs, "--secret: %v", err)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(e.stderr, "hookrail listen: %v\n", err)
		return exitFail
	}
	verifying := "not verifying signatures (no --secret)"
	if l.verifier != nil {
		verifying = fmt.Sprintf("verifying %s signatures with %d %s", schemeName(scheme.scheme), len(secrets), plural(len(secrets), "secret", "secrets"))
	}
	fmt.Fprintf(e.stdout, "hookrail: listening on http://%s/ (%s; answering %d). Ctrl-C stops.\n", ln.Addr(), verifying, *status)

	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintf(e.stderr, "hookrail listen: %v\n", err)
		return exitFail
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(e.stdout, "hookrail: stopped after %d %s", l.count, plural(l.count, "request", "requests"))
	if l.verifier != nil {
		fmt.Fprintf(e.stdout, " (%d verified, %d failed)", l.count-l.failed, l.failed)
	}
	fmt.Fprintln(e.stdout)
	return exitOK
}

func schemeName(s webhook.SignatureScheme) string {
	if s == "" {
		return string(webhook.SchemeHMAC)
	}
	return string(s)
}

// listener prints and answers the requests of listen.
type listener struct {
	verifier *webhook.Verifier // nil: no verification
	scheme   webhook.SignatureScheme
	status   int

	mu     sync.Mutex // serialises output and counts
	out    io.Writer
	count  int
	failed int
}

// maxListenBody bounds a request body, as webhook.Receiver does.
const maxListenBody = webhook.DefaultMaxBodyBytes

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxListenBody))
	var verr error
	status := l.status
	switch {
	case readErr != nil:
		status = http.StatusBadRequest
		if mbe := (*http.MaxBytesError)(nil); errors.As(readErr, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
	case l.verifier != nil:
		verr = l.verifier.Verify(r.Header, body)
		switch {
		case verr == nil:
		case errors.Is(verr, webhook.ErrMalformedSignature), errors.Is(verr, webhook.ErrSignatureHeaderTooLarge):
			status = http.StatusBadRequest
		default:
			status = http.StatusUnauthorized
		}
	}

	l.mu.Lock()
	l.count++
	n := l.count
	if verr != nil || readErr != nil {
		l.failed++
	}
	l.mu.Unlock()

	var b bytes.Buffer
	l.describe(&b, n, arrived, r, body, readErr, verr, status)
	l.mu.Lock()
	l.out.Write(b.Bytes())
	l.mu.Unlock()

	if verr != nil {
		http.Error(w, verr.Error(), status)
		return
	}
	w.WriteHeader(status)
}

// describe writes the report of request n.
func (l *listener) describe(b *bytes.Buffer, n int, at time.Time, r *http.Request, body []byte, readErr, verr error, status int) {
	fmt.Fprintf(b, "\n━━ #%d  %s  %s %s  from %s\n", n, at.Format("2006-01-02 15:04:05.000"), r.Method, r.URL.RequestURI(), r.RemoteAddr)

	var env struct {
		ID    string            `json:"id"`
		Event string            `json:"event"`
		Model webhook.ModelInfo `json:"model"`
	}
	isEnvelope := json.Unmarshal(body, &env) == nil && env.ID != "" && env.Event != ""
	switch {
	case isEnvelope:
		fmt.Fprintf(b, "event      %s %s  %s\n", env.Event, env.Model.Label, env.ID)
	case r.Header.Get(webhook.HeaderStandardID) != "":
		fmt.Fprintf(b, "event      (the body is not an envelope)  webhook-id %s\n", r.Header.Get(webhook.HeaderStandardID))
	case r.Header.Get(webhook.HeaderEventID) != "":
		fmt.Fprintf(b, "event      (the body is not an envelope)  X-Webhook-Event-Id %s\n", r.Header.Get(webhook.HeaderEventID))
	default:
		fmt.Fprintf(b, "event      (the body is not an envelope)\n")
	}

	switch {
	case readErr != nil:
		fmt.Fprintf(b, "signature  not checked: reading the body: %v\n", readErr)
	case l.verifier == nil:
		fmt.Fprintf(b, "signature  unverified (no --secret)\n")
	case verr == nil:
		fmt.Fprintf(b, "signature  ok (%s)\n", schemeName(l.scheme))
	default:
		fmt.Fprintf(b, "signature  FAILED: %s: %v\n", failureKind(verr), verr)
		if hint := schemeHint(verr, l.scheme, r.Header); hint != "" {
			fmt.Fprintf(b, "           hint: %s\n", hint)
		}
	}

	// The headers that matter first, in this order; the others follow in
	// name order, except those of the transport.
	shownHeaders := []string{
		"Content-Type", "User-Agent",
		webhook.HeaderEventID, webhook.HeaderTimestamp, webhook.HeaderSignature,
		webhook.HeaderStandardID, webhook.HeaderStandardTimestamp, webhook.HeaderStandardSignature,
	}
	hiddenHeaders := []string{"Accept-Encoding", "Connection", "Content-Length"}
	fmt.Fprintf(b, "headers\n")
	var rest []string
	for name := range r.Header {
		if !slices.Contains(shownHeaders, name) && !slices.Contains(hiddenHeaders, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range append(slices.Clone(shownHeaders), rest...) {
		for _, v := range r.Header.Values(name) {
			fmt.Fprintf(b, "  %s: %s%s\n", name, maskHeader(name, v), timestampNote(name, v, at))
		}
	}

	fmt.Fprintf(b, "body (%d bytes)\n", len(body))
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "  ", "  ") == nil {
		fmt.Fprintf(b, "  %s\n", pretty.Bytes())
	} else if len(body) > 0 {
		const maxShown = 4 << 10
		shown := body
		if len(shown) > maxShown {
			shown = shown[:maxShown]
		}
		fmt.Fprintf(b, "  %q", shown)
		if len(body) > maxShown {
			fmt.Fprintf(b, " … (%d more bytes)", len(body)-maxShown)
		}
		fmt.Fprintln(b)
	}
	fmt.Fprintf(b, "answered   %d %s\n", status, http.StatusText(status))
}

// maskHeader hides most of a credential's value.
func maskHeader(name, v string) string {
	lower := strings.ToLower(name)
	if name != "Authorization" && name != "Cookie" && !strings.Contains(lower, "key") &&
		!strings.Contains(lower, "token") && !strings.Contains(lower, "secret") {
		return v
	}
	if scheme, _, ok := strings.Cut(v, " "); ok && name == "Authorization" {
		return scheme + " [hidden]"
	}
	return "[hidden]"
}

// timestampNote explains a timestamp header: its time, and how long ago
// it was when the request arrived.
func timestampNote(name, v string, at time.Time) string {
	if name != webhook.HeaderTimestamp && name != webhook.HeaderStandardTimestamp {
		return ""
	}
	unix, err := strconv.ParseInt(v, 10, 64)
	if err != nil || unix < 0 || unix > 1<<40 {
		return ""
	}
	t := time.Unix(unix, 0)
	age := at.Sub(t).Truncate(time.Second)
	when := fmt.Sprintf("%s ago", age)
	if age < 0 {
		when = fmt.Sprintf("%s in the future", -age)
	}
	return fmt.Sprintf("  (%s, %s)", t.UTC().Format(time.RFC3339), when)
}
