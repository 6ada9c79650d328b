package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hookrail/webhook"
)

// secretsFlag is a repeatable --secret.
type secretsFlag []string

func (s *secretsFlag) String() string { return "" }

func (s *secretsFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty secret")
	}
	*s = append(*s, v)
	return nil
}

// schemeFlag is --scheme: hmac or standard (or the schemes' full names).
type schemeFlag struct{ scheme webhook.SignatureScheme }

func (s *schemeFlag) String() string {
	if s == nil || s.scheme == "" || s.scheme == webhook.SchemeHMAC {
		return "hmac"
	}
	return "standard"
}

func (s *schemeFlag) Set(v string) error {
	switch strings.ToLower(v) {
	case "hmac", string(webhook.SchemeHMAC):
		s.scheme = webhook.SchemeHMAC
	case "standard", string(webhook.SchemeStandard):
		s.scheme = webhook.SchemeStandard
	default:
		return fmt.Errorf("want hmac or standard, got %q", v)
	}
	return nil
}

// addSchemeFlags defines --secret and --scheme on fs.
func addSchemeFlags(fs *flag.FlagSet, secrets *secretsFlag, scheme *schemeFlag, secretHelp string) {
	fs.Var(secrets, "secret", secretHelp)
	fs.Var(scheme, "scheme", "signature `scheme`: hmac (X-Webhook-Signature, Rail Django's) or standard (Standard Webhooks' webhook-signature)")
}

// readInput reads the file at path, or standard input for "-".
func readInput(e *env, what, path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, fmt.Errorf("%s: reading standard input: %w", what, err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

// parseTime parses unix seconds or an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither unix seconds nor an RFC 3339 time", s)
	}
	return t, nil
}

// checkVerifier reports a Verifier's configuration errors (a malformed
// secret, an unknown scheme): the errors Verify returns for a request
// without headers that wrap none of its sentinels.
func checkVerifier(v *webhook.Verifier) error {
	err := v.Verify(http.Header{}, nil)
	if err == nil || errors.Is(err, webhook.ErrMissingSignature) {
		return nil
	}
	return err
}

// failureKind names what a verification error is about.
func failureKind(err error) string {
	switch {
	case errors.Is(err, webhook.ErrInvalidSignature):
		return "bad signature"
	case errors.Is(err, webhook.ErrTimestampOutOfRange):
		return "timestamp outside tolerance"
	case errors.Is(err, webhook.ErrMissingSignature):
		return "missing header"
	case errors.Is(err, webhook.ErrMalformedSignature):
		return "malformed header"
	case errors.Is(err, webhook.ErrSignatureHeaderTooLarge):
		return "signature header too large"
	}
	return "error"
}

// schemeHint suggests the other scheme when a request that failed for a
// missing header carries that scheme's signature header.
func schemeHint(err error, scheme webhook.SignatureScheme, h http.Header) string {
	if !errors.Is(err, webhook.ErrMissingSignature) {
		return ""
	}
	if scheme == webhook.SchemeStandard && h.Get(webhook.HeaderSignature) != "" {
		return "the request carries X-Webhook-Signature: try --scheme hmac"
	}
	if scheme != webhook.SchemeStandard && h.Get(webhook.HeaderStandardSignature) != "" {
		return "the request carries webhook-signature (Standard Webhooks): try --scheme standard"
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
