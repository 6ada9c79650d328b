package webhook

// The verifiers' work per request is bounded: however many entries a
// hostile signature header holds, a request costs at most one full-body
// hash per configured secret (HMAC) plus MaxSignatures per public key
// (ed25519), and a header over MaxSignatureHeaderBytes costs none. The
// count comes from the Verifier's hashes hook, set only by these tests.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// boundNow is the verifiers' clock in these tests: 2026-01-16T12:00:00Z.
const boundNow = 1768564800

// boundKeys are the keys every verifier here is configured with: two HMAC
// secrets of each scheme (a rotation) and two ed25519 public keys.
type boundKeys struct {
	hmac       []string // Rail Django's scheme
	std        []string // "whsec_…"
	pub        []string // "whpk_…"
	signing    []string // "whsk_…", pub's signing keys
	stdSecrets [][]byte // std, decoded
}

func newBoundKeys(t testing.TB) boundKeys {
	t.Helper()
	var k boundKeys
	for i := range 2 {
		k.hmac = append(k.hmac, "bound-secret-"+strconv.Itoa(i))
		raw := bytes.Repeat([]byte{byte('a' + i)}, 32)
		k.stdSecrets = append(k.stdSecrets, raw)
		k.std = append(k.std, standardSecretPrefix+base64.StdEncoding.EncodeToString(raw))
		seed := sha256.Sum256([]byte{byte(i)})
		signing := standardSigningKeyPrefix + base64.StdEncoding.EncodeToString(seed[:])
		pub, err := PublicKey(signing)
		require.NoError(t, err)
		k.signing = append(k.signing, signing)
		k.pub = append(k.pub, pub)
	}
	return k
}

// verifier returns a Verifier of scheme with every key configured, whose
// hook counts into n.
func (k boundKeys) verifier(scheme SignatureScheme, n *int) Verifier {
	v := Verifier{Scheme: scheme, Now: func() time.Time { return time.Unix(boundNow, 0) }, hashes: func() { *n++ }}
	if scheme == SchemeStandard {
		v.Secrets = append(append([]string(nil), k.std...), k.pub...)
	} else {
		v.Secrets = append([]string(nil), k.hmac...)
	}
	return v
}

// maxHashes is the bound: one pass per HMAC secret, MaxSignatures per
// public key.
func (k boundKeys) maxHashes(scheme SignatureScheme) int {
	if scheme == SchemeStandard {
		return len(k.std) + MaxSignatures*len(k.pub)
	}
	return len(k.hmac)
}

// boundHMACEntry is the i-th of many distinct, well-formed and wrong
// "sha256=<hex>" signatures.
func boundHMACEntry(i int) string {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	return sigPrefix + hex.EncodeToString(sum[:])
}

// boundV1aEntry is the i-th of many distinct wrong "v1a,<base64>"
// signatures that ed25519.Verify cannot reject before hashing the message
// (the top three bits of the last byte are clear).
func boundV1aEntry(i int) string {
	var sig [ed25519.SignatureSize]byte
	a := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	b := sha256.Sum256(a[:])
	copy(sig[:32], a[:])
	copy(sig[32:], b[:])
	sig[63] &= 0x1f
	return "v1a," + base64.StdEncoding.EncodeToString(sig[:])
}

// boundV1Entry is the i-th of many distinct wrong "v1,<base64>" signatures.
func boundV1Entry(i int) string {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	return "v1," + base64.StdEncoding.EncodeToString(sum[:])
}

// boundEntries joins n entries made by entry into one header value.
func boundEntries(n int, entry func(int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = entry(i)
	}
	return strings.Join(parts, " ")
}

// boundFit is how many entries of entry's size fit in limit bytes,
// separated by spaces.
func boundFit(limit int, entry func(int) string) int {
	return (limit + 1) / (len(entry(0)) + 1)
}

// boundHeader returns the headers of a request of scheme signed at
// boundNow, with sig as its signature header.
func boundHeader(scheme SignatureScheme, sig string) http.Header {
	ts := strconv.Itoa(boundNow)
	if scheme == SchemeStandard {
		return http.Header{HeaderStandardID: {"msg_bound"}, HeaderStandardTimestamp: {ts}, HeaderStandardSignature: {sig}}
	}
	return http.Header{HeaderSignature: {sig}, HeaderTimestamp: {ts}, HeaderEventID: {"evt_bound"}}
}

// boundSigned returns the valid signatures of body at boundNow with every
// key of scheme, space-separated.
func (k boundKeys) boundSigned(t testing.TB, scheme SignatureScheme, body []byte) string {
	t.Helper()
	h := http.Header{}
	if scheme == SchemeStandard {
		s, err := newStandardSigner(append(append([]string(nil), k.std...), k.signing...)...)
		require.NoError(t, err)
		s.setHeaders(h, "msg_bound", boundNow, body)
		return h.Get(HeaderStandardSignature)
	}
	newHMACSigner(k.hmac...).setHeaders(h, "evt_bound", boundNow, body)
	return h.Get(HeaderSignature)
}

func TestVerifyHashPassesBounded(t *testing.T) {
	t.Parallel()
	keys := newBoundKeys(t)
	body := bytes.Repeat([]byte("x"), 4<<10)
	underCap := func(entry func(int) string) string {
		return boundEntries(boundFit(MaxSignatureHeaderBytes, entry), entry)
	}
	valid := func(scheme SignatureScheme) string { return keys.boundSigned(t, scheme, body) }
	repeat := func(s string, n int) string { return strings.TrimSpace(strings.Repeat(s+" ", n)) }

	for _, tc := range []struct {
		name   string
		scheme SignatureScheme
		sig    string
		want   error // nil: accepted
		max    int   // the most hash passes allowed; -1: maxHashes
	}{
		{"hmac: valid, every secret", SchemeHMAC, valid(SchemeHMAC), nil, -1},
		{"hmac: distinct wrong entries up to the size cap", SchemeHMAC, underCap(boundHMACEntry), ErrInvalidSignature, -1},
		{"hmac: one wrong entry repeated", SchemeHMAC, repeat(boundHMACEntry(1), 50), ErrInvalidSignature, -1},
		{"hmac: 1 MiB of entries", SchemeHMAC, boundEntries(boundFit(http.DefaultMaxHeaderBytes, boundHMACEntry), boundHMACEntry), ErrSignatureHeaderTooLarge, 0},
		{"standard: valid, every key", SchemeStandard, valid(SchemeStandard), nil, -1},
		{"standard: distinct v1a entries up to the size cap", SchemeStandard, underCap(boundV1aEntry), ErrInvalidSignature, MaxSignatures * len(keys.pub)},
		{"standard: distinct v1 entries up to the size cap", SchemeStandard, underCap(boundV1Entry), ErrInvalidSignature, len(keys.std)},
		{"standard: one v1a entry repeated", SchemeStandard, repeat(boundV1aEntry(1), 40), ErrInvalidSignature, len(keys.pub)},
		{"standard: 1 MiB of v1a entries", SchemeStandard, boundEntries(boundFit(http.DefaultMaxHeaderBytes, boundV1aEntry), boundV1aEntry), ErrSignatureHeaderTooLarge, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n int
			v := keys.verifier(tc.scheme, &n)
			err := v.Verify(boundHeader(tc.scheme, tc.sig), body)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			max := tc.max
			if max < 0 {
				max = keys.maxHashes(tc.scheme)
			}
			assert.LessOrEqualf(t, n, max, "full-body hash passes for a %d-byte signature header", len(tc.sig))
		})
	}
}

// A valid signature past MaxSignatures distinct entries is not looked at:
// the request fails like any other whose signatures do not match.
func TestVerifyConsidersMaxSignatures(t *testing.T) {
	t.Parallel()
	keys := newBoundKeys(t)
	body := []byte(`{"id":"evt_bound"}`)
	for _, tc := range []struct {
		scheme SignatureScheme
		entry  func(int) string
	}{
		{SchemeHMAC, boundHMACEntry},
		{SchemeStandard, boundV1aEntry},
	} {
		t.Run(string(tc.scheme), func(t *testing.T) {
			t.Parallel()
			valid := keys.boundSigned(t, tc.scheme, body)
			var n int
			v := keys.verifier(tc.scheme, &n)
			within := boundEntries(MaxSignatures-1, tc.entry) + " " + strings.Fields(valid)[0]
			require.NoError(t, v.Verify(boundHeader(tc.scheme, within), body), "valid signature as entry %d", MaxSignatures)
			// Duplicates take no place among the entries considered.
			dups := strings.Repeat(tc.entry(0)+" ", 3*MaxSignatures) + strings.Fields(valid)[0]
			require.NoError(t, v.Verify(boundHeader(tc.scheme, dups), body), "valid signature after duplicates")
			beyond := boundEntries(MaxSignatures, tc.entry) + " " + valid
			require.ErrorIs(t, v.Verify(boundHeader(tc.scheme, beyond), body), ErrInvalidSignature, "valid signature as entry %d", MaxSignatures+1)
		})
	}
}

// The size cap counts every line of the signature header.
func TestVerifySignatureHeaderTooLarge(t *testing.T) {
	t.Parallel()
	keys := newBoundKeys(t)
	body := []byte(`{}`)
	for _, scheme := range []SignatureScheme{SchemeHMAC, SchemeStandard} {
		t.Run(string(scheme), func(t *testing.T) {
			t.Parallel()
			var n int
			v := keys.verifier(scheme, &n)
			valid := keys.boundSigned(t, scheme, body)
			name := HeaderSignature
			if scheme == SchemeStandard {
				name = HeaderStandardSignature
			}
			h := boundHeader(scheme, valid)
			require.NoError(t, v.Verify(h, body))
			pad := strings.Repeat(" ", MaxSignatureHeaderBytes-len(valid))
			h[name] = []string{valid + pad}
			require.NoError(t, v.Verify(h, body), "exactly MaxSignatureHeaderBytes")
			h[name] = []string{valid + pad + " "}
			err := v.Verify(h, body)
			require.ErrorIs(t, err, ErrSignatureHeaderTooLarge, "one byte over")
			assert.Contains(t, err.Error(), name)
			h[name] = []string{valid, strings.Repeat(" ", MaxSignatureHeaderBytes)}
			require.ErrorIs(t, v.Verify(h, body), ErrSignatureHeaderTooLarge, "over on two lines")
		})
	}
}

// BenchmarkVerifyHostileHeader verifies, for each scheme, a 1 MiB body
// against a hostile signature header: as many distinct wrong entries as
// fit the default 1 MiB header limit of net/http, and as many as fit
// MaxSignatureHeaderBytes, with every key configured (two secrets, and
// for Standard Webhooks two public keys too). hashes/op is the number of
// full-body hash passes per request.
func BenchmarkVerifyHostileHeader(b *testing.B) {
	keys := newBoundKeys(b)
	body := bytes.Repeat([]byte("x"), 1<<20)
	for _, bc := range []struct {
		scheme SignatureScheme
		entry  func(int) string
	}{
		{SchemeHMAC, boundHMACEntry},
		{SchemeStandard, boundV1aEntry},
	} {
		for _, limit := range []struct {
			name  string
			bytes int
		}{
			{"1MiB-header", http.DefaultMaxHeaderBytes - 4<<10}, // room for the other headers
			{"capped-header", MaxSignatureHeaderBytes},
		} {
			sig := boundEntries(boundFit(limit.bytes, bc.entry), bc.entry)
			if bc.scheme == SchemeStandard {
				sig = boundV1Entry(0) + " " + sig[len(bc.entry(0))+1:] // one v1 entry too: HMAC is computed
			}
			h := boundHeader(bc.scheme, sig)
			b.Run(string(bc.scheme)+"/"+limit.name, func(b *testing.B) {
				var n int
				v := keys.verifier(bc.scheme, &n)
				b.ReportAllocs()
				for b.Loop() {
					if err := v.Verify(h, body); err == nil {
						b.Fatal("Verify accepted a hostile header")
					}
				}
				b.ReportMetric(float64(n)/float64(b.N), "hashes/op")
				b.ReportMetric(float64(len(sig)), "header-bytes")
			})
		}
	}
}
