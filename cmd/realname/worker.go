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
	"github.com/realname-io/realname/internal/spool"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/worker"
)

// exampleMetricsAddr is the address the docs and the deploy files give
// /metrics on a host (the port of the OpenTelemetry Prometheus exporter).
// It is not a default: `realname worker` serves /metrics only where
// --metrics-addr or REALNAME_METRICS_ADDR says, so that several workers
// on one host start with default settings instead of colliding on a port.
const exampleMetricsAddr = "127.0.0.1:9464"

// metricsAddrFromEnv returns REALNAME_METRICS_ADDR: empty, and the endpoint
// off, when it is unset or empty.
func metricsAddrFromEnv() string { return os.Getenv("REALNAME_METRICS_ADDR") }

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
in-flight calls finish (up to --shutdown-timeout) and the rest are handed back.
Prometheus /metrics is served only where --metrics-addr says (off by default,
so that several workers start side by side on one host).`,
		Args: cobra.NoArgs,
	}
	rc, _ := config.BindRedis(cmd.Flags(), os.Getenv) // rc.Client reports bad values
	pc, terr := config.BindProviders(cmd.Flags(), os.Getenv)
	wc, werr := config.BindWorker(cmd.Flags(), os.Getenv)
	hc, herr := config.BindWebhook(cmd.Flags(), os.Getenv)
	kc, kerr := config.BindKeys(cmd.Flags(), os.Getenv)
	metricsAddr := cmd.Flags().String("metrics-addr", metricsAddrFromEnv(),
		"address of the Prometheus /metrics endpoint, e.g. "+exampleMetricsAddr+"; off unless set, so that several workers share a host "+
			"(give each its own port); a port in use fails the worker at start (env REALNAME_METRICS_ADDR)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, f := range []func() error{terr, werr, herr, kerr} {
			if err := f(); err != nil {
				return err
			}
		}
		codec, err := kc.Codec()
		if err != nil {
			return err
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
		sp, err := spool.Open(wc.SpoolDir)
		if err != nil {
			return fmt.Errorf("%w (set REALNAME_SPOOL_DIR to a writable directory)", err)
		}
		defer sp.Close()
		var reg *prometheus.Registry
		var m *metrics.Metrics
		if *metricsAddr != "" {
			reg, m = workerRegistry(rdb)
			rdb.AddHook(m.RedisHook())
		} else {
			g.log.Info().Msg("metrics endpoint off: set REALNAME_METRICS_ADDR or --metrics-addr (e.g. " + exampleMetricsAddr +
				", a port of its own for each worker on the host) to serve /metrics")
		}
		w, err := worker.New(worker.Config{
			Redis: rdb, Router: router, Quotas: quotas, Store: st, Webhooks: hooks, Cache: resultCache,
			Concurrency: wc.Concurrency, BulkConcurrency: wc.BulkConcurrency, ProviderLatency: wc.ProviderLatency, StrictPriority: wc.StrictPriority,
			DailyBudget: wc.DailyBudget, BudgetStopsSignup: wc.BudgetStopsSignup, MaxAttemptsPerOrder: wc.MaxAttemptsPerOrder,
			ShutdownTimeout: wc.ShutdownTimeout, JobDeadline: wc.JobDeadline,
			RateLimit: wc.RateLimitConfig(), BulkRateShare: wc.BulkRateShare, DefaultWebhookURL: hc.DefaultURL, WebhookSchedule: sched, InlineWebhookTimeout: hc.InlineTimeout,
			Spool: sp, Codec: codec,
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
