package batch

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
)

// ClassPending is the class an export gives a job without a result yet.
const ClassPending = "pending"

// ErrFormat is returned by Export for a format other than csv or jsonl.
var ErrFormat = errors.New("batch: format must be csv or jsonl")

// Export writes every result of a batch to w, in the order its jobs were
// enqueued, as CSV (store.CSVColumns) or JSONL; a job without a result yet
// is written with class pending. flush, when set, is called after each
// page, so that a streamed answer reaches its reader as it goes.
func Export(ctx context.Context, w io.Writer, format string, batches *Store, results store.Store, name string, flush func() error) error {
	var cw *csv.Writer
	var enc *json.Encoder
	switch format {
	case "csv":
		cw = csv.NewWriter(w)
		if err := cw.Write(store.CSVColumns); err != nil {
			return err
		}
	case "jsonl", "ndjson":
		enc = json.NewEncoder(w)
	default:
		return fmt.Errorf("%w, not %q", ErrFormat, format)
	}
	return batches.OrderNos(ctx, name, func(orders []string) error {
		for _, o := range orders {
			res, err := results.GetByOrderNo(ctx, o)
			if errors.Is(err, store.ErrNotFound) {
				res = &store.Result{OrderNo: o, JobID: task.JobID(identity.OrderNo(o)), Class: ClassPending}
			} else if err != nil {
				return err
			}
			if enc != nil {
				err = enc.Encode(res)
			} else {
				err = cw.Write(res.CSVRow())
			}
			if err != nil {
				return err
			}
		}
		if cw != nil {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
		}
		if flush != nil {
			return flush()
		}
		return nil
	})
}
