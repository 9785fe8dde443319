package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// DefaultTolerance is how far a webhook-timestamp may lie from the
// receiver's clock, either way, before Verify refuses it (the spec's
// recommendation). It bounds how long a captured delivery can be replayed.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verifier.Verify. Each also wraps the reference
// library's matching error, so errors.Is works with either. Their messages
// name the failed check only, never the body or a header's value.
var (
	// ErrMissingHeaders means webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	// ErrBadSignature means no v1 signature in webhook-signature matches
	// any configured secret over this id, timestamp and body.
	ErrBadSignature = errors.New("webhook: no matching signature")
	// ErrTimestamp means webhook-timestamp is not an integer, or is
	// further from now than the Verifier's Tolerance.
	ErrTimestamp = errors.New("webhook: timestamp outside tolerance")
)

// Signer produces the Standard Webhooks headers for a delivery. It holds one
// or more secrets and signs with each, so that while a secret is being
// rotated a receiver holding either the old or the new one can verify.
// A Signer is safe for concurrent use.
type Signer struct {
	hooks []*standardwebhooks.Webhook
}

// NewSigner returns a Signer for the given secrets, in the order their
// signatures appear in webhook-signature. At least one is required.
func NewSigner(secrets ...Secret) (*Signer, error) {
	hooks, err := newHooks(secrets)
	if err != nil {
		return nil, fmt.Errorf("webhook: new signer: %w", err)
	}
	return &Signer{hooks: hooks}, nil
}

// Headers returns webhook-id, webhook-timestamp (ts in unix seconds) and
// webhook-signature: one "v1,<base64>" per secret, separated by spaces.
// The id should stay the same across retries of one event, so a receiver
// can deduplicate; ts should be the time of the attempt.
func (s *Signer) Headers(id string, ts time.Time, body []byte) http.Header {
	sigs := make([]string, 0, len(s.hooks))
	for _, wh := range s.hooks {
		// The library's Sign cannot fail: its error is always nil.
		sig, _ := wh.Sign(id, ts, body)
		sigs = append(sigs, sig)
	}
	h := make(http.Header, 3)
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(sigs, " "))
	return h
}

// Verifier checks the Standard Webhooks headers of a received delivery, as
// a customer's backend would. It is safe for concurrent use once
// configured.
type Verifier struct {
	// Tolerance is how far webhook-timestamp may lie from now, in either
	// direction. Defaults to DefaultTolerance (also when zero or negative).
	// Set it before the first Verify.
	Tolerance time.Duration

	hooks []*standardwebhooks.Webhook
	now   func() time.Time // tests replay the spec's vector from 2021
}

// NewVerifier returns a Verifier that accepts a delivery signed with any of
// the given secrets. At least one is required.
func NewVerifier(secrets ...Secret) (*Verifier, error) {
	hooks, err := newHooks(secrets)
	if err != nil {
		return nil, fmt.Errorf("webhook: new verifier: %w", err)
	}
	return &Verifier{Tolerance: DefaultTolerance, hooks: hooks, now: time.Now}, nil
}

// Verify returns nil if some v1 signature in h matches body, webhook-id and
// webhook-timestamp under any configured secret, and the timestamp is within
// Tolerance of now. Otherwise it returns an error wrapping ErrMissingHeaders,
// ErrBadSignature or ErrTimestamp.
//
// The signature is checked before the timestamp, so ErrTimestamp means an
// authentic delivery that is stale or from the future (a replay, or a
// skewed clock), while a forgery reports ErrBadSignature whatever its
// timestamp.
func (v *Verifier) Verify(body []byte, h http.Header) error {
	if h.Get(standardwebhooks.HeaderWebhookID) == "" ||
		h.Get(standardwebhooks.HeaderWebhookTimestamp) == "" ||
		h.Get(standardwebhooks.HeaderWebhookSignature) == "" {
		return fmt.Errorf("%w (%w)", ErrMissingHeaders, standardwebhooks.ErrRequiredHeaders)
	}
	// Parsed the way the library parses it; a malformed one fails here
	// rather than as a signature mismatch.
	unix, err := strconv.ParseInt(h.Get(standardwebhooks.HeaderWebhookTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: not an integer (%w)", ErrTimestamp, standardwebhooks.ErrInvalidHeaders)
	}

	matched := false
	for _, wh := range v.hooks {
		// The timestamp is checked below, with our configurable tolerance:
		// the library's own is a fixed, unexported 5 minutes.
		if err := wh.VerifyIgnoringTimestamp(body, h); err == nil {
			matched = true
			break
		}
	}
	if !matched {
		return fmt.Errorf("%w (%w)", ErrBadSignature, standardwebhooks.ErrNoMatchingSignature)
	}

	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	now := time.Now
	if v.now != nil {
		now = v.now
	}
	n := now()
	ts := time.Unix(unix, 0)
	switch {
	case n.Sub(ts) > tol:
		return fmt.Errorf("%w: too old (%w)", ErrTimestamp, standardwebhooks.ErrMessageTooOld)
	case ts.Sub(n) > tol:
		return fmt.Errorf("%w: too new (%w)", ErrTimestamp, standardwebhooks.ErrMessageTooNew)
	}
	return nil
}

// newHooks turns secrets into the reference library's signers.
func newHooks(secrets []Secret) ([]*standardwebhooks.Webhook, error) {
	if len(secrets) == 0 {
		return nil, errors.New("at least one secret is required")
	}
	hooks := make([]*standardwebhooks.Webhook, 0, len(secrets))
	for i, s := range secrets {
		if !s.valid() {
			return nil, fmt.Errorf("secret %d is the zero Secret: use ParseSecret", i)
		}
		wh, err := standardwebhooks.NewWebhookRaw(s.key)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i, err)
		}
		hooks = append(hooks, wh)
	}
	return hooks, nil
}
