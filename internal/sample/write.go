package sample

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"

	"github.com/realname-io/realname/internal/identity"
)

// csvHeader is the header row of the bulk input format: the field names the
// provider uses.
var csvHeader = []string{identity.FieldOrderNo, identity.FieldName, identity.FieldIDNumber, identity.FieldPhone, identity.FieldBankCard}

// WriteCSV writes the records of seq as CSV with the header
// orderNo,name,idNumber,phoneNumber,bankCardNumber, one row at a time.
func WriteCSV(w io.Writer, seq iter.Seq[Entry]) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("sample: writing CSV header: %w", err)
	}
	row := make([]string, len(csvHeader))
	n := 0
	for e := range seq {
		n++
		row[0], row[1], row[2], row[3], row[4] = e.OrderNo, e.Name, e.IDNumber, e.Phone, e.BankCard
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("sample: writing CSV record %d: %w", n, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("sample: writing CSV: %w", err)
	}
	return nil
}

// WriteJSONL writes the records of seq as JSON Lines, one Record object a
// line, with the same field names as the CSV header.
func WriteJSONL(w io.Writer, seq iter.Seq[Entry]) error {
	return writeLines(w, seq, "JSONL", func(e Entry) any { return e.Record })
}

// WriteFixture writes seq as a sandbox fixture (see sandbox.LoadFixture): each
// identity with the authCode every action answers for it.
func WriteFixture(w io.Writer, seq iter.Seq[Entry]) error {
	return writeLines(w, seq, "fixture", func(e Entry) any { return e.FixtureEntry() })
}

func writeLines(w io.Writer, seq iter.Seq[Entry], what string, line func(Entry) any) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	for e := range seq {
		n++
		if err := enc.Encode(line(e)); err != nil {
			return fmt.Errorf("sample: writing %s record %d: %w", what, n, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sample: writing %s: %w", what, err)
	}
	return nil
}
