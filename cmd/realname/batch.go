package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/config"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/worker"
)

func newBatchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "batch", Short: "Watch, list, cancel and export bulk batches"}
	rc, _ := config.BindRedis(cmd.PersistentFlags(), os.Getenv) // rc.Client reports bad values
	wc, werr := config.BindWorker(cmd.PersistentFlags(), os.Getenv)
	hc, herr := config.BindWebhook(cmd.PersistentFlags(), os.Getenv)
	open := func() (*batch.Store, func(), redis.UniversalClient, error) {
		for _, fn := range []func() error{werr, herr} {
			if err := fn(); err != nil {
				return nil, nil, nil, err
			}
		}
		rdb, err := rc.Client()
		if err != nil {
			return nil, nil, nil, err
		}
		return batch.New(rdb), func() { rdb.Close() }, rdb, nil
	}

	var watch time.Duration
	status := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a batch's counts, per class, and today's budget; --watch to follow it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			batches, done, rdb, err := open()
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			for {
				st, err := batches.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				used, _ := worker.BudgetUsed(cmd.Context(), rdb)
				printStatus(out, st, wc.DailyBudget, used)
				if watch <= 0 || st.State == batch.StateCompleted {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(watch):
				}
				fmt.Fprintln(out)
			}
		},
	}
	status.Flags().DurationVar(&watch, "watch", 0, "print the status again at this interval until the batch completes (e.g. 2s)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List batches, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			batches, done, _, err := open()
			if err != nil {
				return err
			}
			defer done()
			all, err := batches.List(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%-28s %-10s %-10s %10s %10s %8s  %s\n", "BATCH", "KIND", "STATE", "TOTAL", "DONE", "DONE%", "CREATED")
			for _, st := range all {
				fmt.Fprintf(out, "%-28s %-10s %-10s %10d %10d %7.1f%%  %s\n", st.Name, st.Kind, st.State, st.Total, st.Done,
					percent(st.Done, st.Total), st.CreatedAt.Format(time.RFC3339))
			}
			return nil
		},
	}

	cancel := &cobra.Command{
		Use:   "cancel NAME",
		Short: "Cancel a batch: jobs not yet started are answered as cancelled, running ones finish",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			batches, done, rdb, err := open()
			if err != nil {
				return err
			}
			defer done()
			completed, err := batches.Cancel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "batch %s cancelled: workers answer its waiting jobs as cancelled without calling the provider\n", args[0])
			if completed {
				client := asynq.NewClientFromRedisClient(rdb)
				defer client.Close()
				_, sched, _ := hc.Client()
				return worker.AnnounceBatch(cmd.Context(), client, batches, args[0], hc.DefaultURL, sched, 0, g.log)
			}
			return nil
		},
	}

	var exportFormat, exportOut string
	export := &cobra.Command{
		Use:   "export NAME",
		Short: "Stream every result of a batch, with its orderNo, as CSV or JSONL",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			batches, done, rdb, err := open()
			if err != nil {
				return err
			}
			defer done()
			if _, err := batches.Get(cmd.Context(), args[0]); err != nil {
				return err
			}
			results, err := store.NewRedis(rdb, store.RedisConfig{})
			if err != nil {
				return err
			}
			var w io.Writer = cmd.OutOrStdout()
			if exportOut != "" && exportOut != "-" {
				f, err := os.Create(exportOut)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return batch.Export(cmd.Context(), w, exportFormat, batches, results, args[0], nil)
		},
	}
	export.Flags().StringVar(&exportFormat, "format", "csv", "csv or jsonl")
	export.Flags().StringVarP(&exportOut, "out", "o", "", "write to this file (default standard output)")

	cmd.AddCommand(status, list, cancel, export)
	return cmd
}

func percent(n, total int64) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

func printStatus(out io.Writer, st *batch.Status, budget int, used int64) {
	fmt.Fprintf(out, "batch      %s (%s)\n", st.Name, st.Kind)
	fmt.Fprintf(out, "state      %s\n", st.State)
	fmt.Fprintf(out, "jobs       %d done of %d (%.1f%%)\n", st.Done, st.Total, percent(st.Done, st.Total))
	for _, c := range slices.Sorted(maps.Keys(st.ByClass)) {
		fmt.Fprintf(out, "  %-14s %d\n", c, st.ByClass[c])
	}
	if st.PossiblyBilled > 0 {
		fmt.Fprintf(out, "possibly billed %d calls sent without an answer (timeouts, calls cut by a worker's crash): reconcile with the invoice\n", st.PossiblyBilled)
	}
	if st.Cached > 0 {
		fmt.Fprintf(out, "cached     %d answered from the result cache\n", st.Cached)
	}
	fmt.Fprintf(out, "last run   read %d, present %d, rejected %d\n", st.Read, st.Present, st.Rejected)
	if budget > 0 {
		fmt.Fprintf(out, "budget     %d of %d provider calls left today (CST)\n", max(0, int64(budget)-used), budget)
	} else {
		fmt.Fprintf(out, "budget     no daily cap\n")
	}
	fmt.Fprintf(out, "created    %s\n", st.CreatedAt.Format(time.RFC3339))
	if !st.CompletedAt.IsZero() {
		fmt.Fprintf(out, "completed  %s\n", st.CompletedAt.Format(time.RFC3339))
	}
}
