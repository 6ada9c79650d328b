package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sigTestVector is one entry of testdata/signing_vectors.json. The expected
// signatures there were computed with Python's hmac module
// (testdata/interop/gen_vectors.py), not with this package.
type sigTestVector struct {
	Name      string   `json:"name"`
	Secret    string   `json:"secret"`
	Secrets   []string `json:"secrets"`
	Timestamp int64    `json:"timestamp"`
	Body      string   `json:"body"`
	Signature string   `json:"signature"`
}

func (v sigTestVector) secrets() []string {
	if len(v.Secrets) > 0 {
		return v.Secrets
	}
	return []string{v.Secret}
}

func sigTestLoadVectors(t testing.TB) []sigTestVector {
	t.Helper()
	data, err := os.ReadFile("testdata/signing_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []sigTestVector
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vs); err != nil {
		t.Fatalf("testdata/signing_vectors.json: %v", err)
	}
	if len(vs) < 6 {
		t.Fatalf("testdata/signing_vectors.json: %d vectors, want at least 6", len(vs))
	}
	for _, v := range vs {
		if v.Name == "" || v.Signature == "" || (v.Secret == "") == (len(v.Secrets) == 0) {
			t.Fatalf("testdata/signing_vectors.json: incomplete vector %+v", v)
		}
	}
	return vs
}

// sigTestHex is the hex HMAC-SHA256 of "<ts>.<body>", computed without the
// code under test.
func sigTestHex(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func sigTestSign(secret, ts string, body []byte) string {
	return "sha256=" + sigTestHex(secret, ts, body)
}

func TestSignVectors(t *testing.T) {
	t.Parallel()
	for _, v := range sigTestLoadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			s := newHMACSigner(v.secrets()...)
			body := []byte(v.Body)

			if got := string(s.appendSignature(nil, v.Timestamp, body)); got != v.Signature {
				t.Errorf("appendSignature(nil) = %q, want %q", got, v.Signature)
			}
			// Appends after what dst holds, and leaves it alone.
			if got := string(s.appendSignature([]byte("prefix|"), v.Timestamp, body)); got != "prefix|"+v.Signature {
				t.Errorf("appendSignature(prefix) = %q, want %q", got, "prefix|"+v.Signature)
			}
			// Twice: pooled states are reset between uses.
			if got := string(s.appendSignature(make([]byte, 0, 4), v.Timestamp, body)); got != v.Signature {
				t.Errorf("second appendSignature = %q, want %q", got, v.Signature)
			}

			h := http.Header{"Content-Type": {"application/json"}}
			s.setHeaders(h, "evt_vector", v.Timestamp, body)
			want := http.Header{
				"Content-Type":  {"application/json"},
				HeaderSignature: {v.Signature},
				HeaderTimestamp: {strconv.FormatInt(v.Timestamp, 10)},
				HeaderEventID:   {"evt_vector"},
			}
			if fmt.Sprint(h) != fmt.Sprint(want) {
				t.Errorf("setHeaders: got %v, want %v", h, want)
			}
			// The keys are canonical, so Get finds them.
			if h.Get("x-webhook-signature") != v.Signature || h.Get("x-webhook-event-id") != "evt_vector" {
				t.Errorf("setHeaders: keys not canonical: %v", h)
			}

			// The Verifier accepts the vector with all its secrets and with
			// each one alone (a rotating sender's header holds every one).
			now := func() time.Time { return time.Unix(v.Timestamp, 0) }
			for _, secrets := range append([][]string{v.secrets()}, sigTestEach(v.secrets())...) {
				ver := Verifier{Secrets: secrets, Now: now}
				if err := ver.Verify(h, body); err != nil {
					t.Errorf("Verifier{Secrets: %d}.Verify: %v", len(secrets), err)
				}
			}
			ver := Verifier{Secrets: []string{"not-" + v.secrets()[0]}, Now: now}
			if err := ver.Verify(h, body); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("wrong secret: got %v, want %v", err, ErrInvalidSignature)
			}
		})
	}
}

func sigTestEach(secrets []string) [][]string {
	var out [][]string
	for _, s := range secrets {
		out = append(out, []string{s})
	}
	return out
}

func TestSetHeadersValuesAreIndependent(t *testing.T) {
	t.Parallel()
	s := newHMACSigner("a", "b")
	h := http.Header{}
	s.setHeaders(h, "evt_1", 1768564800, []byte(`{}`))
	ts := h.Get(HeaderTimestamp)
	h.Add(HeaderSignature, "extra")
	h.Add(HeaderTimestamp, "extra")
	if got := h.Values(HeaderTimestamp); len(got) != 2 || got[0] != ts {
		t.Errorf("timestamp values = %q", got)
	}
	if got := h.Values(HeaderEventID); len(got) != 1 || got[0] != "evt_1" {
		t.Errorf("event id values = %q", got)
	}
	if got := h.Values(HeaderSignature); len(got) != 2 || strings.Count(got[0], "sha256=") != 2 {
		t.Errorf("signature values = %q", got)
	}
	// Overwrites earlier values on the same header (a retry re-signs).
	s.setHeaders(h, "evt_1", 1768564801, []byte(`{}`))
	if got := h.Values(HeaderTimestamp); len(got) != 1 || got[0] != "1768564801" {
		t.Errorf("after re-sign, timestamp values = %q", got)
	}
}

func TestSignerConcurrent(t *testing.T) {
	t.Parallel()
	secrets := []string{"first-secret", "second-secret"}
	s := newHMACSigner(secrets...)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			var buf []byte
			for i := range 200 {
				unix := int64(1768564800 + g*1000 + i)
				body := []byte(fmt.Sprintf(`{"g":%d,"i":%d,"s":"é日本🎉"}`, g, i))
				buf = s.appendSignature(buf[:0], unix, body)
				ts := strconv.FormatInt(unix, 10)
				want := sigTestSign(secrets[0], ts, body) + " " + sigTestSign(secrets[1], ts, body)
				if string(buf) != want {
					errs <- fmt.Errorf("goroutine %d, iteration %d: got %q, want %q", g, i, buf, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSignerNoSecrets(t *testing.T) {
	t.Parallel()
	s := newHMACSigner()
	if got := s.appendSignature([]byte("x"), 1, []byte("{}")); string(got) != "x" {
		t.Errorf("appendSignature with no secrets = %q, want %q", got, "x")
	}
}

// sigTestRequest is a request signed by the test itself.
type sigTestRequest struct {
	header http.Header
	body   []byte
}

func TestVerifier(t *testing.T) {
	t.Parallel()

	const (
		secret    = "test-secret-Ω-rotating"
		oldSecret = "old-secret-2025"
		unix      = 1768564800
	)
	ts := strconv.Itoa(unix)
	now := time.Unix(unix, 0)
	body := []byte(`{"id":"evt_1","object":{"name":"Café \"日本\" 🎉","path":"C:\\x"}}`)
	clock := func(d time.Duration) func() time.Time {
		return func() time.Time { return now.Add(d) }
	}
	valid := sigTestSign(secret, ts, body)
	validHex := strings.TrimPrefix(valid, "sha256=")

	// req builds a request; sig and stamp of "-" leave the header out.
	req := func(sig, stamp string, b []byte) sigTestRequest {
		h := http.Header{"Content-Type": {"application/json"}}
		if sig != "-" {
			h[HeaderSignature] = []string{sig}
		}
		if stamp != "-" {
			h[HeaderTimestamp] = []string{stamp}
		}
		return sigTestRequest{h, b}
	}
	// signedAt signs body at unix+offset seconds.
	signedAt := func(offset int64, key string) sigTestRequest {
		stamp := strconv.FormatInt(unix+offset, 10)
		return req(sigTestSign(key, stamp, body), stamp, body)
	}
	tampered := bytes.Replace(body, []byte("evt_1"), []byte("evt_2"), 1)

	tests := []struct {
		name     string
		req      sigTestRequest
		verifier Verifier // Now defaults to the fixed clock
		want     error    // nil: accepted
	}{
		{name: "valid", req: req(valid, ts, body)},
		{name: "valid with empty body", req: req(sigTestSign(secret, ts, nil), ts, nil)},
		{name: "uppercase hex", req: req("sha256="+strings.ToUpper(validHex), ts, body)},
		{name: "timestamp as sent with leading zero", req: req(sigTestSign(secret, "0"+ts, body), "0"+ts, body)},

		{name: "signature header too large", req: req(strings.Repeat(valid+" ", MaxSignatureHeaderBytes/len(valid)+1), ts, body), want: ErrSignatureHeaderTooLarge},
		{name: "signature header too large before missing timestamp", req: req(valid+strings.Repeat(" ", MaxSignatureHeaderBytes), "-", body), want: ErrSignatureHeaderTooLarge},
		{name: "duplicates of a valid signature", req: req(strings.Repeat(valid+" ", 2*MaxSignatures), ts, body)},
		{name: "missing signature", req: req("-", ts, body), want: ErrMissingSignature},
		{name: "missing timestamp", req: req(valid, "-", body), want: ErrMissingSignature},
		{name: "missing both", req: req("-", "-", body), want: ErrMissingSignature},
		{name: "empty signature", req: req("", ts, body), want: ErrMissingSignature},
		{name: "blank signature", req: req("   ", ts, body), want: ErrMissingSignature},
		{name: "empty timestamp", req: req(valid, "", body), want: ErrMissingSignature},
		{name: "missing signature before malformed timestamp", req: req("-", "abc", body), want: ErrMissingSignature},
		{name: "missing timestamp before malformed signature", req: req("sha1=abc", "", body), want: ErrMissingSignature},

		{name: "no prefix", req: req(validHex, ts, body), want: ErrMalformedSignature},
		{name: "other algorithm prefix", req: req("sha1="+validHex, ts, body), want: ErrMalformedSignature},
		{name: "uppercase prefix", req: req("SHA256="+validHex, ts, body), want: ErrMalformedSignature},
		{name: "prefix only", req: req("sha256=", ts, body), want: ErrMalformedSignature},
		{name: "bad hex", req: req("sha256="+strings.Repeat("zz", 32), ts, body), want: ErrMalformedSignature},
		{name: "hex too short", req: req(valid[:len(valid)-1], ts, body), want: ErrMalformedSignature},
		{name: "hex too long", req: req(valid+"00", ts, body), want: ErrMalformedSignature},
		{name: "one valid and one malformed", req: req(valid+" sha256=xyz", ts, body), want: ErrMalformedSignature},
		{name: "timestamp not a number", req: req(valid, "abc", body), want: ErrMalformedSignature},
		{name: "timestamp with sign", req: req(sigTestSign(secret, "+"+ts, body), "+"+ts, body), want: ErrMalformedSignature},
		{name: "negative timestamp", req: req(sigTestSign(secret, "-5", body), "-5", body), want: ErrMalformedSignature},
		{name: "timestamp with fraction", req: req(valid, ts+".5", body), want: ErrMalformedSignature},
		{name: "timestamp in milliseconds overflowing", req: req(valid, "99999999999999999999", body), want: ErrMalformedSignature},
		{name: "timestamp with space", req: req(valid, " "+ts, body), want: ErrMalformedSignature},
		{name: "malformed timestamp before invalid signature", req: req(sigTestSign("wrong", ts, body), "later", body), want: ErrMalformedSignature},
		{name: "malformed signature before stale timestamp", req: req("sha256=nothex", "1", body), want: ErrMalformedSignature},

		{name: "6 minutes in the past", req: signedAt(-360, secret), want: ErrTimestampOutOfRange},
		{name: "6 minutes in the future", req: signedAt(360, secret), want: ErrTimestampOutOfRange},
		{name: "at the past edge", req: signedAt(-300, secret)},
		{name: "at the future edge", req: signedAt(300, secret)},
		{name: "one second past the past edge", req: signedAt(-301, secret), want: ErrTimestampOutOfRange},
		{name: "one second past the future edge", req: signedAt(301, secret), want: ErrTimestampOutOfRange},
		{name: "epoch", req: req(sigTestSign(secret, "0", body), "0", body), want: ErrTimestampOutOfRange},
		{name: "far future", req: req(sigTestSign(secret, "9223372036854775807", body), "9223372036854775807", body), want: ErrTimestampOutOfRange},
		{name: "stale timestamp before wrong secret", req: signedAt(-3600, "wrong"), want: ErrTimestampOutOfRange},
		{name: "custom tolerance accepts 6 minutes", req: signedAt(-360, secret), verifier: Verifier{Tolerance: 10 * time.Minute}},
		{name: "custom tolerance rejects 11 minutes", req: signedAt(660, secret), verifier: Verifier{Tolerance: 10 * time.Minute}, want: ErrTimestampOutOfRange},
		{name: "negative tolerance means default, 4 minutes", req: signedAt(-240, secret), verifier: Verifier{Tolerance: -time.Second}},
		{name: "negative tolerance means default, 6 minutes", req: signedAt(-360, secret), verifier: Verifier{Tolerance: -time.Second}, want: ErrTimestampOutOfRange},
		{name: "clock moved", req: req(valid, ts, body), verifier: Verifier{Now: clock(time.Hour)}, want: ErrTimestampOutOfRange},

		{name: "tampered body", req: req(valid, ts, tampered), want: ErrInvalidSignature},
		{name: "body with trailing newline", req: req(valid, ts, append(bytes.Clone(body), '\n')), want: ErrInvalidSignature},
		{name: "wrong secret", req: req(sigTestSign("wrong-secret", ts, body), ts, body), want: ErrInvalidSignature},
		{name: "timestamp replaced", req: req(valid, strconv.Itoa(unix+1), body), want: ErrInvalidSignature},
		{name: "signature of the body alone", req: req("sha256="+sigTestHex(secret, "", body), ts, body), want: ErrInvalidSignature},

		// Rotation.
		{name: "rotation: verifier has both, signed with new",
			req: signedAt(0, secret), verifier: Verifier{Secrets: []string{secret, oldSecret}}},
		{name: "rotation: verifier has both, signed with old",
			req: signedAt(0, oldSecret), verifier: Verifier{Secrets: []string{secret, oldSecret}}},
		{name: "rotation: verifier has both, signed with neither",
			req: signedAt(0, "third"), verifier: Verifier{Secrets: []string{secret, oldSecret}}, want: ErrInvalidSignature},
		{name: "rotation: two signatures, verifier has new",
			req:      req(valid+" "+sigTestSign(oldSecret, ts, body), ts, body),
			verifier: Verifier{Secrets: []string{secret}}},
		{name: "rotation: two signatures, verifier has old",
			req:      req(valid+" "+sigTestSign(oldSecret, ts, body), ts, body),
			verifier: Verifier{Secrets: []string{oldSecret}}},
		{name: "rotation: two signatures, old first",
			req:      req(sigTestSign(oldSecret, ts, body)+"  "+valid, ts, body),
			verifier: Verifier{Secrets: []string{secret}}},
		{name: "rotation: two signatures, verifier has neither",
			req:      req(valid+" "+sigTestSign(oldSecret, ts, body), ts, body),
			verifier: Verifier{Secrets: []string{"third"}}, want: ErrInvalidSignature},
		{name: "rotation: two signatures, tampered body",
			req:      req(valid+" "+sigTestSign(oldSecret, ts, body), ts, tampered),
			verifier: Verifier{Secrets: []string{secret, oldSecret}}, want: ErrInvalidSignature},
		{name: "rotation: signatures on two header lines",
			req: sigTestRequest{http.Header{
				HeaderSignature: {sigTestSign("third", ts, body), valid},
				HeaderTimestamp: {ts},
			}, body}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.verifier
			if v.Secrets == nil {
				v.Secrets = []string{secret}
			}
			if v.Now == nil {
				v.Now = clock(0)
			}
			err := v.Verify(tt.req.header, tt.req.body)
			if !sigTestWant(t, err, tt.want) {
				return
			}
			for _, other := range []error{ErrSignatureHeaderTooLarge, ErrMissingSignature, ErrMalformedSignature, ErrTimestampOutOfRange, ErrInvalidSignature} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Verify: %v also matches %v", err, other)
				}
			}
			sigTestCheckMessage(t, err, append(v.Secrets, secret, oldSecret), tt.req)
		})
	}
}

// sigTestWant fails the test unless err is nil when want is, or wraps
// want; it reports whether there is an error to check further.
func sigTestWant(t *testing.T, err, want error) bool {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Verify: %v, want nil", err)
		}
		return false
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify: %v, want %v", err, want)
	}
	return true
}

// sigTestCheckMessage checks that err starts with "webhook: ", names the
// header it is about, and leaks neither a secret nor an expected signature.
func sigTestCheckMessage(t *testing.T, err error, secrets []string, r sigTestRequest) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "webhook: ") {
		t.Errorf("error %q does not start with %q", msg, "webhook: ")
	}
	if !strings.Contains(msg, HeaderSignature) && !strings.Contains(msg, HeaderTimestamp) {
		t.Errorf("error %q names neither header", msg)
	}
	stamp := r.header.Get(HeaderTimestamp)
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains the secret %q", msg, s)
		}
		// The expected signature, whole or in part, for the body as received.
		expected := sigTestHex(s, stamp, r.body)
		if strings.Contains(msg, expected[:16]) {
			t.Errorf("error %q contains the expected signature %q", msg, expected)
		}
	}
}

func TestVerifierWithoutSecrets(t *testing.T) {
	t.Parallel()
	const unix = 1768564800
	ts := strconv.Itoa(unix)
	body := []byte(`{}`)
	// Signed with the empty key: an unset secret must not make this pass.
	h := http.Header{
		HeaderSignature: {sigTestSign("", ts, body)},
		HeaderTimestamp: {ts},
	}
	now := func() time.Time { return time.Unix(unix, 0) }
	tests := []struct {
		name string
		v    *Verifier
	}{
		{"zero Verifier", &Verifier{}},
		{"nil secrets", &Verifier{Now: now}},
		{"empty secrets", &Verifier{Secrets: []string{}, Now: now}},
		{"one empty secret", &Verifier{Secrets: []string{""}, Now: now}},
		{"an empty secret among others", &Verifier{Secrets: []string{"real", ""}, Now: now}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.v.Verify(h, body)
			if err == nil {
				t.Fatal("Verify: nil error, want one")
			}
			if !strings.HasPrefix(err.Error(), "webhook: ") {
				t.Errorf("error %q does not start with %q", err, "webhook: ")
			}
			// A configuration error, not a verdict on the request.
			for _, s := range []error{ErrMissingSignature, ErrMalformedSignature, ErrTimestampOutOfRange, ErrInvalidSignature} {
				if errors.Is(err, s) {
					t.Errorf("Verify: %v matches %v", err, s)
				}
			}
		})
	}
	if err := Verify("", h, body); err == nil {
		t.Error("Verify with an empty secret: nil error, want one")
	}
}

func TestVerifyFunction(t *testing.T) {
	t.Parallel()
	const secret = "package-level-secret"
	body := []byte(`{"id":"evt_1","name":"Zoë"}`)
	sign := func(at time.Time) http.Header {
		ts := strconv.FormatInt(at.Unix(), 10)
		return http.Header{HeaderSignature: {sigTestSign(secret, ts, body)}, HeaderTimestamp: {ts}}
	}
	tests := []struct {
		name   string
		header http.Header
		secret string
		body   []byte
		want   error
	}{
		{"fresh", sign(time.Now()), secret, body, nil},
		{"a minute old", sign(time.Now().Add(-time.Minute)), secret, body, nil},
		{"an hour old", sign(time.Now().Add(-time.Hour)), secret, body, ErrTimestampOutOfRange},
		{"an hour ahead", sign(time.Now().Add(time.Hour)), secret, body, ErrTimestampOutOfRange},
		{"wrong secret", sign(time.Now()), "other", body, ErrInvalidSignature},
		{"tampered", sign(time.Now()), secret, []byte(`{"id":"evt_1","name":"Zoe"}`), ErrInvalidSignature},
		{"no headers", http.Header{}, secret, body, ErrMissingSignature},
		// Lower-case keys as a proxy might write them into the map are not
		// found by http.Header; requests from net/http are canonical.
		{"non-canonical keys", http.Header{"x-webhook-signature": {"sha256=00"}}, secret, body, ErrMissingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(tt.secret, tt.header, tt.body)
			if !sigTestWant(t, err, tt.want) {
				return
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestSignThenVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1768564800, 0)
	secrets := []string{"new-secret", "old-secret"}
	s := newHMACSigner(secrets...)
	for i := range 64 {
		body := bytes.Repeat([]byte{byte(i), 0xff, '"', '\\', '.'}, i)
		h := http.Header{}
		s.setHeaders(h, "evt_"+strconv.Itoa(i), now.Unix(), body)
		for _, sec := range secrets {
			v := Verifier{Secrets: []string{sec}, Now: func() time.Time { return now }}
			if err := v.Verify(h, body); err != nil {
				t.Fatalf("body %d, secret %q: %v", i, sec, err)
			}
		}
	}
}

// BenchmarkSign reports the signer's allocations (appendSignature: 0;
// setHeaders: 2, one string and one backing array), where sync.Pool keeps
// its states: under -race it drops them at random, so this is a
// benchmark, not a test.
func BenchmarkSign(b *testing.B) {
	body := bytes.Repeat([]byte(`{"k":"v"}`), 1024/9+1)[:1024]
	const unix = 1768564800
	for _, n := range []int{1, 2} {
		s := newHMACSigner([]string{"benchmark-secret-1", "benchmark-secret-2"}[:n]...)
		b.Run(fmt.Sprintf("appendSignature/secrets=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf = s.appendSignature(buf[:0], unix, body)
			}
		})
		b.Run(fmt.Sprintf("setHeaders/secrets=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			h := make(http.Header, 4)
			for b.Loop() {
				s.setHeaders(h, "evt_01HZX", unix, body)
			}
		})
		b.Run(fmt.Sprintf("setHeaders/secrets=%d/parallel", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.RunParallel(func(pb *testing.PB) {
				h := make(http.Header, 4)
				for pb.Next() {
					s.setHeaders(h, "evt_01HZX", unix, body)
				}
			})
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte(`{"k":"v"}`), 1024/9+1)[:1024]
	const unix = 1768564800
	s := newHMACSigner("benchmark-secret")
	h := http.Header{}
	s.setHeaders(h, "evt_01HZX", unix, body)
	now := func() time.Time { return time.Unix(unix, 0) }
	keyed := NewVerifier("benchmark-secret")
	keyed.Now = now
	for _, bc := range []struct {
		name string
		v    *Verifier
	}{
		{"Verifier", &Verifier{Secrets: []string{"benchmark-secret"}, Now: now}},
		{"NewVerifier", keyed},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := bc.v.Verify(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A huge Tolerance does not turn the timestamp check off: it is capped at
// MaxTolerance, for both schemes.
func TestVerifierToleranceCapped(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_old"}`)
	stdKey := []byte("tolerance test key, 32 bytes....")
	stdSecret := standardSecretPrefix + base64.StdEncoding.EncodeToString(stdKey)
	sign := func(scheme SignatureScheme, at time.Time) (http.Header, []string) {
		h := http.Header{}
		if scheme == SchemeStandard {
			s, err := newStandardSigner(stdSecret)
			require.NoError(t, err)
			s.setHeaders(h, "msg_old", at.Unix(), body)
			return h, []string{stdSecret}
		}
		newHMACSigner("tolerance-secret").setHeaders(h, "evt_old", at.Unix(), body)
		return h, []string{"tolerance-secret"}
	}
	for _, scheme := range []SignatureScheme{SchemeHMAC, SchemeStandard} {
		for _, tc := range []struct {
			name      string
			tolerance time.Duration
			at        time.Time
			want      error // nil: accepted
		}{
			{"MaxInt64, signed in 2001", math.MaxInt64, time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC), ErrTimestampOutOfRange},
			{"MaxInt64, signed in 2300", math.MaxInt64, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), ErrTimestampOutOfRange},
			{"MaxInt64, a day and a second old", math.MaxInt64, now.Add(-MaxTolerance - time.Second), ErrTimestampOutOfRange},
			{"MaxInt64, a day ahead and a second", math.MaxInt64, now.Add(MaxTolerance + time.Second), ErrTimestampOutOfRange},
			{"MaxInt64, a day old", math.MaxInt64, now.Add(-MaxTolerance), nil},
			{"MaxTolerance+1, a day and a second old", MaxTolerance + 1, now.Add(-MaxTolerance - time.Second), ErrTimestampOutOfRange},
			{"MaxTolerance, a day old", MaxTolerance, now.Add(-MaxTolerance), nil},
			{"an hour, two hours old", time.Hour, now.Add(-2 * time.Hour), ErrTimestampOutOfRange},
		} {
			t.Run(string(scheme)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				h, secrets := sign(scheme, tc.at)
				v := Verifier{Scheme: scheme, Secrets: secrets, Tolerance: tc.tolerance, Now: func() time.Time { return now }}
				err := v.Verify(h, body)
				if tc.want == nil {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, tc.want)
			})
		}
	}
}

// TestHeaderNamesCanonical: Verify reads the headers it checks from the
// map directly (headerValue, signatureFields), which is h.Get only for a
// key in canonical form.
func TestHeaderNamesCanonical(t *testing.T) {
	for _, k := range []string{HeaderSignature, HeaderTimestamp, HeaderEventID,
		HeaderStandardID, HeaderStandardTimestamp, HeaderStandardSignature} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical: %q", k, c)
		}
	}
}

// FuzzSigLinesFields: the signature header is split exactly where
// strings.Fields splits it, ASCII or not, and empty says whether it has
// a field at all.
func FuzzSigLinesFields(f *testing.F) {
	for _, s := range []string{"", " ", "sha256=ab", " sha256=ab  sha256=cd\t", "a\u00a0b\u2003c", "\x01a \x85b", "\r\n", "é ü", "a\xffb c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got []string
		for _, sig := range (sigLines{s, s}).all() {
			got = append(got, sig)
		}
		want := append(strings.Fields(s), strings.Fields(s)...)
		if !slices.Equal(got, want) {
			t.Fatalf("fields of %q: %q, want %q", s, got, want)
		}
		if e := (sigLines{s}).empty(); e != (len(strings.Fields(s)) == 0) {
			t.Fatalf("empty(%q) = %v", s, e)
		}
	})
}
