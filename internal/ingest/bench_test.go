package ingest

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/task"
)

const benchRows = 100_000

// benchmarkReader reads benchRows sample rows from memory per iteration,
// as bankcard4 (every field parsed), and reports rows/s, ns/row and the
// allocations per row, which the whole enqueue path's budget is in.
func benchmarkReader(b *testing.B, write func(io.Writer) error) {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		b.Fatal(err)
	}
	input := buf.Bytes()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rows := 0
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(input), Config{Kind: task.KindBankCard4})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, rej, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil || rej != nil {
				b.Fatalf("Next: %v %v", rej, err)
			}
			rows++
		}
	}
	runtime.ReadMemStats(&after)
	if rows != b.N*benchRows {
		b.Fatalf("%d rows, want %d", rows, b.N*benchRows)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(rows), "allocs/row")
}

func BenchmarkReaderCSV(b *testing.B) {
	benchmarkReader(b, func(w io.Writer) error { return sample.WriteCSV(w, sample.Generate(benchRows, 1)) })
}

func BenchmarkReaderJSONL(b *testing.B) {
	benchmarkReader(b, func(w io.Writer) error { return sample.WriteJSONL(w, sample.Generate(benchRows, 1)) })
}
