package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/config"
	"github.com/realname-io/realname/internal/metrics"
	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/worker"
)

// defaultMetricsAddr is where `realname worker` serves /metrics unless
// --metrics-addr or REALNAME_METRICS_ADDR says otherwise: loopback only, on
// the port of the OpenTelemetry Prometheus exporter.
const defaultMetricsAddr = "127.0.0.1:9464"

// metricsAddrFromEnv returns REALNAME_METRICS_ADDR, or defaultMetricsAddr
// when it is unset. Unlike envOr, a variable set but empty is kept: it
// disables the endpoint.
func metricsAddrFromEnv() string {
	if v, ok := os.LookupEnv("REALNAME_METRICS_ADDR"); ok {
		return v
	}
	return defaultMetricsAddr
}

func newWorkerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Process verification and webhook jobs from Redis",
		Long: `Worker runs the verification workers: it takes jobs from the signup and bulk
queues (signup first), waits for a token from the local and the shared rate
limit of the provider action, calls the provider of the job's kind (Tencent
Cloud API 3.0, Tencent's v2 gateway or Alibaba Cloud; --provider, with
--provider-fallback taking the jobs while the primary is down), stores each
final result and delivers its signed webhook from the webhooks queue. SIGTERM or Ctrl-C stops it gracefully:
in-flight calls finish (up to --shutdown-timeout) and the rest are handed back.`,
		Args: cobra.NoArgs,
	}
	rc, _ := config.BindRedis(cmd.Flags(), os.Getenv) // rc.Client reports bad values
	pc, terr := config.BindProviders(cmd.Flags(), os.Getenv)
	wc, werr := config.BindWorker(cmd.Flags(), os.Getenv)
	hc, herr := config.BindWebhook(cmd.Flags(), os.Getenv)
	metricsAddr := cmd.Flags().String("metrics-addr", metricsAddrFromEnv(),
		"address of the Prometheus /metrics endpoint; empty disables it (env REALNAME_METRICS_ADDR)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, f := range []func() error{terr, werr, herr} {
			if err := f(); err != nil {
				return err
			}
		}
		rdb, err := rc.Client()
		if err != nil {
			return err
		}
		defer rdb.Close()
		rcfg, err := pc.RouterConfig()
		if err != nil {
			return err
		}
		rcfg.OnStateChange = func(name, from, to string) {
			ev := g.log.Warn()
			if to == "closed" {
				ev = g.log.Info()
			}
			ev.Str("provider", name).Str("from", from).Str("to", to).Msg("provider circuit changed state")
		}
		router, err := provider.NewRouter(rcfg)
		if err != nil {
			return err
		}
		quotas, err := pc.QuotaOverrides()
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
		var reg *prometheus.Registry
		var m *metrics.Metrics
		if *metricsAddr != "" {
			reg, m = workerRegistry(rdb)
			rdb.AddHook(m.RedisHook())
		}
		w, err := worker.New(worker.Config{
			Redis: rdb, Router: router, Quotas: quotas, Store: st, Webhooks: hooks, Cache: resultCache,
			Concurrency: wc.Concurrency, BulkConcurrency: wc.BulkConcurrency, ProviderLatency: wc.ProviderLatency, StrictPriority: wc.StrictPriority,
			DailyBudget: wc.DailyBudget, BudgetStopsSignup: wc.BudgetStopsSignup, MaxAttemptsPerOrder: wc.MaxAttemptsPerOrder,
			ShutdownTimeout: wc.ShutdownTimeout, JobDeadline: wc.JobDeadline,
			RateLimit: wc.RateLimitConfig(), BulkRateShare: wc.BulkRateShare, DefaultWebhookURL: hc.DefaultURL, WebhookSchedule: sched, InlineWebhookTimeout: hc.InlineTimeout,
			Logger: &g.log, Metrics: m,
		})
		if err != nil {
			return err
		}
		if reg != nil {
			// The endpoint stops after the worker has: its drain can be
			// watched to the end.
			stop, err := serveMetrics(*metricsAddr, reg, g.log)
			if err != nil {
				return err
			}
			defer stop()
		}
		return w.Run(cmd.Context())
	}
	return cmd
}

// workerRegistry returns a registry with the worker's metrics and what
// baseRegistry holds.
func workerRegistry(rdb redis.UniversalClient) (*prometheus.Registry, *metrics.Metrics) {
	reg := baseRegistry(rdb)
	return reg, metrics.New(reg)
}

// baseRegistry returns a registry with the queues (read from rdb at every
// scrape) and the Go runtime and process collectors: what every process
// serves on /metrics.
func baseRegistry(rdb redis.UniversalClient) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb)),
	)
	return reg
}

// serveMetrics serves reg at http://addr/metrics until the returned stop
// is called, which lets scrapes in progress finish for up to 5s. The
// address is bound before it returns, so a port in use fails the command
// at once.
func serveMetrics(addr string, reg prometheus.Gatherer, log zerolog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	srv := metrics.NewServer(addr, reg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics endpoint stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving metrics at /metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn().Err(err).Msg("metrics endpoint shutdown")
		}
		<-done
	}, nil
}
