// Package identity parses, validates, normalises and masks the personal data
// that a verification carries: resident ID numbers, names, mainland mobile
// numbers, bank card numbers, and the caller's order number.
//
// Validation runs before any paid provider call, so bad input never costs
// money. Every failure is a *FieldError that names the field and the reason
// and never contains the rejected value itself, so that error strings can be
// logged safely.
//
// The personal data types (Name, IDNumber, Phone, BankCard) mask themselves
// whenever they are printed, formatted, logged through zerolog or marshalled to
// JSON. The raw value is reachable only through Reveal, which the task payload
// encoder and the provider client call, and nothing else should.
//
// Masking works through methods, so anything that skips method dispatch skips
// the mask: a conversion such as string(name), fmt printing an unexported
// struct field (fmt may not call methods on it), and encoding/json using the
// value as a map key (it writes string-kinded keys directly). Keep personal
// data in values and exported fields of its own type.
package identity

import (
	"errors"
	"fmt"
)

// Field names as they appear in provider requests, CSV headers, JSON bodies
// and FieldError.Field.
const (
	FieldOrderNo  = "orderNo"
	FieldName     = "name"
	FieldIDNumber = "idNumber"
	FieldPhone    = "phoneNumber"
	FieldBankCard = "bankCardNumber"
)

// ErrInvalid is matched by every *FieldError through errors.Is, so callers can
// tell bad input from other failures without inspecting the field.
var ErrInvalid = errors.New("invalid input")

// FieldError reports why one field failed validation. Its message names the
// field and the reason; it never contains the rejected value.
type FieldError struct {
	// Field is the field's wire name, one of the Field* constants.
	Field string
	// Reason says what is wrong, in words fit for an end user or an operator.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is reports whether target is ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
