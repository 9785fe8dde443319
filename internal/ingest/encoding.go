package ingest

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// Encoding names, as Reader.Encoding reports them.
const (
	EncodingUTF8 = "utf-8"
	EncodingGBK  = "gbk"
)

// detectHead is how many leading bytes decide the encoding: enough to hold
// the header and hundreds of rows, so a GBK file almost surely shows a
// non-ASCII name in it.
const detectHead = 64 << 10

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, utf8BOM) }

// detectEncoding names the encoding of head, the first bytes of the input
// after any byte order mark, or returns "" for neither UTF-8 nor GBK. atEOF
// says head is the whole input; otherwise a character cut at its end is not
// held against it.
func detectEncoding(head []byte, atEOF bool) string {
	// No text file has a NUL; UTF-16 without a byte order mark would
	// otherwise pass as ASCII-ish UTF-8 with garbage in every other byte.
	if bytes.IndexByte(head, 0) >= 0 {
		return ""
	}
	if validUTF8Prefix(head, atEOF) {
		return EncodingUTF8
	}
	if cleanGBK(head, atEOF) {
		return EncodingGBK
	}
	return ""
}

// validUTF8Prefix reports whether b is valid UTF-8, allowing, when more
// input follows, an incomplete character at its end.
func validUTF8Prefix(b []byte, atEOF bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if atEOF {
		return false
	}
	for k := 1; k < utf8.UTFMax && k <= len(b); k++ {
		tail := b[len(b)-k:]
		if utf8.RuneStart(tail[0]) && !utf8.FullRune(tail) {
			return utf8.Valid(b[:len(b)-k])
		}
	}
	return false
}

// cleanGBK reports whether b decodes as GBK without a replacement character,
// which the decoder writes for every byte sequence GBK does not define.
// When more input follows, a lead byte cut at the end is not held against b.
func cleanGBK(b []byte, atEOF bool) bool {
	dec := simplifiedchinese.GBK.NewDecoder()
	var dst [4096]byte
	for len(b) > 0 {
		nDst, nSrc, err := dec.Transform(dst[:], b, atEOF)
		if bytes.Contains(dst[:nDst], replacementChar) {
			return false
		}
		b = b[nSrc:]
		if nSrc == 0 && err != transform.ErrShortSrc {
			return false // no progress: never expected, but never loop
		}
		switch err {
		case nil, transform.ErrShortDst:
		case transform.ErrShortSrc:
			return !atEOF
		default:
			return false
		}
	}
	return true
}

var replacementChar = []byte(string(utf8.RuneError))
