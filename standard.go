package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
// ignored, as the specification asks.
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
	id := header.Get(HeaderStandardID)
	ts := header.Get(HeaderStandardTimestamp)
	sigs := strings.Fields(strings.Join(header.Values(HeaderStandardSignature), " "))
	switch {
	case id == "":
		return fmt.Errorf("webhook: %s: header is absent or empty: %w", HeaderStandardID, ErrMissingSignature)
	case ts == "":
		return fmt.Errorf("webhook: %s: header is absent or empty: %w", HeaderStandardTimestamp, ErrMissingSignature)
	case len(sigs) == 0:
		return fmt.Errorf("webhook: %s: header is absent or empty: %w", HeaderStandardSignature, ErrMissingSignature)
	}
	unix, ok := sigParseUnix(ts)
	if !ok {
		return fmt.Errorf("webhook: %s: %q is not a unix time: %w", HeaderStandardTimestamp, sigTruncate(ts), ErrMalformedSignature)
	}
	type sig struct {
		asym bool
		raw  []byte
	}
	// A malformed entry is passed over, as the reference libraries do: a
	// valid signature beside it still verifies. It is the error only when
	// no entry can be checked.
	var got []sig
	var malformed error
	for i, s := range sigs {
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
		got = append(got, sig{asym: version == "v1a", raw: raw})
	}
	if len(got) == 0 {
		if malformed != nil {
			return malformed
		}
		return fmt.Errorf("webhook: %s: no v1 or v1a signature: %w", HeaderStandardSignature, ErrMalformedSignature)
	}
	if err := v.checkTime(HeaderStandardTimestamp, ts, unix); err != nil {
		return err
	}
	msg := make([]byte, 0, len(id)+len(ts)+2+len(body))
	msg = append(append(append(append(append(msg, id...), '.'), ts...), '.'), body...)
	var sum [sha256.Size]byte
	for _, key := range hmacKeys {
		mac := hmac.New(sha256.New, key)
		mac.Write(msg)
		expected := mac.Sum(sum[:0])
		for _, g := range got {
			if !g.asym && hmac.Equal(g.raw, expected) {
				return nil
			}
		}
	}
	for _, pub := range pubKeys {
		for _, g := range got {
			if g.asym && ed25519.Verify(pub, msg, g.raw) {
				return nil
			}
		}
	}
	return fmt.Errorf("webhook: %s: no signature matches: %w", HeaderStandardSignature, ErrInvalidSignature)
}
