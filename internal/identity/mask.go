package identity

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maskMiddle keeps the first head and last tail runes of s and replaces every
// rune between them with '*', so the masked form has as many runes as s. When
// that would hide nothing, it falls back to maskShort.
func maskMiddle(s string, head, tail int) string {
	r := []rune(s)
	if len(r) <= head+tail {
		return maskShort(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(string(r[:head]))
	b.WriteString(strings.Repeat("*", len(r)-head-tail))
	b.WriteString(string(r[len(r)-tail:]))
	return b.String()
}

// maskShort masks a value that does not have the shape its type expects,
// which can only happen when it was built by conversion instead of by a
// parser. It keeps the last 4 runes only when at least as many are hidden:
// showing 4 of 5 characters would be no mask at all.
func maskShort(s string) string {
	n := utf8.RuneCountInString(s)
	if n < 8 {
		return strings.Repeat("*", n)
	}
	r := []rune(s)
	return strings.Repeat("*", n-4) + string(r[n-4:])
}

// formatMasked implements fmt.Formatter for the personal data types. Every
// verb and flag applies to the masked form, so %x hex-dumps the mask rather
// than the raw value, and %#v gives goString instead of the quoted raw value
// that fmt would print for a string type.
func formatMasked(f fmt.State, verb rune, masked, goString string) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, goString)
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), masked)
}

// goStringMasked renders a masked value as Go syntax, naming the type so a
// %#v dump still says what the field held.
func goStringMasked(typeName, masked string) string {
	return "identity." + typeName + "(" + strconv.Quote(masked) + ")"
}

// marshalMaskedJSON encodes the masked form as a JSON string. Marshalling a
// string cannot fail, so the error is always nil.
func marshalMaskedJSON(masked string) ([]byte, error) {
	return json.Marshal(masked)
}
