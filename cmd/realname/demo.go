package main

import (
	"fmt"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/config"
	"github.com/realname-io/realname/internal/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	var (
		n                 int
		seed              int64
		redisURL          string
		primary, fallback string
		outageFor         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline end to end on this machine, no Redis or credentials needed",
		Long: `Demo starts the sandbox provider (with injected faults), a worker, and a webhook
receiver that verifies every signature; enqueues generated identities of the
four kinds; waits until every job's webhook has arrived; checks every result
against the sandbox's truth; and prints a summary. It exits non-zero if any
promise was broken.

The worker calls Tencent Cloud API 3.0 and fails over to Alibaba Cloud: the
demo switches the primary off for a second mid-run, and the summary shows the
jobs each provider answered, when the failover and the recovery happened, and
that no identity was billed by both (the sandbox's meter).

Without --redis it runs on an embedded in-process Redis (miniredis).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			log := g.log
			if !cmd.Flags().Changed("log-level") && os.Getenv("REALNAME_LOG_LEVEL") == "" {
				// Retries are the point of the demo's faults: keep their
				// warnings out of its output unless asked for.
				log = log.Level(zerolog.ErrorLevel)
			}
			var rdb redis.UniversalClient
			if redisURL == "" {
				mr, err := miniredis.Run()
				if err != nil {
					return fmt.Errorf("embedded redis: %w", err)
				}
				defer mr.Close()
				fmt.Fprintf(out, "redis     embedded (miniredis at %s); use --redis redis://… for a real one\n", mr.Addr())
				rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
			} else {
				var err error
				if rdb, err = config.RedisClient(redisURL); err != nil {
					return err
				}
				fmt.Fprintf(out, "redis     %s\n", redactRedisURL(redisURL))
			}
			defer rdb.Close()
			sum, err := demo.Run(cmd.Context(), demo.Config{Redis: rdb, N: n, Seed: seed, Out: out, Logger: log,
				Primary: primary, Fallback: fallback, OutageFor: outageFor})
			if err != nil {
				return err
			}
			if !sum.OK() {
				return fmt.Errorf("demo: a promise was broken; see the summary")
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "n", 1000, "number of identities to verify")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the generated identities and faults")
	cmd.Flags().StringVar(&primary, "provider", "tencent-v3", "primary provider: tencent-v3, tencent-v2 or aliyun")
	cmd.Flags().StringVar(&fallback, "fallback", "aliyun", "fallback provider, or none")
	cmd.Flags().DurationVar(&outageFor, "outage", time.Second, "how long the primary is switched off mid-run (negative: never)")
	cmd.Flags().StringVar(&redisURL, "redis", os.Getenv("REALNAME_REDIS_URL"), "Redis URL (default: embedded; env REALNAME_REDIS_URL)")
	return cmd
}
