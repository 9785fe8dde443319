// Package transport is the HTTP plumbing the provider clients share. Each
// piece is here because a verification is personal data sent to a service
// that bills per call:
//
//   - NewClient never follows a redirect: a 307 or 308 would make net/http
//     send the signed POST again, to a host we did not configure, which may
//     bill the verification twice and hands the signature and the personal
//     data to that host.
//   - TraceWrite reports whether a request was written in full, which
//     decides whether a call that got no answer is possibly billed: before
//     the last byte, the provider cannot have run the verification.
//   - RedactURL keeps the request URL out of error strings: with GET its
//     query holds the personal data and the signature, and the endpoint is
//     in the configuration already.
//   - CertificateError tells a certificate that does not verify, which needs
//     a person, from the transient failures a retry can fix.
//   - Scrub makes a provider's message fit for an error string: the text is
//     not ours and may echo the ID, phone or card number we sent.
//   - ClockSkew measures the offset a refused stale signature calls for.
//
// What a failure means (its class, its hint) stays with each client.
package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// maxMessage bounds a scrubbed message, in bytes: real provider messages
// are a sentence, and an error string should not carry a page.
const maxMessage = 300

// MaxIdleConnsPerHost is how many idle connections to a provider's host a
// client keeps for reuse. Every call of a worker goes to one host, and a
// bulk pool runs as many calls at once as its rate times the latency:
// net/http's default of 2 would close all the other connections after
// each call and open (and, over TLS, handshake) a new one for the next.
const MaxIdleConnsPerHost = 256

// NewClient returns an HTTP client, on its own copy of
// http.DefaultTransport keeping up to MaxIdleConnsPerHost idle connections,
// that returns a redirect as the answer instead of following it.
func NewClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// TraceWrite returns ctx with a trace that records when a request sent
// with it has been written in full, and a function that reports whether it
// has. It adds to any trace ctx already carries.
func TraceWrite(ctx context.Context) (context.Context, func() bool) {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	return ctx, wrote.Load
}

// RedactURL returns err without the request URL when it holds a *url.Error:
// the operation in lower case and the underlying error, which errors.Is and
// errors.As still reach. Any other error, and nil, is returned as is.
func RedactURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s: %w", strings.ToLower(uerr.Op), uerr.Err)
	}
	return err
}

// CertificateError reports whether err, from http.Client.Do or from reading
// a body, is a TLS certificate that does not verify: an unknown authority,
// a wrong host name or an invalid certificate. Other TLS failures (a
// handshake cut short, a protocol mismatch) are not.
func CertificateError(err error) bool {
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
	)
	return errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalidErr)
}

// longDigits matches digit runs long enough to be part of an ID, phone or
// card number (an ID number may end in X).
var longDigits = regexp.MustCompile(`[0-9]{7,}[0-9Xx]?`)

// Scrub returns msg fit for an error string: valid UTF-8 (an invalid byte
// sequence becomes U+FFFD), every run of seven or more digits replaced by
// "[redacted]", and at most 300 bytes, cut on a rune boundary and marked
// with "…".
//
// The UTF-8 is repaired first so that removing a bad byte cannot join two
// short digit runs into one the redaction did not see.
func Scrub(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	msg = longDigits.ReplaceAllString(msg, "[redacted]")
	if len(msg) > maxMessage {
		// Only a rune cut in half can be invalid here: drop its bytes.
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + "…"
	}
	return msg
}

// ClockSkew returns the provider's clock minus ours: date is an answer's
// Date header and now our clock when the answer arrived. Date has a
// resolution of a second, so the skew is rounded to one. It is 0 when date
// is empty or not an HTTP date.
func ClockSkew(date string, now time.Time) time.Duration {
	if date == "" {
		return 0
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return 0
	}
	return t.Sub(now).Round(time.Second)
}
