package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// FuzzReceiverMiddleware drives Receiver's middleware, for both schemes,
// with fuzzed signature, timestamp and id headers and body. Run it with
//
//	go test -run '^$' -fuzz 'FuzzReceiverMiddleware$' -fuzztime 60s .
//
// It checks that nothing panics; that next runs only for a request whose
// signature the test verifies on its own (crypto/hmac, crypto/ed25519)
// with a timestamp within the tolerance, and sees exactly the signed body;
// that every answer is one of the documented statuses; that a copy of a
// processed request, or (HMAC scheme) one under another X-Webhook-Event-Id,
// does not reach next again; and that no verification hashes the body
// more often than the bound of MaxSignatures allows. sign adds a
// signature the test computes, so that mutated bodies and headers reach
// next too: bit 0 appends it to the signature header, bit 1 puts it first.
func FuzzReceiverMiddleware(f *testing.F) {
	ts := strconv.Itoa(fuzzNow)
	body := []byte(`{"id":"evt_fuzz_1","event":"created","object":{"id":1,"name":"Zoë"}}`)
	keys := newFuzzReceiverKeys()
	hmacSig := "sha256=" + fuzzHex(fuzzRcvSecrets[0], ts, body)
	oldSig := "sha256=" + fuzzHex(fuzzRcvSecrets[1], ts, body)
	v1 := keys.v1("msg_fuzz_1", ts, body)
	v1a := keys.v1a("msg_fuzz_1", ts, body)
	hostile := strings.Repeat("v1a,"+strings.Repeat("A", 86)+"== ", 40)

	f.Add(false, hmacSig, ts, "evt_fuzz_1", body, uint8(0))
	f.Add(false, oldSig+" "+hmacSig, ts, "evt_fuzz_1", body, uint8(0))
	f.Add(false, strings.ToUpper(hmacSig[:7])+hmacSig[7:], ts, "", body, uint8(0))
	f.Add(false, "sha256="+strings.Repeat("0", 64), strconv.Itoa(fuzzNow-301), "evt_stale", body, uint8(1))
	f.Add(false, strings.Repeat("sha256="+strings.Repeat("0", 64)+" ", 60), ts, "evt_x", body, uint8(1))
	f.Add(false, "", "", "", []byte{}, uint8(2))
	f.Add(false, hmacSig, ts, "evt_fuzz_1", bytes.Repeat([]byte("x"), fuzzRcvLimit+1), uint8(1))
	f.Add(true, v1, ts, "msg_fuzz_1", body, uint8(0))
	f.Add(true, v1a, ts, "msg_fuzz_1", body, uint8(0))
	f.Add(true, "v2,x "+v1a+" "+v1, ts, "msg_fuzz_1", body, uint8(0))
	f.Add(true, hostile+v1a, ts, "msg_fuzz_1", body, uint8(0))
	f.Add(true, "v1,@@@", ts, "msg_fuzz_1", body, uint8(3))
	f.Add(true, v1, ts, "", body, uint8(1))

	f.Fuzz(func(t *testing.T, standard bool, sigHeader, tsHeader, id string, body []byte, sign uint8) {
		scheme := SchemeHMAC
		sigName, tsName, idName := HeaderSignature, HeaderTimestamp, HeaderEventID
		if standard {
			scheme = SchemeStandard
			sigName, tsName, idName = HeaderStandardSignature, HeaderStandardTimestamp, HeaderStandardID
		}
		if sign&3 != 0 {
			own := keys.sign(scheme, sign, id, tsHeader, body)
			if sign&1 != 0 {
				sigHeader += " " + own
			}
			if sign&2 != 0 {
				sigHeader = own + " " + sigHeader
			}
		}
		header := http.Header{}
		for name, value := range map[string]string{sigName: sigHeader, tsName: tsHeader, idName: id} {
			if value != "" {
				header[name] = []string{value}
			}
		}
		// Whether the request verifies, by the test's own reckoning: a
		// signature over the body as sent, in time. (The middleware may
		// still refuse it: a malformed entry beside it, one of too many.)
		verifies := len(body) <= fuzzRcvLimit && fuzzWithinTolerance(tsHeader) && keys.matches(scheme, sigHeader, id, tsHeader, body)

		r := newFuzzReceiver(t, scheme, keys)
		answer := func(h http.Header) (int, int) {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/webhooks/", bytes.NewReader(body))
			req.Header = h
			rec := httptest.NewRecorder()
			before := len(r.seen)
			r.hashes = 0
			r.handler.ServeHTTP(rec, req)
			if r.hashes > r.bound {
				t.Fatalf("%d full-body hash passes for one request, want at most %d", r.hashes, r.bound)
			}
			return rec.Code, len(r.seen) - before
		}

		status, calls := answer(header.Clone())
		switch status {
		case http.StatusNoContent: // next's answer
			if calls != 1 {
				t.Fatalf("status %d with next called %d times", status, calls)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			if calls != 0 {
				t.Fatalf("status %d with next called %d times", status, calls)
			}
		default:
			t.Fatalf("status %d, want 204 (next), 400, 401 or 413", status)
		}
		if calls == 0 {
			return
		}
		if !verifies {
			t.Fatalf("next ran for signature %q, timestamp %q, id %q, body %q, which do not verify", sigHeader, tsHeader, id, body)
		}
		if !bytes.Equal(r.seen[0], body) {
			t.Fatalf("next saw body %q, signed %q", r.seen[0], body)
		}

		// A copy of the request, and (HMAC) one under another event id.
		copies := []http.Header{header.Clone()}
		if !standard {
			other := header.Clone()
			other.Set(HeaderEventID, id+"_replayed")
			copies = append(copies, other)
		}
		for i, h := range copies {
			if status, calls := answer(h); status != http.StatusOK || calls != 0 {
				t.Fatalf("copy %d of a processed request: status %d, next called %d times; want 200 and 0", i, status, calls)
			}
		}
		if standard {
			other := header.Clone()
			other.Set(HeaderStandardID, id+"_replayed")
			if status, calls := answer(other); status != http.StatusUnauthorized || calls != 0 {
				t.Fatalf("the request under another webhook-id: status %d, next called %d times; want 401 and 0", status, calls)
			}
		}
	})
}

// fuzzRcvLimit is the receivers' MaxBodyBytes.
const fuzzRcvLimit = 2048

// fuzzRcvSecrets are the HMAC scheme's secrets: the current one and the
// one being rotated out.
var fuzzRcvSecrets = [2]string{"fuzz-receiver-secret", "fuzz-receiver-previous"}

// fuzzReceiverKeys are the Standard Webhooks keys: an HMAC secret and an
// ed25519 key pair.
type fuzzReceiverKeys struct {
	hmacKey []byte
	priv    ed25519.PrivateKey
	pub     ed25519.PublicKey
}

func newFuzzReceiverKeys() fuzzReceiverKeys {
	seed := sha256.Sum256([]byte("fuzz receiver ed25519 seed"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return fuzzReceiverKeys{hmacKey: []byte("fuzz receiver standard key, 32 b"), priv: priv, pub: priv.Public().(ed25519.PublicKey)}
}

func (k fuzzReceiverKeys) secrets(scheme SignatureScheme) []string {
	if scheme == SchemeStandard {
		return []string{
			standardSecretPrefix + base64.StdEncoding.EncodeToString(k.hmacKey),
			standardPublicKeyPrefix + base64.StdEncoding.EncodeToString(k.pub),
		}
	}
	return fuzzRcvSecrets[:]
}

// v1 and v1a are Standard Webhooks signatures computed here.
func (k fuzzReceiverKeys) v1(id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, k.hmacKey)
	mac.Write(fuzzStandardMsg(id, ts, body))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (k fuzzReceiverKeys) v1a(id, ts string, body []byte) string {
	return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, fuzzStandardMsg(id, ts, body)))
}

// sign returns a valid signature of the request: for the HMAC scheme with
// one of the two secrets, for Standard Webhooks v1 or v1a (bit 2 of sign).
func (k fuzzReceiverKeys) sign(scheme SignatureScheme, sign uint8, id, ts string, body []byte) string {
	if scheme == SchemeStandard {
		if sign&4 != 0 {
			return k.v1a(id, ts, body)
		}
		return k.v1(id, ts, body)
	}
	return sigPrefix + fuzzHex(fuzzRcvSecrets[sign>>2&1], ts, body)
}

// matches reports whether an entry of sigHeader is a signature of the
// request with one of the keys, by the scheme's definition.
func (k fuzzReceiverKeys) matches(scheme SignatureScheme, sigHeader, id, ts string, body []byte) bool {
	for _, entry := range strings.Fields(sigHeader) {
		if scheme == SchemeHMAC {
			got, ok := strings.CutPrefix(entry, sigPrefix)
			raw, err := hex.DecodeString(got)
			if !ok || err != nil {
				continue
			}
			for _, secret := range fuzzRcvSecrets {
				want, _ := hex.DecodeString(fuzzHex(secret, ts, body))
				if hmac.Equal(raw, want) {
					return true
				}
			}
			continue
		}
		if id == "" {
			return false
		}
		version, b64, _ := strings.Cut(entry, ",")
		raw, err := base64.StdEncoding.DecodeString(b64)
		switch {
		case err != nil:
		case version == "v1":
			want, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(k.v1(id, ts, body), "v1,"))
			if hmac.Equal(raw, want) {
				return true
			}
		case version == "v1a":
			if ed25519.Verify(k.pub, fuzzStandardMsg(id, ts, body), raw) {
				return true
			}
		}
	}
	return false
}

// fuzzReceiver is a Receiver's middleware around a next that records the
// bodies it sees and answers 204, with a deduplication store of its own
// and a count of the verifier's hash passes.
type fuzzReceiver struct {
	handler http.Handler
	seen    [][]byte
	hashes  int
	bound   int // the most hash passes one request may cost
}

func newFuzzReceiver(t *testing.T, scheme SignatureScheme, keys fuzzReceiverKeys) *fuzzReceiver {
	r := &fuzzReceiver{bound: len(fuzzRcvSecrets)}
	if scheme == SchemeStandard {
		r.bound = 1 + MaxSignatures // one whsec_ secret, one whpk_ key
	}
	rc := &Receiver{
		Verifier:     Verifier{Scheme: scheme, Secrets: keys.secrets(scheme), Now: fuzzClock, hashes: func() { r.hashes++ }},
		MaxBodyBytes: fuzzRcvLimit,
		Dedup:        NewMemoryDedup(MemoryDedupConfig{Now: fuzzClock}),
	}
	r.handler = rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			t.Errorf("next: reading the body: %v", err)
		}
		r.seen = append(r.seen, b)
		w.WriteHeader(http.StatusNoContent)
	}))
	return r
}
