// Package provider is what the worker knows of an identity provider: one
// verification request in, one classified answer out, and whether the
// provider billed it. Each provider's protocol lives in a package of its own
// beside this one (tencentv2, tencentv3, aliyun); the worker's data path is
// the same for all of them.
//
// The classes are ours and few. Every implementation maps each of its
// provider's codes onto exactly one class, in one table, tested row by row;
// the worker acts on the class and the billing alone.
package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/realname-io/realname/internal/identity"
)

// Kind is a kind of verification: which facts are checked together.
type Kind string

// The four kinds. Every provider has one action for each.
const (
	// KindIDCard checks name + ID number.
	KindIDCard Kind = "idcard"
	// KindMobile3 checks name + ID number + mobile.
	KindMobile3 Kind = "mobile3"
	// KindBankCard3 checks name + ID number + bank card.
	KindBankCard3 Kind = "bankcard3"
	// KindBankCard4 checks name + ID number + bank card + the card's
	// reserved mobile.
	KindBankCard4 Kind = "bankcard4"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{KindIDCard, KindMobile3, KindBankCard3, KindBankCard4}

// Request is one verification: the kind and the validated identity fields
// it checks. Phone is set for KindMobile3 and KindBankCard4, BankCard for
// KindBankCard3 and KindBankCard4.
type Request struct {
	Kind     Kind
	OrderNo  identity.OrderNo
	Name     identity.Name
	IDNumber identity.IDNumber
	Phone    identity.Phone
	BankCard identity.BankCard
}

// Provider runs verification requests against one identity provider.
// Implementations are safe for concurrent use.
type Provider interface {
	// Name identifies the provider in results, events, metrics, rate-limit
	// keys and configuration: "tencent-v2", "tencent-v3", "aliyun".
	Name() string
	// Action returns the provider's action that verifies kind.
	Action(kind Kind) string
	// Quota returns the provider's documented rate quota, in calls per
	// second, for the action that verifies kind; 0 when it documents none.
	Quota(kind Kind) int
	// Verify runs req. A definitive business answer is an *Answer with a
	// nil error. Anything else is an error, an *Error whenever the
	// provider's protocol was involved; ClassOf and BillingOf read it.
	Verify(ctx context.Context, req Request) (*Answer, error)
}

// Billing says whether the provider billed a call.
type Billing uint8

// The billings, in increasing order of cost.
const (
	// NotBilled: the provider documents the answer as free, or the request
	// never reached it (connection refused, HTTP 5xx from its front end,
	// refused before the action ran).
	NotBilled Billing = iota
	// PossiblyBilled: the request was sent and no answer was read, or the
	// provider does not document whether the answer is billed.
	PossiblyBilled
	// Billed: the provider documents the answer as billed.
	Billed
)

// String implements fmt.Stringer.
func (b Billing) String() string {
	switch b {
	case NotBilled:
		return "not_billed"
	case PossiblyBilled:
		return "possibly_billed"
	case Billed:
		return "billed"
	}
	return fmt.Sprintf("billing(%d)", uint8(b))
}

// MayHaveBilled reports whether the provider could have billed the call.
func (b Billing) MayHaveBilled() bool { return b != NotBilled }

// Answer is a definitive business answer.
type Answer struct {
	// Provider is the Name of the provider that answered.
	Provider string
	// Action is the provider action that answered.
	Action string
	// Class is one of the definitive classes (Class.Definitive is true).
	Class Class
	// Code is the provider's own result code: v2's authCode ("00"), v3's
	// Result ("-1"), Alibaba Cloud's BizCode with its SubCode when there is
	// one ("2/202").
	Code string
	// Message is the provider's description of the code.
	Message string
	// Billing is whether the provider bills this answer.
	Billing Billing
	// Attempts is the number of HTTP requests this call made (more than one
	// only after replay answers that were re-signed at once).
	Attempts int
}

// Error is a failure of a provider call: an answer that is not definitive,
// or no answer at all.
type Error struct {
	// Provider is the Name of the provider that was called.
	Provider string
	// Action is the provider action that was called.
	Action string
	// Class is what the worker does about it; never a definitive class
	// except ClassBadRequest.
	Class Class
	// Code is the provider's code ("4100", "AuthFailure.SignatureFailure",
	// "-11", "InvalidTimeStamp.Expired"), or "http 503" for an HTTP status
	// without a provider body; empty when no answer arrived.
	Code string
	// Message is the provider's message, with digit runs redacted.
	Message string
	// Hint tells an operator what to check, for codes a person must act on.
	Hint string
	// Billing is whether the call may have cost money.
	Billing Billing
	// ClockSkew is the measured offset of this machine's clock from the
	// provider's (provider minus ours), when the provider said our
	// timestamp was off and its answer carried its own time; zero otherwise.
	ClockSkew time.Duration
	// Err is the underlying error, if any.
	Err error
}

// Error implements error. It names the provider, the action, the code, the
// class and what to check; never personal data.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Provider, e.Action)
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	fmt.Fprintf(&b, " (%s", e.Class)
	if e.Billing != NotBilled {
		fmt.Fprintf(&b, ", %s", e.Billing)
	}
	b.WriteString(")")
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil && e.Message == "" {
		// The underlying error says what happened when the provider
		// did not.
		b.WriteString(": " + e.Err.Error())
	}
	switch {
	case e.ClockSkew > 0:
		fmt.Fprintf(&b, "; this machine's clock is %s behind the provider's", e.ClockSkew.Round(time.Second))
	case e.ClockSkew < 0:
		fmt.Fprintf(&b, "; this machine's clock is %s ahead of the provider's", (-e.ClockSkew).Round(time.Second))
	}
	if e.Hint != "" {
		b.WriteString(" — " + e.Hint)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of an error of Verify: the *Error's class, the
// transient class for a context that ended, ClassUnknown otherwise.
func ClassOf(err error) Class {
	var pe *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return pe.Class
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ClassTransient
	}
	return ClassUnknown
}

// BillingOf returns whether the call that failed with err may have been
// billed. An error that is not an *Error is possibly billed: nothing proves
// otherwise.
func BillingOf(err error) Billing {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Billing
	}
	if err == nil {
		return NotBilled
	}
	return PossiblyBilled
}
