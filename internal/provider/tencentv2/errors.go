package tencentv2

import (
	"context"
	"errors"
	"fmt"

	"github.com/realname-io/realname/internal/provider"
)

// ErrConfig is matched by every configuration error New returns.
var ErrConfig = errors.New("tencent: invalid configuration")

// APIError is an answer of the gateway that is not a definitive business
// answer: a non-zero code, or code 0 with an authCode the class table does
// not know.
type APIError struct {
	// Action is the API action that was called.
	Action string
	// Code is the gateway's code; 0 when AuthCode is the unknown part.
	Code int
	// AuthCode is bspFivBody.authCode, set only with Code 0.
	AuthCode string
	// Message is the gateway's message, with long digit runs redacted.
	Message string
	// provider.Class is what the worker does about it.
	Class provider.Class
}

// Error implements error. It names the action, the code, the class and, for
// codes an operator must act on, what to check; never personal data.
func (e *APIError) Error() string {
	code := fmt.Sprintf("code %d", e.Code)
	if e.Code == 0 {
		code = "authCode " + e.AuthCode
	}
	s := fmt.Sprintf("tencent %s: %s (%s)", e.Action, code, e.Class)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if hint, ok := operatorHints[e.Code]; ok {
		s += " — " + hint
	}
	return s
}

// TransportError is a failure to get a gateway answer: a connection error, a
// timeout, an HTTP status without a gateway body, or a body that is not one.
type TransportError struct {
	// Action is the API action that was called.
	Action string
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// PossiblyBilled is true when the whole request was sent but no answer
	// was read: the provider may have run, and billed, the verification.
	PossiblyBilled bool
	// provider.Class is provider.ClassTransient, provider.ClassThrottled (HTTP 429), provider.ClassCredentials
	// (certificate or endpoint misconfiguration) or provider.ClassUnknown.
	Class provider.Class
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *TransportError) Error() string {
	s := "tencent " + e.Action + ": "
	if e.StatusCode != 0 {
		s += fmt.Sprintf("HTTP %d", e.StatusCode)
	} else {
		s += "no answer"
	}
	s += " (" + string(e.Class) + ")"
	if e.PossiblyBilled {
		s += ", request was sent: possibly billed"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *TransportError) Unwrap() error { return e.Err }

// ClassOf returns the class of an error returned by Client.Verify:
// provider.ClassTransient for a cancelled context or an error it does not know.
func ClassOf(err error) provider.Class {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Class
	}
	var tErr *TransportError
	if errors.As(err, &tErr) {
		return tErr.Class
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return provider.ClassTransient
	}
	return provider.ClassUnknown
}

// PossiblyBilled reports whether err says a request was sent without an
// answer, so the provider may have billed it.
func PossiblyBilled(err error) bool {
	var tErr *TransportError
	return errors.As(err, &tErr) && tErr.PossiblyBilled
}
