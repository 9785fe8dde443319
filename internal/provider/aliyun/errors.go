package aliyun

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/realname-io/realname/internal/provider"
)

// ErrConfig is matched by every configuration error New returns.
var ErrConfig = errors.New("aliyun: invalid configuration")

// longDigits matches digit runs long enough to be part of an ID, phone or
// card number. cloudauth's messages are not ours, so they are scrubbed
// before they reach an error string.
var longDigits = regexp.MustCompile(`[0-9]{7,}[0-9Xx]?`)

// scrub returns msg fit for an error: every value in redact (the request's
// personal data) replaced, long digit runs redacted, and at most 300 bytes.
func scrub(msg string, redact []string) string {
	const maxLen = 300
	for _, v := range redact {
		if v != "" {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	msg = longDigits.ReplaceAllString(msg, "[redacted]")
	if len(msg) > maxLen {
		msg = strings.ToValidUTF8(msg[:maxLen], "") + "…"
	}
	return strings.ToValidUTF8(msg, "�")
}

// transportOutcome classifies an error of http.Client.Do or of reading the
// body. A certificate that does not verify needs a person; everything else
// (refused, reset, timeouts, other TLS failures) is transient.
func transportOutcome(err error) Outcome {
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
	)
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		return Outcome{Class: provider.ClassCredentials, Hint: "the endpoint's certificate does not verify: check the Endpoint and this machine's CA certificates"}
	}
	return Outcome{Class: provider.ClassTransient}
}

// redactURL drops the request URL from a *url.Error: with GET, the query
// holds personal data and the signature.
func redactURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s: %w", strings.ToLower(uerr.Op), uerr.Err)
	}
	return err
}
