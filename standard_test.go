package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// Tests of the Standard Webhooks scheme (SchemeStandard): interop with the
// npm libraries `standardwebhooks` and `svix` (testdata/interop/standard),
// ed25519 keys, Verifier rejections and fixed signing vectors computed
// outside Go.

// stdSecret and stdWrongSecret are "whsec_" secrets of 32 bytes.
var (
	stdKey         = []byte("hookrail standard webhooks key 1")
	stdKey2        = []byte("hookrail standard webhooks key 2")
	stdSecret      = "whsec_" + base64.StdEncoding.EncodeToString(stdKey)
	stdSecret2     = "whsec_" + base64.StdEncoding.EncodeToString(stdKey2)
	stdWrongSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("somebody else's key, 32 bytes.."))
)

// stdEvents are a created, an updated and a deleted event whose bodies hold
// non-ASCII text, quotes and backslashes: what JSON escaping and UTF-8
// handling must get through byte for byte.
func stdEvents() []webhook.Event {
	order := map[string]any{
		"id":        "42",
		"reference": "ORD-2026-0042",
		"status":    "pending",
		"customer":  map[string]any{"name": "Zoë Dupré-Éluard", "city": "東京"},
		"note":      "日本語のメモ, café crème 🎉",
		"quote":     `she said "ship it" \o/`,
		"path":      `C:\Users\zoë\orders`,
		"items":     []any{"🍮 flan", `"quoted" item`, `back\slash`, "tab\there"},
	}
	shipped := map[string]any{}
	for k, v := range order {
		shipped[k] = v
	}
	shipped["status"] = "shipped"
	shipped["note"] = "expédié 📦 — 発送済み"
	events := []webhook.Event{webhook.Create(order), webhook.Update(order, shipped), webhook.Delete(shipped)}
	for i := range events {
		events[i].Model = "store.Order"
	}
	return events
}

// stdEmitAll sends events through a fresh asynchronous Emitter with the
// real clock (the npm libraries compare timestamps with Date.now()) and
// closes it, so every delivery has been made when it returns.
func stdEmitAll(t *testing.T, ctx context.Context, endpoints []webhook.Endpoint, events []webhook.Event) {
	t.Helper()
	em := newEmitter(t, webhook.Config{Endpoints: endpoints})
	for _, ev := range events {
		if err := em.Emit(ctx, ev); err != nil {
			t.Fatalf("Emit %s: %v", ev.Type, err)
		}
	}
	if err := em.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

var (
	stdV1Pattern  = regexp.MustCompile(`^v1,[A-Za-z0-9+/]{43}=$`)   // 32-byte HMAC
	stdV1aPattern = regexp.MustCompile(`^v1a,[A-Za-z0-9+/]{86}==$`) // 64-byte ed25519
)

// stdCheckRequests checks what the Go side can see for itself: one request
// per event, the Standard Webhooks headers, an id that is the envelope's and
// distinct, a signature of the expected form, and the strings that need
// escaping intact in the body.
func stdCheckRequests(t *testing.T, name string, reqs []hookRequest, n int, sigPattern *regexp.Regexp) {
	t.Helper()
	if len(reqs) != n {
		t.Fatalf("%s: receiver got %d requests, want %d", name, len(reqs), n)
	}
	seen := map[string]bool{}
	nonASCII := false
	for i, r := range reqs {
		id := r.Header.Get(webhook.HeaderStandardID)
		if !strings.HasPrefix(id, "evt_") || seen[id] {
			t.Errorf("%s request %d: webhook-id %q: want a distinct evt_ id", name, i, id)
		}
		seen[id] = true
		ts, err := strconv.ParseInt(r.Header.Get(webhook.HeaderStandardTimestamp), 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
			t.Errorf("%s request %d: webhook-timestamp %q: want unix seconds close to now", name, i, r.Header.Get(webhook.HeaderStandardTimestamp))
		}
		if sig := r.Header.Values(webhook.HeaderStandardSignature); len(sig) != 1 || !sigPattern.MatchString(sig[0]) {
			t.Errorf("%s request %d: webhook-signature %q: want one value matching %s", name, i, sig, sigPattern)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s request %d: Content-Type %q", name, i, ct)
		}
		var env struct {
			ID     string         `json:"id"`
			Object map[string]any `json:"object"`
		}
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Errorf("%s request %d: body is not JSON: %v\n%s", name, i, err, r.Body)
			continue
		}
		if env.ID != id {
			t.Errorf("%s request %d: envelope id %q, webhook-id %q", name, i, env.ID, id)
		}
		for _, k := range []string{"quote", "path"} {
			if s, _ := env.Object[k].(string); !strings.Contains(s, `\`) || (k == "quote" && !strings.Contains(s, `"`)) {
				t.Errorf("%s request %d: object.%s = %q: quotes or backslashes lost", name, i, k, s)
			}
		}
		nonASCII = nonASCII || bytes.ContainsFunc(r.Body, func(c rune) bool { return c > 0x7f })
	}
	if !nonASCII {
		t.Errorf("%s: no body holds raw non-ASCII bytes: UTF-8 handling is not exercised", name)
	}
}

// TestStandardInteropNPM sends created, updated and deleted events through
// an Emitter with SchemeStandard, one endpoint with a "whsec_" secret and
// one with a "whsk_" ed25519 key, to a local receiver, then has
// testdata/interop/standard/verify.mjs check every captured request with
// the npm packages standardwebhooks and svix (v1) and node:crypto (v1a),
// including their rejection of a changed body, a changed timestamp and a
// wrong secret or key. A negative control proves the script can fail.
func TestStandardInteropNPM(t *testing.T) {
	t.Parallel()
	node := requireTool(t, "node", "the Standard Webhooks interop test (CI has it)")
	modules := stdNodeModules(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	signingKey, publicKey := newSigningKey(t)
	_, wrongPublicKey := newSigningKey(t)

	rc := newHookReceiver(t, nil)
	events := stdEvents()
	stdEmitAll(t, ctx, []webhook.Endpoint{
		{Name: "hmac", URL: rc.URL + "/v1", Secret: stdSecret, Scheme: webhook.SchemeStandard},
		{Name: "ed25519", URL: rc.URL + "/v1a", Secret: signingKey, Scheme: webhook.SchemeStandard},
	}, events)

	v1 := rc.take("/v1")
	v1a := rc.take("/v1a")
	stdCheckRequests(t, "v1", v1, len(events), stdV1Pattern)
	stdCheckRequests(t, "v1a", v1a, len(events), stdV1aPattern)
	if t.Failed() {
		t.FailNow()
	}

	// Our own Verifier agrees, and tells the keys apart.
	for _, c := range []struct {
		name    string
		reqs    []hookRequest
		secrets []string
		want    error
	}{
		{"v1 with the secret", v1, []string{stdSecret}, nil},
		{"v1 with a wrong secret", v1, []string{stdWrongSecret}, webhook.ErrInvalidSignature},
		{"v1 with the public key only", v1, []string{publicKey}, webhook.ErrInvalidSignature},
		{"v1a with the public key", v1a, []string{publicKey}, nil},
		{"v1a with another public key", v1a, []string{wrongPublicKey}, webhook.ErrInvalidSignature},
		{"v1a with a whsec secret", v1a, []string{stdSecret}, webhook.ErrInvalidSignature},
		{"v1a with wrong and right public key", v1a, []string{wrongPublicKey, publicKey}, nil},
	} {
		v := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: c.secrets}
		for i, r := range c.reqs {
			if err := v.Verify(r.Header, r.Body); !errors.Is(err, c.want) {
				t.Errorf("%s: request %d: Verify = %v, want %v", c.name, i, err, c.want)
			}
		}
	}

	var all []hookRequest
	var kinds []string
	for i := range v1 {
		all = append(all, v1[i], v1a[i])
		kinds = append(kinds, "v1", "v1a")
	}
	cfg := stdScriptConfig{Secret: stdSecret, WrongSecret: stdWrongSecret, PublicKey: publicKey, WrongPublicKey: wrongPublicKey}
	dir := stdWriteDir(t, cfg, all, kinds)

	out, err := runScript(ctx, node, filepath.Join(modules, "verify.mjs"), dir)
	t.Logf("node verify.mjs:\n%s", bytes.TrimSpace(out))
	if err != nil {
		t.Fatalf("node verify.mjs: %v (see the log above)", err)
	}
	// Every library ran on every request: 2 libraries × 2 header spellings
	// per v1 request, node:crypto per v1a request.
	if n, want := bytes.Count(out, []byte(": as sent")), len(v1)*4+len(v1a); n != want {
		t.Errorf("node verify.mjs: %d \"as sent\" checks passed, want %d", n, want)
	}
	for _, lib := range []string{"standardwebhooks@", "svix@", "ed25519 (node:crypto)"} {
		if !bytes.Contains(out, []byte(lib)) {
			t.Errorf("node verify.mjs: output does not mention %s", lib)
		}
	}

	// Negative controls: the script must fail on a request whose body was
	// changed after signing, and when given the wrong secret and key.
	bad := slices.Clone(all)
	victim := slices.IndexFunc(bad, func(r hookRequest) bool {
		return r.Path == "/v1" && bytes.Contains(r.Body, []byte("shipped"))
	})
	if victim < 0 {
		t.Fatal("negative control: no v1 body contains \"shipped\"")
	}
	bad[victim].Body = bytes.Replace(bad[victim].Body, []byte("shipped"), []byte("shipper"), 1)
	badOut, err := runScript(ctx, node, filepath.Join(modules, "verify.mjs"), stdWriteDir(t, cfg, bad, kinds))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("node verify.mjs on a tampered body: err = %v, want exit status 1\n%s", err, badOut)
	}
	for _, lib := range []string{"standardwebhooks@", "svix@"} {
		if want := fmt.Sprintf("FAIL req-%03d: as sent: %s", victim, lib); !bytes.Contains(badOut, []byte(want)) {
			t.Errorf("node verify.mjs on a tampered body: no line %q:\n%s", want, badOut)
		}
	}
	if n := bytes.Count(badOut, []byte("FAIL")); n != 4 {
		t.Errorf("node verify.mjs on one tampered body: %d failed checks, want 4 (as sent, in two header spellings, per library)\n%s", n, badOut)
	}
	wrong := cfg
	wrong.Secret, wrong.PublicKey = stdWrongSecret, wrongPublicKey
	badOut, err = runScript(ctx, node, filepath.Join(modules, "verify.mjs"), stdWriteDir(t, wrong, all, kinds))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("node verify.mjs with a wrong secret: err = %v, want exit status 1\n%s", err, badOut)
	}
	if n := bytes.Count(badOut, []byte(": as sent")); n != bytes.Count(badOut, []byte("FAIL")) || n != len(v1)*4+len(v1a) {
		t.Errorf("node verify.mjs with a wrong secret and key: want every \"as sent\" check to fail:\n%s", badOut)
	}
}

// stdScriptConfig is verify.mjs's config.json.
type stdScriptConfig struct {
	Secret         string `json:"secret"`
	WrongSecret    string `json:"wrong_secret"`
	PublicKey      string `json:"public_key"`
	WrongPublicKey string `json:"wrong_public_key"`
	Requests       []struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	} `json:"requests"`
}

// stdWriteDir writes the layout verify.mjs reads: config.json, and per
// request req-NNN.json (headers as received) and req-NNN.body (exact bytes).
func stdWriteDir(t *testing.T, cfg stdScriptConfig, reqs []hookRequest, kinds []string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, v any) {
		data, ok := v.([]byte)
		if !ok {
			var err error
			if data, err = json.MarshalIndent(v, "", "  "); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Requests = nil
	for i, r := range reqs {
		name := fmt.Sprintf("req-%03d", i)
		cfg.Requests = append(cfg.Requests, struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		}{name, kinds[i]})
		headers := map[string]string{}
		for k, v := range r.Header {
			headers[k] = strings.Join(v, ", ")
		}
		write(name+".json", map[string]any{"headers": headers})
		write(name+".body", r.Body)
	}
	write("config.json", cfg)
	return dir
}

// stdInterop is testdata/interop/standard: package.json and
// package-lock.json pin the npm packages; node_modules is not committed.
var stdInterop = filepath.Join("testdata", "interop", "standard")

// stdNPM installs the npm packages once per test binary.
var stdNPM struct {
	once sync.Once
	err  error
}

// stdNodeModules makes sure testdata/interop/standard/node_modules holds
// the pinned packages, running `npm ci` when it is missing or stale, and
// returns the folder. Without node or npm, or when the install fails, the
// test fails: it is never skipped.
func stdNodeModules(t *testing.T) string {
	t.Helper()
	stdNPM.once.Do(func() { stdNPM.err = stdInstall() })
	if stdNPM.err != nil {
		t.Fatal(stdNPM.err)
	}
	return stdInterop
}

func stdInstall() error {
	if stdInstalled() == nil {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is required to install the packages in %s (CI has it): %v", stdInterop, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = stdInterop
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err != nil {
		return fmt.Errorf("npm ci --no-audit --no-fund in %s: %v\n%s", stdInterop, err, out)
	}
	if err := stdInstalled(); err != nil {
		return fmt.Errorf("after npm ci in %s: %v\n%s", stdInterop, err, out)
	}
	return nil
}

// stdInstalled reports whether node_modules holds exactly the versions
// package.json pins.
func stdInstalled() error {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	data, err := os.ReadFile(filepath.Join(stdInterop, "package.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return fmt.Errorf("package.json: %v", err)
	}
	if len(pkg.Dependencies) == 0 {
		return errors.New("package.json: no dependencies")
	}
	for name, want := range pkg.Dependencies {
		var got struct{ Version string }
		data, err := os.ReadFile(filepath.Join(stdInterop, "node_modules", name, "package.json"))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &got); err != nil || got.Version != want {
			return fmt.Errorf("node_modules/%s: version %q, package.json pins %q", name, got.Version, want)
		}
	}
	return nil
}

// stdClock is a fixed clock; 1768564800 is 2026-01-16T12:00:00Z.
const stdNow = 1768564800

func stdFixedNow() time.Time { return time.Unix(stdNow, 0) }

// TestStandardVerifierRejections checks every way Verifier.Verify with
// SchemeStandard accepts or rejects a request, against the exact sentinel.
func TestStandardVerifierRejections(t *testing.T) {
	t.Parallel()
	const id = "evt_2LmZ8kQ3vR7nT5wX9yB1cD4fG6h"
	ts := strconv.Itoa(stdNow)
	body := []byte(`{"id":"evt_2LmZ8kQ3vR7nT5wX9yB1cD4fG6h","event":"created","object":{"name":"Zoë \"Z\"","path":"C:\\x"}}`)
	valid := standardSignature(stdKey, id, ts, body)
	tsAt := func(d time.Duration) string { return strconv.FormatInt(stdNow+int64(d/time.Second), 10) }

	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	full := func(sig string) http.Header {
		return header(webhook.HeaderStandardID, id, webhook.HeaderStandardTimestamp, ts, webhook.HeaderStandardSignature, sig)
	}
	withTS := func(t string) http.Header {
		return header(webhook.HeaderStandardID, id, webhook.HeaderStandardTimestamp, t,
			webhook.HeaderStandardSignature, standardSignature(stdKey, id, t, body))
	}
	other := standardSignature(stdKey2, id, ts, body)
	notB64 := "v1,@@not*base64@@"

	cases := []struct {
		name    string
		header  http.Header
		body    []byte // nil: body
		secrets []string
		want    error // nil: accepted
	}{
		{name: "valid", header: full(valid)},
		{name: "valid, with the secret among others", header: full(valid), secrets: []string{stdWrongSecret, stdSecret}},
		{name: "valid, secret without whsec_ prefix", header: full(valid), secrets: []string{strings.TrimPrefix(stdSecret, "whsec_")}},

		{name: "missing webhook-id", header: header(webhook.HeaderStandardTimestamp, ts, webhook.HeaderStandardSignature, valid), want: webhook.ErrMissingSignature},
		{name: "empty webhook-id", header: header(webhook.HeaderStandardID, "", webhook.HeaderStandardTimestamp, ts, webhook.HeaderStandardSignature, valid), want: webhook.ErrMissingSignature},
		{name: "missing webhook-timestamp", header: header(webhook.HeaderStandardID, id, webhook.HeaderStandardSignature, valid), want: webhook.ErrMissingSignature},
		{name: "missing webhook-signature", header: header(webhook.HeaderStandardID, id, webhook.HeaderStandardTimestamp, ts), want: webhook.ErrMissingSignature},
		{name: "blank webhook-signature", header: full("   "), want: webhook.ErrMissingSignature},
		{name: "no headers", header: http.Header{}, want: webhook.ErrMissingSignature},
		{name: "seed HMAC headers only", header: header(webhook.HeaderSignature, "sha256="+strings.Repeat("0", 64), webhook.HeaderTimestamp, ts), want: webhook.ErrMissingSignature},

		{name: "timestamp not a number", header: withTS("soon"), want: webhook.ErrMalformedSignature},
		{name: "timestamp negative", header: withTS("-1768564800"), want: webhook.ErrMalformedSignature},
		{name: "timestamp with fraction", header: withTS(ts + ".5"), want: webhook.ErrMalformedSignature},
		{name: "timestamp with plus sign", header: withTS("+" + ts), want: webhook.ErrMalformedSignature},
		{name: "timestamp in milliseconds", header: withTS(ts + "000"), want: webhook.ErrTimestampOutOfRange},
		{name: "timestamp overflowing int64", header: withTS("99999999999999999999"), want: webhook.ErrMalformedSignature},
		{name: "signature without version", header: full(strings.TrimPrefix(valid, "v1,")), want: webhook.ErrMalformedSignature},
		{name: "v1 signature not base64", header: full(notB64), want: webhook.ErrMalformedSignature},
		{name: "v1 signature not base64 beside a valid one (passed over)", header: full(notB64 + " " + valid)},
		{name: "signature without version beside a valid one (passed over)", header: full(strings.TrimPrefix(other, "v1,") + " " + valid)},
		{name: "v1 signature not base64 beside a wrong one", header: full(notB64 + " " + other), want: webhook.ErrInvalidSignature},
		{name: "v1 signature in base64url", header: full(strings.NewReplacer("+", "-", "/", "_").Replace(valid)), want: stdURLSafeWant(valid)},

		{name: "unknown version only", header: full("v2," + strings.TrimPrefix(valid, "v1,")), want: webhook.ErrMalformedSignature},
		{name: "unknown versions ignored, v1 valid", header: full("v2,@@garbage@@ v1b,xyz " + valid + " v0,")},
		{name: "unknown version carrying the valid value, v1 wrong", header: full("v2," + strings.TrimPrefix(valid, "v1,") + " " + other), want: webhook.ErrInvalidSignature},

		{name: "timestamp exactly tolerance in the past", header: withTS(tsAt(-webhook.DefaultTolerance))},
		{name: "timestamp exactly tolerance in the future", header: withTS(tsAt(webhook.DefaultTolerance))},
		{name: "timestamp 1s too old", header: withTS(tsAt(-webhook.DefaultTolerance - time.Second)), want: webhook.ErrTimestampOutOfRange},
		{name: "timestamp 1s too new", header: withTS(tsAt(webhook.DefaultTolerance + time.Second)), want: webhook.ErrTimestampOutOfRange},
		{name: "timestamp a day old", header: withTS(tsAt(-24 * time.Hour)), want: webhook.ErrTimestampOutOfRange},
		{name: "timestamp zero", header: withTS("0"), want: webhook.ErrTimestampOutOfRange},
		{name: "timestamp far future", header: withTS("9223372036854775807"), want: webhook.ErrTimestampOutOfRange},
		{name: "timestamp out of range beats a bad signature", header: header(webhook.HeaderStandardID, id, webhook.HeaderStandardTimestamp, tsAt(-time.Hour), webhook.HeaderStandardSignature, other), want: webhook.ErrTimestampOutOfRange},

		{name: "wrong secret", header: full(valid), secrets: []string{stdWrongSecret}, want: webhook.ErrInvalidSignature},
		{name: "tampered body", header: full(valid), body: bytes.Replace(body, []byte(`"created"`), []byte(`"deleted"`), 1), want: webhook.ErrInvalidSignature},
		{name: "body with a trailing newline", header: full(valid), body: append(slices.Clip(body), '\n'), want: webhook.ErrInvalidSignature},
		{name: "empty body", header: full(valid), body: []byte{}, want: webhook.ErrInvalidSignature},
		{name: "tampered id", header: header(webhook.HeaderStandardID, id+"x", webhook.HeaderStandardTimestamp, ts, webhook.HeaderStandardSignature, valid), want: webhook.ErrInvalidSignature},
		{name: "signature of another timestamp", header: header(webhook.HeaderStandardID, id, webhook.HeaderStandardTimestamp, tsAt(time.Second), webhook.HeaderStandardSignature, valid), want: webhook.ErrInvalidSignature},
		{name: "truncated signature", header: full("v1," + base64.StdEncoding.EncodeToString(stdDecode(t, valid)[:31])), want: webhook.ErrInvalidSignature},
		{name: "seed-style hex signature", header: full("v1," + fmt.Sprintf("%x", stdDecode(t, valid))), want: webhook.ErrInvalidSignature},
		{name: "v1a signature with a whsec secret", header: full("v1a," + strings.TrimPrefix(valid, "v1,")), want: webhook.ErrInvalidSignature},

		{name: "signature header too large", header: full(strings.Repeat(valid+" ", webhook.MaxSignatureHeaderBytes/len(valid)+1)), want: webhook.ErrSignatureHeaderTooLarge},
		{name: "signature header too large before missing webhook-id", header: header(webhook.HeaderStandardTimestamp, ts, webhook.HeaderStandardSignature, valid+strings.Repeat(" ", webhook.MaxSignatureHeaderBytes)), want: webhook.ErrSignatureHeaderTooLarge},
		{name: "duplicates of a wrong signature, then the valid one", header: full(strings.Repeat(other+" ", 3*webhook.MaxSignatures) + valid)},
		{name: "several signatures, valid first", header: full(valid + " " + other)},
		{name: "several signatures, valid last", header: full(other + " " + standardSignature(stdWrongSecretKey(t), id, ts, body) + " " + valid)},
		{name: "several signatures, none valid", header: full(other + " " + other), want: webhook.ErrInvalidSignature},
		{name: "several header lines, one valid", header: header(webhook.HeaderStandardID, id, webhook.HeaderStandardTimestamp, ts,
			webhook.HeaderStandardSignature, other, webhook.HeaderStandardSignature, valid)},
		{name: "signatures separated by several spaces", header: full(other + "   " + valid)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			secrets := c.secrets
			if secrets == nil {
				secrets = []string{stdSecret}
			}
			b := c.body
			if b == nil {
				b = body
			}
			v := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: secrets, Now: stdFixedNow}
			err := v.Verify(c.header, b)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			stdCheckSentinel(t, err, c.want)
			for _, s := range append(secrets, valid, strings.TrimPrefix(valid, "v1,")) {
				if strings.Contains(err.Error(), strings.TrimPrefix(s, "whsec_")) {
					t.Errorf("error %q contains a secret or the expected signature", err)
				}
			}
			if !strings.HasPrefix(err.Error(), "webhook: ") {
				t.Errorf("error %q does not start with \"webhook: \"", err)
			}
		})
	}
}

// stdURLSafeWant is what a base64url signature must give: malformed when
// the URL-safe alphabet changed a character, else it is the valid one.
func stdURLSafeWant(valid string) error {
	if strings.ContainsAny(valid, "+/") {
		return webhook.ErrMalformedSignature
	}
	return nil
}

func stdWrongSecretKey(t *testing.T) []byte {
	t.Helper()
	return stdDecode(t, "v1,"+strings.TrimPrefix(stdWrongSecret, "whsec_"))
}

// stdDecode decodes the base64 after "v1,".
func stdDecode(t *testing.T, sig string) []byte {
	t.Helper()
	_, b64, _ := strings.Cut(sig, ",")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("decoding %q: %v", sig, err)
	}
	return raw
}

// stdSentinels are the errors Verify's errors wrap, exactly one at a time.
var stdSentinels = []error{webhook.ErrSignatureHeaderTooLarge, webhook.ErrMissingSignature, webhook.ErrMalformedSignature, webhook.ErrTimestampOutOfRange, webhook.ErrInvalidSignature}

func stdCheckSentinel(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("Verify = %v, want an error wrapping %q", err, want)
	}
	for _, s := range stdSentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("Verify = %v: wraps %q as well as %q", err, s, want)
		}
	}
}

// TestStandardVerifierConfigErrors: a Verifier whose secrets cannot be
// used returns an error that wraps none of the request sentinels and does
// not echo the secret.
func TestStandardVerifierConfigErrors(t *testing.T) {
	t.Parallel()
	ts := strconv.Itoa(stdNow)
	body := []byte(`{}`)
	h := standardHeader("evt_1", ts, standardSignature(stdKey, "evt_1", ts, body))
	for _, c := range []struct {
		name    string
		secrets []string
	}{
		{"no secrets", nil},
		{"empty secret", []string{""}},
		{"whsec_ only", []string{"whsec_"}},
		{"not base64", []string{"whsec_n0t~base64!"}},
		{"valid then not base64", []string{stdSecret, "whsec_n0t~base64!"}},
		{"public key not base64", []string{"whpk_n0t~base64!"}},
		{"public key of 31 bytes", []string{"whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 31))}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: c.secrets, Now: stdFixedNow}
			err := v.Verify(h, body)
			if err == nil {
				t.Fatal("Verify = nil, want a configuration error")
			}
			for _, s := range stdSentinels {
				if errors.Is(err, s) {
					t.Errorf("Verify = %v: a configuration error must not wrap %q", err, s)
				}
			}
			for _, s := range c.secrets {
				if s = strings.TrimPrefix(strings.TrimPrefix(s, "whsec_"), "whpk_"); len(s) > 4 && strings.Contains(err.Error(), s) {
					t.Errorf("error %q echoes a secret", err)
				}
			}
		})
	}
}

// The vectors below were computed outside Go, from the specification:
//
//	python3 -c 'import hmac,hashlib,base64; print("v1,"+base64.b64encode(hmac.new(KEY, f"{ID}.{TS}.".encode()+BODY, hashlib.sha256).digest()).decode())'
//
// and, for ed25519 (deterministic), with node:crypto:
//
//	crypto.sign(null, Buffer.concat([Buffer.from(`${ID}.${TS}.`), BODY]), privateKeyFromSeed(0x00..0x1f))
const (
	stdVectorID   = "evt_01KF2V9Q3X7M5N8P4R6T0W2Y4A"
	stdVectorBody = `{"name":"Zoë \"Z\" Dupré","path":"C:\\Users\\zoë","city":"東京","emoji":"🎉"}`
	// HMAC with stdKey ("hookrail standard webhooks key 1") and stdKey2.
	stdVectorSig1 = "v1,WFP8v0GibXBhJxcD2YC1yfbxyLtm8VVxUoZBUf4U0fE="
	stdVectorSig2 = "v1,oLhIZ8lJHMMEEoWX7LxGI5IDKoWykRMWRHp/eOx6h1o="
	// ed25519 with the seed 0x00, 0x01, …, 0x1f.
	stdVectorSigningKey = "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	stdVectorPublicKey  = "whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
	stdVectorSigEd      = "v1a,fCL8nwNw1HMOC1aktfEbxUclkXDgCxsFdGg3RP2snJdD13pCBFUjFUgqvyYbQZKaZEDMRODqILtuAVmNwxNwDw=="
)

// TestStandardVectors checks the headers our signer puts on the wire (an
// Emitter with a fixed clock, a fixed event id and a Transform returning
// the body as is) against signatures computed independently, and the
// example of the Standard Webhooks specification against our Verifier.
func TestStandardVectors(t *testing.T) {
	t.Parallel()
	if got := standardSignature(stdKey, stdVectorID, strconv.Itoa(stdNow), []byte(stdVectorBody)); got != stdVectorSig1 {
		t.Fatalf("test helper standardSignature = %s, python computed %s", got, stdVectorSig1)
	}
	if pub, err := webhook.PublicKey(stdVectorSigningKey); err != nil || pub != stdVectorPublicKey {
		t.Errorf("PublicKey(seed 00..1f) = %q, %v; node:crypto computed %q", pub, err, stdVectorPublicKey)
	}

	rc := newHookReceiver(t, nil)
	vectors := []struct {
		name, secret, previous, want string
		verifyWith                   []string
	}{
		{"hmac", stdSecret, "", stdVectorSig1, []string{stdSecret}},
		{"rotation", stdSecret2, stdSecret, stdVectorSig2 + " " + stdVectorSig1, []string{stdSecret}},
		{"ed25519", stdVectorSigningKey, "", stdVectorSigEd, []string{stdVectorPublicKey}},
		{"ed25519-rotation", stdVectorSigningKey, stdSecret, stdVectorSigEd + " " + stdVectorSig1, []string{stdSecret}},
	}
	var eps []webhook.Endpoint
	for _, v := range vectors {
		ep := webhook.Endpoint{
			Name: v.name, URL: rc.URL + "/" + v.name, Secret: v.secret, Scheme: webhook.SchemeStandard,
			Transform: func(webhook.Payload) (any, error) { return json.RawMessage(stdVectorBody), nil },
		}
		if v.previous != "" {
			ep.PreviousSecret, ep.PreviousSecretUntil = v.previous, stdFixedNow().Add(time.Hour)
		}
		eps = append(eps, ep)
	}
	em := newEmitter(t, webhook.Config{Endpoints: eps, Sync: true, Now: stdFixedNow})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev := webhook.Create(map[string]any{"id": "1"})
	ev.ID, ev.Model = stdVectorID, "store.Order"
	if err := em.Emit(ctx, ev); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	if err := em.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, v := range vectors {
		reqs := rc.take("/" + v.name)
		if len(reqs) != 1 {
			t.Errorf("%s: %d requests, want 1", v.name, len(reqs))
			continue
		}
		r := reqs[0]
		if string(r.Body) != stdVectorBody {
			t.Errorf("%s: body %s, want %s", v.name, r.Body, stdVectorBody)
		}
		for _, want := range [][2]string{
			{webhook.HeaderStandardID, stdVectorID},
			{webhook.HeaderStandardTimestamp, strconv.Itoa(stdNow)},
			{webhook.HeaderStandardSignature, v.want},
		} {
			if got := r.Header.Values(want[0]); len(got) != 1 || got[0] != want[1] {
				t.Errorf("%s: %s = %q, want %q", v.name, want[0], got, want[1])
			}
		}
		verifier := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: v.verifyWith, Now: stdFixedNow}
		if err := verifier.Verify(r.Header, r.Body); err != nil {
			t.Errorf("%s: Verify: %v", v.name, err)
		}
	}

	// The example of the specification (and of the reference libraries'
	// tests): secret, msg id, timestamp, payload and signature as published.
	specHeader := http.Header{}
	specHeader.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	specHeader.Set("webhook-timestamp", "1614265330")
	specHeader.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	spec := webhook.Verifier{
		Scheme:  webhook.SchemeStandard,
		Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		Now:     func() time.Time { return time.Unix(1614265330+10, 0) },
	}
	if err := spec.Verify(specHeader, []byte(`{"test": 2432232314}`)); err != nil {
		t.Errorf("specification example: Verify = %v", err)
	}
	if err := spec.Verify(specHeader, []byte(`{"test":2432232314}`)); !errors.Is(err, webhook.ErrInvalidSignature) {
		t.Errorf("specification example, body re-encoded: Verify = %v, want %v", err, webhook.ErrInvalidSignature)
	}
}

// TestStandardEd25519 signs with a key from GenerateSigningKey: our
// Verifier with its public key accepts, with another public key (or the
// signing key's HMAC reading) rejects.
func TestStandardEd25519(t *testing.T) {
	t.Parallel()
	signingKey, publicKey := newSigningKey(t)
	_, otherPublic := newSigningKey(t)
	for _, k := range [][2]string{{signingKey, "whsk_"}, {publicKey, "whpk_"}, {otherPublic, "whpk_"}} {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(k[0], k[1]))
		if !strings.HasPrefix(k[0], k[1]) || err != nil || len(raw) != 32 {
			t.Errorf("key %.8s…: want %q and the base64 of 32 bytes", k[0], k[1])
		}
	}
	if publicKey == otherPublic {
		t.Fatal("GenerateSigningKey returned the same key twice")
	}
	if pub, err := webhook.PublicKey(signingKey); err != nil || pub != publicKey {
		t.Errorf("PublicKey(signingKey) = %q, %v; GenerateSigningKey gave %q", pub, err, publicKey)
	}
	if _, err := webhook.PublicKey(stdSecret); err == nil {
		t.Errorf("PublicKey(a whsec_ secret) = nil error")
	} else if strings.Contains(err.Error(), strings.TrimPrefix(stdSecret, "whsec_")) {
		t.Errorf("PublicKey error %q echoes the secret", err)
	}

	rc := newHookReceiver(t, nil)
	em := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "ed", URL: rc.URL + "/ed", Secret: signingKey, Scheme: webhook.SchemeStandard}},
		Sync:      true, Now: stdFixedNow,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ev := range stdEvents() {
		if err := em.Emit(ctx, ev); err != nil {
			t.Fatalf("Emit: %v", err)
		}
	}
	if err := em.Close(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := rc.take("/ed")
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if sig := r.Header.Get(webhook.HeaderStandardSignature); !stdV1aPattern.MatchString(sig) {
			t.Errorf("request %d: webhook-signature %q, want v1a,<base64 of 64 bytes>", i, sig)
		}
		for _, c := range []struct {
			name    string
			secrets []string
			body    []byte
			want    error
		}{
			{"public key", []string{publicKey}, r.Body, nil},
			{"other public key", []string{otherPublic}, r.Body, webhook.ErrInvalidSignature},
			{"other and right public key", []string{otherPublic, publicKey}, r.Body, nil},
			{"whsec secret", []string{stdSecret}, r.Body, webhook.ErrInvalidSignature},
			{"public key, tampered body", []string{publicKey}, bytes.Replace(r.Body, []byte("42"), []byte("43"), 1), webhook.ErrInvalidSignature},
		} {
			v := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: c.secrets, Now: stdFixedNow}
			err := v.Verify(r.Header, c.body)
			if c.want == nil && err != nil {
				t.Errorf("request %d, %s: Verify = %v, want nil", i, c.name, err)
			} else if c.want != nil {
				stdCheckSentinel(t, err, c.want)
			}
		}
		// Too late for the public key as well.
		late := webhook.Verifier{Scheme: webhook.SchemeStandard, Secrets: []string{publicKey},
			Now: func() time.Time { return stdFixedNow().Add(webhook.DefaultTolerance + time.Second) }}
		stdCheckSentinel(t, late.Verify(r.Header, r.Body), webhook.ErrTimestampOutOfRange)
	}
}

// TestStandardSigningKeyForms: New accepts a "whsk_" key holding a 32-byte
// seed or the matching 64-byte private key (both sign alike), and rejects
// other lengths and a private key whose public half does not match,
// without echoing the key.
func TestStandardSigningKeyForms(t *testing.T) {
	t.Parallel()
	seed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stdVectorSigningKey, "whsk_"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stdVectorPublicKey, "whpk_"))
	if err != nil {
		t.Fatal(err)
	}
	full := "whsk_" + base64.StdEncoding.EncodeToString(append(slices.Clone(seed), pub...))
	if got, err := webhook.PublicKey(full); err != nil || got != stdVectorPublicKey {
		t.Errorf("PublicKey(64-byte key) = %q, %v; want %q", got, err, stdVectorPublicKey)
	}
	mismatched := append(slices.Clone(seed), make([]byte, 32)...)
	for _, c := range []struct {
		name, key string
		ok        bool
	}{
		{"seed", stdVectorSigningKey, true},
		{"seed and public key", full, true},
		{"31 bytes", "whsk_" + base64.StdEncoding.EncodeToString(seed[:31]), false},
		{"mismatched public half", "whsk_" + base64.StdEncoding.EncodeToString(mismatched), false},
		{"not base64", "whsk_n0t~base64!", false},
	} {
		em, err := webhook.New(webhook.Config{
			Endpoints: []webhook.Endpoint{{Name: "ed", URL: "http://127.0.0.1:1/", Secret: c.key, Scheme: webhook.SchemeStandard}},
			Sync:      true, Logger: quietLogger,
		})
		if em != nil {
			em.Close(context.Background())
		}
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: New: %v", c.name, err)
		case !c.ok && err == nil:
			t.Errorf("%s: New accepted the key", c.name)
		case !c.ok:
			if !errors.Is(err, webhook.ErrInvalidConfig) || !strings.Contains(err.Error(), `endpoint "ed": secret: `) {
				t.Errorf("%s: New error %q: want ErrInvalidConfig naming endpoint \"ed\" and secret", c.name, err)
			}
			if k := strings.TrimPrefix(c.key, "whsk_"); strings.Contains(err.Error(), k[:min(len(k), 10)]) {
				t.Errorf("%s: New error %q echoes the key", c.name, err)
			}
		}
	}
}
