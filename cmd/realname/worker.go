package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/config"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/worker"
)

func newWorkerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Process verification and webhook jobs from Redis",
		Long: `Worker runs the verification workers: it takes jobs from the signup and bulk
queues (signup first), waits for a token from the local and the shared rate
limit, calls Tencent's 实名认证 v2 API, stores each final result and delivers its
signed webhook from the webhooks queue. SIGTERM or Ctrl-C stops it gracefully:
in-flight calls finish (up to --shutdown-timeout) and the rest are handed back.`,
		Args: cobra.NoArgs,
	}
	rc, rerr := config.BindRedis(cmd.Flags(), os.Getenv)
	tc, terr := config.BindTencent(cmd.Flags(), os.Getenv)
	wc, werr := config.BindWorker(cmd.Flags(), os.Getenv)
	hc, herr := config.BindWebhook(cmd.Flags(), os.Getenv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, f := range []func() error{rerr, terr, werr, herr} {
			if err := f(); err != nil {
				return err
			}
		}
		rdb, err := rc.Client()
		if err != nil {
			return err
		}
		defer rdb.Close()
		provider, err := tc.Client()
		if err != nil {
			return err
		}
		hooks, sched, err := hc.Client()
		if err != nil {
			return err
		}
		st, err := store.NewRedis(rdb, store.RedisConfig{Retention: rc.ResultRetention})
		if err != nil {
			return err
		}
		resultCache, err := wc.Cache(rdb)
		if err != nil {
			return err
		}
		w, err := worker.New(worker.Config{
			Redis: rdb, Provider: provider, Store: st, Webhooks: hooks, Cache: resultCache,
			Concurrency: wc.Concurrency, BulkConcurrency: wc.BulkConcurrency, StrictPriority: wc.StrictPriority,
			DailyBudget: wc.DailyBudget, BudgetStopsSignup: wc.BudgetStopsSignup, MaxAttemptsPerOrder: wc.MaxAttemptsPerOrder,
			ShutdownTimeout: wc.ShutdownTimeout, JobDeadline: wc.JobDeadline,
			RateLimit: wc.RateLimitConfig(), DefaultWebhookURL: hc.DefaultURL, WebhookSchedule: sched,
			Logger: &g.log,
		})
		if err != nil {
			return err
		}
		return w.Run(cmd.Context())
	}
	return cmd
}
