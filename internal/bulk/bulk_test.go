package bulk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/ingest"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
)

func TestMain(m *testing.M) { redistest.Main(m) }

type bundle struct {
	prod    *producer.Client
	batches *batch.Store
	file    []byte
}

func setup(t *testing.T, n int) *bundle {
	t.Helper()
	rdb := redistest.New(t).Client(t)
	codec, _ := task.NewCodec(keyring.Ephemeral())
	prod, err := producer.New(producer.Config{Redis: rdb, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	var csv bytes.Buffer
	if err := sample.WriteCSV(&csv, sample.Generate(n, 21)); err != nil {
		t.Fatal(err)
	}
	return &bundle{prod: prod, batches: batch.New(rdb), file: csv.Bytes()}
}

func (b *bundle) run(t *testing.T, ctx context.Context, in io.Reader, name string) (Stats, error) {
	t.Helper()
	r, err := ingest.NewReader(in, ingest.Config{Kind: task.KindIDCard})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.batches.Open(context.Background(), name, "idcard", ""); err != nil {
		t.Fatal(err)
	}
	return Enqueue(ctx, r, Config{Producer: b.prod, Batches: b.batches, Batch: name, ChunkSize: 50, Concurrency: 4}, nil)
}

// cutAfter is a reader that cancels ctx once n bytes have been read, as a
// Ctrl-C in the middle of a file does.
type cutAfter struct {
	r      io.Reader
	n      int64
	read   atomic.Int64
	cancel context.CancelFunc
}

func (c *cutAfter) Read(p []byte) (int, error) {
	if c.read.Load() >= c.n {
		c.cancel()
	}
	if len(p) > 4096 {
		p = p[:4096]
	}
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestResumeAfterInterrupt: a run stopped halfway leaves what it enqueued;
// running the same file again enqueues only the rest and says so.
func TestResumeAfterInterrupt(t *testing.T) {
	t.Parallel()
	b := setup(t, 2000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := b.run(t, ctx, &cutAfter{r: bytes.NewReader(b.file), n: int64(len(b.file) / 2), cancel: cancel}, "resume")
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v, want ErrInterrupted", err)
	}
	if first.Enqueued == 0 || first.Enqueued >= 2000 || first.Read != first.Enqueued {
		t.Fatalf("interrupted run stats %+v", first)
	}

	second, err := b.run(t, context.Background(), bytes.NewReader(b.file), "resume")
	if err != nil {
		t.Fatal(err)
	}
	if second.Read != 2000 || second.Present != first.Enqueued || second.Enqueued != 2000-first.Enqueued {
		t.Fatalf("second run %+v after a first that enqueued %d", second, first.Enqueued)
	}
	st, err := b.batches.Get(context.Background(), "resume")
	if err != nil || st.Total != 2000 || st.Present != first.Enqueued {
		t.Fatalf("batch %+v, %v", st, err)
	}
	var orders int
	if err := b.batches.OrderNos(context.Background(), "resume", func(o []string) error { orders += len(o); return nil }); err != nil || orders != 2000 {
		t.Fatalf("batch lists %d jobs, %v", orders, err)
	}
}

// TestRejectsKeepTheRest: bad rows go to the rejects writer, with their
// line and field, and every good row around them is enqueued.
func TestRejectsKeepTheRest(t *testing.T) {
	t.Parallel()
	b := setup(t, 100)
	lines := strings.SplitAfter(string(b.file), "\n")
	bad := []string{
		"B-1,张三,110105194912310021,,\n",       // wrong check digit
		"B-2,,11010519491231002X,,\n",         // empty name
		"B-3,李四,11010519491231002X,,,extra\n", // extra column
		"B-4,王五\n",                            // missing columns
	}
	var in strings.Builder
	in.WriteString(lines[0])
	for i, l := range lines[1:] {
		in.WriteString(l)
		if i%25 == 0 && len(bad) > 0 {
			in.WriteString(bad[0])
			bad = bad[1:]
		}
	}
	var rejects bytes.Buffer
	rw := ingest.NewRejectWriter(&rejects)
	r, err := ingest.NewReader(strings.NewReader(in.String()), ingest.Config{Kind: task.KindIDCard})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.batches.Open(context.Background(), "rejects", "idcard", ""); err != nil {
		t.Fatal(err)
	}
	stats, err := Enqueue(context.Background(), r, Config{Producer: b.prod, Batches: b.batches, Batch: "rejects", Rejects: rw}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	if stats.Enqueued != 100 || stats.Rejected != 4 || stats.Read != 104 {
		t.Fatalf("stats %+v", stats)
	}
	for _, want := range []string{",idNumber,check digit does not match", ",name,is required", ",row,", "fields"} {
		if !strings.Contains(rejects.String(), want) {
			t.Fatalf("rejects lack %q:\n%s", want, rejects.String())
		}
	}
}

// TestCancelledBatchCannotReopen: a cancelled batch takes no more rows.
func TestCancelledBatchCannotReopen(t *testing.T) {
	t.Parallel()
	b := setup(t, 50)
	if _, err := b.batches.Open(context.Background(), "c", "idcard", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.batches.Cancel(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.batches.Open(context.Background(), "c", "idcard", ""); err == nil {
		t.Fatal("a cancelled batch was opened again")
	}
}
