package ingest

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// RejectWriter writes rejects as CSV with the header line,field,reason, the
// file an operator fixes the input from. It holds no personal data, since
// Reject holds none.
type RejectWriter struct {
	w     *csv.Writer
	rec   [3]string
	count int64
}

// NewRejectWriter returns a RejectWriter that writes to w, header first.
// Output is buffered: call Flush when done.
func NewRejectWriter(w io.Writer) *RejectWriter {
	rw := &RejectWriter{w: csv.NewWriter(w)}
	// An error here is the writer's sticky error, which Write and Flush
	// report.
	_ = rw.w.Write([]string{"line", "field", "reason"})
	return rw
}

// Write writes one reject.
func (rw *RejectWriter) Write(r Reject) error {
	rw.rec[0] = strconv.FormatInt(r.Line, 10)
	rw.rec[1] = r.Field
	rw.rec[2] = r.Reason
	if err := rw.w.Write(rw.rec[:]); err != nil {
		return fmt.Errorf("ingest: writing reject of line %d: %w", r.Line, err)
	}
	rw.count++
	return nil
}

// Flush writes any buffered rejects to the underlying writer and returns
// the first error writing met.
func (rw *RejectWriter) Flush() error {
	rw.w.Flush()
	if err := rw.w.Error(); err != nil {
		return fmt.Errorf("ingest: writing rejects: %w", err)
	}
	return nil
}

// Count returns how many rejects Write has accepted.
func (rw *RejectWriter) Count() int64 { return rw.count }
