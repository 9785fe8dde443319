// Package ingest reads bulk verification files, the input of
// `realname enqueue --batch NAME --kind KIND FILE`, as a stream of validated
// task.Verification values and per-row rejects.
//
// Files hold millions of rows, so a Reader keeps constant memory whatever the
// size of the file or of any one line, and costs about a microsecond a row:
// it reads one physical line at a time, converts it to a string once, splits
// or decodes it in place and hands the fields to the identity parsers.
//
// # Formats
//
// CSV has a header line naming its columns; a column name is matched after
// trimming space and ignoring ASCII case. The names are the provider's field
// names, and a few aliases are accepted for files exported by other tools:
//
//	orderNo         order_no
//	name
//	idNumber        id_number
//	phoneNumber     phone, mobile
//	bankCardNumber  bank_card, card
//
// The header must have the columns the kind needs (orderNo, name and
// idNumber always; phoneNumber for mobile3 and bankcard4; bankCardNumber for
// bankcard3 and bankcard4) and no unknown or duplicate column, so that a
// typo cannot silently drop a column's data. Columns the kind does not need
// are allowed and ignored. Rows follow RFC 4180 quoting on a single physical
// line: a quoted field may hold commas and doubled quotes, but not a line
// break. Fields are trimmed of surrounding spaces and tabs. A row whose
// fields are all empty, as spreadsheets write after the last row, is skipped
// like a blank line.
//
// JSONL (also called NDJSON) has one JSON object a line whose keys are the
// same names and aliases as the CSV columns. Values must be strings; null
// counts as a missing value. Unknown and repeated keys reject the row.
//
// # Encodings
//
// Input is UTF-8, with or without a byte order mark, or GBK, which Excel on
// a Chinese-locale Windows still writes. The first 64 KiB decide: when they
// are not valid UTF-8 but decode cleanly as GBK, the whole stream is decoded
// as GBK and Reader.Encoding says so. Input that is neither, or that has a NUL
// byte in its first 64 KiB (UTF-16, a spreadsheet binary), is refused by
// NewReader with ErrEncoding. A line further in that does not decode (not
// valid UTF-8 in a UTF-8 file, a byte sequence GBK does not define in a GBK
// file) is rejected on its own. Lines end in LF or CRLF; blank lines are
// skipped.
//
// # Rejects
//
// A row that cannot become a verification yields a Reject naming its
// physical line, the first field that failed (in the order orderNo, name,
// idNumber, phoneNumber, bankCardNumber) or FieldRow for a problem with the
// row as a whole, and a reason. Reasons never contain a field's value: they
// end up in reject files and logs that are shared more widely than the input.
package ingest

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/task"
)

// Format is the syntax of a bulk file.
type Format int

// The formats. The zero value is FormatAuto, so a Config that does not say
// detects the format.
const (
	// FormatAuto asks NewReader to detect the format from the first
	// non-space byte of the input: '{' means JSONL, anything else CSV.
	FormatAuto Format = iota
	// FormatCSV is comma-separated values with a header line.
	FormatCSV
	// FormatJSONL is one JSON object a line.
	FormatJSONL
)

// String returns the format's name as ParseFormat accepts it.
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatCSV:
		return "csv"
	case FormatJSONL:
		return "jsonl"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ErrUnknownFormat is returned by ParseFormat for a name it does not know.
var ErrUnknownFormat = errors.New("ingest: unknown format")

// ParseFormat returns the format named s: "csv", "jsonl" (or its synonym
// "ndjson"), or "auto" (or "") for FormatAuto. Case is ignored, so a flag
// value can be passed as typed.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "csv":
		return FormatCSV, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	}
	return FormatAuto, fmt.Errorf("%w %q: want csv, jsonl or auto", ErrUnknownFormat, truncate(s, maxQuoted))
}

// DetectFormat guesses the format of a file from its name and its first
// bytes. The extension wins (.csv; .jsonl or .ndjson, in any case); otherwise
// a head whose first non-space byte, after any byte order mark, is '{' is
// JSONL and anything else is CSV. It never returns FormatAuto.
func DetectFormat(name string, head []byte) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return FormatCSV
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	head = trimBOM(head)
	for _, c := range head {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return FormatJSONL
		}
		return FormatCSV
	}
	return FormatCSV
}

// DefaultMaxLineBytes is the longest line a Reader accepts unless
// Config.MaxLineBytes says otherwise. A real row is a few hundred bytes; the
// cap is what keeps a file without line breaks from costing memory.
const DefaultMaxLineBytes = 64 << 10

// Config configures a Reader.
type Config struct {
	// Kind is the kind of verification every row is for; it decides which
	// fields are required. Required.
	Kind task.Kind
	// Format is the input's syntax. Defaults to FormatAuto, which detects it
	// from the first non-space byte.
	Format Format
	// MaxLineBytes caps the length of a line, without its line ending and
	// after decoding from GBK. A longer line is rejected and skipped without
	// being held in memory. Defaults to DefaultMaxLineBytes (64 KiB).
	MaxLineBytes int
}

// ErrConfig is matched by the errors NewReader returns for an invalid Config.
var ErrConfig = errors.New("ingest: invalid config")

// Row is one valid row.
type Row struct {
	// Line is the row's physical line number in the file, counting from 1
	// (the CSV header is line 1).
	Line int64
	// V is the verification the row asks for. Kind, OrderNo, Name and
	// IDNumber are set, and Phone and BankCard when Kind needs them.
	V task.Verification
}

// FieldRow is Reject.Field for a problem with a row as a whole rather than
// one of its fields: a line too long, bad quoting, bad JSON, a wrong number
// of fields.
const FieldRow = "row"

// Reject is a row that cannot become a verification.
type Reject struct {
	// Line is the row's physical line number in the file, counting from 1.
	Line int64 `json:"line"`
	// Field is the first field that failed, one of the identity.Field*
	// names, or FieldRow.
	Field string `json:"field"`
	// Reason says what is wrong, in words fit for an operator. It never
	// contains a value from the row.
	Reason string `json:"reason"`
}

// ErrEncoding is returned by NewReader for input that is neither UTF-8 nor
// GBK. Its message tells the operator how to fix the file.
var ErrEncoding = errors.New("input is neither UTF-8 nor GBK: convert it with iconv -f <enc> -t UTF-8")

// ErrHeader is matched by every *HeaderError through errors.Is.
var ErrHeader = errors.New("ingest: bad CSV header")

// HeaderError is returned by NewReader when a CSV header cannot be used.
// Either Reason says what is wrong with the line as a whole, or the lists say
// which columns are wrong.
type HeaderError struct {
	// Line is the header's line number: 1 unless blank lines precede it.
	Line int64
	// Reason describes a problem with the header line as a whole, such as
	// its absence or bad quoting; empty when the lists say what is wrong.
	Reason string
	// Missing lists the columns the kind needs that the header lacks, by
	// their canonical names.
	Missing []string
	// Unknown lists the column names the header has that are not known,
	// trimmed, cut to 40 bytes, with runs of digits masked.
	Unknown []string
	// Duplicate lists the columns named more than once (aliases
	// included), by their canonical names.
	Duplicate []string
}

// Error names the problem and the columns.
func (e *HeaderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ingest: CSV header (line %d)", e.Line)
	if e.Reason != "" {
		b.WriteString(" ")
		b.WriteString(e.Reason)
	}
	sep := ": "
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "%smissing column(s) %s", sep, strings.Join(e.Missing, ", "))
		sep = "; "
	}
	if len(e.Unknown) > 0 {
		q := make([]string, len(e.Unknown))
		for i, u := range e.Unknown {
			q[i] = fmt.Sprintf("%q", u)
		}
		fmt.Fprintf(&b, "%sunknown column(s) %s (known: %s)", sep, strings.Join(q, ", "), knownColumns)
		sep = "; "
	}
	if len(e.Duplicate) > 0 {
		fmt.Fprintf(&b, "%sduplicate column(s) %s", sep, strings.Join(e.Duplicate, ", "))
	}
	return b.String()
}

// Is reports whether target is ErrHeader.
func (e *HeaderError) Is(target error) bool { return target == ErrHeader }

// Field indexes: the order in which a row's fields are validated.
const (
	fieldOrderNo = iota
	fieldName
	fieldIDNumber
	fieldPhone
	fieldBankCard
	numFields
)

// fieldNames are the canonical names of the fields, by index.
var fieldNames = [numFields]string{
	identity.FieldOrderNo, identity.FieldName, identity.FieldIDNumber, identity.FieldPhone, identity.FieldBankCard,
}

// columnNames maps each accepted column name or JSON key, in lower case, to
// its field. The package comment lists them; keep the two in step.
var columnNames = []struct {
	name  string
	field int
}{
	{"orderno", fieldOrderNo},
	{"order_no", fieldOrderNo},
	{"name", fieldName},
	{"idnumber", fieldIDNumber},
	{"id_number", fieldIDNumber},
	{"phonenumber", fieldPhone},
	{"phone", fieldPhone},
	{"mobile", fieldPhone},
	{"bankcardnumber", fieldBankCard},
	{"bank_card", fieldBankCard},
	{"card", fieldBankCard},
}

const knownColumns = "orderNo, name, idNumber, phoneNumber, bankCardNumber, order_no, id_number, phone, mobile, bank_card, card"

// lookupColumn returns the field a column name or JSON key stands for, or -1.
// It folds ASCII case only: Unicode folding would let look-alikes such as the
// Kelvin sign match, which is a surprise nobody needs.
func lookupColumn(s string) int {
	for _, c := range columnNames {
		if len(c.name) == len(s) && asciiEqualFoldLower(s, c.name) {
			return c.field
		}
	}
	return -1
}

// asciiEqualFoldLower reports whether s equals lower, an all-lower-case ASCII
// string of the same length, ignoring ASCII case.
func asciiEqualFoldLower(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// needs reports which optional fields kind k requires.
func needs(k task.Kind) (phone, card bool) {
	return k == task.KindMobile3 || k == task.KindBankCard4, k == task.KindBankCard3 || k == task.KindBankCard4
}

// maxQuoted is how many bytes of a name from the input a message quotes.
const maxQuoted = 40

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// safeName prepares a column name or JSON key from the input for quoting in
// a message. Names are not personal data, but a file without a header, or a
// key that is really a value, would put an ID or card number where a name
// belongs: masking runs of three or more digits keeps those out of reject
// files and logs while leaving names like "field2" readable.
func safeName(s string) string {
	s = truncate(s, maxQuoted)
	b := []byte(s)
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		if j-i >= 3 {
			for k := i; k < j; k++ {
				b[k] = '#'
			}
		}
		if j == i {
			j++
		}
		i = j
	}
	return string(b)
}
