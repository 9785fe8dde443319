package ingest

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/task"
)

func TestReaderCSVRows(t *testing.T) {
	t.Parallel()
	p0, p1, p2 := people[0], people[1], people[2]
	row := func(orderNo, name, id, phone, card string) string {
		return strings.Join([]string{orderNo, name, id, phone, card}, ",")
	}
	cases := []struct {
		name  string
		kind  task.Kind
		input string
		want  []outcome
	}{
		{
			name:  "good rows",
			kind:  task.KindBankCard4,
			input: lines(csvHeader, csvRow(p0), csvRow(p1)),
			want:  []outcome{{line: 2}, {line: 3}},
		},
		{
			name:  "wrong ID check digit",
			kind:  task.KindIDCard,
			input: lines(csvHeader, csvRow(p0), row(p1.OrderNo, p1.Name, badCheckDigit(p1.IDNumber), "", ""), csvRow(p2)),
			want:  []outcome{{line: 2}, {3, identity.FieldIDNumber, "check digit does not match"}, {line: 4}},
		},
		{
			name:  "empty name",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row(p0.OrderNo, "", p0.IDNumber, "", "")),
			want:  []outcome{{2, identity.FieldName, "is required"}},
		},
		{
			name:  "name of spaces",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row(p0.OrderNo, "  \u3000 ", p0.IDNumber, "", "")),
			want:  []outcome{{2, identity.FieldName, "is required"}},
		},
		{
			name:  "empty order number",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row("", p0.Name, p0.IDNumber, "", "")),
			want:  []outcome{{2, identity.FieldOrderNo, "is required"}},
		},
		{
			name:  "first failing field only",
			kind:  task.KindBankCard4,
			input: lines(csvHeader, row(p0.OrderNo, "Zhang San", badCheckDigit(p0.IDNumber), "123", badLuhn())),
			want:  []outcome{{2, identity.FieldName, "Latin"}},
		},
		{
			name:  "card failing Luhn",
			kind:  task.KindBankCard3,
			input: lines(csvHeader, row(p0.OrderNo, p0.Name, p0.IDNumber, "", badLuhn())),
			want:  []outcome{{2, identity.FieldBankCard, "fails the Luhn check"}},
		},
		{
			name:  "mobile3 without phone",
			kind:  task.KindMobile3,
			input: lines(csvHeader, row(p0.OrderNo, p0.Name, p0.IDNumber, "", p0.BankCard)),
			want:  []outcome{{2, identity.FieldPhone, "is required"}},
		},
		{
			name:  "bad phone",
			kind:  task.KindMobile3,
			input: lines(csvHeader, row(p0.OrderNo, p0.Name, p0.IDNumber, "2381234567", "")),
			want:  []outcome{{2, identity.FieldPhone, "must be 11 digits"}},
		},
		{
			name:  "extra values for a kind that does not need them are ignored",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row(p0.OrderNo, p0.Name, p0.IDNumber, "not a phone", badLuhn())),
			want:  []outcome{{line: 2}},
		},
		{
			name:  "extra columns",
			kind:  task.KindIDCard,
			input: lines(csvHeader, csvRow(p0)+",x,y", csvRow(p1)),
			want:  []outcome{{2, FieldRow, "has 7 fields, the header has 5"}, {line: 3}},
		},
		{
			name:  "missing columns",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row(p0.OrderNo, p0.Name, p0.IDNumber, p0.Phone, "")[:len(row(p0.OrderNo, p0.Name, p0.IDNumber, p0.Phone, ""))-1]),
			want:  []outcome{{2, FieldRow, "has 4 fields, the header has 5"}},
		},
		{
			name:  "one field",
			kind:  task.KindIDCard,
			input: lines(csvHeader, p0.IDNumber),
			want:  []outcome{{2, FieldRow, "has 1 field, the header has 5"}},
		},
		{
			name:  "quoted fields with a comma and a doubled quote",
			kind:  task.KindIDCard,
			input: lines(csvHeader, `"`+p0.OrderNo+`", "`+p0.Name+`" ,`+p0.IDNumber+`,"a,b","say ""hi"", ok"`),
			want:  []outcome{{2, FieldRow, "quote"}},
		},
		{
			name:  "quoted fields everywhere",
			kind:  task.KindIDCard,
			input: lines(csvHeader, `"`+p0.OrderNo+`","`+p0.Name+`",`+p0.IDNumber+`,"a,b","say ""hi"", ok"`),
			want:  []outcome{{line: 2}},
		},
		{
			name:  "quoted comma does not split",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row(p0.OrderNo, `"张,三"`, p0.IDNumber, "", "")),
			want:  []outcome{{2, identity.FieldName, "not a Han character"}},
		},
		{
			name:  "unterminated quote",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row(p0.OrderNo, `"`+p0.Name, p0.IDNumber, "", ""), csvRow(p1)),
			want:  []outcome{{2, FieldRow, "unterminated quote"}, {line: 3}},
		},
		{
			name:  "bare quote",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row(p0.OrderNo, `张"三`, p0.IDNumber, "", "")),
			want:  []outcome{{2, FieldRow, "quote in an unquoted field"}},
		},
		{
			name:  "text after closing quote",
			kind:  task.KindIDCard,
			input: lines(csvHeader, row(p0.OrderNo, `"张"三`, p0.IDNumber, "", "")),
			want:  []outcome{{2, FieldRow, "text after a closing quote"}},
		},
		{
			name:  "spaces around fields",
			kind:  task.KindBankCard4,
			input: lines(csvHeader, row(" "+p0.OrderNo+"\t", " "+p0.Name, p0.IDNumber+"  ", " "+p0.Phone, p0.BankCard+" ")),
			want:  []outcome{{line: 2}},
		},
		{
			name:  "byte order mark",
			kind:  task.KindIDCard,
			input: "\uFEFF" + lines(csvHeader, csvRow(p0)),
			want:  []outcome{{line: 2}},
		},
		{
			name:  "CRLF",
			kind:  task.KindBankCard4,
			input: strings.ReplaceAll(lines(csvHeader, csvRow(p0), csvRow(p1)), "\n", "\r\n"),
			want:  []outcome{{line: 2}, {line: 3}},
		},
		{
			name:  "no final line ending",
			kind:  task.KindIDCard,
			input: csvHeader + "\n" + csvRow(p0) + "\r",
			want:  []outcome{{line: 2}},
		},
		{
			name:  "blank lines",
			kind:  task.KindIDCard,
			input: "\n" + lines(csvHeader, "", csvRow(p0), "  ", "\t", ",,,,", `,"",,, `, "\r", csvRow(p1), "", ""),
			want:  []outcome{{line: 4}, {line: 10}},
		},
		{
			name:  "header only",
			kind:  task.KindIDCard,
			input: csvHeader,
			want:  nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := outcomes(t, []byte(tc.input), Config{Kind: tc.kind, Format: FormatCSV})
			compareOutcomes(t, got, tc.want)
		})
	}
}

func TestReaderCSVColumns(t *testing.T) {
	t.Parallel()
	p := people[0]
	cases := []struct {
		name   string
		header string
		row    string
	}{
		{name: "aliases in another order", header: "ID_NUMBER, Card ,mobile,Name,order_no", row: strings.Join([]string{p.IDNumber, p.BankCard, p.Phone, p.Name, p.OrderNo}, ",")},
		{name: "quoted header", header: `"orderNo","name","idNumber","phone","bank_card"`, row: csvRow(p)},
		{name: "upper case", header: "ORDERNO,NAME,IDNUMBER,PHONENUMBER,BANKCARDNUMBER", row: csvRow(p)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, rows, rejects := readAll(t, []byte(lines(tc.header, tc.row)), Config{Kind: task.KindBankCard4})
			if len(rows) != 1 || len(rejects) != 0 {
				t.Fatalf("got %d rows, rejects %+v", len(rows), rejects)
			}
			v := rows[0].V
			if string(v.OrderNo) != p.OrderNo || v.Name.Reveal() != p.Name || v.IDNumber.Reveal() != p.IDNumber ||
				v.Phone.Reveal() != p.Phone || v.BankCard.Reveal() != p.BankCard {
				t.Errorf("fields do not match the input")
			}
		})
	}
}

func TestReaderCSVHeaderErrors(t *testing.T) {
	t.Parallel()
	p := people[0]
	cases := []struct {
		name      string
		kind      task.Kind
		input     string
		line      int64
		missing   []string
		unknown   []string
		duplicate []string
		reason    string
	}{
		{name: "idcard without idNumber", kind: task.KindIDCard, input: lines("orderNo,name,phoneNumber"), line: 1, missing: []string{"idNumber"}},
		{name: "mobile3 without phoneNumber", kind: task.KindMobile3, input: lines("orderNo,name,idNumber,bankCardNumber"), line: 1, missing: []string{"phoneNumber"}},
		{name: "bankcard4 without both", kind: task.KindBankCard4, input: lines("orderNo,name,idNumber"), line: 1, missing: []string{"phoneNumber", "bankCardNumber"}},
		{name: "unknown column", kind: task.KindIDCard, input: lines("orderNo,name,idNumbr"), line: 1, missing: []string{"idNumber"}, unknown: []string{"idNumbr"}},
		{name: "unknown column the kind does not need", kind: task.KindIDCard, input: lines("orderNo,name,idNumber,remarks"), line: 1, unknown: []string{"remarks"}},
		{name: "unnamed column", kind: task.KindIDCard, input: lines("orderNo,name,idNumber,"), line: 1, unknown: []string{""}},
		{name: "duplicate column", kind: task.KindIDCard, input: lines("orderNo,name,idNumber,name"), line: 1, duplicate: []string{"name"}},
		{name: "duplicate through an alias", kind: task.KindMobile3, input: lines("orderNo,name,idNumber,phone,Mobile"), line: 1, duplicate: []string{"phoneNumber"}},
		{name: "long unknown name is cut and digits masked", kind: task.KindIDCard, input: lines("orderNo,name,idNumber,col12345" + strings.Repeat("x", 50)), line: 1, unknown: []string{"col#####" + strings.Repeat("x", 32)}},
		{name: "no header", kind: task.KindIDCard, input: lines(csvRow(p)), line: 1, reason: "names no known column"},
		{name: "empty input", kind: task.KindIDCard, input: "", line: 1, reason: "is missing"},
		{name: "only blank lines", kind: task.KindIDCard, input: "\n\r\n  \n", line: 3, reason: "is missing"},
		{name: "bad quoting", kind: task.KindIDCard, input: lines(`"orderNo,name,idNumber`), line: 1, reason: "unterminated quote"},
		{name: "after blank lines", kind: task.KindIDCard, input: lines("", "", "orderNo,name"), line: 3, missing: []string{"idNumber"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewReader(strings.NewReader(tc.input), Config{Kind: tc.kind, Format: FormatCSV})
			var he *HeaderError
			if !errors.As(err, &he) || !errors.Is(err, ErrHeader) {
				t.Fatalf("NewReader error = %v, want a *HeaderError", err)
			}
			if he.Line != tc.line || !strings.Contains(he.Reason, tc.reason) ||
				!equal(he.Missing, tc.missing) || !equal(he.Unknown, tc.unknown) || !equal(he.Duplicate, tc.duplicate) {
				t.Errorf("got %+v", *he)
			}
			msg := err.Error()
			for _, col := range append(append(tc.missing, tc.unknown...), tc.duplicate...) {
				if !strings.Contains(msg, col) {
					t.Errorf("message %q does not name %q", msg, col)
				}
			}
			for _, v := range []string{p.IDNumber, p.Name, p.Phone, p.BankCard} {
				if strings.Contains(msg, v) {
					t.Errorf("message %q leaks a value", msg)
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReaderJSONLRows(t *testing.T) {
	t.Parallel()
	p0, p1 := people[0], people[1]
	obj := func(pairs ...string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i < len(pairs); i += 2 {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + pairs[i] + `":` + pairs[i+1])
		}
		b.WriteString("}")
		return b.String()
	}
	q := func(s string) string { return `"` + s + `"` }
	cases := []struct {
		name  string
		kind  task.Kind
		input string
		want  []outcome
	}{
		{
			name:  "good rows",
			kind:  task.KindBankCard4,
			input: lines(jsonlRow(p0), jsonlRow(p1)),
			want:  []outcome{{line: 1}, {line: 2}},
		},
		{
			name:  "white space, escapes, aliases, null and absent optional fields",
			kind:  task.KindIDCard,
			input: lines(` { "order_no" : "` + p0.OrderNo + `", "NAME": "\u` + hex(p0.Name) + `" , "id_number":"` + p0.IDNumber + `", "phone": null } `),
			want:  []outcome{{line: 1}},
		},
		{
			name:  "wrong ID check digit",
			kind:  task.KindIDCard,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", q(p0.Name), "idNumber", q(badCheckDigit(p0.IDNumber))), jsonlRow(p1)),
			want:  []outcome{{1, identity.FieldIDNumber, "check digit"}, {line: 2}},
		},
		{
			name:  "empty name",
			kind:  task.KindIDCard,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", `""`, "idNumber", q(p0.IDNumber))),
			want:  []outcome{{1, identity.FieldName, "is required"}},
		},
		{
			name:  "null name",
			kind:  task.KindIDCard,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", `null`, "idNumber", q(p0.IDNumber))),
			want:  []outcome{{1, identity.FieldName, "is required"}},
		},
		{
			name:  "card failing Luhn",
			kind:  task.KindBankCard3,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", q(p0.Name), "idNumber", q(p0.IDNumber), "bankCardNumber", q(badLuhn()))),
			want:  []outcome{{1, identity.FieldBankCard, "Luhn"}},
		},
		{
			name:  "mobile3 without phone",
			kind:  task.KindMobile3,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", q(p0.Name), "idNumber", q(p0.IDNumber))),
			want:  []outcome{{1, identity.FieldPhone, "is required"}},
		},
		{
			name:  "unknown field",
			kind:  task.KindIDCard,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", q(p0.Name), "idNumber", q(p0.IDNumber), "remarks", q("x"))),
			want:  []outcome{{1, FieldRow, `unknown field "remarks"`}},
		},
		{
			name:  "long unknown field is cut",
			kind:  task.KindIDCard,
			input: lines(obj(strings.Repeat("k", 100), q("x"))),
			want:  []outcome{{1, FieldRow, `unknown field "` + strings.Repeat("k", 40) + `"`}},
		},
		{
			name:  "unknown field that is a value",
			kind:  task.KindIDCard,
			input: lines(obj(p0.Phone, q(p0.Name))),
			want:  []outcome{{1, FieldRow, `unknown field "###########"`}},
		},
		{
			name:  "number value",
			kind:  task.KindIDCard,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", q(p0.Name), "idNumber", p0.IDNumber[:17])),
			want:  []outcome{{1, identity.FieldIDNumber, "must be a JSON string"}},
		},
		{
			name:  "object value",
			kind:  task.KindIDCard,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", `{"first":"x"}`, "idNumber", q(p0.IDNumber))),
			want:  []outcome{{1, identity.FieldName, "must be a JSON string"}},
		},
		{
			name:  "non-string value in a field the kind does not need",
			kind:  task.KindIDCard,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", q(p0.Name), "idNumber", q(p0.IDNumber), "bankCardNumber", "6222021234567890")),
			want:  []outcome{{1, identity.FieldBankCard, "must be a JSON string"}},
		},
		{
			name:  "repeated field",
			kind:  task.KindIDCard,
			input: lines(obj("orderNo", q(p0.OrderNo), "name", q(p0.Name), "idNumber", q(p0.IDNumber), "id_number", q(p1.IDNumber))),
			want:  []outcome{{1, identity.FieldIDNumber, "more than once"}},
		},
		{
			name:  "bad JSON",
			kind:  task.KindIDCard,
			input: lines(`{"orderNo":"`+p0.OrderNo+`","name":"`+p0.Name+`","idNumber":"`+p0.IDNumber+`"`, `{"orderNo":1,`, `{"x":1,}`, jsonlRow(p1)),
			want:  []outcome{{1, FieldRow, "is not a JSON object"}, {2, FieldRow, "is not a JSON object"}, {3, FieldRow, "is not a JSON object"}, {line: 4}},
		},
		{
			name:  "not an object",
			kind:  task.KindIDCard,
			input: lines(`["`+p0.OrderNo+`","`+p0.Name+`","`+p0.IDNumber+`"]`, `"`+p0.IDNumber+`"`, p0.IDNumber, "null", csvRow(p0)),
			want:  []outcome{{1, FieldRow, "not a JSON object"}, {2, FieldRow, "not a JSON object"}, {3, FieldRow, "not a JSON object"}, {4, FieldRow, "not a JSON object"}, {5, FieldRow, "not a JSON object"}},
		},
		{
			name:  "trailing data",
			kind:  task.KindIDCard,
			input: lines(jsonlRow(p0) + ` {}`),
			want:  []outcome{{1, FieldRow, "not a JSON object"}},
		},
		{
			name:  "empty object",
			kind:  task.KindIDCard,
			input: lines(`{}`),
			want:  []outcome{{1, identity.FieldOrderNo, "is required"}},
		},
		{
			name:  "BOM, CRLF and blank lines",
			kind:  task.KindBankCard4,
			input: "\uFEFF\r\n" + jsonlRow(p0) + "\r\n  \r\n" + jsonlRow(p1),
			want:  []outcome{{line: 2}, {line: 4}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := outcomes(t, []byte(tc.input), Config{Kind: tc.kind, Format: FormatJSONL})
			compareOutcomes(t, got, tc.want)
		})
	}
}

// hex returns the first rune of s as four hex digits, for a \u escape,
// followed by the rest of s.
func hex(s string) string {
	r := []rune(s)
	const digits = "0123456789abcdef"
	c := r[0]
	return string([]byte{digits[c>>12&0xf], digits[c>>8&0xf], digits[c>>4&0xf], digits[c&0xf]}) + string(r[1:])
}

func TestReaderLongLine(t *testing.T) {
	t.Parallel()
	p0, p1 := people[0], people[1]
	cases := []struct {
		name   string
		format Format
		first  string
		long   string
		last   string
		want   []outcome
	}{
		{
			name: "CSV", format: FormatCSV, first: csvHeader + "\n" + csvRow(p0) + "\n",
			long: p1.OrderNo + "," + strings.Repeat("张", 1<<20/3), last: "\r\n" + csvRow(p1) + "\n",
			want: []outcome{{line: 2}, {3, FieldRow, "is longer than 65536 bytes"}, {line: 4}},
		},
		{
			name: "JSONL", format: FormatJSONL, first: jsonlRow(p0) + "\n",
			long: `{"orderNo":"` + strings.Repeat("A", 1<<20), last: "\n" + jsonlRow(p1),
			want: []outcome{{line: 1}, {2, FieldRow, "is longer than 65536 bytes"}, {line: 3}},
		},
		{
			name: "last line", format: FormatJSONL, first: jsonlRow(p0) + "\n",
			long: strings.Repeat(" ", 1<<20), last: "",
			want: []outcome{{line: 1}, {2, FieldRow, "is longer than 65536 bytes"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			input := []byte(tc.first + tc.long + tc.last)
			got := outcomes(t, input, Config{Kind: task.KindIDCard, Format: tc.format})
			compareOutcomes(t, got, tc.want)
		})
	}
}

// TestReaderLongLineMemory checks that a line far longer than the limit is
// skipped in constant memory: reading 100 MB without a line break allocates
// no more than the reader's buffers.
func TestReaderLongLineMemory(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	p0, p1 := people[0], people[1]
	const longLen = 100 << 20
	input := io.MultiReader(
		strings.NewReader(csvHeader+"\n"+csvRow(p0)+"\n"),
		io.LimitReader(repeatReader('7'), longLen),
		strings.NewReader("\n"+csvRow(p1)+"\n"),
	)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := NewReader(input, Config{Kind: task.KindIDCard})
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var got []outcome
	for {
		row, rej, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if rej != nil {
			got = append(got, outcome{rej.Line, rej.Field, rej.Reason})
		} else {
			got = append(got, outcome{line: row.Line})
		}
	}
	runtime.ReadMemStats(&after)
	compareOutcomes(t, got, []outcome{{line: 2}, {3, FieldRow, "is longer than"}, {line: 4}})
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<10 {
		t.Errorf("reading a %d-byte line allocated %d bytes", longLen, alloc)
	}
	if off := r.Offset(); off != int64(len(csvHeader)+len(csvRow(p0))+len(csvRow(p1))+4+longLen) {
		t.Errorf("Offset = %d after the whole input, want %d", off, int64(len(csvHeader)+len(csvRow(p0))+len(csvRow(p1))+4+longLen))
	}
}

// repeatReader reads as an endless run of its byte.
type repeatReader byte

func (c repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestReaderMaxLineBytes(t *testing.T) {
	t.Parallel()
	p := people[0]
	row := csvRow(p)
	input := lines(csvHeader, row, row+strings.Repeat(" ", 1), row)
	got := outcomes(t, []byte(strings.ReplaceAll(input, "\n", "\r\n")), Config{Kind: task.KindIDCard, MaxLineBytes: len(row)})
	// The duplicate order number is the enqueuer's business, not ours.
	compareOutcomes(t, got, []outcome{{line: 2}, {3, FieldRow, "is longer than " + strconv.Itoa(len(row)) + " bytes"}, {line: 4}})

	_, err := NewReader(strings.NewReader(input), Config{Kind: task.KindIDCard, MaxLineBytes: 20})
	var he *HeaderError
	if !errors.As(err, &he) || !strings.Contains(he.Reason, "longer than 20 bytes") {
		t.Errorf("header longer than MaxLineBytes: err = %v", err)
	}
}

func TestReaderInvalidUTF8Line(t *testing.T) {
	t.Parallel()
	// Past the first 64 KiB, which decide the encoding, so the file is
	// UTF-8 with one bad line.
	var b strings.Builder
	b.WriteString(csvHeader + "\n")
	n := 0
	for b.Len() <= detectHead {
		b.WriteString(csvRow(people[n]) + "\n")
		n++
	}
	p := people[n]
	b.WriteString(p.OrderNo + ",\xd5\xc5\xc8\xfd," + p.IDNumber + ",,\n")
	b.WriteString(csvRow(people[n+1]) + "\n")
	_, rows, rejects := readAll(t, []byte(b.String()), Config{Kind: task.KindIDCard})
	if len(rows) != n+1 {
		t.Errorf("got %d rows, want %d", len(rows), n+1)
	}
	want := Reject{Line: int64(n + 2), Field: FieldRow, Reason: "is not valid UTF-8"}
	if len(rejects) != 1 || rejects[0] != want {
		t.Errorf("rejects = %+v, want %+v", rejects, want)
	}
}

func TestReaderGBK(t *testing.T) {
	t.Parallel()
	var utf bytes.Buffer
	utf.WriteString(csvHeader + "\r\n")
	for _, p := range people[:50] {
		utf.WriteString(csvRow(p) + "\r\n")
	}
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes(utf.Bytes())
	if err != nil {
		t.Fatalf("encoding GBK: %v", err)
	}
	if bytes.Equal(gbk, utf.Bytes()) {
		t.Fatal("the test file has no non-ASCII character")
	}
	r, rows, rejects := readAll(t, gbk, Config{Kind: task.KindBankCard4})
	if enc := r.Encoding(); enc != EncodingGBK {
		t.Errorf("Encoding() = %q, want %q", enc, EncodingGBK)
	}
	if len(rejects) != 0 || len(rows) != 50 {
		t.Fatalf("got %d rows, rejects %+v", len(rows), rejects)
	}
	for i, row := range rows {
		p := people[i]
		if row.Line != int64(i+2) || row.V.Name.Reveal() != p.Name || row.V.IDNumber.Reveal() != p.IDNumber {
			t.Fatalf("row %d: line %d, name or ID number differs", i, row.Line)
		}
	}
	if off := r.Offset(); off != int64(len(gbk)) {
		t.Errorf("Offset = %d at the end, want %d", off, len(gbk))
	}

	// A byte sequence GBK does not define, past the first 64 KiB.
	var big bytes.Buffer
	big.Write(gbk)
	for big.Len() <= detectHead {
		big.Write(gbk[len(csvHeader)+2:])
	}
	big.WriteString("A1,\xff\xfe\xff,11010519491231002X,,\r\n")
	_, _, rejects = readAll(t, big.Bytes(), Config{Kind: task.KindIDCard})
	if len(rejects) != 1 || rejects[0].Reason != "is not valid GBK" {
		t.Errorf("rejects = %+v, want one for bad GBK", rejects)
	}
}

func TestReaderEncodingDetection(t *testing.T) {
	t.Parallel()
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(lines(csvHeader, csvRow(people[0]))))
	if err != nil {
		t.Fatal(err)
	}
	utf16NoBOM, err := unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder().Bytes([]byte(lines(csvHeader, csvRow(people[0]))))
	if err != nil {
		t.Fatal(err)
	}
	// A UTF-8 head cut inside a three-byte character at 64 KiB.
	var cut bytes.Buffer
	cut.WriteString(csvHeader + "\n")
	for i := 0; cut.Len() < detectHead-200; i++ {
		cut.WriteString(csvRow(people[i]) + "\n")
	}
	pad := detectHead - 1 - cut.Len() - len("A1,")
	cut.WriteString("A1," + strings.Repeat("x", pad) + "张三,110105194912310021,,\n")
	if cut.Bytes()[detectHead-1] != "张"[0] {
		t.Fatal("the test file does not cut a character at 64 KiB")
	}
	// In GBK: a GBK name early on and a lead byte at the end of the head.
	var cutGBK bytes.Buffer
	cutGBK.WriteString(csvHeader + "\n" + "A0,\xd5\xc5\xc8\xfd,110105194912310021,,\n")
	cutGBK.WriteString("A1," + strings.Repeat("x", detectHead-1-cutGBK.Len()-len("A1,")) + "\xd5\xc5\xc8\xfd,110105194912310021,,\n")
	if cutGBK.Bytes()[detectHead-1] != 0xd5 {
		t.Fatal("the GBK test file does not cut a character at 64 KiB")
	}
	cases := []struct {
		name  string
		input []byte
		want  string // "" for ErrEncoding
	}{
		{name: "ASCII", input: []byte(lines(csvHeader)), want: EncodingUTF8},
		{name: "UTF-8", input: []byte(lines(csvHeader, csvRow(people[0]))), want: EncodingUTF8},
		{name: "UTF-8 cut at 64 KiB", input: cut.Bytes(), want: EncodingUTF8},
		{name: "GBK cut at 64 KiB", input: cutGBK.Bytes(), want: EncodingGBK},
		{name: "Latin-1", input: []byte(lines(csvHeader, "A1,Jos\xe9,11010519491231002X,,")), want: ""},
		{name: "garbage", input: []byte(lines(csvHeader, "\xff\xfe\x00\x01\x80\xff")), want: ""},
		{name: "UTF-16", input: utf16, want: ""},
		{name: "UTF-16 without BOM", input: utf16NoBOM, want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewReader(bytes.NewReader(tc.input), Config{Kind: task.KindIDCard})
			if tc.want == "" {
				if !errors.Is(err, ErrEncoding) {
					t.Fatalf("NewReader error = %v, want ErrEncoding", err)
				}
				if !strings.Contains(err.Error(), "iconv -f <enc> -t UTF-8") {
					t.Errorf("error %q does not say how to convert", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			if got := r.Encoding(); got != tc.want {
				t.Errorf("Encoding() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReaderRoundTrip(t *testing.T) {
	t.Parallel()
	const n = 10_000
	cases := []struct {
		name   string
		write  func(io.Writer) error
		format Format
		first  int64 // line of the first row
	}{
		{name: "CSV", write: func(w io.Writer) error { return sample.WriteCSV(w, sample.Generate(n, 42)) }, format: FormatCSV, first: 2},
		{name: "JSONL", write: func(w io.Writer) error { return sample.WriteJSONL(w, sample.Generate(n, 42)) }, format: FormatJSONL, first: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := tc.write(&buf); err != nil {
				t.Fatal(err)
			}
			// FormatAuto: the round trip also checks detection.
			r, rows, rejects := readAll(t, buf.Bytes(), Config{Kind: task.KindBankCard4})
			if r.Format() != tc.format || r.Encoding() != EncodingUTF8 {
				t.Errorf("detected %v, %s", r.Format(), r.Encoding())
			}
			if len(rejects) != 0 {
				t.Fatalf("%d rejects, first %+v", len(rejects), rejects[0])
			}
			if len(rows) != n {
				t.Fatalf("%d rows, want %d", len(rows), n)
			}
			i := 0
			for e := range sample.Generate(n, 42) {
				v := rows[i].V
				if rows[i].Line != tc.first+int64(i) || v.Kind != task.KindBankCard4 ||
					string(v.OrderNo) != e.OrderNo || v.Name.Reveal() != e.Name || v.IDNumber.Reveal() != e.IDNumber ||
					v.Phone.Reveal() != e.Phone || v.BankCard.Reveal() != e.BankCard {
					t.Fatalf("row %d (line %d) differs from entry %s", i, rows[i].Line, e.OrderNo)
				}
				i++
			}
			if off := r.Offset(); off != int64(buf.Len()) {
				t.Errorf("Offset = %d at the end, want %d", off, buf.Len())
			}
		})
	}
}

func TestReaderNextAfterEnd(t *testing.T) {
	t.Parallel()
	r, err := NewReader(strings.NewReader(lines(csvHeader, csvRow(people[0]))), Config{Kind: task.KindIDCard})
	if err != nil {
		t.Fatal(err)
	}
	if _, rej, err := r.Next(); rej != nil || err != nil {
		t.Fatalf("first Next: %v %v", rej, err)
	}
	for range 3 {
		if row, rej, err := r.Next(); err != io.EOF || rej != nil || row != (Row{}) {
			t.Fatalf("Next after the end = %+v, %v, %v", row, rej, err)
		}
	}
}

func TestReaderReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	// The error comes after the first 64 KiB, which NewReader reads.
	var b strings.Builder
	b.WriteString(csvHeader + "\n")
	n := 0
	for b.Len() <= detectHead {
		b.WriteString(csvRow(people[n]) + "\n")
		n++
	}
	b.WriteString("A1,")
	r, err := NewReader(io.MultiReader(strings.NewReader(b.String()), errReader{boom}), Config{Kind: task.KindIDCard})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for {
		_, rej, err := r.Next()
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("Next error = %v, want the read error", err)
			}
			break
		}
		if rej != nil {
			t.Fatalf("reject %+v", *rej)
		}
		rows++
	}
	if rows != n {
		t.Errorf("%d rows before the error, want %d", rows, n)
	}
	if _, rej, err := r.Next(); !errors.Is(err, boom) || rej != nil {
		t.Fatalf("Next after the error = %v, %v; want the read error again", rej, err)
	}

	if _, err := NewReader(errReader{boom}, Config{Kind: task.KindIDCard}); !errors.Is(err, boom) {
		t.Errorf("NewReader over a failing reader: err = %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReaderOffsetProgress(t *testing.T) {
	t.Parallel()
	input := "\uFEFF" + lines(csvHeader, csvRow(people[0]), "", csvRow(people[1]))
	r, err := NewReader(strings.NewReader(input), Config{Kind: task.KindIDCard})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(3 + len(csvHeader) + 1)
	if off := r.Offset(); off != want {
		t.Errorf("Offset after the header = %d, want %d", off, want)
	}
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	want += int64(len(csvRow(people[0])) + 1)
	if off := r.Offset(); off != want {
		t.Errorf("Offset after row 1 = %d, want %d", off, want)
	}
	for {
		if _, _, err := r.Next(); err != nil {
			break
		}
	}
	if off := r.Offset(); off != int64(len(input)) {
		t.Errorf("Offset at the end = %d, want %d", off, len(input))
	}
}

func TestNewReaderConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
	}{
		{name: "no kind", cfg: Config{}},
		{name: "unknown kind", cfg: Config{Kind: "idcard2"}},
		{name: "unknown format", cfg: Config{Kind: task.KindIDCard, Format: 7}},
		{name: "negative MaxLineBytes", cfg: Config{Kind: task.KindIDCard, MaxLineBytes: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewReader(strings.NewReader(lines(csvHeader)), tc.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("NewReader error = %v, want ErrConfig", err)
			}
		})
	}
}
