package identity

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Phone is a mainland China mobile number, normalised by ParsePhone to its 11
// digits without a country code. It masks itself when printed, logged or
// marshalled.
type Phone string

const phoneLen = 11

const (
	reasonPhoneEmpty  = "must not be empty"
	reasonPhoneChars  = "contains a character that is not a digit"
	reasonPhoneLength = "must be 11 digits"
	reasonPhonePrefix = "must start with 13 to 19"
)

// phoneCountryPrefixes are the spellings of China's country code that users
// type in front of a mobile number.
var phoneCountryPrefixes = []string{"+86", "0086", "86"}

// phoneSeparator reports whether r is punctuation users put inside a number
// to group it, as in "(+86) 138-1234-5678".
func phoneSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == '-' || r == '(' || r == ')'
}

// ParsePhone validates a mainland mobile number and returns its 11 digits.
// Spaces, hyphens and parentheses are removed, and a +86, 0086 or 86 prefix is
// dropped when 11 characters follow it; the result must start with 1 and a
// second digit from 3 to 9. The error is a *FieldError for FieldPhone.
func ParsePhone(s string) (Phone, error) {
	s = strings.Map(func(r rune) rune {
		if phoneSeparator(r) {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "", fieldErr(FieldPhone, reasonPhoneEmpty)
	}
	// The length condition keeps the bare "86" from eating the start of a
	// number that merely begins with those digits.
	for _, p := range phoneCountryPrefixes {
		if strings.HasPrefix(s, p) && len(s)-len(p) == phoneLen {
			s = s[len(p):]
			break
		}
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return "", fieldErr(FieldPhone, reasonPhoneChars)
		}
	}
	if len(s) != phoneLen {
		return "", fieldErr(FieldPhone, reasonPhoneLength)
	}
	if s[0] != '1' || s[1] < '3' {
		return "", fieldErr(FieldPhone, reasonPhonePrefix)
	}
	return Phone(s), nil
}

// Reveal returns the raw 11-digit number. Only the task payload encoder and
// the provider client call it; everything else prints the masked form.
func (p Phone) Reveal() string { return string(p) }

// Masked keeps the network prefix (first 3) and the last 4 digits:
// 138****5678.
func (p Phone) Masked() string {
	if utf8.RuneCountInString(string(p)) != phoneLen {
		return maskShort(string(p))
	}
	return maskMiddle(string(p), 3, 4)
}

// String returns the masked number.
func (p Phone) String() string { return p.Masked() }

// GoString returns the masked number in Go syntax, for %#v.
func (p Phone) GoString() string { return goStringMasked("Phone", p.Masked()) }

// Format applies every fmt verb to the masked number.
func (p Phone) Format(f fmt.State, verb rune) { formatMasked(f, verb, p.Masked(), p.GoString()) }

// MarshalJSON encodes the masked number as a JSON string.
func (p Phone) MarshalJSON() ([]byte, error) { return marshalMaskedJSON(p.Masked()) }

// MarshalText returns the masked number.
func (p Phone) MarshalText() ([]byte, error) { return []byte(p.Masked()), nil }
