package ingest

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/task"
)

// Reasons of row-level rejects that do not come from the splitter or the
// JSON decoder.
const (
	reasonNotUTF8  = "is not valid UTF-8"
	reasonNotGBK   = "is not valid GBK"
	reasonRequired = "is required"
)

// Reader reads rows from a bulk file. It is not safe for concurrent use.
type Reader struct {
	kind                task.Kind
	needPhone, needCard bool
	format              Format
	encoding            string
	maxLine             int
	reasonTooLong       string

	src *countingReader
	// raw buffers src; for UTF-8 it is also the line reader, so that one
	// buffer serves both encoding detection and lines.
	raw *bufio.Reader
	// lines yields the input as UTF-8: raw itself, or a buffer over a GBK
	// decoder over raw.
	lines *bufio.Reader

	eof  bool  // lines has returned io.EOF: do not read it again
	line int64 // physical number of the last line read
	off  int64 // bytes of lines consumed from lines
	err  error // sticky: io.EOF or the error that ended reading

	cols  csvColumns
	split csvSplitter
}

// NewReader returns a Reader of the bulk file r. It reads the first 64 KiB
// to detect the encoding (and, for FormatAuto, the format) and, for CSV,
// reads and checks the header, returning a *HeaderError if the header lacks
// a column the kind needs or has an unknown or duplicate one. It returns
// ErrEncoding for input that is neither UTF-8 nor GBK, and an error matching
// ErrConfig for an invalid cfg.
func NewReader(r io.Reader, cfg Config) (*Reader, error) {
	if _, err := task.ParseKind(string(cfg.Kind)); err != nil {
		return nil, fmt.Errorf("%w: Kind: %w", ErrConfig, err)
	}
	if cfg.Format < FormatAuto || cfg.Format > FormatJSONL {
		return nil, fmt.Errorf("%w: unknown Format %d", ErrConfig, int(cfg.Format))
	}
	if cfg.MaxLineBytes < 0 {
		return nil, fmt.Errorf("%w: MaxLineBytes is negative", ErrConfig)
	}
	maxLine := cmp.Or(cfg.MaxLineBytes, DefaultMaxLineBytes)
	// The buffer holds the longest line with its CRLF, so ReadSlice fails
	// with ErrBufferFull only for a line that is certainly too long.
	bufSize := max(detectHead, maxLine+2)

	rd := &Reader{
		kind:          cfg.Kind,
		maxLine:       maxLine,
		reasonTooLong: "is longer than " + strconv.Itoa(maxLine) + " bytes",
		src:           &countingReader{r: r},
	}
	rd.needPhone, rd.needCard = needs(cfg.Kind)
	rd.raw = bufio.NewReaderSize(rd.src, bufSize)

	head, err := rd.raw.Peek(detectHead)
	atEOF := false
	switch err {
	case nil:
	case io.EOF:
		atEOF = true
	default:
		return nil, fmt.Errorf("ingest: reading input: %w", err)
	}
	hasBOM := bytes.HasPrefix(head, utf8BOM)
	head = trimBOM(head)
	rd.encoding = detectEncoding(head, atEOF)
	if rd.encoding == "" {
		return nil, ErrEncoding
	}
	rd.format = cfg.Format
	if rd.format == FormatAuto {
		// ASCII bytes mean the same in GBK, so the raw head will do.
		rd.format = DetectFormat("", head)
	}
	if hasBOM {
		n, _ := rd.raw.Discard(len(utf8BOM))
		rd.off += int64(n)
	}
	rd.lines = rd.raw
	if rd.encoding == EncodingGBK {
		rd.lines = bufio.NewReaderSize(transform.NewReader(rd.raw, simplifiedchinese.GBK.NewDecoder()), bufSize)
	}
	if rd.format == FormatCSV {
		if err := rd.readHeader(); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

// Encoding returns the input's encoding as detected: EncodingUTF8 ("utf-8")
// or EncodingGBK ("gbk"), so the CLI can tell the operator a file was
// converted.
func (r *Reader) Encoding() string { return r.encoding }

// Format returns the input's format: the configured one, or the detected
// one for FormatAuto.
func (r *Reader) Format() Format { return r.format }

// Offset returns how many bytes of the input have been consumed, for a
// progress bar over a file of known size. For UTF-8 it is exact; for GBK it
// counts the bytes the decoder has taken, which runs ahead of the rows
// returned by at most a few buffers.
func (r *Reader) Offset() int64 {
	if r.encoding == EncodingGBK {
		return r.src.n - int64(r.raw.Buffered())
	}
	return r.off
}

// Next returns the next row: exactly one of a Row, a *Reject for a row that
// cannot become a verification, or an error, which is io.EOF at the end of
// the input and otherwise the read error that ended it. After an error,
// Next returns the same error again. Blank lines are skipped.
func (r *Reader) Next() (Row, *Reject, error) {
	for r.err == nil {
		b, tooLong, err := r.readLine()
		if err != nil {
			if err != io.EOF {
				err = fmt.Errorf("ingest: reading line %d: %w", r.line+1, err)
			}
			r.err = err
			break
		}
		if tooLong {
			return Row{}, r.reject(FieldRow, r.reasonTooLong), nil
		}
		if blank(b) {
			continue
		}
		if r.encoding == EncodingUTF8 {
			if !utf8.Valid(b) {
				return Row{}, r.reject(FieldRow, reasonNotUTF8), nil
			}
		} else if bytes.Contains(b, replacementChar) {
			// The decoder wrote U+FFFD for bytes GBK does not define.
			return Row{}, r.reject(FieldRow, reasonNotGBK), nil
		}
		// The one allocation of a row: the values the row returns are
		// substrings of this string, so they outlive the read buffer.
		line := string(b)
		var vals [numFields]string
		if r.format == FormatCSV {
			fields, n, nonEmpty, reason := r.split.split(line, r.cols.n)
			if reason != "" {
				return Row{}, r.reject(FieldRow, reason), nil
			}
			if !nonEmpty {
				continue
			}
			if n != r.cols.n {
				return Row{}, r.reject(FieldRow, fieldCountReason(n, r.cols.n)), nil
			}
			for f, col := range r.cols.index {
				if col >= 0 {
					vals[f] = trimField(fields[col])
				}
			}
		} else {
			jr := parseJSONLine(line)
			if jr.field != "" {
				return Row{}, r.reject(jr.field, jr.reason), nil
			}
			vals = jr.vals
		}
		v, fe := r.validate(&vals)
		if fe != nil {
			return Row{}, r.reject(fe.Field, fe.Reason), nil
		}
		return Row{Line: r.line, V: v}, nil, nil
	}
	return Row{}, nil, r.err
}

// reject returns a Reject of the current line.
func (r *Reader) reject(field, reason string) *Reject {
	return &Reject{Line: r.line, Field: field, Reason: reason}
}

// validate parses a row's values into a Verification, in the order the
// package comment documents, and returns the first failure.
func (r *Reader) validate(vals *[numFields]string) (v task.Verification, fe *identity.FieldError) {
	v.Kind = r.kind
	var err error
	if isBlankValue(vals[fieldOrderNo]) {
		return v, &identity.FieldError{Field: identity.FieldOrderNo, Reason: reasonRequired}
	}
	if v.OrderNo, err = identity.ParseOrderNo(vals[fieldOrderNo]); err != nil {
		return v, asFieldError(err, identity.FieldOrderNo)
	}
	if isBlankValue(vals[fieldName]) {
		return v, &identity.FieldError{Field: identity.FieldName, Reason: reasonRequired}
	}
	if v.Name, err = identity.ParseName(vals[fieldName]); err != nil {
		return v, asFieldError(err, identity.FieldName)
	}
	if isBlankValue(vals[fieldIDNumber]) {
		return v, &identity.FieldError{Field: identity.FieldIDNumber, Reason: reasonRequired}
	}
	if v.IDNumber, err = identity.ParseIDNumber(vals[fieldIDNumber]); err != nil {
		return v, asFieldError(err, identity.FieldIDNumber)
	}
	if r.needPhone {
		if isBlankValue(vals[fieldPhone]) {
			return v, &identity.FieldError{Field: identity.FieldPhone, Reason: reasonRequired}
		}
		if v.Phone, err = identity.ParsePhone(vals[fieldPhone]); err != nil {
			return v, asFieldError(err, identity.FieldPhone)
		}
	}
	if r.needCard {
		if isBlankValue(vals[fieldBankCard]) {
			return v, &identity.FieldError{Field: identity.FieldBankCard, Reason: reasonRequired}
		}
		if v.BankCard, err = identity.ParseBankCard(vals[fieldBankCard]); err != nil {
			return v, asFieldError(err, identity.FieldBankCard)
		}
	}
	return v, nil
}

// isBlankValue reports whether a value is empty once the identity parsers
// trim it, so that a value of only (say) ideographic spaces is "required"
// rather than some parser's own wording.
func isBlankValue(s string) bool { return strings.TrimSpace(s) == "" }

// asFieldError returns an identity parser's error as the *FieldError the
// parsers promise. Anything else gets a generic reason rather than its
// message, which nothing promises is free of the value.
func asFieldError(err error, field string) *identity.FieldError {
	if fe, ok := err.(*identity.FieldError); ok {
		return fe
	}
	return &identity.FieldError{Field: field, Reason: "is invalid"}
}

// readHeader reads the CSV header, skipping blank lines before it.
func (r *Reader) readHeader() error {
	for {
		b, tooLong, err := r.readLine()
		switch {
		case err == io.EOF:
			return &HeaderError{Line: max(r.line, 1), Reason: "is missing: the input is empty"}
		case err != nil:
			return fmt.Errorf("ingest: reading the CSV header: %w", err)
		case tooLong:
			return &HeaderError{Line: r.line, Reason: r.reasonTooLong}
		case blank(b):
			continue
		case r.encoding == EncodingUTF8 && !utf8.Valid(b):
			return &HeaderError{Line: r.line, Reason: reasonNotUTF8}
		}
		cols, err := parseHeader(string(b), r.line, r.needPhone, r.needCard)
		if err != nil {
			return err
		}
		r.cols = cols
		return nil
	}
}

// readLine returns the next physical line without its line ending, valid
// until the next call. A line longer than maxLine is consumed in
// buffer-sized pieces and reported as tooLong, never held whole.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	if r.eof {
		return nil, false, io.EOF
	}
	b, err := r.lines.ReadSlice('\n')
	r.off += int64(len(b))
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			b, err = r.lines.ReadSlice('\n')
			r.off += int64(len(b))
		}
		switch err {
		case nil:
		case io.EOF:
			r.eof = true
		default:
			return nil, false, err
		}
		r.line++
		return nil, true, nil
	}
	switch err {
	case nil:
	case io.EOF:
		r.eof = true
		if len(b) == 0 {
			return nil, false, io.EOF
		}
	default:
		return nil, false, err
	}
	r.line++
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if len(b) > r.maxLine {
		return nil, true, nil
	}
	return b, false, nil
}

// countingReader counts the bytes read through it, for Offset over GBK input.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
