package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhooktest"
)

// binary is the hookrail command, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookrail-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hookrail")
	// go test puts its GOROOT/bin first in PATH.
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building hookrail:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// hookrail runs the command to completion, within 30 s.
func hookrail(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running hookrail %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// writeFile writes data to a file of the test's temporary directory and
// returns its path.
func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	return path
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Usage:\n  hookrail listen [--secret S]...", "Commands:", "Exit codes:\n  0  success"}},
		{[]string{"-h"}, []string{"hookrail sign --secret S..."}},
		{[]string{"help"}, []string{"hookrail send --config webhooks.yaml"}},
		{[]string{"listen", "--help"}, []string{"Usage: hookrail listen", "--addr address", "(default 127.0.0.1:8787)", "Exit codes:"}},
		{[]string{"sign", "-h"}, []string{"Usage: hookrail sign", "--timestamp time", "Exit codes:"}},
		{[]string{"verify", "--help"}, []string{"Usage: hookrail verify", "--tolerance duration", "(default 5m0s)", "2  usage error"}},
		{[]string{"send", "--help"}, []string{"Usage: hookrail send", "--config file", "--old file", "1  failure"}},
		{[]string{"help", "verify"}, []string{"Usage: hookrail verify"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := hookrail(t, "", tt.args...)
			assert.Equal(t, 0, r.code)
			assert.Empty(t, r.stderr)
			for _, want := range tt.want {
				assert.Contains(t, r.stdout, want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	body := writeFile(t, "body.json", `{"id":"evt_1"}`)
	headers := writeFile(t, "headers.txt", "X-Webhook-Timestamp: 1\n")
	object := writeFile(t, "order.json", `{"id":"42"}`)
	config := writeFile(t, "webhooks.yaml", "endpoints:\n  - name: a\n    url: http://127.0.0.1:1/\n    secret: s3cret-key\n")
	badConfig := writeFile(t, "bad.yaml", "endpoints:\n  - name: a\n    url: http://127.0.0.1:1/\n    secret: s3cret-key\n    timeout_seconds: abc\n")
	notObject := writeFile(t, "list.json", `[1]`)
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no command", nil, "Usage:\n  hookrail listen"},
		{"unknown command", []string{"serve"}, `hookrail: unknown command "serve"`},
		{"help for an unknown command", []string{"help", "serve"}, `unknown command "serve"`},
		{"unknown flag", []string{"sign", "--bogus"}, "flag provided but not defined: -bogus"},
		{"extra argument", []string{"sign", "--secret", "s", "extra"}, `hookrail sign: unexpected argument "extra"`},
		{"sign without secret", []string{"sign", "--body", body}, "hookrail sign: --secret is required"},
		{"sign with an unknown scheme", []string{"sign", "--secret", "s", "--scheme", "md5"}, `invalid value "md5" for flag -scheme: want hmac or standard`},
		{"sign with a bad timestamp", []string{"sign", "--secret", "s", "--timestamp", "yesterday", "--body", body}, `--timestamp: "yesterday" is neither unix seconds nor an RFC 3339 time`},
		{"standard sign without an id", []string{"sign", "--scheme", "standard", "--secret", "whsec_c2VjcmV0", "--body", "-"}, `--scheme standard signs the event id`},
		{"standard sign with a public key", []string{"sign", "--scheme", "standard", "--secret", "whpk_c2VjcmV0", "--id", "x", "--body", body}, `a "whpk_" public key verifies but cannot sign`},
		{"sign an unreadable body", []string{"sign", "--secret", "s", "--body", "/nonexistent/body.json"}, "hookrail sign: --body: open /nonexistent/body.json"},
		{"verify without headers", []string{"verify", "--secret", "s", "--body", body}, "--headers is required"},
		{"verify without body", []string{"verify", "--secret", "s", "--headers", headers}, "--body is required"},
		{"verify both from stdin", []string{"verify", "--secret", "s", "--headers", "-", "--body", "-"}, "cannot both be standard input"},
		{"verify a bad standard secret", []string{"verify", "--scheme", "standard", "--secret", "whsec_!!", "--headers", headers, "--body", body}, `"whsec_" followed by base64`},
		{"verify a bad headers file", []string{"verify", "--secret", "s", "--headers", body, "--body", body}, `--headers ` + body + `: line 1: not a "Name: value" header`},
		{"verify with zero tolerance", []string{"verify", "--secret", "s", "--headers", headers, "--body", body, "--tolerance", "0s"}, "--tolerance must be positive"},
		{"listen with a bad status", []string{"listen", "--status", "99"}, "--status 99: want a final HTTP status"},
		{"listen with a bad secret", []string{"listen", "--scheme", "standard", "--secret", "whsec_!!"}, `"whsec_" followed by base64`},
		{"send without config", []string{"send", "--model", "store.Order", "--event", "created", "--object", object}, "--config is required"},
		{"send without event", []string{"send", "--config", config, "--model", "store.Order", "--object", object}, "--event is required"},
		{"send an unknown event", []string{"send", "--config", config, "--model", "store.Order", "--event", "moved", "--object", object}, `--event "moved": want created, updated or deleted`},
		{"send --old with created", []string{"send", "--config", config, "--model", "store.Order", "--event", "created", "--object", object, "--old", object}, "--old is for --event updated"},
		{"send a bad actor", []string{"send", "--config", config, "--model", "store.Order", "--event", "created", "--object", object, "--actor", "admin"}, `--actor "admin": want "ID:USERNAME"`},
		{"send an invalid config", []string{"send", "--config", badConfig, "--model", "store.Order", "--event", "created", "--object", object}, badConfig + `:5: endpoints[0].timeout_seconds: want a number, got "abc"`},
		{"send a missing config", []string{"send", "--config", "/nonexistent/webhooks.yaml", "--model", "store.Order", "--event", "created", "--object", object}, "webhook: reading config: open /nonexistent/webhooks.yaml"},
		{"send an object that is not one", []string{"send", "--config", config, "--model", "store.Order", "--event", "created", "--object", notObject}, "--object " + notObject + ": want a JSON object"},
		{"send a bad model label", []string{"send", "--config", config, "--model", "Order", "--event", "created", "--object", object}, `webhook: invalid event: event model: label "Order"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hookrail(t, "", tt.args...)
			assert.Equal(t, 2, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stderr, tt.want)
			assert.Empty(t, r.stdout)
		})
	}
}

func TestSignVerify(t *testing.T) {
	const (
		secret    = "s3cret-key-0123456789"
		oldSecret = "old-secret-9876543210"
		whsec     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	)
	signingKey, publicKey, err := webhook.GenerateSigningKey()
	require.NoError(t, err)
	const body = `{"id":"evt_42","event":"created","object":{"id":"42","total":"299.99"}}`
	tampered := strings.Replace(body, "299.99", "0.01", 1)
	tests := []struct {
		name       string
		sign       []string // after "sign"
		verify     []string // after "verify", with --headers and --body added
		verifyBody string   // "": body
		headers    func(string) string
		wantCode   int
		want       []string // lines of verify's stdout
	}{
		{name: "hmac", sign: []string{"--secret", secret}, verify: []string{"--secret", secret}, want: []string{"ok"}},
		{name: "hmac rotation, verifier on the old secret", sign: []string{"--secret", secret, "--secret", oldSecret}, verify: []string{"--secret", oldSecret}, want: []string{"ok"}},
		{name: "hmac, verifier holding both", sign: []string{"--secret", secret}, verify: []string{"--secret", oldSecret, "--secret", secret}, want: []string{"ok"}},
		{name: "standard whsec", sign: []string{"--scheme", "standard", "--secret", whsec}, verify: []string{"--scheme", "standard", "--secret", whsec}, want: []string{"ok"}},
		{name: "standard ed25519", sign: []string{"--scheme", "standard-webhooks", "--secret", signingKey}, verify: []string{"--scheme", "standard", "--secret", publicKey}, want: []string{"ok"}},
		{name: "standard with --id", sign: []string{"--scheme", "standard", "--secret", whsec, "--id", "msg_1"}, verify: []string{"--scheme", "standard", "--secret", whsec}, want: []string{"ok"}},
		{
			name: "hmac tampered body", sign: []string{"--secret", secret}, verify: []string{"--secret", secret}, verifyBody: tampered,
			wantCode: 1, want: []string{"fail: bad signature: webhook: X-Webhook-Signature: no signature matches: invalid signature"},
		},
		{
			name: "standard tampered body", sign: []string{"--scheme", "standard", "--secret", whsec}, verify: []string{"--scheme", "standard", "--secret", whsec}, verifyBody: tampered,
			wantCode: 1, want: []string{"fail: bad signature: webhook: Webhook-Signature: no signature matches: invalid signature"},
		},
		{
			name: "wrong secret", sign: []string{"--secret", secret}, verify: []string{"--secret", oldSecret},
			wantCode: 1, want: []string{"fail: bad signature: webhook: X-Webhook-Signature: no signature matches: invalid signature"},
		},
		{
			name: "an hour old", sign: []string{"--secret", secret, "--timestamp", time.Now().Add(-time.Hour).Format(time.RFC3339)}, verify: []string{"--secret", secret},
			wantCode: 1, want: []string{"fail: timestamp outside tolerance: webhook: X-Webhook-Timestamp: "},
		},
		{
			name: "an hour old, checked at its time", sign: []string{"--secret", secret, "--timestamp", "1768566600"},
			verify: []string{"--secret", secret, "--now", "2026-01-16T12:31:00Z"}, want: []string{"ok"},
		},
		{
			name: "an hour old, within a longer tolerance", sign: []string{"--secret", secret, "--timestamp", fmt.Sprint(time.Now().Add(-time.Hour).Unix())},
			verify: []string{"--secret", secret, "--tolerance", "2h"}, want: []string{"ok"},
		},
		{
			name: "standard request, hmac verifier", sign: []string{"--scheme", "standard", "--secret", whsec}, verify: []string{"--secret", secret},
			wantCode: 1, want: []string{
				"fail: missing header: webhook: X-Webhook-Signature: header is absent or empty: missing signature",
				"hint: the request carries webhook-signature (Standard Webhooks): try --scheme standard",
			},
		},
		{
			name: "signature header removed", sign: []string{"--secret", secret}, verify: []string{"--secret", secret},
			headers: func(h string) string {
				return regexp.MustCompile(`(?m)^X-Webhook-Signature:.*\n`).ReplaceAllString(h, "")
			},
			wantCode: 1, want: []string{"fail: missing header: webhook: X-Webhook-Signature: header is absent or empty: missing signature"},
		},
		{
			name: "malformed signature", sign: []string{"--secret", secret}, verify: []string{"--secret", secret},
			headers:  func(h string) string { return strings.Replace(h, "sha256=", "sha1=", 1) },
			wantCode: 1, want: []string{`fail: malformed header: webhook: X-Webhook-Signature: signature 1 does not start with "sha256=": malformed signature`},
		},
		{
			name: "as curl -D writes it", sign: []string{"--secret", secret}, verify: []string{"--secret", secret},
			headers: func(h string) string {
				return "POST /webhooks/ HTTP/1.1\r\nHost: example.com\r\n" + strings.ReplaceAll(h, "\n", "\r\n") + "\r\n"
			},
			want: []string{"ok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed := hookrail(t, body, append([]string{"sign"}, tt.sign...)...)
			require.Equal(t, 0, signed.code, signed.stderr)
			require.Empty(t, signed.stderr)
			headers := signed.stdout
			if tt.headers != nil {
				headers = tt.headers(headers)
			}
			verifyBody := body
			if tt.verifyBody != "" {
				verifyBody = tt.verifyBody
			}
			args := append([]string{"verify", "--headers", writeFile(t, "headers.txt", headers), "--body", "-"}, tt.verify...)
			r := hookrail(t, verifyBody, args...)
			assert.Equal(t, tt.wantCode, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			require.Len(t, lines, len(tt.want), r.stdout)
			for i, want := range tt.want {
				assert.True(t, strings.HasPrefix(lines[i], want), "line %d: %q does not start with %q", i+1, lines[i], want)
			}
			assert.Empty(t, r.stderr)
		})
	}
}

// sign's headers are those the library's Verifier accepts, and name the
// event by the body's id.
func TestSignMatchesLibrary(t *testing.T) {
	const body = `{"id":"evt_7","event":"deleted"}`
	tests := []struct {
		scheme webhook.SignatureScheme
		secret string
		idName string
	}{
		{webhook.SchemeHMAC, "s3cret-key-0123456789", webhook.HeaderEventID},
		{webhook.SchemeStandard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", webhook.HeaderStandardID},
	}
	for _, tt := range tests {
		t.Run(string(tt.scheme), func(t *testing.T) {
			r := hookrail(t, body, "sign", "--scheme", string(tt.scheme), "--secret", tt.secret, "--timestamp", "1768566600")
			require.Equal(t, 0, r.code, r.stderr)
			h, err := parseHeaders([]byte(r.stdout))
			require.NoError(t, err)
			assert.Equal(t, "evt_7", h.Get(tt.idName))
			assert.Equal(t, "application/json", h.Get("Content-Type"))
			v := webhook.Verifier{Scheme: tt.scheme, Secrets: []string{tt.secret},
				Now: func() time.Time { return time.Unix(1768566600, 0) }}
			require.NoError(t, v.Verify(h, []byte(body)))
		})
	}
}

// A request the library really sent, captured, verifies; altered, it
// does not.
func TestVerifyCapturedDelivery(t *testing.T) {
	const secret = "s3cret-key-0123456789"
	rec := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret})
	e := newEmitter(t, webhook.Config{Sync: true}, webhook.Endpoint{Name: "capture", URL: rec.URL, Secret: secret})
	ev := webhook.Create(map[string]any{"id": "1"})
	ev.Model = "store.Order"
	require.NoError(t, e.Emit(context.Background(), ev))
	got := rec.Wait(1)[0]
	var headers bytes.Buffer
	require.NoError(t, got.Header.Write(&headers))
	headersFile := writeFile(t, "captured.txt", headers.String())

	r := hookrail(t, string(got.Body), "verify", "--secret", secret, "--headers", headersFile, "--body", "-")
	assert.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Equal(t, "ok\n", r.stdout)

	r = hookrail(t, string(got.Body)+" ", "verify", "--secret", secret, "--headers", headersFile, "--body", "-")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "fail: bad signature: webhook: X-Webhook-Signature: no signature matches: invalid signature\n", r.stdout)
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    http.Header
		wantErr string
	}{
		{"empty", "", http.Header{}, ""},
		{"plain", "a: 1\nB-C:2\n", http.Header{"A": {"1"}, "B-C": {"2"}}, ""},
		{"crlf, request line, blank lines", "POST /x HTTP/1.1\r\nx-webhook-timestamp: 5\r\n\r\n", http.Header{"X-Webhook-Timestamp": {"5"}}, ""},
		{"status line", "HTTP/2 200\nA: 1\n", http.Header{"A": {"1"}}, ""},
		{"repeated", "A: 1\nA: 2\n", http.Header{"A": {"1", "2"}}, ""},
		{"folded", "A: 1\n  2\n", http.Header{"A": {"1 2"}}, ""},
		{"value with colons", "A: b: c\n", http.Header{"A": {"b: c"}}, ""},
		{"not a header", "A 1\n", nil, `line 1: not a "Name: value" header: "A 1"`},
		{"not a name", "{\"id\": 1}\n", nil, `line 1: not a "Name: value" header: "{\"id\": 1}"`},
		{"continuation first", " 1\n", nil, "line 1: a continuation line with no header before it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseHeaders([]byte(tt.in))
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, h)
		})
	}
}

// newEmitter returns an Emitter with one endpoint, closed when the test
// ends.
func newEmitter(t *testing.T, cfg webhook.Config, ep webhook.Endpoint) *webhook.Emitter {
	t.Helper()
	cfg.Endpoints = []webhook.Endpoint{ep}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Timeout = 5 * time.Second
	if ep.Retry == nil {
		ep.Retry = &webhook.RetryConfig{MaxRetries: 0}
		cfg.Endpoints[0] = ep
	}
	e, err := webhook.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// output collects a running command's output.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output matches re, and returns the match.
func (o *output) waitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(10 * time.Second)
	for {
		o.mu.Lock()
		m, changed := rx.FindStringSubmatch(o.buf.String()), o.changed
		o.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waited 10s for output matching %q; got:\n%s", re, o.String())
		}
	}
}

// listenCmd is a running hookrail listen.
type listenCmd struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	url  string        // "http://127.0.0.1:PORT/"
	out  *output
}

// startListen runs hookrail listen on a free port; it is killed at the
// end of the test if still running.
func startListen(t *testing.T, args ...string) *listenCmd {
	t.Helper()
	l := &listenCmd{out: &output{changed: make(chan struct{})}, done: make(chan struct{})}
	l.cmd = exec.Command(binary, append([]string{"listen", "--addr", "127.0.0.1:0"}, args...)...)
	l.cmd.Stdout, l.cmd.Stderr = l.out, l.out
	require.NoError(t, l.cmd.Start())
	go func() { _ = l.cmd.Wait(); close(l.done) }()
	t.Cleanup(func() {
		select {
		case <-l.done:
		default:
			_ = l.cmd.Process.Kill()
			<-l.done
		}
	})
	l.url = l.out.waitFor(t, `^hookrail: listening on (http://127\.0\.0\.1:\d+/) \(`)[1]
	return l
}

// stop sends sig and returns the exit code.
func (l *listenCmd) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	require.NoError(t, l.cmd.Process.Signal(sig))
	select {
	case <-l.done:
		return l.cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatal("hookrail listen did not stop within 10s of SIGINT")
		return -1
	}
}

func TestListen(t *testing.T) {
	const (
		secret = "s3cret-key-0123456789"
		whsec  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		other  = "whsec_c2VjcmV0LWZvci1hbm90aGVyLWVuZHBvaW50"
	)
	tests := []struct {
		name       string
		args       []string
		banner     string
		endpoint   webhook.Endpoint
		wantStatus int // what the emitter got
		want       []string
	}{
		{
			name: "hmac verified", args: []string{"--secret", secret},
			banner:     "verifying hmac-sha256 signatures with 1 secret; answering 200",
			endpoint:   webhook.Endpoint{Secret: secret},
			wantStatus: 200,
			want: []string{
				`signature  ok \(hmac-sha256\)`,
				`X-Webhook-Timestamp: \d+  \(\d{4}-\d\d-\d\dT[\d:]+Z, \d+s ago\)`,
				`X-Webhook-Signature: sha256=[0-9a-f]{64}\n`,
				`User-Agent: hookrail-webhook/1`,
				`X-Api-Key: \[hidden\]`,
				`body \(\d+ bytes\)\n  \{\n    "id": "evt_`,
				`"total": 299.99`,
				`answered   200 OK`,
			},
		},
		{
			name: "hmac wrong secret", args: []string{"--secret", secret},
			endpoint:   webhook.Endpoint{Secret: "not-the-secret-000"},
			wantStatus: 401,
			want: []string{
				`signature  FAILED: bad signature: webhook: X-Webhook-Signature: no signature matches: invalid signature`,
				`answered   401 Unauthorized`,
			},
		},
		{
			name: "standard with rotation", args: []string{"--scheme", "standard", "--secret", other, "--secret", whsec, "--status", "202"},
			banner:     "verifying standard-webhooks signatures with 2 secrets; answering 202",
			endpoint:   webhook.Endpoint{Secret: whsec, Scheme: webhook.SchemeStandard},
			wantStatus: 202,
			want: []string{
				`signature  ok \(standard-webhooks\)`,
				`Webhook-Id: evt_`,
				`Webhook-Signature: v1,`,
				`answered   202 Accepted`,
			},
		},
		{
			name: "standard request, hmac listener", args: []string{"--secret", secret},
			endpoint:   webhook.Endpoint{Secret: whsec, Scheme: webhook.SchemeStandard},
			wantStatus: 401,
			want: []string{
				`signature  FAILED: missing header: webhook: X-Webhook-Signature: header is absent or empty: missing signature\n` +
					`           hint: the request carries webhook-signature \(Standard Webhooks\): try --scheme standard`,
			},
		},
		{
			name: "unverified", args: []string{"--status", "503"},
			banner:     "not verifying signatures (no --secret); answering 503",
			endpoint:   webhook.Endpoint{Secret: secret},
			wantStatus: 503,
			want:       []string{`signature  unverified \(no --secret\)`, `answered   503 Service Unavailable`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startListen(t, tt.args...)
			url, out := l.url, l.out
			if tt.banner != "" {
				assert.Contains(t, out.String(), tt.banner)
			}
			ep := tt.endpoint
			ep.Name, ep.URL = "listen", url+"webhooks/"
			ep.Headers = map[string]string{"X-API-Key": "key-123"}
			e := newEmitter(t, webhook.Config{Sync: true}, ep)
			ev := webhook.Create(map[string]any{"id": "42", "total": 299.99})
			ev.Model, ev.ID = "store.Order", "evt_listen_1"
			err := e.Emit(context.Background(), ev)
			if tt.wantStatus/100 == 2 {
				require.NoError(t, err)
			} else {
				var de *webhook.DeliveryError
				require.ErrorAs(t, err, &de)
				assert.Equal(t, tt.wantStatus, de.StatusCode)
			}
			out.waitFor(t, `answered   \d+`)
			got := out.String()
			assert.Regexp(t, `━━ #1  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  POST /webhooks/  from 127\.0\.0\.1:\d+\n`+
				`event      created store\.Order  evt_listen_1\n`, got)
			for _, want := range tt.want {
				assert.Regexp(t, want, got)
			}
			assert.NotContains(t, got, "key-123")

			assert.Equal(t, 0, l.stop(t, syscall.SIGINT))
			assert.Regexp(t, `hookrail: stopped after 1 request`, out.String())
		})
	}
}

func TestListenStopsOnSIGTERM(t *testing.T) {
	l := startListen(t, "--secret", "s3cret-key-0123456789")
	assert.Equal(t, 0, l.stop(t, syscall.SIGTERM))
	assert.Contains(t, l.out.String(), "hookrail: stopped after 0 requests (0 verified, 0 failed)\n")
}

func TestListenBusyAddress(t *testing.T) {
	l := startListen(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(l.url, "http://"), "/")
	r := hookrail(t, "", "listen", "--addr", addr)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "hookrail listen: listen tcp "+addr)
}

func TestSend(t *testing.T) {
	const secret = "s3cret-key-0123456789"
	good := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret})
	failing := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Status: http.StatusInternalServerError})
	flaky := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Respond: webhooktest.FailFirst(1, http.StatusServiceUnavailable)})

	endpoint := func(name, url string, extra string) string {
		return fmt.Sprintf("  - name: %s\n    url: %s\n    secret: ${HOOK_SECRET}\n    retry_config: {max_retries: 2, retry_delay: 0.01, no_jitter: true}\n%s", name, url, extra)
	}
	okConfig := writeFile(t, "ok.yaml", "endpoints:\n"+
		endpoint("good", good.URL, "")+
		endpoint("flaky", flaky.URL, "")+
		endpoint("deletes", good.URL, "    events: [deleted]\n"))
	failConfig := writeFile(t, "fail.yaml", "endpoints:\n"+
		endpoint("good", good.URL, "")+
		endpoint("failing", failing.URL, ""))
	before := writeFile(t, "before.json", `{"id": "42", "status": "pending", "total": 299.99}`)
	after := writeFile(t, "after.json", `{"id": "42", "status": "shipped", "total": 299.99}`)

	t.Run("delivered", func(t *testing.T) {
		cmd := exec.Command(binary, "send", "--config", okConfig, "--model", "store.Order", "--event", "updated",
			"--object", after, "--old", before, "--id", "evt_send_1", "--actor", "1:admin")
		cmd.Env = append(os.Environ(), "HOOK_SECRET="+secret)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), stderr.String())
		assert.Equal(t, "event evt_send_1: updated store.Order\n"+
			"good     delivered  200 OK after 1 attempt\n"+
			"flaky    delivered  200 OK after 2 attempts\n"+
			"deletes  skipped    events does not list updated\n", stdout.String())
		assert.Empty(t, stderr.String())

		events := good.Events()
		require.Len(t, events, 1)
		p := events[0]
		assert.Equal(t, "evt_send_1", p.ID)
		assert.Equal(t, webhook.Updated, p.Event)
		assert.Equal(t, map[string]webhook.Change{"status": {Old: "pending", New: "shipped"}}, p.Changes)
		assert.Equal(t, "299.99", fmt.Sprint(p.Object["total"]), "numbers keep their text")
		assert.Equal(t, &webhook.Actor{ID: "1", Username: "admin"}, p.User)
		assert.Len(t, flaky.Attempts("evt_send_1"), 2)
	})

	t.Run("failed", func(t *testing.T) {
		cmd := exec.Command(binary, "send", "--config", failConfig, "--model", "store.Order", "--event", "created",
			"--object", before, "--id", "evt_send_2")
		cmd.Env = append(os.Environ(), "HOOK_SECRET="+secret)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		require.Error(t, err)
		assert.Equal(t, 1, cmd.ProcessState.ExitCode())
		assert.Equal(t, "event evt_send_2: created store.Order\n"+
			"good     delivered  200 OK after 1 attempt\n"+
			`failing  failed     webhook: endpoint "failing": event evt_send_2: attempt 3: status 500 Internal Server Error`+"\n",
			stdout.String())
		assert.Empty(t, stderr.String())
		assert.Len(t, failing.Attempts("evt_send_2"), 3)
	})

	t.Run("unset variable", func(t *testing.T) {
		cmd := exec.Command(binary, "send", "--config", okConfig, "--model", "store.Order", "--event", "created", "--object", before)
		cmd.Env = append(os.Environ(), "HOOK_SECRET=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.Error(t, cmd.Run())
		assert.Equal(t, 2, cmd.ProcessState.ExitCode())
		assert.Contains(t, stderr.String(), okConfig+":4: endpoints[0].secret:")
		assert.Empty(t, stdout.String())
	})
}
