package ingest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/task"
)

// FuzzSplitCSVLine holds the splitter to encoding/csv's reading of a single
// line (LazyQuotes off, any number of fields): the same fields where
// encoding/csv succeeds, a reject where it fails.
func FuzzSplitCSVLine(f *testing.F) {
	for _, s := range []string{
		"a,b,c", `"a,b","c""d"`, `""`, `"",`, `,`, `a,`, ` "a"`, `"a" `, `"a"b`, `a"b`,
		`"abc`, `"a""`, `""""`, `"a",,"b"`, "\"\xff\",x", "张三,\"李,四\"", "  ,\t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if line == "" || strings.ContainsAny(line, "\r\n") {
			t.Skip("the splitter sees one line without its ending")
		}
		var sp csvSplitter
		got, n, nonEmpty, reason := sp.split(line, len(line)+1)

		cr := csv.NewReader(strings.NewReader(line))
		cr.FieldsPerRecord = -1
		want, err := cr.Read()
		var perr *csv.ParseError
		switch {
		case errors.As(err, &perr):
			if reason == "" {
				t.Fatalf("encoding/csv fails (%v) but split gives %q", err, got)
			}
			return
		case err != nil:
			t.Fatalf("encoding/csv: %v", err)
		}
		if reason != "" {
			t.Fatalf("split rejects (%s) what encoding/csv reads as %q", reason, want)
		}
		if n != len(got) || !equal(got, want) {
			t.Fatalf("split = %q (n=%d), encoding/csv = %q", got, n, want)
		}
		anyNonBlank := false
		for _, f := range got {
			anyNonBlank = anyNonBlank || !blank(f)
		}
		if nonEmpty != anyNonBlank {
			t.Fatalf("nonEmpty = %v for %q", nonEmpty, got)
		}
		// Keeping fewer fields must not change the count or the verdict.
		_, n2, nonEmpty2, reason2 := sp.split(line, 1)
		if n2 != n || nonEmpty2 != nonEmpty || reason2 != reason {
			t.Fatalf("split with max 1 = %d, %v, %q; want %d, %v, %q", n2, nonEmpty2, reason2, n, nonEmpty, reason)
		}
	})
}

// FuzzParseJSONLine holds the JSON decoder to encoding/json: a line that is
// not a valid JSON object is "not a JSON object"; a valid one gives the same
// values, or the first unknown key, repeated field or non-string value in
// key order.
func FuzzParseJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"orderNo":"A1","name":"张三","idNumber":"11010519491231002X"}`,
		`{"name":"\u5f20\u4e09","card":null}`, `{"name":"\ud83d\ude00"}`, `{"name":"\ud83d"}`, `{"name":"\ud83dx"}`,
		`{"name":"a\"b\\c\/d\b\f\n\r\t"}`, `{}`, ` { } `, `{"x":1}`, `{"name":1}`, `{"name":[1,{"a":"}"}]}`,
		`{"name":"a","NAME":"b"}`, `{"name":"a",}`, `{"name":"a"} x`, `[]`, `"a"`, `null`, `{"name":"a`, `{"name":"\x01"}`,
		`{"name":"\u00"}`, `{"name" "a"}`, `{"name":nul}`, `{"name":"a"}{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !utf8.ValidString(line) {
			t.Skip("the Reader rejects invalid UTF-8 before decoding")
		}
		got := parseJSONLine(line)
		want := referenceJSONLine(line)
		if got != want {
			t.Fatalf("parseJSONLine = %+v, want %+v", got, want)
		}
	})
}

// referenceJSONLine is what parseJSONLine should return, worked out with
// encoding/json's tokenizer.
func referenceJSONLine(line string) jsonRow {
	notObject := jsonRow{field: FieldRow, reason: reasonNotObject}
	if !json.Valid([]byte(line)) {
		return notObject
	}
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return notObject
	}
	var row jsonRow
	var seen [numFields]bool
	for dec.More() {
		tok, _ := dec.Token()
		key := tok.(string)
		f := lookupColumn(key)
		if f < 0 {
			return jsonRow{field: FieldRow, reason: fmt.Sprintf("unknown field %q", safeName(key))}
		}
		if seen[f] {
			return jsonRow{field: fieldNames[f], reason: reasonRepeated}
		}
		seen[f] = true
		var v any
		if err := dec.Decode(&v); err != nil {
			panic(err) // valid JSON
		}
		switch v := v.(type) {
		case string:
			row.vals[f] = v
		case nil:
		default:
			return jsonRow{field: fieldNames[f], reason: reasonNotString}
		}
	}
	return row
}

// fuzzReader is the property every Reader has whatever its input: no
// panic; each Next gives exactly one of a Row, a Reject and an error; Rows
// hold valid verifications on increasing lines; Rejects name a known field
// and repeat no long digit run or name from the input; at the end, Offset
// is the input's length.
func fuzzReader(t *testing.T, input []byte, kind task.Kind, format Format) {
	r, err := NewReader(bytes.NewReader(input), Config{Kind: kind, Format: format, MaxLineBytes: 200})
	if err != nil {
		if !errors.Is(err, ErrEncoding) && !errors.Is(err, ErrHeader) {
			t.Fatalf("NewReader: %v", err)
		}
		return
	}
	var last int64
	for i := 0; ; i++ {
		if i > len(input)+1 {
			t.Fatalf("more results than lines")
		}
		row, rej, err := r.Next()
		if err != nil {
			if err != io.EOF || rej != nil || row != (Row{}) {
				t.Fatalf("Next = %+v, %v, %v", row, rej, err)
			}
			break
		}
		line := row.Line
		if rej != nil {
			if row != (Row{}) {
				t.Fatalf("Next gave a row and a reject")
			}
			switch rej.Field {
			case FieldRow, identity.FieldOrderNo, identity.FieldName, identity.FieldIDNumber, identity.FieldPhone, identity.FieldBankCard:
			default:
				t.Fatalf("reject field %q", rej.Field)
			}
			if rej.Reason == "" {
				t.Fatal("reject without a reason")
			}
			checkNoLeak(t, rej, input, false)
			line = rej.Line
		} else {
			checkRow(t, row, kind)
		}
		if line <= last {
			t.Fatalf("line %d after line %d", line, last)
		}
		last = line
	}
	if r.Encoding() == EncodingUTF8 && r.Offset() != int64(len(input)) {
		t.Fatalf("Offset = %d at the end of %d bytes", r.Offset(), len(input))
	}
}

func FuzzReaderCSV(f *testing.F) {
	for _, s := range []string{
		csvRow(people[0]), csvRow(people[1]) + "\r\n" + csvRow(people[2]),
		`"` + people[0].OrderNo + `","` + people[0].Name + `",` + people[0].IDNumber + `,"1,2","""x"""`,
		people[0].OrderNo + ",," + people[0].IDNumber + ",,", ",,,,\n\n  \n", `"abc`, "a,b,c,d,e,f,g",
		people[0].OrderNo + "," + people[0].Name + "," + badCheckDigit(people[0].IDNumber) + "," + people[0].Phone + "," + badLuhn(),
		"A1,\xd5\xc5\xc8\xfd,11010519491231002X,,", "A1,\xff,11010519491231002X,,", strings.Repeat("1", 300),
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		kind := task.Kinds[int(k)%len(task.Kinds)]
		fuzzReader(t, append([]byte(csvHeader+"\n"), data...), kind, FormatCSV)
	})
}

func FuzzReaderJSONL(f *testing.F) {
	for _, s := range []string{
		jsonlRow(people[1]), jsonlRow(people[1]) + "\r\n" + jsonlRow(people[2]), `{}`, `[]`, `{"x":"y"}`,
		`{"orderNo":"A1","name":"张三","idNumber":11010519491231002}`, `{"orderNo":"A1","name":"\u5f20\u4e09","idNumber":"11010519491231002X"}`,
		`{"orderNo":"A1","name":"张三","idNumber":"11010519491231002X","card":"6222021234567890"}`,
		"{\"name\":\"\xd5\xc5\"}", `{"` + strings.Repeat("1", 60) + `":""}`, strings.Repeat(" ", 300),
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		kind := task.Kinds[int(k)%len(task.Kinds)]
		fuzzReader(t, append([]byte(jsonlRow(people[0])+"\n"), data...), kind, FormatJSONL)
	})
}
