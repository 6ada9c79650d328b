package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookrail/webhook"
)

const signHelp = `
Prints the headers a sender signing the body with the secrets would send,
one "Name: value" line each, the format "hookrail verify --headers" reads.
Several --secret flags give several signatures, space-separated, as a
sender rotating its secret sends them (the first is the current one).

With --scheme hmac the secret is any string; with --scheme standard it is
a "whsec_<base64>" secret (v1 signatures) or a "whsk_<base64>" ed25519
signing key (v1a). The event id is --id, else the body's "id" member;
the standard scheme signs it, and needs one.`

func runSign(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sign", signHelp)
	var secrets secretsFlag
	var scheme schemeFlag
	addSchemeFlags(fs, &secrets, &scheme, "`secret` or signing key to sign with (required; repeat for a rotation)")
	timestamp := fs.String("timestamp", "", "`time` of signing: unix seconds or RFC 3339 (default now)")
	id := fs.String("id", "", "event `id` (default: the body's \"id\")")
	bodyPath := fs.String("body", "-", "`file` holding the body, \"-\" for standard input")
	if code, ok := parse(e, fs, args); !ok {
		return code
	}
	if len(secrets) == 0 {
		return usageError(e, fs, "--secret is required")
	}
	at := time.Now()
	if *timestamp != "" {
		t, err := parseTime(*timestamp)
		if err != nil {
			return usageError(e, fs, "--timestamp: %v", err)
		}
		at = t
	}
	body, err := readInput(e, "--body", *bodyPath)
	if err != nil {
		return inputError(e, fs, err)
	}
	if *id == "" {
		*id = bodyID(body)
	}
	h, err := sign(scheme.scheme, secrets, *id, at.Unix(), body)
	if err != nil {
		return usageError(e, fs, "%v", err)
	}
	names := []string{"Content-Type", webhook.HeaderEventID, webhook.HeaderTimestamp, webhook.HeaderSignature}
	if scheme.scheme == webhook.SchemeStandard {
		names = []string{"Content-Type", webhook.HeaderStandardID, webhook.HeaderStandardTimestamp, webhook.HeaderStandardSignature}
	}
	for _, name := range names {
		if v := h.Get(name); v != "" {
			fmt.Fprintf(e.stdout, "%s: %s\n", name, v)
		}
	}
	return exitOK
}

// bodyID returns the "id" member of a JSON object body, "" when there is
// none.
func bodyID(body []byte) string {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.ID) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(v.ID, &s) == nil {
		return s
	}
	return string(v.ID) // a number
}

// sign returns the headers of a request signed with the scheme, as the
// library signs them, and its Content-Type.
func sign(scheme webhook.SignatureScheme, secrets []string, id string, unix int64, body []byte) (http.Header, error) {
	if scheme == webhook.SchemeStandard && id == "" {
		return nil, errors.New(`--scheme standard signs the event id: give --id, or a body with an "id"`)
	}
	h, err := webhook.Sign(scheme, secrets, id, time.Unix(unix, 0), body)
	if err != nil {
		return nil, err
	}
	h.Set("Content-Type", "application/json")
	return h, nil
}

const verifyHelp = `
Checks a captured request with webhook.Verifier, as a receiver would: the
headers file holds "Name: value" lines (as curl -D writes them; a request
or status line and blank lines are skipped, folded lines are joined), the
body file the raw body, byte for byte. Several --secret flags accept any
of them, as during a rotation; with --scheme standard they are "whsec_"
secrets or "whpk_" public keys.

Prints "ok", or "fail: " and why: bad signature, timestamp outside
tolerance, missing header, malformed header or signature header too
large, followed by the library's error, which names the header. Use --now
to check an old capture at the time it was made.`

func runVerify(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "verify", verifyHelp)
	var secrets secretsFlag
	var scheme schemeFlag
	addSchemeFlags(fs, &secrets, &scheme, "`secret` (or whpk_ public key) to verify with (required; repeat to accept several)")
	headersPath := fs.String("headers", "", "`file` of \"Name: value\" header lines, \"-\" for standard input (required)")
	bodyPath := fs.String("body", "", "`file` holding the raw body, \"-\" for standard input (required)")
	tolerance := fs.Duration("tolerance", webhook.DefaultTolerance, "how far the timestamp may be from now, a `duration` of at most 24h")
	now := fs.String("now", "", "check as if it were this `time`: unix seconds or RFC 3339 (default now)")
	if code, ok := parse(e, fs, args); !ok {
		return code
	}
	switch {
	case len(secrets) == 0:
		return usageError(e, fs, "--secret is required")
	case *headersPath == "":
		return usageError(e, fs, "--headers is required")
	case *bodyPath == "":
		return usageError(e, fs, "--body is required")
	case *headersPath == "-" && *bodyPath == "-":
		return usageError(e, fs, "--headers and --body cannot both be standard input")
	case *tolerance <= 0:
		return usageError(e, fs, "--tolerance must be positive")
	}
	v := webhook.Verifier{Secrets: secrets, Scheme: scheme.scheme, Tolerance: *tolerance}
	if *now != "" {
		t, err := parseTime(*now)
		if err != nil {
			return usageError(e, fs, "--now: %v", err)
		}
		v.Now = func() time.Time { return t }
	}
	if err := checkVerifier(&v); err != nil {
		return usageError(e, fs, "--secret: %v", err)
	}
	raw, err := readInput(e, "--headers", *headersPath)
	if err != nil {
		return inputError(e, fs, err)
	}
	header, err := parseHeaders(raw)
	if err != nil {
		return inputError(e, fs, fmt.Errorf("--headers %s: %w", *headersPath, err))
	}
	body, err := readInput(e, "--body", *bodyPath)
	if err != nil {
		return inputError(e, fs, err)
	}
	if err := v.Verify(header, body); err != nil {
		fmt.Fprintf(e.stdout, "fail: %s: %v\n", failureKind(err), err)
		if hint := schemeHint(err, scheme.scheme, header); hint != "" {
			fmt.Fprintf(e.stdout, "hint: %s\n", hint)
		}
		return exitFail
	}
	fmt.Fprintln(e.stdout, "ok")
	return exitOK
}

// parseHeaders reads "Name: value" lines, as curl -D writes them: a
// request line ("POST /path HTTP/1.1") or status line ("HTTP/1.1 200
// OK") and blank lines are skipped, a line starting with a space or a tab
// continues the previous value, and a repeated name adds a value.
func parseHeaders(raw []byte) (http.Header, error) {
	h := http.Header{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("line %d: a continuation line with no header before it", n)
			}
			vals := h[last]
			vals[len(vals)-1] += " " + strings.TrimSpace(line)
			continue
		case isStartLine(line):
			last = ""
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil, fmt.Errorf("line %d: not a \"Name: value\" header: %q", n, truncate(line, 60))
		}
		last = http.CanonicalHeaderKey(name)
		h.Add(last, strings.TrimSpace(value))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return h, nil
}

// isToken reports whether s is an HTTP token, as header names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// isStartLine reports whether line is an HTTP request or status line.
func isStartLine(line string) bool {
	if strings.HasPrefix(line, "HTTP/") {
		return true
	}
	f := strings.Fields(line)
	return len(f) == 3 && strings.HasPrefix(f[2], "HTTP/") && !strings.Contains(f[0], ":")
}

// truncate shortens s to n runes.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
