package identity

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name is a person's name as printed on a resident ID card, normalised by
// ParseName. It masks itself when printed, logged or marshalled.
type Name string

// Length bounds of a name in runes, middle dots included. Transliterated
// minority and foreign names run longer than Han names, and 20 leaves room for
// them without admitting pasted junk.
const (
	nameMinRunes = 2
	nameMaxRunes = 20
)

// middleDot is the canonical separator in transliterated minority and foreign
// names (阿依古丽·买买提), as printed on ID cards.
const middleDot = '·' // U+00B7

const (
	reasonNameEmpty     = "must not be empty"
	reasonNameUTF8      = "is not valid UTF-8"
	reasonNameControl   = "contains a control character"
	reasonNameDigit     = "contains a digit"
	reasonNameLatin     = "contains a Latin letter"
	reasonNameSpace     = "contains a space"
	reasonNameOther     = "contains a character that is not a Han character or the middle dot ·"
	reasonNameDotEdge   = "must not start or end with the middle dot"
	reasonNameDotDouble = "must not contain two middle dots in a row"
	reasonNameShort     = "must be at least 2 characters"
	reasonNameLong      = "must be at most 20 characters"
)

// canonicalDot maps the middle-dot look-alikes that input methods and
// Japanese fonts produce to U+00B7, so one name has one spelling whatever
// keyboard typed it. The ASCII full stop is not among them: "张.三" is more
// likely a typo than a separator.
func canonicalDot(r rune) rune {
	switch r {
	case '\u2022', // • bullet
		'\u2027', // ‧ hyphenation point
		'\u2219', // ∙ bullet operator
		'\u30FB', // ・ katakana middle dot
		'\uFF65': // ･ half-width katakana middle dot
		return middleDot
	}
	return r
}

// ParseName validates a name and returns it normalised: surrounding white
// space (including the ideographic space U+3000) is trimmed and middle-dot
// look-alikes become U+00B7. A name is 2 to 20 Han characters, optionally
// split by single middle dots. The error is a *FieldError for FieldName.
func ParseName(s string) (Name, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fieldErr(FieldName, reasonNameEmpty)
	}
	if !utf8.ValidString(s) {
		return "", fieldErr(FieldName, reasonNameUTF8)
	}
	// strings.Map returns s itself when nothing changes, so the common case
	// does not allocate.
	s = strings.Map(canonicalDot, s)

	n := 0
	prevDot := false
	for _, r := range s {
		if r == middleDot {
			if n == 0 {
				return "", fieldErr(FieldName, reasonNameDotEdge)
			}
			if prevDot {
				return "", fieldErr(FieldName, reasonNameDotDouble)
			}
			prevDot = true
			n++
			continue
		}
		prevDot = false
		n++
		// Han is tested first because a few Han characters, such as 〇, are
		// also numbers.
		if unicode.Is(unicode.Han, r) {
			continue
		}
		// The specific reasons tell the user what to fix without quoting the
		// offending character back.
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			// Format characters (zero-width space, BOM) are invisible in the
			// user's input, so they are reported like control characters.
			return "", fieldErr(FieldName, reasonNameControl)
		case unicode.IsNumber(r):
			return "", fieldErr(FieldName, reasonNameDigit)
		case unicode.Is(unicode.Latin, r):
			return "", fieldErr(FieldName, reasonNameLatin)
		case unicode.IsSpace(r):
			return "", fieldErr(FieldName, reasonNameSpace)
		default:
			return "", fieldErr(FieldName, reasonNameOther)
		}
	}
	if prevDot {
		return "", fieldErr(FieldName, reasonNameDotEdge)
	}
	if n < nameMinRunes {
		return "", fieldErr(FieldName, reasonNameShort)
	}
	if n > nameMaxRunes {
		return "", fieldErr(FieldName, reasonNameLong)
	}
	return Name(s), nil
}

// Reveal returns the raw name. Only the task payload encoder and the provider
// client call it; everything else prints the masked form.
func (n Name) Reveal() string { return string(n) }

// Masked keeps the first and last characters and replaces each one between
// with '*': 张三丰 → 张*丰. A two-character name keeps only its first
// (张三 → 张*), and a single character is hidden entirely, so that the mask
// never shows the whole name.
func (n Name) Masked() string {
	switch utf8.RuneCountInString(string(n)) {
	case 0:
		return ""
	case 1:
		return "*"
	case 2:
		return maskMiddle(string(n), 1, 0)
	default:
		return maskMiddle(string(n), 1, 1)
	}
}

// String returns the masked name.
func (n Name) String() string { return n.Masked() }

// GoString returns the masked name in Go syntax, for %#v.
func (n Name) GoString() string { return goStringMasked("Name", n.Masked()) }

// Format applies every fmt verb to the masked name.
func (n Name) Format(f fmt.State, verb rune) { formatMasked(f, verb, n.Masked(), n.GoString()) }

// MarshalJSON encodes the masked name as a JSON string.
func (n Name) MarshalJSON() ([]byte, error) { return marshalMaskedJSON(n.Masked()) }

// MarshalText returns the masked name.
func (n Name) MarshalText() ([]byte, error) { return []byte(n.Masked()), nil }
