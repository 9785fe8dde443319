package provider

import "fmt"

// Class is what an answer means for the job that asked: a definitive
// business answer to store, or a failure and how to treat it. Every answer of
// every provider maps onto exactly one class through that provider's tables;
// the worker acts on the class alone.
type Class string

// The classes. The first seven are definitive business answers (the provider
// looked at the identity and answered, or refused the request for good); the
// rest are failures.
const (
	// ClassMatch: the identity checks out.
	ClassMatch Class = "match"
	// ClassMismatch: the data do not belong together.
	ClassMismatch Class = "mismatch"
	// ClassInvalidCard: the bank card number itself is wrong.
	ClassInvalidCard Class = "invalid_card"
	// ClassCardUnusable: the card exists but cannot be verified (lost,
	// expired, restricted, ...).
	ClassCardUnusable Class = "card_unusable"
	// ClassNoRecord: the provider's data source has no record of this
	// identity (or number), so it can neither confirm nor deny it. Final:
	// the caller needs another means of verification (a document, a face
	// check, a person), not a retry.
	ClassNoRecord Class = "no_record"
	// ClassIdentityLimit: the provider's cap on checks of this one identity
	// per day was reached (Tencent: 500 a day per name, 1000 per ID number
	// within one AppId). Final for this order; the caller may verify the
	// person again tomorrow under a new order number.
	ClassIdentityLimit Class = "identity_limit"
	// ClassBadRequest: the request was malformed (our bug or input that
	// slipped past validation). Final; retrying cannot help.
	ClassBadRequest Class = "bad_request"

	// ClassCredentials: our credentials, permissions, account or endpoint are
	// wrong. No retry can help and an operator must act; the worker pauses
	// the queues instead of failing jobs, and never fails over.
	ClassCredentials Class = "credentials"
	// ClassReplay: the provider saw the nonce before or the timestamp is too
	// far off. Re-sign with a fresh nonce and timestamp and send at once.
	ClassReplay Class = "replay"
	// ClassTransient: HTTP 5xx, timeouts, connection errors and the
	// provider's try-again codes (data source busy, upgrade in progress).
	// Retry with backoff.
	ClassTransient Class = "transient"
	// ClassThrottled: over the provider's rate quota. Retry after a delay
	// without using up the job's retries.
	ClassThrottled Class = "throttled"
	// ClassUnknown: a code the tables do not know. Never a match; final
	// after the retry budget, with an alarm naming the raw code.
	ClassUnknown Class = "unknown"
)

// Classes lists every class, definitive ones first.
var Classes = []Class{
	ClassMatch, ClassMismatch, ClassInvalidCard, ClassCardUnusable, ClassNoRecord, ClassIdentityLimit, ClassBadRequest,
	ClassCredentials, ClassReplay, ClassTransient, ClassThrottled, ClassUnknown,
}

// Definitive reports whether c is a final answer: stored once, never
// retried.
func (c Class) Definitive() bool {
	switch c {
	case ClassMatch, ClassMismatch, ClassInvalidCard, ClassCardUnusable, ClassNoRecord, ClassIdentityLimit, ClassBadRequest:
		return true
	}
	return false
}

// Retryable reports whether another attempt of the same request may give a
// different answer.
func (c Class) Retryable() bool {
	switch c {
	case ClassReplay, ClassTransient, ClassThrottled, ClassUnknown:
		return true
	}
	return false
}

// String implements fmt.Stringer.
func (c Class) String() string { return string(c) }

// ParseClass returns the class named s.
func ParseClass(s string) (Class, error) {
	for _, c := range Classes {
		if string(c) == s {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown class %q", s)
}
