package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// interopRequest is one request as the receiver got it.
type interopRequest struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Header http.Header `json:"headers"`
	body   []byte
}

// TestInteropSeedVerifiers sends real events through an Emitter to a local
// receiver and has the seed's own Python and Node verify functions
// (testdata/interop/verify.py and verify.js, copied verbatim from the seed)
// check every captured request, along with testdata/signing_vectors.json.
// The scripts also check that a tampered body, timestamp or secret is
// rejected, and a negative control proves that they fail when they should.
func TestInteropSeedVerifiers(t *testing.T) {
	const need = "the interop test (it is installed on every machine and in CI)"
	python := requireTool(t, "python3", need)
	node := requireTool(t, "node", need)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const secret = "interop_s3cret-2026"

	srv := newHookReceiver(t, nil)
	em := newEmitter(t, webhook.Config{
		Endpoints: []webhook.Endpoint{{Name: "main", URL: srv.URL + "/webhooks/", Secret: secret}},
	})

	order := map[string]any{
		"id":        "42",
		"reference": "ORD-2026-0042",
		"status":    "pending",
		"total":     "299.99",
		"customer":  map[string]any{"id": "15", "name": "Zoë Dupré-Éluard", "city": "東京"},
		"note":      "日本語のメモ, café crème 🎉🚀",
		"quote":     `she said "ship it" \o/`,
		"path":      `C:\Users\zoë\orders`,
		"items":     []any{"🍮 flan", `"quoted" item`, `back\slash`},
	}
	shipped := map[string]any{}
	for k, v := range order {
		shipped[k] = v
	}
	shipped["status"] = "shipped"
	shipped["note"] = "expédié 📦 — 発送済み"

	create := webhook.Create(order)
	update := webhook.Update(order, shipped)
	del := webhook.Delete(shipped)
	events := []webhook.Event{create, update, del}
	for i := range events {
		events[i].Model = "store.Order"
		if err := em.Emit(ctx, events[i]); err != nil {
			t.Fatalf("Emit %s: %v", events[i].Type, err)
		}
	}
	if err := em.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	var reqs []interopRequest
	for _, r := range srv.requests() {
		reqs = append(reqs, interopRequest{Method: r.Method, Path: r.Path, Header: r.Header, body: r.Body})
	}
	if len(reqs) != len(events) {
		t.Fatalf("receiver got %d requests, want %d", len(reqs), len(events))
	}

	// What the Go side can see for itself, before the scripts look.
	seen := map[string]bool{}
	nonASCII := false
	for i, r := range reqs {
		if r.Method != http.MethodPost || r.Path != "/webhooks/" {
			t.Errorf("request %d: %s %s, want POST /webhooks/", i, r.Method, r.Path)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("request %d: Content-Type %q, want application/json", i, ct)
		}
		id := r.Header.Get(webhook.HeaderEventID)
		if !strings.HasPrefix(id, "evt_") || seen[id] {
			t.Errorf("request %d: %s %q: want a distinct evt_ id", i, webhook.HeaderEventID, id)
		}
		seen[id] = true
		if err := webhook.Verify(secret, r.Header, r.body); err != nil {
			t.Errorf("request %d: webhook.Verify: %v", i, err)
		}
		var env struct {
			ID     string         `json:"id"`
			Event  string         `json:"event"`
			Object map[string]any `json:"object"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Errorf("request %d: body is not a JSON envelope: %v\n%s", i, err, r.body)
			continue
		}
		if env.ID != id {
			t.Errorf("request %d: envelope id %q, header %q", i, env.ID, id)
		}
		if q, _ := env.Object["quote"].(string); q != order["quote"] {
			t.Errorf("request %d (%s): object.quote = %q, want %q", i, env.Event, q, order["quote"])
		}
		if p, _ := env.Object["path"].(string); p != order["path"] {
			t.Errorf("request %d (%s): object.path = %q, want %q", i, env.Event, p, order["path"])
		}
		nonASCII = nonASCII || bytes.ContainsFunc(r.body, func(c rune) bool { return c > 0x7f })
	}
	if !nonASCII {
		t.Errorf("no body holds raw non-ASCII bytes: the seed verifiers' UTF-8 decoding is not exercised")
	}

	vectors, err := filepath.Abs(filepath.Join("testdata", "signing_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := interopWriteDir(t, secret, vectors, reqs)

	// Negative control: the same requests, one body altered after signing.
	// Each script must fail on it, or its success above would prove nothing.
	bad := slices.Clone(reqs)
	bad[1].body = bytes.Replace(bad[1].body, []byte("shipped"), []byte("shipper"), 1)
	if bytes.Equal(bad[1].body, reqs[1].body) {
		bad[1].body = append(bytes.Clone(bad[1].body), ' ')
	}
	badDir := interopWriteDir(t, secret, "", bad)

	for _, sc := range []struct{ name, bin, script string }{
		{"python", python, filepath.Join("testdata", "interop", "verify.py")},
		{"node", node, filepath.Join("testdata", "interop", "verify.js")},
	} {
		t.Run(sc.name, func(t *testing.T) {
			out, err := runScript(ctx, sc.bin, sc.script, dir)
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", sc.bin, sc.script, err, out)
			}
			t.Logf("%s", bytes.TrimSpace(out))

			out, err = runScript(ctx, sc.bin, sc.script, badDir)
			if err == nil {
				t.Fatalf("%s %s on a tampered request: exit 0, want a failure\n%s", sc.bin, sc.script, out)
			}
			if ctx.Err() != nil {
				t.Fatalf("%s %s: %v", sc.bin, sc.script, ctx.Err())
			}
			if !bytes.Contains(out, []byte("req-001: as sent")) {
				t.Errorf("%s %s on a tampered request failed, but not on req-001:\n%s", sc.bin, sc.script, out)
			}
		})
	}
}

// TestInteropScriptsAreVerbatim checks that the verify functions in the
// interop scripts are the seed's, character for character.
func TestInteropScriptsAreVerbatim(t *testing.T) {
	// The seed itself when it is beside the repository (as in CI), else
	// the copy of its verification section kept in testdata; the two must
	// agree too.
	excerpt, err := os.ReadFile(filepath.Join("testdata", "interop", "seed_verification.md"))
	if err != nil {
		t.Fatal(err)
	}
	seed := excerpt
	if full, err := os.ReadFile(filepath.Join("..", "shared", "seed", "webhooks.md")); err == nil {
		seed = full
		_, section, _ := strings.Cut(string(excerpt), "-->\n\n")
		if !strings.Contains(string(full), strings.TrimSpace(section)) {
			t.Errorf("testdata/interop/seed_verification.md no longer matches the seed's verification section")
		}
	}
	for _, c := range []struct{ heading, fence, script string }{
		{"### Verification (Python)", "```python\n", "verify.py"},
		{"### Verification (Node.js)", "```javascript\n", "verify.js"},
	} {
		_, after, ok := strings.Cut(string(seed), c.heading)
		if !ok {
			t.Fatalf("seed: no %q section", c.heading)
		}
		_, after, ok = strings.Cut(after, c.fence)
		code, _, ok2 := strings.Cut(after, "```")
		if !ok || !ok2 || code == "" {
			t.Fatalf("seed: no code block under %q", c.heading)
		}
		script, err := os.ReadFile(filepath.Join("testdata", "interop", c.script))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(script), code) {
			t.Errorf("testdata/interop/%s does not contain the seed's code under %q verbatim:\n%s", c.script, c.heading, code)
		}
	}
}

// interopWriteDir writes the layout the scripts read: config.json, and per
// request req-NNN.json (headers) and req-NNN.body (the exact bytes).
func interopWriteDir(t *testing.T, secret, vectors string, reqs []interopRequest) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := json.Marshal(map[string]any{"secret": secret, "requests": len(reqs), "vectors": vectors})
	if err != nil {
		t.Fatal(err)
	}
	write("config.json", cfg)
	for i, r := range reqs {
		meta, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		write(fmt.Sprintf("req-%03d.json", i), meta)
		write(fmt.Sprintf("req-%03d.body", i), r.body)
	}
	return dir
}
