package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Reasons a JSONL line is rejected.
const (
	reasonNotObject = "is not a JSON object"
	reasonNotString = "must be a JSON string"
	reasonRepeated  = "is given more than once"
)

// jsonRow is the outcome of parsing one JSONL line: on success the values by
// field (null and absent keys leave ""); otherwise the first problem.
type jsonRow struct {
	vals   [numFields]string
	field  string // "" on success
	reason string
}

// parseJSONLine decodes line, which must be a JSON object whose keys are
// known column names and whose values are strings or null. It is a small
// hand-written decoder rather than encoding/json because a row has five
// string fields and encoding/json's reflection costs more than the rest of
// the row: values without escapes come back as substrings of line, with no
// allocation.
//
// A syntax error anywhere makes the line "not a JSON object". The first
// semantic problem (an unknown or repeated key, a value that is not a
// string) is reported only once the whole line is known to be valid JSON,
// checked then with encoding/json, which that rare path can afford.
func parseJSONLine(line string) jsonRow {
	var row jsonRow
	var seen [numFields]bool
	notObject := func() jsonRow { return jsonRow{field: FieldRow, reason: reasonNotObject} }
	semantic := func(field, reason string) jsonRow {
		if !json.Valid([]byte(line)) {
			return notObject()
		}
		return jsonRow{field: field, reason: reason}
	}

	i := skipJSONSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return notObject()
	}
	i = skipJSONSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return notObject()
			}
			key, next, ok := parseJSONString(line, i)
			if !ok {
				return notObject()
			}
			i = skipJSONSpace(line, next)
			if i >= len(line) || line[i] != ':' {
				return notObject()
			}
			i = skipJSONSpace(line, i+1)
			f := lookupColumn(key)
			if f < 0 {
				return semantic(FieldRow, fmt.Sprintf("unknown field %q", safeName(key)))
			}
			if seen[f] {
				return semantic(fieldNames[f], reasonRepeated)
			}
			seen[f] = true
			switch {
			case i < len(line) && line[i] == '"':
				val, next, ok := parseJSONString(line, i)
				if !ok {
					return notObject()
				}
				row.vals[f] = val
				i = next
			case strings.HasPrefix(line[i:], "null"):
				i += len("null")
			default:
				return semantic(fieldNames[f], reasonNotString)
			}
			i = skipJSONSpace(line, i)
			if i >= len(line) {
				return notObject()
			}
			if line[i] == '}' {
				i++
				break
			}
			if line[i] != ',' {
				return notObject()
			}
			i = skipJSONSpace(line, i+1)
		}
	}
	if skipJSONSpace(line, i) != len(line) {
		return notObject()
	}
	return row
}

// skipJSONSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipJSONSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// parseJSONString decodes the JSON string that starts with the quote at
// s[i]. It returns the value, the index just after the closing quote, and
// whether the string was well formed. A string without escapes is returned
// as a substring of s.
func parseJSONString(s string, i int) (string, int, bool) {
	start := i + 1
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[start:j], j + 1, true
		case c == '\\':
			return unquoteJSONString(s, start, j)
		case c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

// unquoteJSONString is parseJSONString's slow path for a string with
// escapes: s[start:j] is the plain prefix and s[j] the first backslash. It
// decodes as encoding/json does, including turning a lone surrogate into
// U+FFFD.
func unquoteJSONString(s string, start, j int) (string, int, bool) {
	var b strings.Builder
	b.WriteString(s[start:j])
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			return b.String(), j + 1, true
		case c < 0x20:
			return "", 0, false
		case c != '\\':
			b.WriteByte(c)
			j++
			continue
		}
		if j+1 >= len(s) {
			return "", 0, false
		}
		switch s[j+1] {
		case '"', '\\', '/':
			b.WriteByte(s[j+1])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(s, j+2)
			if !ok {
				return "", 0, false
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' {
					if r2, ok := hex4(s, j+2); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							b.WriteRune(dec)
							j += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
			continue
		default:
			return "", 0, false
		}
		j += 2
	}
	return "", 0, false
}

// hex4 decodes the four hex digits at s[i:i+4].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
