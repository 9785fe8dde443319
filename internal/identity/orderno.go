package identity

import "strings"

// OrderNo is the caller's own reference for a verification, echoed back in
// results and webhooks. It is not personal data and is never masked.
type OrderNo string

const orderNoMaxLen = 64

const (
	reasonOrderEmpty = "must not be empty"
	reasonOrderLong  = "must be at most 64 characters"
	reasonOrderChars = "contains a character other than letters, digits, '_', '-', '.' and ':'"
	// Order numbers are shown in clear (key names, logs, webhooks, the
	// dashboard), so they must not carry personal data.
	reasonOrderIDNumber = "looks like a resident ID number: order numbers are shown in clear, so they must not carry personal data"
	reasonOrderPhone    = "looks like a mainland mobile number: order numbers are shown in clear, so they must not carry personal data"
	reasonOrderCard     = "looks like a bank card number (Luhn-valid, 15 to 19 digits): order numbers are shown in clear, so they must not carry personal data"
)

// ParseOrderNo validates an order number: after trimming surrounding white
// space, 1 to 64 characters from A–Z, a–z, 0–9, '_', '-', '.' and ':'. The
// narrow alphabet keeps order numbers safe in URLs, Redis keys and log lines
// without escaping. The error is a *FieldError for FieldOrderNo.
func ParseOrderNo(s string) (OrderNo, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fieldErr(FieldOrderNo, reasonOrderEmpty)
	}
	// Characters first: the length counts bytes, which is only the number of
	// characters once they are known to be ASCII.
	for i := 0; i < len(s); i++ {
		if !orderNoByte(s[i]) {
			return "", fieldErr(FieldOrderNo, reasonOrderChars)
		}
	}
	if len(s) > orderNoMaxLen {
		return "", fieldErr(FieldOrderNo, reasonOrderLong)
	}
	if reason := personalDataIn(s); reason != "" {
		return "", &FieldError{Field: FieldOrderNo, Reason: reason}
	}
	return OrderNo(s), nil
}

// personalDataIn says what personal data s, or one of its segments
// between '-', '_', '.' and ':', looks like: order numbers go into key
// names, logs, webhooks and the dashboard in clear, so they must not carry
// any. It returns "" when s looks like none.
func personalDataIn(s string) string {
	for seg := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == ':' }) {
		if _, err := ParseIDNumber(seg); err == nil {
			return reasonOrderIDNumber
		}
		if len(seg) == 11 && allDigits(seg) {
			if _, err := ParsePhone(seg); err == nil {
				return reasonOrderPhone
			}
		}
		if len(seg) >= 15 && len(seg) <= 19 && allDigits(seg) && LuhnValid(seg) {
			return reasonOrderCard
		}
	}
	return ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func orderNoByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '_', c == '-', c == '.', c == ':':
		return true
	}
	return false
}

// String returns the order number as is.
func (o OrderNo) String() string { return string(o) }
