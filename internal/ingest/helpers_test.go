package ingest

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/task"
)

const csvHeader = "orderNo,name,idNumber,phoneNumber,bankCardNumber"

// people are valid synthetic identities for building test files.
var people = slices.Collect(func(yield func(sample.Record) bool) {
	for e := range sample.Generate(2000, 7) {
		if !yield(e.Record) {
			return
		}
	}
})

// csvRow returns p as a CSV line of csvHeader's columns, unquoted: sample
// values never need quoting.
func csvRow(p sample.Record) string {
	return strings.Join([]string{p.OrderNo, p.Name, p.IDNumber, p.Phone, p.BankCard}, ",")
}

// jsonlRow returns p as a JSONL line.
func jsonlRow(p sample.Record) string {
	return `{"orderNo":"` + p.OrderNo + `","name":"` + p.Name + `","idNumber":"` + p.IDNumber +
		`","phoneNumber":"` + p.Phone + `","bankCardNumber":"` + p.BankCard + `"}`
}

// badCheckDigit returns id with a check character that does not match.
func badCheckDigit(id string) string {
	last := id[len(id)-1]
	wrong := byte('0')
	if last == '0' {
		wrong = '1'
	}
	return id[:len(id)-1] + string(wrong)
}

// badLuhn returns a 16-digit card number that fails the Luhn check.
func badLuhn() string {
	payload := "622202123456789"
	good := identity.LuhnCheckDigit(payload)
	return payload + string('0'+(good-'0'+1)%10)
}

// lines joins lines with LF and a trailing LF.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// outcome is one result of Reader.Next as a test compares it.
type outcome struct {
	line   int64
	field  string // "" for a Row
	reason string // "" for a Row; a substring for a Reject
}

// readAll reads input to the end and returns every Row and Reject in order.
func readAll(t testing.TB, input []byte, cfg Config) (*Reader, []Row, []Reject) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(input), cfg)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var rows []Row
	var rejects []Reject
	for {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if rej != nil {
			rejects = append(rejects, *rej)
			continue
		}
		rows = append(rows, row)
	}
	return r, rows, rejects
}

// outcomes reads input to the end and returns what Next said, in order.
func outcomes(t testing.TB, input []byte, cfg Config) []outcome {
	t.Helper()
	r, err := NewReader(bytes.NewReader(input), cfg)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var got []outcome
	for {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if rej != nil {
			if rej.Field == "" || rej.Reason == "" {
				t.Fatalf("reject without field or reason: %+v", *rej)
			}
			checkNoLeak(t, rej, input, true)
			got = append(got, outcome{line: rej.Line, field: rej.Field, reason: rej.Reason})
			continue
		}
		checkRow(t, row, cfg.Kind)
		got = append(got, outcome{line: row.Line})
	}
}

// compareOutcomes fails unless got matches want, with want reasons as
// substrings.
func compareOutcomes(t *testing.T, got, want []outcome) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.line != w.line || g.field != w.field || !strings.Contains(g.reason, w.reason) {
			t.Errorf("result %d = %+v, want %+v", i, g, w)
		}
	}
}

var (
	digitRun = regexp.MustCompile(`[0-9]{6,}`)
	hanRun   = regexp.MustCompile(`\p{Han}{2,}`)
)

// checkNoLeak fails if a reject's reason repeats a long digit run from the
// input, the shape of ID, card and phone numbers, or with names also a run of
// Han characters, the shape of a name. (A JSON key is quoted by design, and
// may well be Chinese.)
func checkNoLeak(t testing.TB, rej *Reject, input []byte, names bool) {
	t.Helper()
	res := []*regexp.Regexp{digitRun}
	if names {
		res = append(res, hanRun)
	}
	for _, re := range res {
		for _, m := range re.FindAll(input, -1) {
			if strings.Contains(rej.Reason, string(m)) {
				t.Fatalf("reject reason %q repeats %q from the input", rej.Reason, m)
			}
		}
	}
}

// checkRow fails unless row holds a verification that validates and whose
// fields parse back to themselves, with Phone and BankCard set exactly when
// the kind needs them.
func checkRow(t testing.TB, row Row, kind task.Kind) {
	t.Helper()
	v := row.V
	if v.Kind != kind {
		t.Fatalf("line %d: kind %q, want %q", row.Line, v.Kind, kind)
	}
	if err := v.Validate(); err != nil {
		t.Fatalf("line %d: Validate: %v", row.Line, err)
	}
	if o, err := identity.ParseOrderNo(string(v.OrderNo)); err != nil || o != v.OrderNo {
		t.Fatalf("line %d: orderNo does not re-parse: %v", row.Line, err)
	}
	if n, err := identity.ParseName(v.Name.Reveal()); err != nil || n != v.Name {
		t.Fatalf("line %d: name does not re-parse: %v", row.Line, err)
	}
	if id, err := identity.ParseIDNumber(v.IDNumber.Reveal()); err != nil || id != v.IDNumber {
		t.Fatalf("line %d: idNumber does not re-parse: %v", row.Line, err)
	}
	needPhone, needCard := needs(kind)
	if needPhone != (v.Phone != "") || needCard != (v.BankCard != "") {
		t.Fatalf("line %d: phone set %v, card set %v, for kind %s", row.Line, v.Phone != "", v.BankCard != "", kind)
	}
	if v.Phone != "" {
		if p, err := identity.ParsePhone(v.Phone.Reveal()); err != nil || p != v.Phone {
			t.Fatalf("line %d: phone does not re-parse: %v", row.Line, err)
		}
	}
	if v.BankCard != "" {
		if c, err := identity.ParseBankCard(v.BankCard.Reveal()); err != nil || c != v.BankCard {
			t.Fatalf("line %d: card does not re-parse: %v", row.Line, err)
		}
	}
}
