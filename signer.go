package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"iter"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// The headers of Rail Django's HMAC scheme ([SchemeHMAC]), in canonical form.
const (
	// HeaderSignature carries the signature: "sha256=" followed by the
	// lowercase hex HMAC-SHA256 of "<timestamp>.<body>". While a secret is
	// being rotated it may hold several such values, separated by spaces.
	HeaderSignature = "X-Webhook-Signature"
	// HeaderTimestamp carries the time of signing in unix seconds (decimal).
	// It is part of the signed message, so it cannot be altered, and
	// receivers reject stale values to stop replays.
	HeaderTimestamp = "X-Webhook-Timestamp"
	// HeaderEventID carries the payload's event id ("evt_…"), the same on
	// every attempt of an event. The signature does not cover it: anyone
	// holding one signed request can send it again within the tolerance
	// under another id. It is a hint for logs and correlation, not an
	// authenticated value, so do not deduplicate on it; [Receiver]
	// deduplicates this scheme's requests on a digest of the signed body,
	// which holds the event id (keep one in a body shaped by
	// [Endpoint.Transform]).
	HeaderEventID = "X-Webhook-Event-Id"
)

// SignatureScheme names how deliveries to an endpoint are signed.
type SignatureScheme string

const (
	// SchemeHMAC is Rail Django's scheme and the default: the headers
	// [HeaderSignature], [HeaderTimestamp] and [HeaderEventID], with
	// "sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>".
	SchemeHMAC SignatureScheme = "hmac-sha256"
	// SchemeStandard is the Standard Webhooks scheme (https://www.standardwebhooks.com):
	// headers webhook-id, webhook-timestamp and webhook-signature over
	// "<id>.<timestamp>.<body>". A secret "whsec_<base64>" signs with
	// HMAC-SHA256 ("v1,<base64>"); a secret key "whsk_<base64>" signs with
	// ed25519 ("v1a,<base64>"), so that receivers hold only the public key
	// "whpk_<base64>" (see [PublicKey]).
	SchemeStandard SignatureScheme = "standard-webhooks"
)

// Errors returned by [Verify] and [Verifier.Verify]. Returned errors wrap
// exactly one of them (test with [errors.Is]) and name the offending header;
// they never contain a secret or an expected signature.
var (
	// ErrMissingSignature reports that a required header
	// ([HeaderSignature] or [HeaderTimestamp]) is absent or empty.
	ErrMissingSignature = errors.New("missing signature")
	// ErrMalformedSignature reports that a header is present but cannot be
	// parsed: a signature without the "sha256=" prefix, with bad hex or of the
	// wrong length, or a timestamp that is not a decimal unix time.
	ErrMalformedSignature = errors.New("malformed signature")
	// ErrInvalidSignature reports a well-formed request whose signatures
	// match none of the secrets: the body, the timestamp or the signature was
	// altered, or the secret is wrong.
	ErrInvalidSignature = errors.New("invalid signature")
	// ErrTimestampOutOfRange reports a [HeaderTimestamp] further than the
	// tolerance from the verifier's clock, in the past or in the future.
	ErrTimestampOutOfRange = errors.New("timestamp out of range")
	// ErrSignatureHeaderTooLarge reports a signature header ([HeaderSignature]
	// or [HeaderStandardSignature]) longer than [MaxSignatureHeaderBytes].
	// Such a request is refused before anything is parsed or hashed.
	ErrSignatureHeaderTooLarge = errors.New("signature header too large")
)

// DefaultTolerance is how far [HeaderTimestamp] may be from the receiver's
// clock, in either direction, when [Verifier.Tolerance] is not set.
const DefaultTolerance = 5 * time.Minute

// MaxTolerance is the largest tolerance a [Verifier] applies: a larger
// [Verifier.Tolerance] counts as MaxTolerance, so that no value turns the
// timestamp check off.
const MaxTolerance = 24 * time.Hour

// Bounds on the work of one verification, whatever the request holds. A
// request costs at most one pass over the body per HMAC secret, plus
// MaxSignatures passes per ed25519 public key (Standard Webhooks).
const (
	// MaxSignatureHeaderBytes bounds the signature header: the lengths of
	// all its values ([http.Header.Values]) added up. A longer header is
	// refused with [ErrSignatureHeaderTooLarge]. A sender rotating its
	// secret sends two signatures of under 100 bytes each.
	MaxSignatureHeaderBytes = 4 << 10

	// MaxSignatures is how many distinct signatures of one request are
	// compared, in the order they come: later ones, and repeats of one
	// already seen, are ignored. A sender rotating its secret sends two.
	MaxSignatures = 4
)

// sigPrefix starts every signature of the HMAC scheme.
const sigPrefix = "sha256="

// sigHexLen is the length of one signature's hex part.
const sigHexLen = 2 * sha256.Size

// Verify checks a request signed with Rail Django's HMAC scheme: the headers
// [HeaderSignature] and [HeaderTimestamp] and the raw, unparsed request body.
// It accepts the request when one of the signatures in the header is the
// HMAC-SHA256 of "<timestamp>.<body>" keyed with secret, compared in constant
// time, and the timestamp is within [DefaultTolerance] of [time.Now].
//
// It returns nil for a valid request, otherwise an error wrapping
// [ErrSignatureHeaderTooLarge], [ErrMissingSignature],
// [ErrMalformedSignature], [ErrTimestampOutOfRange] or
// [ErrInvalidSignature], checked in that order (see [Verifier.Verify]).
// An empty secret is an error.
// Use a [Verifier] for several secrets, another tolerance or a fixed clock.
func Verify(secret string, header http.Header, body []byte) error {
	v := Verifier{Secrets: []string{secret}}
	return v.Verify(header, body)
}

// Verifier checks requests signed with Rail Django's HMAC scheme.
// Its zero value has no secret and rejects every request; set Secrets.
// A Verifier is safe for concurrent use as long as its fields are not changed.
type Verifier struct {
	// Secrets are the shared secrets a signature may be made with; a request
	// passes when any of its signatures matches any of them. Listing the new
	// and the old secret lets a receiver accept both while a sender rotates.
	// Empty, or holding an empty string, every call returns an error: an
	// unset secret (a missing environment variable) must not verify anything.
	Secrets []string

	// Tolerance is how far the request's timestamp may be from Now, in the
	// past or in the future; a timestamp exactly Tolerance away passes.
	// Zero or negative means DefaultTolerance (5 minutes); more than
	// MaxTolerance (24 hours) means MaxTolerance. The check cannot be
	// turned off.
	Tolerance time.Duration

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// Scheme is the signature scheme the requests use. "": SchemeHMAC.
	// With SchemeStandard, Secrets hold "whsec_…" secrets and "whpk_…"
	// public keys, and the webhook-* headers are checked. The bounds
	// MaxSignatureHeaderBytes and MaxSignatures hold for both schemes.
	Scheme SignatureScheme

	// hashes, if set (by tests only), is called before each pass over the
	// body: one HMAC or one ed25519 verification.
	hashes func()

	// keys, set by NewVerifier, are the keyed HMAC states of the Secrets
	// it was given; unused once Secrets differ from them.
	keys *verifierKeys
}

// NewVerifier returns a Verifier of the secrets (Rail Django's HMAC
// scheme, DefaultTolerance, time.Now) that keeps each secret's keyed HMAC
// state from one request to the next: a request then costs its HMAC and
// no key setup (for a 1 KB body, about a third less time than a Verifier
// literal, and no allocation). Set Tolerance, Now or Scheme on it before
// sharing it; with SchemeStandard nothing is kept. Replacing Secrets
// later, while no request is being verified, is allowed: the states kept
// are then unused, and each request keys its HMAC afresh. To rotate
// secrets on a live receiver, swap in a new Verifier instead (through an
// atomic.Pointer, say).
func NewVerifier(secrets ...string) *Verifier {
	return &Verifier{Secrets: secrets, keys: newVerifierKeys(secrets)}
}

// verifierKeys are keyed HMAC states for a list of secrets.
type verifierKeys struct {
	secrets []string // a copy of the Secrets they were made for
	macs    *hmacSigner
}

func newVerifierKeys(secrets []string) *verifierKeys {
	return &verifierKeys{secrets: slices.Clone(secrets), macs: newHMACSigner(secrets...)}
}

// forSecrets returns k if it was made for secrets, else nil.
func (k *verifierKeys) forSecrets(secrets []string) *verifierKeys {
	if k == nil || !slices.Equal(k.secrets, secrets) {
		return nil
	}
	return k
}

// Verify checks the signature headers of a request against its raw body,
// read in full and unmodified (before any JSON decoding). The checks run in
// this order, and the first failure is returned as an error wrapping:
//
//   - [ErrSignatureHeaderTooLarge]: [HeaderSignature] is longer than
//     [MaxSignatureHeaderBytes];
//   - [ErrMissingSignature]: [HeaderSignature] or [HeaderTimestamp] is absent or empty;
//   - [ErrMalformedSignature]: a signature is not "sha256=" followed by 64 hex
//     digits, or the timestamp is not a decimal unix time;
//   - [ErrTimestampOutOfRange]: the timestamp is further than Tolerance from Now;
//   - [ErrInvalidSignature]: no signature matches any of the Secrets.
//
// [HeaderSignature] may hold several space-separated signatures (a sender
// rotating its secret sends one per secret); one match is enough. The
// first [MaxSignatures] distinct ones are compared, the others ignored.
// The signed message is the timestamp exactly as sent, a '.', and the
// body; its HMAC is computed once per secret, and compared with the
// signatures in constant time. A Verifier without secrets, or with an
// empty one, returns an error that wraps none of the sentinels above.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	return v.verify(header, body, v.keys)
}

// verify is Verify, with keyed HMAC states for the Secrets, if keys were
// made for them.
func (v *Verifier) verify(header http.Header, body []byte, keys *verifierKeys) error {
	switch v.Scheme {
	case "", SchemeHMAC:
	case SchemeStandard:
		return v.verifyStandard(header, body)
	default:
		return fmt.Errorf("webhook: Verifier scheme %q unknown", v.Scheme)
	}
	secrets := v.Secrets // read once: the keys below must match what is used
	if len(secrets) == 0 {
		return errors.New("webhook: Verifier has no secrets")
	}
	for i, s := range secrets {
		if s == "" {
			return fmt.Errorf("webhook: Verifier secret %d of %d is empty", i+1, len(secrets))
		}
	}

	// 1. Size, then missing headers.
	sigs, err := signatureFields(header, HeaderSignature)
	if err != nil {
		return err
	}
	if sigs.empty() {
		return fmt.Errorf("webhook: %s: header is absent or empty: %w", HeaderSignature, ErrMissingSignature)
	}
	ts := headerValue(header, HeaderTimestamp)
	if ts == "" {
		return fmt.Errorf("webhook: %s: header is absent or empty: %w", HeaderTimestamp, ErrMissingSignature)
	}

	// 2. Malformed headers. Every signature is parsed (the header is
	// small); the first MaxSignatures distinct ones are kept.
	unix, ok := sigParseUnix(ts)
	if !ok {
		return fmt.Errorf("webhook: %s: %q is not a unix time: %w", HeaderTimestamp, sigTruncate(ts), ErrMalformedSignature)
	}
	var kept [MaxSignatures][sha256.Size]byte
	got := kept[:0]
	for i, sig := range sigs.all() {
		hexPart, ok := strings.CutPrefix(sig, sigPrefix)
		switch {
		case !ok:
			// The received value is not echoed: it may be a valid
			// signature with a mangled prefix.
			return fmt.Errorf("webhook: %s: signature %d does not start with %q: %w",
				HeaderSignature, i+1, sigPrefix, ErrMalformedSignature)
		case len(hexPart) != sigHexLen:
			return fmt.Errorf("webhook: %s: signature %d: %d hex digits, want %d: %w",
				HeaderSignature, i+1, len(hexPart), sigHexLen, ErrMalformedSignature)
		}
		var raw [sha256.Size]byte
		if !decodeHexSum(&raw, hexPart) {
			return fmt.Errorf("webhook: %s: signature %d: not hexadecimal: %w",
				HeaderSignature, i+1, ErrMalformedSignature)
		}
		if len(got) < MaxSignatures && !slices.Contains(got, raw) {
			got = append(got, raw)
		}
	}

	// 3. Timestamp tolerance.
	if err := v.checkTime(HeaderTimestamp, ts, unix); err != nil {
		return err
	}

	// 4. Signatures: one HMAC per secret, against every signature kept,
	// in constant time.
	var pbuf [24]byte // a unix time and '.'
	prefix := append(append(pbuf[:0], ts...), '.')
	keys = keys.forSecrets(secrets)
	var heapPrefix []byte // without keys: a copy of prefix, so that pbuf stays on the stack
	if keys == nil {
		heapPrefix = append([]byte(nil), prefix...)
	}
	for k, secret := range secrets {
		v.hashed()
		var expected [sha256.Size]byte
		if keys != nil {
			expected = macSum(&keys.macs.pools[k], prefix, body)
		} else {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(heapPrefix)
			mac.Write(body)
			copy(expected[:], mac.Sum(nil)) // not into expected: it would escape
		}
		for i := range got {
			if hmac.Equal(got[i][:], expected[:]) {
				return nil
			}
		}
	}
	return fmt.Errorf("webhook: %s: no signature matches: %w", HeaderSignature, ErrInvalidSignature)
}

// hashed calls the test hook before a pass over the body.
func (v *Verifier) hashed() {
	if v.hashes != nil {
		v.hashes()
	}
}

// signatureFields returns the signature header name's lines, or an error
// wrapping ErrSignatureHeaderTooLarge when they add up to more than
// MaxSignatureHeaderBytes: that is checked before anything is split.
func signatureFields(header http.Header, name string) (sigLines, error) {
	lines := header[name]
	size := 0
	for _, line := range lines {
		size += len(line)
		if size > MaxSignatureHeaderBytes {
			return nil, fmt.Errorf("webhook: %s: header longer than %d bytes: %w",
				name, MaxSignatureHeaderBytes, ErrSignatureHeaderTooLarge)
		}
	}
	return lines, nil
}

// sigLines are the lines of a signature header, each holding
// space-separated signatures.
type sigLines []string

// all yields the signatures of every line, numbered from 0, without
// allocating: the fields of each line as strings.Fields splits them.
func (l sigLines) all() iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		i := 0
		for _, line := range l {
			for sig, rest := nextField(line); sig != ""; sig, rest = nextField(rest) {
				if !yield(i, sig) {
					return
				}
				i++
			}
		}
	}
}

// nextField returns the first field of s, split where strings.Fields
// splits (unicode.IsSpace), and what follows it; "" when s has none.
// ASCII, a header's usual content, is read a byte at a time.
func nextField(s string) (field, rest string) {
	i := spaceEnd(s, true)
	s = s[i:]
	j := spaceEnd(s, false)
	return s[:j], s[j:]
}

// spaceEnd returns the length of the run of spaces (space true) or of
// other characters (false) that starts s.
func spaceEnd(s string, space bool) int {
	i := 0
	for i < len(s) {
		c := s[i]
		if ' ' < c && c < utf8.RuneSelf { // most of a header: no space
			if space {
				return i
			}
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if asciiSpace(c) != space {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) != space {
			return i
		}
		i += n
	}
	return i
}

// asciiSpace reports whether the ASCII byte c is a space to unicode.IsSpace.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// empty reports whether the lines hold no signature.
func (l sigLines) empty() bool {
	for _, line := range l {
		if spaceEnd(line, true) < len(line) {
			return false
		}
	}
	return true
}

// headerValue is h.Get(key) for a key already in canonical form (all of
// this package's header names are): the map is read directly, without
// canonicalizing the key again.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// decodeHexSum decodes the 64 hex digits s (either case) into dst.
func decodeHexSum(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// checkTime checks a parsed timestamp header against the tolerance.
func (v *Verifier) checkTime(name, ts string, unix int64) error {
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	tolerance = min(tolerance, MaxTolerance)
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if unix >= sigMaxUnix { // beyond any clock; time.Unix would overflow
		return fmt.Errorf("webhook: %s: %s is in the future, tolerance %v: %w",
			name, ts, tolerance, ErrTimestampOutOfRange)
	}
	age := now().Sub(time.Unix(unix, 0)) // Sub saturates
	if age > tolerance {
		return fmt.Errorf("webhook: %s: %s is %v in the past, tolerance %v: %w",
			name, ts, age, tolerance, ErrTimestampOutOfRange)
	}
	if age < -tolerance {
		return fmt.Errorf("webhook: %s: %s is %v in the future, tolerance %v: %w",
			name, ts, -age, tolerance, ErrTimestampOutOfRange)
	}
	return nil
}

// sigMaxUnix is a timestamp (in the year 36812) past which no clock will be,
// well within what time.Unix represents.
const sigMaxUnix = 1 << 40

// sigParseUnix parses a timestamp header: ASCII decimal digits only (no sign,
// no spaces), as the signer writes them.
func sigParseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// sigTruncate shortens a received header value before it goes into an error
// message, so a hostile sender cannot make log lines arbitrarily long.
func sigTruncate(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	n := limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// hmacSigner signs with one or more secrets; safe for concurrent use.
// It holds one pool of keyed HMAC states per secret, so signing allocates
// nothing once the pools are warm.
type hmacSigner struct {
	pools []sync.Pool // one per secret, in the order given; never copied
}

// hmacState is one keyed HMAC with scratch space for the message prefix and
// the sum, so that nothing passed through the hash.Hash interface escapes
// from the caller's stack.
type hmacState struct {
	mac hash.Hash
	msg []byte // the message prefix, copied
	sum [sha256.Size]byte
}

// newHMACState returns the New func of a pool of HMAC states keyed with key.
func newHMACState(key []byte) func() any {
	return func() any { return &hmacState{mac: hmac.New(sha256.New, key)} }
}

// macSum returns the HMAC of prefix followed by body, with a state from p
// (see newHMACState). prefix is copied into the state, so the caller's
// buffer stays on its stack.
func macSum(p *sync.Pool, prefix, body []byte) [sha256.Size]byte {
	st := p.Get().(*hmacState)
	st.msg = append(st.msg[:0], prefix...)
	st.mac.Reset()
	st.mac.Write(st.msg)
	st.mac.Write(body)
	sum := [sha256.Size]byte(st.mac.Sum(st.sum[:0]))
	p.Put(st)
	return sum
}

// setSignedHeaders sets the three headers of an attempt from str, the
// timestamp (str[:n]) followed by the signature, and eventID: one backing
// array for the three value slices, with full slice expressions so that
// an append to one header cannot touch another. The keys are canonical,
// and assigned directly (no CanonicalMIMEHeaderKey work).
func setSignedHeaders(h http.Header, sigKey, tsKey, idKey, str string, n int, eventID string) {
	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = str[n:], str[:n], eventID
	h[sigKey] = vals[0:1:1]
	h[tsKey] = vals[1:2:2]
	h[idKey] = vals[2:3:3]
}

// newHMACSigner returns a signer for the secrets, in that order.
func newHMACSigner(secrets ...string) *hmacSigner {
	s := &hmacSigner{pools: make([]sync.Pool, len(secrets))}
	for i, secret := range secrets {
		s.pools[i].New = newHMACState([]byte(secret))
	}
	return s
}

// sigLen is the length of one "sha256=<hex>" value.
const sigLen = len(sigPrefix) + sigHexLen

// appendSignature appends the X-Webhook-Signature value for (unix, body):
// "sha256=<hex>" per secret, space-separated, in the order given.
func (s *hmacSigner) appendSignature(dst []byte, unix int64, body []byte) []byte {
	if n := len(s.pools); n > 0 {
		dst = slices.Grow(dst, n*(sigLen+1)-1)
	}
	var buf [24]byte // "<unix>." (at most 20 digits and sign, then '.')
	prefix := append(strconv.AppendInt(buf[:0], unix, 10), '.')
	for i := range s.pools {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, sigPrefix...)
		sum := macSum(&s.pools[i], prefix, body)
		dst = hex.AppendEncode(dst, sum[:])
	}
	return dst
}

// setHeaders sets X-Webhook-Signature, X-Webhook-Timestamp (unix seconds,
// decimal) and X-Webhook-Event-Id on h. It allocates two objects: one
// string holding both the timestamp and the signature, and one backing
// array for the three value slices (see setSignedHeaders).
func (s *hmacSigner) setHeaders(h http.Header, eventID string, unix int64, body []byte) {
	var buf [2*sigLen + 24]byte // room for two secrets without growing
	b := strconv.AppendInt(buf[:0], unix, 10)
	n := len(b)
	b = s.appendSignature(b, unix, body)
	// "<unix>sha256=…": one allocation for both values.
	setSignedHeaders(h, HeaderSignature, HeaderTimestamp, HeaderEventID, string(b), n, eventID)
}
