package aliyun

import (
	"errors"
	"strings"

	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/transport"
)

// ErrConfig is matched by every configuration error New returns.
var ErrConfig = errors.New("aliyun: invalid configuration")

// scrub returns msg fit for an error: every value in redact (the request's
// personal data and the secret) replaced, then scrubbed by transport.Scrub.
// cloudauth may echo a name, which no digit pattern would catch.
func scrub(msg string, redact []string) string {
	for _, v := range redact {
		if v != "" {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	return transport.Scrub(msg)
}

// transportOutcome classifies an error of http.Client.Do or of reading the
// body. A certificate that does not verify needs a person; everything else
// (refused, reset, timeouts, other TLS failures) is transient.
func transportOutcome(err error) Outcome {
	if transport.CertificateError(err) {
		return Outcome{Class: provider.ClassCredentials, Hint: "the endpoint's certificate does not verify: check the Endpoint and this machine's CA certificates"}
	}
	return Outcome{Class: provider.ClassTransient}
}
