package ingest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
)

func TestDetectFormat(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		file string
		head string
		want Format
	}{
		{name: "csv extension wins", file: "rows.CSV", head: `{"orderNo":"A1"}`, want: FormatCSV},
		{name: "jsonl extension", file: "dir.v2/rows.jsonl", head: "orderNo,name", want: FormatJSONL},
		{name: "ndjson extension", file: "rows.ndjson", want: FormatJSONL},
		{name: "object", file: "-", head: "\uFEFF \r\n\t{\"orderNo\":\"A1\"}", want: FormatJSONL},
		{name: "header", file: "rows.txt", head: "orderNo,name", want: FormatCSV},
		{name: "empty", want: FormatCSV},
		{name: "spaces only", head: " \n ", want: FormatCSV},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := DetectFormat(tc.file, []byte(tc.head)); got != tc.want {
				t.Errorf("DetectFormat(%q, %q) = %v, want %v", tc.file, tc.head, got, tc.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Format
		err  bool
	}{
		{in: "csv", want: FormatCSV},
		{in: " JSONL", want: FormatJSONL},
		{in: "ndjson", want: FormatJSONL},
		{in: "auto", want: FormatAuto},
		{in: "", want: FormatAuto},
		{in: "xlsx", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFormat(tc.in)
			if tc.err {
				if !errors.Is(err, ErrUnknownFormat) {
					t.Errorf("ParseFormat(%q) error = %v, want ErrUnknownFormat", tc.in, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseFormat(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if tc.in != "" && tc.in != "ndjson" && got.String() != strings.ToLower(strings.TrimSpace(tc.in)) {
				t.Errorf("String() = %q", got.String())
			}
		})
	}
}

func TestSplitCSVLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		line     string
		want     []string
		nonEmpty bool
		reason   string
	}{
		{name: "plain", line: "a,b,c", want: []string{"a", "b", "c"}, nonEmpty: true},
		{name: "empty fields", line: ",,", want: []string{"", "", ""}},
		{name: "spaces kept", line: " a , b", want: []string{" a ", " b"}, nonEmpty: true},
		{name: "quoted comma and doubled quote", line: `"a,b","say ""hi""",c`, want: []string{"a,b", `say "hi"`, "c"}, nonEmpty: true},
		{name: "empty quoted", line: `"",""`, want: []string{"", ""}},
		{name: "only a doubled quote", line: `""""`, want: []string{`"`}, nonEmpty: true},
		{name: "trailing comma after quotes", line: `"a",`, want: []string{"a", ""}, nonEmpty: true},
		{name: "unterminated", line: `a,"b`, reason: reasonUnterminatedQuote},
		{name: "unterminated after doubled quote", line: `"a""`, reason: reasonUnterminatedQuote},
		{name: "bare quote", line: `a"b`, reason: reasonBareQuote},
		{name: "space before quote", line: ` "a"`, reason: reasonBareQuote},
		{name: "text after quote", line: `"a"b`, reason: reasonTextAfterQuote},
		{name: "space after quote", line: `"a" ,b`, reason: reasonTextAfterQuote},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sp csvSplitter
			got, n, nonEmpty, reason := sp.split(tc.line, 100)
			if reason != tc.reason {
				t.Fatalf("reason = %q, want %q", reason, tc.reason)
			}
			if reason != "" {
				return
			}
			if !equal(got, tc.want) || n != len(tc.want) || nonEmpty != tc.nonEmpty {
				t.Errorf("split = %q, %d, %v; want %q, %v", got, n, nonEmpty, tc.want, tc.nonEmpty)
			}
		})
	}
}

func TestRejectWriter(t *testing.T) {
	t.Parallel()
	rejects := []Reject{
		{Line: 3, Field: "idNumber", Reason: "check digit does not match"},
		{Line: 7, Field: FieldRow, Reason: `unknown field "a,b"`},
		{Line: 12, Field: FieldRow, Reason: "has 7 fields, the header has 5"},
	}
	var buf bytes.Buffer
	w := NewRejectWriter(&buf)
	for _, r := range rejects {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Count() != int64(len(rejects)) {
		t.Errorf("Count() = %d, want %d", w.Count(), len(rejects))
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"line", "field", "reason"},
		{"3", "idNumber", "check digit does not match"},
		{"7", "row", `unknown field "a,b"`},
		{"12", "row", "has 7 fields, the header has 5"},
	}
	if len(records) != len(want) {
		t.Fatalf("got %q", records)
	}
	for i := range want {
		if !equal(records[i], want[i]) {
			t.Errorf("record %d = %q, want %q", i, records[i], want[i])
		}
	}
}

func TestRejectWriterError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk full")
	w := NewRejectWriter(failWriter{boom})
	_ = w.Write(Reject{Line: 1, Field: FieldRow, Reason: "x"})
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush error = %v, want the write error", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }
