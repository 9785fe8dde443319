package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/bulk"
	"github.com/realname-io/realname/internal/config"
	"github.com/realname-io/realname/internal/ingest"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

func newEnqueueCmd(g *globals) *cobra.Command {
	var (
		batchName, kindName, format, rejectsPath, callbackURL, progress string
		concurrency, chunkSize                                          int
	)
	cmd := &cobra.Command{
		Use:   "enqueue --batch NAME --kind KIND FILE",
		Short: "Stream a CSV or JSONL file of identities into a bulk re-verification batch",
		Long: `Enqueue reads FILE (or - for standard input), validates every row, writes bad
rows to a rejects file (line, field, reason) and enqueues the good ones into the
low-priority bulk queue as batch NAME. Memory stays constant whatever the file's
size.

CSV needs a header; its columns (any order, case-insensitive) are
  orderNo,name,idNumber,phoneNumber,bankCardNumber
phoneNumber is needed for mobile3 and bankcard4, bankCardNumber for bankcard3
and bankcard4. JSONL has one object per line with the same keys. UTF-8 with or
without BOM; a GBK-encoded file is detected and decoded.

Running the same file again enqueues only the rows not yet enqueued (by
orderNo) and says so; Ctrl-C stops cleanly, and a second run finishes.`,
		Example: `  realname enqueue --batch reverify-2026-11 --kind idcard users.csv
  zcat users.jsonl.gz | realname enqueue --batch b2 --kind mobile3 -`,
		Args: cobra.ExactArgs(1),
	}
	rc, _ := config.BindRedis(cmd.Flags(), os.Getenv) // rc.Client reports bad values
	hc, herr := config.BindWebhook(cmd.Flags(), os.Getenv)
	kc, kerr := config.BindKeys(cmd.Flags(), os.Getenv)
	f := cmd.Flags()
	f.StringVar(&batchName, "batch", "", "batch name (required): 1-64 of A-Z a-z 0-9 _ . : -")
	f.StringVar(&kindName, "kind", "", "idcard, mobile3, bankcard3 or bankcard4 (required)")
	f.StringVar(&format, "format", "auto", "auto, csv or jsonl")
	f.StringVar(&rejectsPath, "rejects", "", "rejects file (default NAME.rejects.csv)")
	f.StringVar(&callbackURL, "callback-url", "", "receives the batch.completed event (default: the webhook URL)")
	f.IntVar(&concurrency, "concurrency", 4, "goroutines enqueueing chunks")
	f.IntVar(&chunkSize, "chunk-size", 512, "rows per chunk: one round trip of claims, one of enqueues")
	f.StringVar(&progress, "progress", "auto", "auto (a bar on a terminal, lines otherwise), bar, lines or none")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		for _, fn := range []func() error{herr, kerr} {
			if err := fn(); err != nil {
				return err
			}
		}
		// The policy the workers deliver under; it checks
		// REALNAME_WEBHOOK_URL, the batch event's fallback, too.
		callbacks, err := hc.Policy()
		if err != nil {
			return err
		}
		if callbackURL != "" {
			if err := callbacks.Check(callbackURL); err != nil {
				return fmt.Errorf("--callback-url: %w", err)
			}
		}
		if err := batch.ValidName(batchName); err != nil {
			return fmt.Errorf("--batch: %w", err)
		}
		kind, err := task.ParseKind(kindName)
		if err != nil {
			return fmt.Errorf("--kind: %w", err)
		}
		in, size, name, err := openInput(args[0], cmd.InOrStdin())
		if err != nil {
			return err
		}
		defer in.Close()
		fmtKind := ingest.FormatAuto
		if format != "auto" {
			if fmtKind, err = ingest.ParseFormat(format); err != nil {
				return fmt.Errorf("--format: %w", err)
			}
		}
		reader, err := ingest.NewReader(in, ingest.Config{Kind: kind, Format: fmtKind})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		stderr := cmd.ErrOrStderr()
		if reader.Encoding() == "gbk" {
			fmt.Fprintf(stderr, "%s: GBK-encoded; decoding it as GBK\n", name)
		}

		rdb, err := rc.Client()
		if err != nil {
			return err
		}
		defer rdb.Close()
		ctx := cmd.Context()
		batches := batch.New(rdb, batch.WithCallbackPolicy(callbacks))
		if st, err := batches.Get(ctx, batchName); err == nil && st.State == batch.StateCompleted {
			fmt.Fprintf(cmd.OutOrStdout(), "batch %s is completed (%d jobs); nothing to do. See `realname batch status %s`.\n", batchName, st.Total, batchName)
			return nil
		}
		if _, err := batches.Open(ctx, batchName, string(kind), callbackURL); err != nil {
			return err
		}
		codec, err := kc.Codec()
		if err != nil {
			return err
		}
		prod, err := producer.New(producer.Config{Redis: rdb, Codec: codec, CallbackPolicy: callbacks})
		if err != nil {
			return err
		}
		defer prod.Close()

		if rejectsPath == "" {
			rejectsPath = batchName + ".rejects.csv"
		}
		rf, err := os.Create(rejectsPath)
		if err != nil {
			return fmt.Errorf("--rejects: %w", err)
		}
		defer rf.Close()
		rejects := ingest.NewRejectWriter(rf)

		var counters bulk.Counters
		start := time.Now()
		stopProgress := showProgress(stderr, progress, size, &counters, start)
		stats, runErr := bulk.Enqueue(ctx, reader, bulk.Config{
			Producer: prod, Batches: batches, Batch: batchName, Rejects: rejects,
			Concurrency: concurrency, ChunkSize: chunkSize,
		}, &counters)
		stopProgress()
		if err := rejects.Flush(); err != nil {
			return fmt.Errorf("--rejects: %w", err)
		}

		out := cmd.OutOrStdout()
		el := time.Since(start)
		fmt.Fprintf(out, "batch %s (%s): read %d rows in %s (%.0f rows/s)\n", batchName, kind, stats.Read, el.Round(time.Millisecond), float64(stats.Read)/el.Seconds())
		fmt.Fprintf(out, "  enqueued  %d\n", stats.Enqueued)
		fmt.Fprintf(out, "  present   %d (enqueued before: not enqueued again)\n", stats.Present)
		fmt.Fprintf(out, "  rejected  %d", stats.Rejected)
		if stats.Rejected > 0 {
			fmt.Fprintf(out, " (see %s)", rejectsPath)
		}
		fmt.Fprintln(out)
		if runErr != nil {
			return runErr
		}

		// Every row is read: seal the batch. If its jobs were all done
		// already, sealing completed it, and the event is ours to send.
		completed, err := batches.Seal(context.WithoutCancel(ctx), batchName)
		if err != nil {
			return err
		}
		if completed {
			client := asynq.NewClientFromRedisClient(rdb)
			defer client.Close()
			_, sched, _ := hc.Client()
			if err := worker.AnnounceBatch(ctx, client, batches, batchName, hc.DefaultURL, sched, 0, g.log); err != nil {
				return err
			}
			fmt.Fprintf(out, "batch %s completed\n", batchName)
		}
		return nil
	}
	return cmd
}

// openInput opens FILE or standard input and returns its size when known
// (for the progress bar's ETA) and a name for messages.
func openInput(path string, stdin io.Reader) (io.ReadCloser, int64, string, error) {
	if path == "-" {
		return io.NopCloser(stdin), -1, "stdin", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, path, err
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, path, nil
}

// showProgress reports a run's progress on w until the returned stop is
// called: a bar with rows/s and ETA on a terminal, a plain line every five
// seconds otherwise.
func showProgress(w io.Writer, mode string, size int64, c *bulk.Counters, start time.Time) (stop func()) {
	if mode == "auto" {
		mode = "lines"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	if mode == "none" {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	line := func() string {
		s := c.Snapshot()
		el := time.Since(start).Seconds()
		msg := fmt.Sprintf("read %d rows (%.0f rows/s): enqueued %d, present %d, rejected %d", s.Read, float64(s.Read)/el, s.Enqueued, s.Present, s.Rejected)
		if size > 0 && s.Bytes > 0 {
			frac := float64(s.Bytes) / float64(size)
			eta := time.Duration(el/frac*(1-frac)) * time.Second
			msg += fmt.Sprintf(", %.0f%%, ETA %s", 100*frac, eta.Round(time.Second))
		}
		return msg
	}
	if mode == "bar" {
		bar := progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("enqueue"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		go func() {
			defer close(finished)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					_ = bar.Finish()
					return
				case <-t.C:
					s := c.Snapshot()
					el := time.Since(start).Seconds()
					bar.Describe(fmt.Sprintf("%d rows, %.0f rows/s", s.Read, float64(s.Read)/el))
					_ = bar.Set64(s.Bytes)
				}
			}
		}()
	} else {
		go func() {
			defer close(finished)
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					fmt.Fprintln(w, line())
				}
			}
		}()
	}
	return func() { close(done); <-finished }
}
