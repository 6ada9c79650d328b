package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The headers of the Standard Webhooks scheme ([SchemeStandard]), in
// canonical form.
const (
	HeaderStandardID        = "Webhook-Id"
	HeaderStandardTimestamp = "Webhook-Timestamp"
	HeaderStandardSignature = "Webhook-Signature"
)

// Key prefixes of the Standard Webhooks scheme.
const (
	standardSecretPrefix     = "whsec_" // HMAC secret
	standardSigningKeyPrefix = "whsk_"  // ed25519 private key
	standardPublicKeyPrefix  = "whpk_"  // ed25519 public key
)

// signer signs one attempt: it sets the scheme's headers on h. Safe for
// concurrent use.
type signer interface {
	setHeaders(h http.Header, eventID string, unix int64, body []byte)
}

var (
	_ signer = (*hmacSigner)(nil)
	_ signer = (*standardSigner)(nil)
)

// newSigner returns the scheme's signer for the secrets, the current one
// first. Errors say which secret is wrong, never what it holds.
func newSigner(scheme SignatureScheme, secrets ...string) (signer, error) {
	switch scheme {
	case "", SchemeHMAC:
		return newHMACSigner(secrets...), nil
	case SchemeStandard:
		s, err := newStandardSigner(secrets...)
		if err != nil {
			return nil, err // a nil signer, not a nil *standardSigner in one
		}
		return s, nil
	default:
		return nil, fmt.Errorf("scheme: %q unknown (want %q or %q)", scheme, SchemeHMAC, SchemeStandard)
	}
}

// standardSigner signs with Standard Webhooks secrets: "whsec_" HMAC
// secrets ("v1,…") and "whsk_" ed25519 keys ("v1a,…").
type standardSigner struct {
	keys []standardKey
}

type standardKey struct {
	pool sync.Pool          // of *hmacState, for a whsec_ secret
	ed   ed25519.PrivateKey // for a whsk_ key
}

func newStandardSigner(secrets ...string) (*standardSigner, error) {
	s := &standardSigner{keys: make([]standardKey, len(secrets))}
	for i, secret := range secrets {
		k := &s.keys[i]
		switch {
		case strings.HasPrefix(secret, standardSigningKeyPrefix):
			priv, err := parseSigningKey(secret)
			if err != nil {
				return nil, err
			}
			k.ed = priv
		case strings.HasPrefix(secret, standardPublicKeyPrefix):
			return nil, errors.New(`a "whpk_" public key verifies but cannot sign: give the "whsk_" signing key`)
		default:
			key, err := decodeStandardSecret(secret)
			if err != nil {
				return nil, err
			}
			k.pool.New = newHMACState(key)
		}
	}
	return s, nil
}

// decodeStandardSecret decodes "whsec_<base64>" (the prefix is optional,
// as in the reference libraries).
func decodeStandardSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, standardSecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New(`a Standard Webhooks secret must be "whsec_" followed by base64`)
	}
	return key, nil
}

// parseSigningKey decodes "whsk_<base64>" holding an ed25519 seed (32
// bytes) or private key (64 bytes).
func parseSigningKey(secret string) (ed25519.PrivateKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, standardSigningKeyPrefix))
	switch {
	case err != nil:
	case len(raw) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case len(raw) == ed25519.PrivateKeySize:
		priv := ed25519.PrivateKey(raw)
		if ed25519.NewKeyFromSeed(priv.Seed()).Equal(priv) {
			return priv, nil
		}
	}
	return nil, errors.New(`an ed25519 signing key must be "whsk_" followed by the base64 of a 32-byte seed or 64-byte private key`)
}

// PublicKey returns the "whpk_…" public key a receiver needs to verify
// requests signed with the "whsk_…" signing key.
func PublicKey(signingKey string) (string, error) {
	priv, err := parseSigningKey(signingKey)
	if err != nil {
		return "", fmt.Errorf("webhook: %w", err)
	}
	return standardPublicKeyPrefix + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), nil
}

// GenerateSigningKey returns a new "whsk_…" ed25519 signing key and its
// "whpk_…" public key.
func GenerateSigningKey() (signingKey, publicKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return "", "", fmt.Errorf("webhook: generating key: %w", err)
	}
	return standardSigningKeyPrefix + base64.StdEncoding.EncodeToString(priv.Seed()),
		standardPublicKeyPrefix + base64.StdEncoding.EncodeToString(pub), nil
}

// appendStandardPrefix appends "<id>.<unix>." — the signed content is that and the body.
func appendStandardPrefix(dst []byte, id string, unix int64) []byte {
	dst = append(dst, id...)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, unix, 10)
	return append(dst, '.')
}

func (s *standardSigner) appendSignature(dst []byte, id string, unix int64, body []byte) []byte {
	var prefix [128]byte
	msgPrefix := appendStandardPrefix(prefix[:0], id, unix)
	for i := range s.keys {
		k := &s.keys[i]
		if i > 0 {
			dst = append(dst, ' ')
		}
		if k.ed != nil {
			msg := make([]byte, 0, len(msgPrefix)+len(body))
			msg = append(append(msg, msgPrefix...), body...)
			dst = append(dst, "v1a,"...)
			dst = base64.StdEncoding.AppendEncode(dst, ed25519.Sign(k.ed, msg))
			continue
		}
		sum := macSum(&k.pool, msgPrefix, body)
		dst = append(dst, "v1,"...)
		dst = base64.StdEncoding.AppendEncode(dst, sum[:])
	}
	return dst
}

func (s *standardSigner) setHeaders(h http.Header, eventID string, unix int64, body []byte) {
	var buf [256]byte
	b := strconv.AppendInt(buf[:0], unix, 10)
	n := len(b)
	b = s.appendSignature(b, eventID, unix, body)
	setSignedHeaders(h, HeaderStandardSignature, HeaderStandardTimestamp, HeaderStandardID, string(b), n, eventID)
}

// verifyStandard checks a Standard Webhooks request: webhook-id,
// webhook-timestamp and webhook-signature, against "whsec_" secrets and
// "whpk_" public keys. Signatures of versions other than v1 and v1a are
// ignored, as the specification asks. The work is bounded as for the HMAC
// scheme: a webhook-signature over MaxSignatureHeaderBytes is refused
// before it is parsed; of the v1 and v1a signatures that can match, the
// first MaxSignatures distinct ones are checked; the HMAC of the message
// is computed once per secret, and only if a v1 signature is kept; each
// public key verifies each v1a signature kept.
func (v *Verifier) verifyStandard(header http.Header, body []byte) error {
	if len(v.Secrets) == 0 {
		return errors.New("webhook: Verifier has no secrets")
	}
	var hmacKeys [][]byte
	var pubKeys []ed25519.PublicKey
	for i, s := range v.Secrets {
		if strings.HasPrefix(s, standardPublicKeyPrefix) {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, standardPublicKeyPrefix))
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return fmt.Errorf("webhook: Verifier secret %d of %d: a public key must be \"whpk_\" followed by the base64 of 32 bytes", i+1, len(v.Secrets))
			}
			pubKeys = append(pubKeys, raw)
			continue
		}
		key, err := decodeStandardSecret(s)
		if err != nil {
			return fmt.Errorf("webhook: Verifier secret %d of %d: %w", i+1, len(v.Secrets), err)
		}
		hmacKeys = append(hmacKeys, key)
	}
	sigs, err := signatureFields(header, HeaderStandardSignature)
	if err != nil {
		return err
	}
	id := headerValue(header, HeaderStandardID)
	ts := headerValue(header, HeaderStandardTimestamp)
	switch {
	case id == "":
		return fmt.Errorf("webhook: %s: header is absent or empty: %w", HeaderStandardID, ErrMissingSignature)
	case ts == "":
		return fmt.Errorf("webhook: %s: header is absent or empty: %w", HeaderStandardTimestamp, ErrMissingSignature)
	case sigs.empty():
		return fmt.Errorf("webhook: %s: header is absent or empty: %w", HeaderStandardSignature, ErrMissingSignature)
	}
	unix, ok := sigParseUnix(ts)
	if !ok {
		return fmt.Errorf("webhook: %s: %q is not a unix time: %w", HeaderStandardTimestamp, sigTruncate(ts), ErrMalformedSignature)
	}
	// A malformed entry is passed over, as the reference libraries do: a
	// valid signature beside it still verifies. It is the error only when
	// no v1 or v1a entry can be decoded. A decoded one that cannot match
	// (of the wrong length, or an ed25519 signature that ed25519.Verify
	// rejects on sight) takes no place among the MaxSignatures kept.
	var got []standardSig
	var malformed error
	decoded := false
	for i, s := range sigs.all() {
		version, b64, ok := strings.Cut(s, ",")
		if !ok {
			if malformed == nil {
				malformed = fmt.Errorf("webhook: %s: signature %d is not \"<version>,<base64>\": %w", HeaderStandardSignature, i+1, ErrMalformedSignature)
			}
			continue
		}
		if version != "v1" && version != "v1a" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			if malformed == nil {
				malformed = fmt.Errorf("webhook: %s: signature %d: not base64: %w", HeaderStandardSignature, i+1, ErrMalformedSignature)
			}
			continue
		}
		decoded = true
		g := standardSig{asym: version == "v1a", raw: raw}
		if len(got) < MaxSignatures && g.canMatch() && !slices.ContainsFunc(got, g.equal) {
			got = append(got, g)
		}
	}
	if !decoded {
		if malformed != nil {
			return malformed
		}
		return fmt.Errorf("webhook: %s: no v1 or v1a signature: %w", HeaderStandardSignature, ErrMalformedSignature)
	}
	if err := v.checkTime(HeaderStandardTimestamp, ts, unix); err != nil {
		return err
	}
	msg := make([]byte, 0, len(id)+len(ts)+2+len(body))
	msg = append(append(append(append(msg, id...), '.'), ts...), '.')
	if slices.ContainsFunc(got, standardSig.isHMAC) {
		var sum [sha256.Size]byte
		for _, key := range hmacKeys {
			v.hashed()
			mac := hmac.New(sha256.New, key)
			mac.Write(msg)
			mac.Write(body)
			expected := mac.Sum(sum[:0])
			for _, g := range got {
				if !g.asym && hmac.Equal(g.raw, expected) {
					return nil
				}
			}
		}
	}
	if len(pubKeys) > 0 && slices.ContainsFunc(got, func(g standardSig) bool { return g.asym }) {
		msg = append(msg, body...)
		for _, g := range got {
			if !g.asym {
				continue
			}
			for _, pub := range pubKeys {
				v.hashed()
				if ed25519.Verify(pub, msg, g.raw) {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("webhook: %s: no signature matches: %w", HeaderStandardSignature, ErrInvalidSignature)
}

// standardSig is one decoded entry of webhook-signature: v1 (HMAC) or v1a
// (ed25519, asym).
type standardSig struct {
	asym bool
	raw  []byte
}

func (g standardSig) isHMAC() bool { return !g.asym }

// canMatch reports whether g could be a valid signature: of the right
// length and, for ed25519, with the three top bits of its last byte clear
// (ed25519.Verify refuses any other without hashing the message).
func (g standardSig) canMatch() bool {
	if g.asym {
		return len(g.raw) == ed25519.SignatureSize && g.raw[ed25519.SignatureSize-1]&0xe0 == 0
	}
	return len(g.raw) == sha256.Size
}

func (g standardSig) equal(o standardSig) bool {
	return g.asym == o.asym && bytes.Equal(g.raw, o.raw)
}

// Sign returns the headers that sign body as an Emitter would send them
// at time t: under SchemeHMAC (or ""), X-Webhook-Timestamp,
// X-Webhook-Signature and, when eventID is not empty, X-Webhook-Event-Id;
// under SchemeStandard, webhook-id, webhook-timestamp and
// webhook-signature, which need the event id. Several secrets, the
// current one first, sign it once each, as during a rotation. It is for
// tests of receivers and for tools (hookrail sign); an Emitter signs its
// own requests.
func Sign(scheme SignatureScheme, secrets []string, eventID string, t time.Time, body []byte) (http.Header, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhook: sign: no secret")
	}
	if scheme == SchemeStandard && eventID == "" {
		return nil, errors.New("webhook: sign: the Standard Webhooks scheme signs the event id: give one")
	}
	s, err := newSigner(scheme, secrets...)
	if err != nil {
		return nil, fmt.Errorf("webhook: sign: %w", err)
	}
	h := make(http.Header, 3)
	s.setHeaders(h, eventID, t.Unix(), body)
	if eventID == "" {
		h.Del(HeaderEventID)
	}
	return h, nil
}
