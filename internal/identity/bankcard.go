package identity

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BankCard is a bank card number (PAN), normalised by ParseBankCard to its
// digits. It masks itself when printed, logged or marshalled.
type BankCard string

// ISO/IEC 7812 caps a card number at 19 digits; China UnionPay issues 16 to
// 19, and 12 admits the shorter numbers some other schemes use.
const (
	bankCardMinLen = 12
	bankCardMaxLen = 19
)

const (
	reasonCardEmpty  = "must not be empty"
	reasonCardChars  = "contains a character that is not a digit"
	reasonCardLength = "must be 12 to 19 digits"
	reasonCardLuhn   = "fails the Luhn check"
)

// ParseBankCard validates a bank card number and returns its digits. Spaces
// and hyphens are removed; the rest must be 12 to 19 ASCII digits that pass
// the Luhn check. The error is a *FieldError for FieldBankCard.
func ParseBankCard(s string) (BankCard, error) {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "", fieldErr(FieldBankCard, reasonCardEmpty)
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return "", fieldErr(FieldBankCard, reasonCardChars)
		}
	}
	if len(s) < bankCardMinLen || len(s) > bankCardMaxLen {
		return "", fieldErr(FieldBankCard, reasonCardLength)
	}
	if !LuhnValid(s) {
		return "", fieldErr(FieldBankCard, reasonCardLuhn)
	}
	return BankCard(s), nil
}

// Reveal returns the raw card number. Only the task payload encoder and the
// provider client call it; everything else prints the masked form.
func (c BankCard) Reveal() string { return string(c) }

// Masked keeps the issuer prefix (first 6) and the last 4 digits and replaces
// each digit between with '*', keeping the length: 622202*********0123, as
// PCI DSS allows. A value too short to be a card shows at most its last 4.
func (c BankCard) Masked() string {
	if utf8.RuneCountInString(string(c)) < bankCardMinLen {
		return maskShort(string(c))
	}
	return maskMiddle(string(c), 6, 4)
}

// String returns the masked card number.
func (c BankCard) String() string { return c.Masked() }

// GoString returns the masked card number in Go syntax, for %#v.
func (c BankCard) GoString() string { return goStringMasked("BankCard", c.Masked()) }

// Format applies every fmt verb to the masked card number.
func (c BankCard) Format(f fmt.State, verb rune) { formatMasked(f, verb, c.Masked(), c.GoString()) }

// MarshalJSON encodes the masked card number as a JSON string.
func (c BankCard) MarshalJSON() ([]byte, error) { return marshalMaskedJSON(c.Masked()) }

// MarshalText returns the masked card number.
func (c BankCard) MarshalText() ([]byte, error) { return []byte(c.Masked()), nil }
