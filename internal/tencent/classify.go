package tencent

import "fmt"

// Class is what an answer means for the job that asked: a definitive
// business answer to store, or a failure and how to treat it. Every answer of
// the gateway maps onto exactly one class through the tables in this file;
// the worker acts on the class alone.
type Class string

// The classes. The first five are definitive business answers (the provider
// looked at the identity and answered); the rest are failures.
const (
	// ClassMatch: the identity checks out (authCode 00).
	ClassMatch Class = "match"
	// ClassMismatch: the data do not belong together.
	ClassMismatch Class = "mismatch"
	// ClassInvalidCard: the bank card number itself is wrong.
	ClassInvalidCard Class = "invalid_card"
	// ClassCardUnusable: the card exists but cannot be verified (lost,
	// expired, restricted, ...).
	ClassCardUnusable Class = "card_unusable"
	// ClassBadRequest: the request was malformed (our bug or input that
	// slipped past validation). Final; retrying cannot help.
	ClassBadRequest Class = "bad_request"

	// ClassCredentials: our credentials, permissions, account or endpoint are
	// wrong. No retry can help and an operator must act; the worker pauses
	// the queues instead of failing jobs.
	ClassCredentials Class = "credentials"
	// ClassReplay: the gateway saw the Nonce before or the Timestamp is too
	// far off. Re-sign with a fresh Nonce and Timestamp and send at once.
	ClassReplay Class = "replay"
	// ClassTransient: HTTP 5xx, timeouts, connection errors and the
	// gateway's try-again codes. Retry with backoff.
	ClassTransient Class = "transient"
	// ClassThrottled: over the provider's rate quota. Retry after a delay
	// without using up the job's retries.
	ClassThrottled Class = "throttled"
	// ClassUnknown: a code this table does not know. Never a match; final
	// after the retry budget, with an alarm naming the raw code.
	ClassUnknown Class = "unknown"
)

// Definitive reports whether c is a business answer: stored once, never
// retried.
func (c Class) Definitive() bool {
	switch c {
	case ClassMatch, ClassMismatch, ClassInvalidCard, ClassCardUnusable, ClassBadRequest:
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

// authCodeClasses maps bspFivBody.authCode, sent with code 0, onto a class.
// Source: the guide's 错误码 table, restated in spec/tencent-v2.md.
var authCodeClasses = map[string]Class{
	"00": ClassMatch,
	"01": ClassMismatch,     // name does not match
	"03": ClassInvalidCard,  // bank card number wrong
	"05": ClassMismatch,     // data check failed
	"06": ClassMismatch,     // cardholder information wrong
	"07": ClassCardUnusable, // card-not-present payment not enabled
	"09": ClassCardUnusable, // card confiscated
	"10": ClassBadRequest,   // request missing conditions
	"12": ClassInvalidCard,  // invalid card number
	"13": ClassInvalidCard,  // no issuing bank for this card
	"14": ClassCardUnusable, // card not activated / dormant
	"15": ClassCardUnusable, // fraudulent / swallowed card
	"16": ClassCardUnusable, // card reported lost
	"17": ClassCardUnusable, // card expired
	"18": ClassCardUnusable, // restricted card
	"19": ClassCardUnusable, // too many wrong PIN attempts
	"23": ClassCardUnusable, // issuer does not support this
	"98": ClassMismatch,     // verification failed
	"99": ClassBadRequest,   // parameter error
}

// gatewayCodeClasses maps the gateway's own non-zero code onto a class.
// Source: spec/tencent-v2-errors.md.
var gatewayCodeClasses = map[int]Class{
	4000: ClassBadRequest,  // missing or malformed parameter
	4100: ClassCredentials, // signature wrong
	4101: ClassCredentials, // sub-account not authorised for the action
	4102: ClassCredentials, // not authorised for the resource
	4103: ClassCredentials, // non-developer SecretId not supported
	4104: ClassCredentials, // SecretId unknown or disabled
	4105: ClassCredentials, // token check failed
	4106: ClassCredentials, // MFA check failed
	4110: ClassCredentials, // other permission check failed
	4200: ClassReplay,      // request expired
	4300: ClassCredentials, // access denied: account blocked
	4400: ClassThrottled,   // over quota
	4500: ClassReplay,      // Nonce reused or Timestamp off by more than 2 h
	4600: ClassCredentials, // protocol not supported
	5000: ClassBadRequest,  // resource does not exist
	5100: ClassTransient,   // operation failed, try again later
	5200: ClassTransient,   // purchase failed
	5300: ClassCredentials, // insufficient balance
	5400: ClassTransient,   // batch partly succeeded
	5500: ClassCredentials, // account identity not verified
	6000: ClassTransient,   // internal server error
	6100: ClassCredentials, // API not supported here: wrong domain
	6200: ClassTransient,   // API under maintenance
}

// operatorHints tells the operator what to check for the codes that need a
// person; it is appended to the gateway's message in APIError.Error.
var operatorHints = map[int]string{
	4100: "check the SecretKey and the signature method; run `realname sign` to compare string-to-sign",
	4101: "grant the sub-account permission for this action",
	4102: "grant the sub-account permission for this resource",
	4103: "use the developer account's SecretId for this API",
	4104: "check that the SecretId exists and is enabled",
	4110: "check that the account has permission for 实名认证 and that the product is enabled",
	4200: "check the clock of this machine (NTP)",
	4300: "the account is blocked or outside the API's user range",
	4500: "check the clock of this machine (NTP) if this repeats",
	4600: "use HTTPS",
	5300: "top up the Tencent Cloud account",
	5500: "complete the account's identity verification",
	6100: "check the endpoint host",
}

// ClassifyAuthCode returns the class of a business answer (code 0). An
// authCode missing from the table is ClassUnknown, never a match.
func ClassifyAuthCode(authCode string) Class {
	if c, ok := authCodeClasses[authCode]; ok {
		return c
	}
	return ClassUnknown
}

// ClassifyGatewayCode returns the class of a non-zero gateway code.
func ClassifyGatewayCode(code int) Class {
	if c, ok := gatewayCodeClasses[code]; ok {
		return c
	}
	return ClassUnknown
}

// classifyHTTPStatus returns the class of a non-200 HTTP answer whose body is
// not a gateway answer.
func classifyHTTPStatus(status int) Class {
	switch {
	case status == 429:
		return ClassThrottled
	case status >= 500:
		return ClassTransient
	case status == 401, status == 403, status == 404, status == 405:
		// The endpoint or the credentials are misconfigured: a person must
		// act, and retrying would only hide it.
		return ClassCredentials
	}
	return ClassUnknown
}

// String implements fmt.Stringer.
func (c Class) String() string { return string(c) }

// ParseClass returns the class named s.
func ParseClass(s string) (Class, error) {
	c := Class(s)
	switch c {
	case ClassMatch, ClassMismatch, ClassInvalidCard, ClassCardUnusable, ClassBadRequest,
		ClassCredentials, ClassReplay, ClassTransient, ClassThrottled, ClassUnknown:
		return c, nil
	}
	return "", fmt.Errorf("unknown class %q", s)
}
