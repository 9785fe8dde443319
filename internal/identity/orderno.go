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
	return OrderNo(s), nil
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
