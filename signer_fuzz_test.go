package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the verifiers. Run each for a while with
//
//	go test -run '^$' -fuzz 'FuzzVerify$' -fuzztime 60s .
//	go test -run '^$' -fuzz 'FuzzVerifyStandard$' -fuzztime 60s .
//
// Seeds: the f.Add calls below and testdata/fuzz/<target>/. Plain `go test`
// runs them all.

// fuzzNow is the verifiers' clock: 2026-01-16T12:00:00Z.
const fuzzNow = 1768564800

func fuzzClock() time.Time { return time.Unix(fuzzNow, 0) }

// fuzzSentinels are the errors a verification error wraps exactly one of.
var fuzzSentinels = []error{ErrSignatureHeaderTooLarge, ErrMissingSignature, ErrMalformedSignature, ErrTimestampOutOfRange, ErrInvalidSignature}

// fuzzCheckErr checks what holds for every error of a verifier with valid
// secrets: it wraps exactly one sentinel, starts with "webhook: ", stays
// short whatever the input, and contains none of the secrets.
func fuzzCheckErr(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	n := 0
	for _, s := range fuzzSentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	msg := err.Error()
	if n != 1 {
		t.Fatalf("error %q wraps %d of the sentinels, want exactly 1", msg, n)
	}
	if !strings.HasPrefix(msg, "webhook: ") {
		t.Fatalf("error %q does not start with \"webhook: \"", msg)
	}
	if len(msg) > 256 {
		t.Fatalf("error of %d bytes: received values must be truncated: %q", len(msg), msg)
	}
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(msg, s) {
			t.Fatalf("error %q contains a secret", msg)
		}
	}
}

// fuzzWithinTolerance reports whether ts is a decimal unix time (digits
// only) within DefaultTolerance of fuzzNow.
func fuzzWithinTolerance(ts string) bool {
	if ts == "" || strings.TrimLeft(ts, "0123456789") != "" {
		return false
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := n - fuzzNow
	return -300 <= d && d <= 300
}

// fuzzOffset maps any int64 into [-tolerance, +tolerance] seconds.
func fuzzOffset(offset int64) int64 { return offset % (int64(DefaultTolerance/time.Second) + 1) }

// fuzzCheckChangedBody checks that a request signed over body does not
// verify with body changed: one byte flipped (fuzzFlip), the last byte
// missing, or flip appended; and that the error shows no secret.
func fuzzCheckChangedBody(t *testing.T, v Verifier, signed http.Header, body []byte, pos uint, flip byte, secret string) {
	t.Helper()
	var changed [][]byte
	if len(body) > 0 {
		changed = append(changed, fuzzFlip(body, pos, flip), body[:len(body)-1])
	}
	changed = append(changed, append(bytes.Clone(body), flip))
	for _, b := range changed {
		err := v.Verify(signed, b)
		if !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("Verify(signed, body changed to %q) = %v, want %v", b, err, ErrInvalidSignature)
		}
		fuzzCheckErr(t, err, secret)
	}
}

// fuzzFlip returns body with the byte at pos (modulo its length) changed.
func fuzzFlip(body []byte, pos uint, flip byte) []byte {
	mod := bytes.Clone(body)
	if flip == 0 {
		flip = 0x01
	}
	mod[pos%uint(len(mod))] ^= flip
	return mod
}

// FuzzVerify: for any signature header, timestamp header, body and secret,
// Verify neither panics nor accepts a request without a correct signature;
// a request signed by our signer within the tolerance always passes; and
// any change of one body byte, an extra byte or a missing byte fails with
// ErrInvalidSignature.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"id":"evt_abc123xyz","event":"created","object":{"name":"Zoë \"Z\"","path":"C:\\x"}}`)
	ts := strconv.Itoa(fuzzNow)
	valid := "sha256=" + fuzzHex("whsec_test_secret", ts, body)
	f.Add("whsec_test_secret", valid, ts, body, int64(0), uint(3), byte(1))
	f.Add("whsec_test_secret", strings.ToUpper(valid[:7])+valid[7:], ts, body, int64(-300), uint(0), byte(0x80))
	f.Add("whsec_test_secret", "sha256="+strings.ToUpper(valid[7:]), ts, body, int64(300), uint(1), byte(0xff))
	f.Add("whsec_test_secret", "sha256=00 "+valid, ts, body, int64(1), uint(7), byte(2))
	f.Add("whsec_test_secret", valid+" "+valid, ts, body, int64(-1), uint(9), byte(4))
	f.Add("k", "sha256="+fuzzHex("k", ts, nil), ts, []byte{}, int64(301), uint(0), byte(0))
	f.Add("k", "sha256=", "", []byte("x"), int64(-301), uint(0), byte(0))
	f.Add("k", valid, "1768564800.5", body, int64(1<<62), uint(1<<40), byte(0x20))
	f.Add("k", valid, "99999999999999999999", body, int64(-1<<63), uint(5), byte(0x7f))
	f.Add("é-日本", "\tsha256="+fuzzHex("é-日本", "+1768564800", body)+"\n", "+1768564800", body, int64(42), uint(2), byte(3))
	f.Add(strings.Repeat("k", 100), "v1,"+strings.Repeat("A", 43)+"=", ts, body, int64(7), uint(11), byte(9))

	f.Fuzz(func(t *testing.T, secret, sigHeader, tsHeader string, body []byte, offset int64, pos uint, flip byte) {
		if secret == "" {
			secret = "s" // an empty secret is a configuration error, tested elsewhere
		}
		v := Verifier{Secrets: []string{secret}, Now: fuzzClock}

		// Arbitrary headers: no panic, a well-formed error, and acceptance
		// only with a correct signature over the timestamp as sent.
		h := http.Header{}
		if sigHeader != "" {
			h[HeaderSignature] = []string{sigHeader}
		}
		if tsHeader != "" {
			h[HeaderTimestamp] = []string{tsHeader}
		}
		err := v.Verify(h, body)
		fuzzCheckErr(t, err, secret)
		if err == nil {
			want := fuzzHex(secret, tsHeader, body)
			ok := false
			for _, s := range strings.Fields(sigHeader) {
				hexPart, found := strings.CutPrefix(s, sigPrefix)
				ok = ok || (found && strings.EqualFold(hexPart, want))
			}
			if !ok || !fuzzWithinTolerance(tsHeader) {
				t.Fatalf("Verify accepted signature %q, timestamp %q: want HMAC %s within %v of %d", sigHeader, tsHeader, want, DefaultTolerance, fuzzNow)
			}
		}
		_ = Verify(secret, h, body) // the real clock: must not panic either

		// Signed by our signer, within the tolerance: passes; the header is
		// the independently computed HMAC.
		unix := fuzzNow + fuzzOffset(offset)
		signed := http.Header{}
		newHMACSigner(secret).setHeaders(signed, "evt_fuzz", unix, body)
		ts := strconv.FormatInt(unix, 10)
		if got, want := signed.Get(HeaderSignature), "sha256="+fuzzHex(secret, ts, body); got != want {
			t.Fatalf("signer: %s = %q, want %q", HeaderSignature, got, want)
		}
		if got := signed.Get(HeaderTimestamp); got != ts {
			t.Fatalf("signer: %s = %q, want %q", HeaderTimestamp, got, ts)
		}
		if err := v.Verify(signed, body); err != nil {
			t.Fatalf("Verify(signed at %d) = %v", unix, err)
		}

		// Rotation: both secrets sign; a receiver with either passes.
		other := secret + "-previous"
		rotating := http.Header{}
		newHMACSigner(secret, other).setHeaders(rotating, "evt_fuzz", unix, body)
		for _, s := range []string{secret, other} {
			rv := Verifier{Secrets: []string{s}, Now: fuzzClock}
			if err := rv.Verify(rotating, body); err != nil {
				t.Fatalf("Verify(rotating request) with one of its secrets = %v", err)
			}
		}

		// Any one-byte change of the body fails.
		fuzzCheckChangedBody(t, v, signed, body, pos, flip, secret)
	})
}

// fuzzHex is the hex HMAC-SHA256 of "<ts>.<body>", computed here.
func fuzzHex(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// fuzzStandardMsg is the Standard Webhooks signed content.
func fuzzStandardMsg(id, ts string, body []byte) []byte {
	return append([]byte(id+"."+ts+"."), body...)
}

// FuzzVerifyStandard is FuzzVerify for SchemeStandard, with an HMAC
// ("whsec_") secret and an ed25519 ("whsk_"/"whpk_") key derived from the
// fuzzed key bytes: no panic, no acceptance without a correct v1 or v1a
// signature, our signed requests pass, and a changed body byte or id fails.
func FuzzVerifyStandard(f *testing.F) {
	key := []byte("hookrail standard webhooks key 1")
	body := []byte(`{"name":"Zoë \"Z\" Dupré","path":"C:\\Users\\zoë","city":"東京","emoji":"🎉"}`)
	const id = "evt_01KF2V9Q3X7M5N8P4R6T0W2Y4A"
	ts := strconv.Itoa(fuzzNow)
	valid := "v1,WFP8v0GibXBhJxcD2YC1yfbxyLtm8VVxUoZBUf4U0fE=" // python, see standard_test.go
	f.Add(key, id, valid, ts, body, int64(0), uint(0), byte(1))
	f.Add(key, id, "v2,garbage "+valid+" v1a,AAAA", ts, body, int64(-300), uint(5), byte(0x80))
	f.Add(key, id, "v1,"+strings.Repeat("A", 43)+"= "+valid, ts, body, int64(300), uint(17), byte(0xff))
	f.Add(key, id, "v1a,"+strings.Repeat("A", 86)+"==", ts, body, int64(301), uint(3), byte(0))
	f.Add(key, id, "v1,@@@", ts, body, int64(-301), uint(3), byte(0))
	f.Add(key, "", valid, ts, body, int64(1), uint(1), byte(1))
	f.Add(key, id, valid, "", body, int64(2), uint(1), byte(1))
	f.Add(key, id, "", ts, body, int64(3), uint(1), byte(1))
	f.Add(key, id, "v1", "+1768564800", body, int64(-1<<63), uint(1<<63), byte(0x40))
	f.Add([]byte{}, "msg_p5jXN8AQM9LWM0D4loKWxJek", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "1614265330", []byte(`{"test": 2432232314}`), int64(1<<62), uint(9), byte(9))
	f.Add([]byte{0}, "id with spaces\tand tabs", "v1,\n"+valid[3:], ts, []byte{}, int64(5), uint(0), byte(0x55))

	f.Fuzz(func(t *testing.T, key []byte, id, sigHeader, tsHeader string, body []byte, offset int64, pos uint, flip byte) {
		if len(key) == 0 {
			key = []byte{0} // an empty secret is a configuration error, tested elsewhere
		}
		secret := standardSecretPrefix + base64.StdEncoding.EncodeToString(key)
		seed := sha256.Sum256(key)
		signingKey := standardSigningKeyPrefix + base64.StdEncoding.EncodeToString(seed[:])
		publicKey, err := PublicKey(signingKey)
		if err != nil {
			t.Fatalf("PublicKey: %v", err)
		}
		pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
		v := Verifier{Scheme: SchemeStandard, Secrets: []string{secret, publicKey}, Now: fuzzClock}

		// Arbitrary headers.
		h := http.Header{}
		for name, value := range map[string]string{HeaderStandardID: id, HeaderStandardTimestamp: tsHeader, HeaderStandardSignature: sigHeader} {
			if value != "" {
				h[name] = []string{value}
			}
		}
		err = v.Verify(h, body)
		fuzzCheckErr(t, err, secret, secret[len(standardSecretPrefix):])
		if err == nil {
			if id == "" || !fuzzWithinTolerance(tsHeader) {
				t.Fatalf("Verify accepted id %q, timestamp %q", id, tsHeader)
			}
			msg := fuzzStandardMsg(id, tsHeader, body)
			mac := hmac.New(sha256.New, key)
			mac.Write(msg)
			want := mac.Sum(nil)
			ok := false
			for _, s := range strings.Fields(sigHeader) {
				version, b64, _ := strings.Cut(s, ",")
				raw, derr := base64.StdEncoding.DecodeString(b64)
				switch {
				case derr != nil:
				case version == "v1":
					ok = ok || hmac.Equal(raw, want)
				case version == "v1a":
					ok = ok || ed25519.Verify(pub, msg, raw)
				}
			}
			if !ok {
				t.Fatalf("Verify accepted %q for id %q, timestamp %q without a correct v1 or v1a signature", sigHeader, id, tsHeader)
			}
		}

		// Signed by our signer, within the tolerance: passes (or, with an
		// empty id, is missing its webhook-id).
		unix := fuzzNow + fuzzOffset(offset)
		ts := strconv.FormatInt(unix, 10)
		for _, sk := range []string{secret, signingKey} {
			sg, err := newStandardSigner(sk)
			if err != nil {
				t.Fatalf("newStandardSigner: %v", err)
			}
			signed := http.Header{}
			sg.setHeaders(signed, id, unix, body)
			if signed.Get(HeaderStandardTimestamp) != ts || signed.Get(HeaderStandardID) != id {
				t.Fatalf("signer: headers %q, want id %q and timestamp %s", signed, id, ts)
			}
			sig := signed.Get(HeaderStandardSignature)
			if sk == secret {
				mac := hmac.New(sha256.New, key)
				mac.Write(fuzzStandardMsg(id, ts, body))
				if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); sig != want {
					t.Fatalf("signer: signature %q, want %q", sig, want)
				}
			} else {
				raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1a,"))
				if !strings.HasPrefix(sig, "v1a,") || err != nil || !ed25519.Verify(pub, fuzzStandardMsg(id, ts, body), raw) {
					t.Fatalf("signer: signature %q is not a v1a ed25519 signature of the message", sig)
				}
			}
			err = v.Verify(signed, body)
			if id == "" {
				if !errors.Is(err, ErrMissingSignature) {
					t.Fatalf("Verify(signed, empty id) = %v, want %v", err, ErrMissingSignature)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Verify(signed at %d with %.5s…) = %v", unix, sk, err)
			}

			// A changed body byte, an extra or a missing byte, another id.
			fuzzCheckChangedBody(t, v, signed, body, pos, flip, secret)
			other := signed.Clone()
			other.Set(HeaderStandardID, id+string(rune('a'+flip%26)))
			if err := v.Verify(other, body); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("Verify(signed, id changed) = %v, want %v", err, ErrInvalidSignature)
			}
		}
	})
}
