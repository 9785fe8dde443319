package ingest

import (
	"slices"
	"strconv"
	"strings"
)

// Reasons a CSV line does not split. Each is a predicate of "row".
const (
	reasonUnterminatedQuote = "has an unterminated quote (a quoted field cannot span lines)"
	reasonBareQuote         = "has a quote in an unquoted field"
	reasonTextAfterQuote    = "has text after a closing quote"
)

// csvSplitter splits single CSV lines. It is ours rather than encoding/csv
// because encoding/csv cannot cap a line's length (it buffers a line whole)
// and allocates per record; this one returns substrings of the line and
// allocates only to unescape a field with doubled quotes.
type csvSplitter struct {
	fields  []string
	scratch []byte // unescaping buffer, reused
}

// split splits line, one physical line without its line ending, into fields
// the way encoding/csv reads it with LazyQuotes off: a field is quoted only
// when its first byte is '"'; inside quotes, commas are data and "" is one
// quote; after the closing quote comes a comma or the end of the line; an
// unquoted field must not contain a quote.
//
// It keeps at most max fields but counts them all, so a line of a million
// commas costs no memory; n is the count. nonEmpty reports whether any field,
// kept or not, has a byte other than space or tab. reason is "" on success
// and otherwise one of the reason* constants, with fields undefined.
func (c *csvSplitter) split(line string, max int) (fields []string, n int, nonEmpty bool, reason string) {
	c.fields = c.fields[:0]
	i := 0
	for {
		var field string
		if i < len(line) && line[i] == '"' {
			j := i + 1
			start := j
			escaped := false
			keep := n < max
			for {
				k := strings.IndexByte(line[j:], '"')
				if k < 0 {
					return c.fields, n, nonEmpty, reasonUnterminatedQuote
				}
				j += k
				if j+1 < len(line) && line[j+1] == '"' {
					if keep {
						if !escaped {
							c.scratch = c.scratch[:0]
							escaped = true
						}
						c.scratch = append(c.scratch, line[start:j+1]...)
					}
					nonEmpty = true
					j += 2
					start = j
					continue
				}
				break
			}
			if keep {
				if escaped {
					c.scratch = append(c.scratch, line[start:j]...)
					field = string(c.scratch)
				} else {
					field = line[start:j]
				}
			}
			if !nonEmpty && !blank(line[start:j]) {
				nonEmpty = true
			}
			j++ // the closing quote
			n++
			if keep {
				c.fields = append(c.fields, field)
			}
			if j == len(line) {
				return c.fields, n, nonEmpty, ""
			}
			if line[j] != ',' {
				return c.fields, n, nonEmpty, reasonTextAfterQuote
			}
			i = j + 1
			continue
		}
		end := len(line)
		k := strings.IndexByte(line[i:], ',')
		if k >= 0 {
			end = i + k
		}
		field = line[i:end]
		if strings.IndexByte(field, '"') >= 0 {
			return c.fields, n, nonEmpty, reasonBareQuote
		}
		if !nonEmpty && !blank(field) {
			nonEmpty = true
		}
		if n < max {
			c.fields = append(c.fields, field)
		}
		n++
		if k < 0 {
			return c.fields, n, nonEmpty, ""
		}
		i = end + 1
	}
}

// blank reports whether s holds only spaces and tabs.
func blank[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

// trimField trims the spaces and tabs around a CSV field. Only ASCII: the
// identity parsers trim Unicode space themselves where it is harmless.
func trimField(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// fieldCountReason is the reason of a row with n fields under a header of
// want columns.
func fieldCountReason(n, want int) string {
	noun := " fields"
	if n == 1 {
		noun = " field"
	}
	return "has " + strconv.Itoa(n) + noun + ", the header has " + strconv.Itoa(want)
}

// csvColumns is what a CSV header tells the Reader.
type csvColumns struct {
	// n is the number of columns.
	n int
	// index is the column of each field, or -1 when the header lacks it.
	index [numFields]int
}

// parseHeader checks a header line's columns for a kind that needs the
// phone and card columns as said. It returns a *HeaderError for an unusable
// header.
func parseHeader(line string, lineNo int64, needPhone, needCard bool) (csvColumns, error) {
	var c csvSplitter
	names, n, _, reason := c.split(line, int(^uint(0)>>1))
	if reason != "" {
		return csvColumns{}, &HeaderError{Line: lineNo, Reason: "is not valid CSV: it " + reason}
	}
	cols := csvColumns{n: n}
	for i := range cols.index {
		cols.index[i] = -1
	}
	herr := &HeaderError{Line: lineNo}
	known := 0
	for i, name := range names {
		name = strings.TrimSpace(name)
		f := lookupColumn(name)
		if f < 0 {
			herr.Unknown = append(herr.Unknown, safeName(name))
			continue
		}
		known++
		if cols.index[f] >= 0 {
			if !slices.Contains(herr.Duplicate, fieldNames[f]) {
				herr.Duplicate = append(herr.Duplicate, fieldNames[f])
			}
			continue
		}
		cols.index[f] = i
	}
	if known == 0 {
		// Most likely the file has no header and this is a data row: do
		// not quote its "names", which would be personal data.
		return csvColumns{}, &HeaderError{Line: lineNo, Reason: "names no known column: the first line must be a header such as orderNo,name,idNumber,phoneNumber,bankCardNumber"}
	}
	required := []int{fieldOrderNo, fieldName, fieldIDNumber}
	if needPhone {
		required = append(required, fieldPhone)
	}
	if needCard {
		required = append(required, fieldBankCard)
	}
	for _, f := range required {
		if cols.index[f] < 0 {
			herr.Missing = append(herr.Missing, fieldNames[f])
		}
	}
	if len(herr.Missing) > 0 || len(herr.Unknown) > 0 || len(herr.Duplicate) > 0 {
		return csvColumns{}, herr
	}
	return cols, nil
}
