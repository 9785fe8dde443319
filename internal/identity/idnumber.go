package identity

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// IDNumber is an 18-character mainland resident ID number (GB 11643-1999),
// normalised by ParseIDNumber with an upper-case check character. It masks
// itself when printed, logged or marshalled.
type IDNumber string

// idLen is the length of a second-generation resident ID number; the
// 15-digit first generation expired in 2013 and is not accepted.
const idLen = 18

const (
	reasonIDLength = "must be 18 characters"
	reasonIDChars  = "must be 17 digits followed by a digit or X"
	reasonIDRegion = "region prefix is not a known province"
	reasonIDDate   = "birth date is not a real date"
	reasonIDBefore = "birth date is before 1900"
	reasonIDFuture = "birth date is in the future"
	reasonIDCheck  = "check digit does not match"
)

// Layout of the number: digits [0, 6) are the region, [6, 14) the birth date.
const (
	idBirthDateStart = 6
	idBirthDateEnd   = 14
	minBirthYear     = 1900
)

// now is the clock that decides whether a birth date is in the future; tests
// pin it.
var now = time.Now

// chinaTime is Beijing time. A fixed zone avoids depending on tzdata, which a
// scratch container lacks, and China has not observed daylight saving since
// 1991.
var chinaTime = time.FixedZone("CST", 8*3600)

// knownProvince reports whether the first two digits of an ID number are a
// provincial-level division code: the 31 mainland provinces, 71 Taiwan, and
// 81, 82, 83, which the residence permits of Hong Kong, Macau and Taiwan
// residents use. Anything else, 91 included, is refused.
func knownProvince(a, b byte) bool {
	p := int(a-'0')*10 + int(b-'0')
	switch {
	case p >= 11 && p <= 15,
		p >= 21 && p <= 23,
		p >= 31 && p <= 37,
		p >= 41 && p <= 46,
		p >= 50 && p <= 54,
		p >= 61 && p <= 65,
		p == 71, p == 81, p == 82, p == 83:
		return true
	}
	return false
}

// ParseIDNumber validates a resident ID number and returns it normalised:
// surrounding white space is trimmed and a lower-case check character x
// becomes X. It checks the length and characters, the province prefix, that
// the birth date is a real date between 1900 and today (Beijing time), and the
// GB 11643 check digit. The error is a *FieldError for FieldIDNumber.
func ParseIDNumber(s string) (IDNumber, error) {
	s = strings.TrimSpace(s)
	if len(s) != idLen {
		return "", fieldErr(FieldIDNumber, reasonIDLength)
	}
	for i := 0; i < idLen-1; i++ {
		if !isDigit(s[i]) {
			return "", fieldErr(FieldIDNumber, reasonIDChars)
		}
	}
	check := s[idLen-1]
	switch {
	case check == 'x':
		check = 'X'
		s = s[:idLen-1] + "X"
	case check != 'X' && !isDigit(check):
		return "", fieldErr(FieldIDNumber, reasonIDChars)
	}
	// The structural checks come before the check digit so that a bad date
	// or region gets its own reason; a mismatched check digit then most
	// likely means a mistyped digit.
	if !knownProvince(s[0], s[1]) {
		return "", fieldErr(FieldIDNumber, reasonIDRegion)
	}
	birth, ok := parseBirthDate(s[idBirthDateStart:idBirthDateEnd])
	if !ok {
		return "", fieldErr(FieldIDNumber, reasonIDDate)
	}
	if birth.Year() < minBirthYear {
		return "", fieldErr(FieldIDNumber, reasonIDBefore)
	}
	t := now().In(chinaTime)
	today := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, chinaTime)
	if birth.After(today) {
		return "", fieldErr(FieldIDNumber, reasonIDFuture)
	}
	if IDCheckDigit(s[:idLen-1]) != check {
		return "", fieldErr(FieldIDNumber, reasonIDCheck)
	}
	return IDNumber(s), nil
}

// parseBirthDate reads YYYYMMDD as midnight Beijing time. It reports false
// when the digits do not name a real calendar day; time.Date would otherwise
// roll 0230 over into March.
func parseBirthDate(yyyymmdd string) (time.Time, bool) {
	if len(yyyymmdd) != 8 {
		return time.Time{}, false
	}
	v := 0
	for i := 0; i < len(yyyymmdd); i++ {
		if !isDigit(yyyymmdd[i]) {
			return time.Time{}, false
		}
		v = v*10 + int(yyyymmdd[i]-'0')
	}
	y, m, d := v/10000, time.Month(v/100%100), v%100
	t := time.Date(y, m, d, 0, 0, 0, 0, chinaTime)
	if t.Year() != y || t.Month() != m || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// BirthDate returns the birth date encoded in the number, at midnight Beijing
// time, or the zero Time when the number was not produced by ParseIDNumber
// and holds no valid date.
func (id IDNumber) BirthDate() time.Time {
	if len(id) != idLen {
		return time.Time{}
	}
	t, _ := parseBirthDate(string(id[idBirthDateStart:idBirthDateEnd]))
	return t
}

// Region returns the six-digit administrative division code at the start of
// the number (110105 for Chaoyang, Beijing), or "" when the number was not
// produced by ParseIDNumber. The masked form shows these digits too.
func (id IDNumber) Region() string {
	if len(id) != idLen {
		return ""
	}
	return string(id[:idBirthDateStart])
}

// Reveal returns the raw ID number. Only the task payload encoder and the
// provider client call it; everything else prints the masked form.
func (id IDNumber) Reveal() string { return string(id) }

// Masked keeps the region code (first 6) and the last 4 characters and hides
// the birth date and sequence number: 110101********1234.
func (id IDNumber) Masked() string {
	if utf8.RuneCountInString(string(id)) != idLen {
		return maskShort(string(id))
	}
	return maskMiddle(string(id), 6, 4)
}

// String returns the masked ID number.
func (id IDNumber) String() string { return id.Masked() }

// GoString returns the masked ID number in Go syntax, for %#v.
func (id IDNumber) GoString() string { return goStringMasked("IDNumber", id.Masked()) }

// Format applies every fmt verb to the masked ID number.
func (id IDNumber) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, id.Masked(), id.GoString())
}

// MarshalJSON encodes the masked ID number as a JSON string.
func (id IDNumber) MarshalJSON() ([]byte, error) { return marshalMaskedJSON(id.Masked()) }

// MarshalText returns the masked ID number.
func (id IDNumber) MarshalText() ([]byte, error) { return []byte(id.Masked()), nil }
