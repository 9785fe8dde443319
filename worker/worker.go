package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/cache"
	"github.com/realname-io/realname/internal/metrics"
	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/ratelimit"
	"github.com/realname-io/realname/internal/spool"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
)

// Config configures a Worker. Redis, Store, and Router or Provider are
// required.
type Config struct {
	// Redis is the queue's Redis; the shared rate limit and the attempt
	// counters live there too.
	Redis redis.UniversalClient
	// Router chooses the provider of each call, per kind, and fails over
	// from a primary to a secondary. Defaults to a router that sends every
	// kind to Provider.
	Router *provider.Router
	// Provider answers every kind when Router is nil.
	Provider provider.Provider
	// Store keeps final results.
	Store store.Store
	// Codec opens the sealed personal data of task payloads: its key ring
	// must hold every key the queued tasks were sealed under (Run checks
	// a sample at start). Required.
	Codec *task.Codec
	// Webhooks delivers result events. Nil disables webhooks: results are
	// only stored.
	Webhooks *webhook.Client

	// Concurrency is the number of signup verifications and webhook
	// deliveries processed at once. Defaults to 20.
	Concurrency int
	// BulkConcurrency is the number of bulk verifications processed at
	// once, by a pool of their own: a draining batch never takes the
	// goroutines a signup needs. Defaults to what one process needs to
	// hold every limit it serves: the sum of their rates times
	// ProviderLatency (Little's law), plus one goroutine per limit waiting
	// for its next slot, at least 10. Set a negative value for a worker
	// that serves no bulk jobs.
	BulkConcurrency int
	// ProviderLatency is the provider latency the default BulkConcurrency
	// is sized for. Defaults to 250ms; with slower providers raise it (or
	// BulkConcurrency), or run more processes: they share the limits.
	ProviderLatency time.Duration
	// BulkRateShare caps the share of each limit that bulk jobs may use.
	// Defaults to 1: bulk jobs take every slot no signup waits for, and a
	// signup arriving waits for at most one bulk slot per worker process
	// (see package ratelimit).
	BulkRateShare float64
	// StrictPriority serves webhooks only when no signup job waits.
	// Defaults to false (weighted: signup 2, webhooks 1).
	StrictPriority bool
	// ShutdownTimeout is how long in-flight calls may take to finish after a
	// stop before they are handed back to the queue. Defaults to 30s.
	ShutdownTimeout time.Duration
	// TaskCheckInterval is how often retries and scheduled tasks are moved
	// forward. Defaults to 1s: asynq's 5s would delay every retry by up to
	// 5s.
	TaskCheckInterval time.Duration
	// PollInterval is how long the signup pool sleeps (on average) after
	// finding its queues empty before it looks again: the added latency of
	// a signup arriving at an idle worker. Defaults to 20ms (asynq's 1s
	// would keep a person waiting up to a second longer); an idle worker
	// process then asks Redis about 50 times a second. The bulk pool,
	// where nobody waits, looks at most every 200ms.
	PollInterval time.Duration

	// JobDeadline bounds a job's life from enqueue: past it, a job that has
	// no definitive answer ends with a final error. Defaults to 24h.
	JobDeadline time.Duration
	// RetryBase and RetryCap shape the backoff of transient failures:
	// a delay drawn uniformly from [0, min(RetryCap, RetryBase·2^n)] (full
	// jitter). Default to 1s and 5m.
	RetryBase, RetryCap time.Duration
	// ThrottleDelay is the wait before a throttled call is tried again; it
	// does not use up a retry. Defaults to 2s.
	ThrottleDelay time.Duration
	// PausedRetryDelay is when a job refused for credentials is due again;
	// it waits in its paused queue until an operator resumes it. Defaults to
	// 10s.
	PausedRetryDelay time.Duration
	// InflightTTL is the lifetime of the lock that keeps a second run of a
	// job from calling the provider at the same time. The run holding it
	// refreshes it every third of that, however long its call takes; a run
	// whose worker died loses it within InflightTTL. Defaults to 10s.
	InflightTTL time.Duration
	// OrphanAfter is how long an active task's asynq lease may go without
	// an extension (asynq extends the leases of running tasks every 5s)
	// before any worker puts the task back in its queue: the job of a
	// worker that died runs again after about this long, instead of
	// asynq's one to two minutes. Keep it well above 5s plus the clock
	// skew between worker hosts. Defaults to 12s.
	OrphanAfter time.Duration
	// OrphanScan is how often each worker looks for orphaned tasks.
	// Defaults to 2s.
	OrphanScan time.Duration
	// Spool keeps the results that cannot be stored now (Redis unreachable)
	// on local disk until they are, across a stop or a crash of the worker
	// (see package spool). Nil keeps them in memory only, for as long as
	// the process lives.
	Spool *spool.Spool
	// SpoolScan is how often the worker stores what stopped workers left
	// in the spool's directory. Defaults to 5s.
	SpoolScan time.Duration
	// StoreRetryCap caps the backoff between attempts to store a result
	// while Redis cannot take it. Defaults to 2s.
	StoreRetryCap time.Duration
	// RecentKeep is how long a stored result stays in memory, to be
	// stored again if Redis restarts without it (appendfsync everysec
	// loses up to a second of writes). Defaults to 5s.
	RecentKeep time.Duration
	// ArchiveSweep is how often one worker answers the verification tasks
	// asynq archived, each with its stored result or an error result, and
	// its event (see sweep.go). Defaults to 30s.
	ArchiveSweep time.Duration
	// RestartSettle is how long provider calls wait after Redis restarted,
	// while every worker stores its recent results again. Defaults to 3s.
	RestartSettle time.Duration
	// RateLimit limits the calls of a provider that documents no quota
	// (tencent-v2), across processes. Its Burst and Headroom apply to
	// every limit, the per-action quotas' too.
	RateLimit ratelimit.Config
	// Quotas overrides the documented quota of provider actions, in calls
	// per second across all workers, keyed "provider/Action" (e.g.
	// "tencent-v3/IdCardVerification"). Each provider action has a limit
	// of its own, so a batch of one kind cannot take the tokens of
	// another. Defaults to the providers' documented quotas.
	Quotas map[string]int
	// CircuitWait is how long a job waits, holding its place in the pool,
	// while no provider may take it (the circuits it can use are open: the
	// provider is down and there is no secondary, or the job is bound to
	// it). An outage is waited out, not retried: only one trial call per
	// circuit goes out until the provider answers again. Past CircuitWait
	// the job is handed back, due after CircuitRetryDelay, without using
	// up a retry. Defaults to 30s.
	CircuitWait time.Duration
	// CircuitRetryDelay is when a job handed back after CircuitWait is due
	// again. Defaults to 2s.
	CircuitRetryDelay time.Duration
	// Cache answers a verification from an earlier one of the same kind
	// and identity. Nil disables it.
	Cache *cache.Cache
	// DailyBudget caps provider calls per day (Asia/Shanghai). When it is
	// reached the bulk queue pauses, with an alarm, until the next day.
	// Defaults to 0: no cap.
	DailyBudget int
	// BudgetStopsSignup pauses the signup queue too when the budget is
	// reached. Defaults to false: signups go on.
	BudgetStopsSignup bool
	// MaxAttemptsPerOrder caps provider calls for one order number.
	// Defaults to 12.
	MaxAttemptsPerOrder int

	// DefaultWebhookURL receives the events of jobs enqueued without a
	// callback URL. Defaults to none.
	DefaultWebhookURL string
	// WebhookSchedule is the delivery retry schedule. Defaults to
	// webhook.DefaultSchedule (about 27 hours).
	WebhookSchedule webhook.Schedule
	// InlineWebhookTimeout bounds the first delivery of an event, made at
	// once by the worker that stored its result: a person waiting on a
	// signup does not wait for the webhooks queue, and a delivered event
	// costs no task. Until it has been delivered, or handed to the webhooks
	// queue after a failed first attempt, the job's own task is the
	// event's durable record. While a receiver keeps failing, its events
	// go straight to the queue (see receiverCircuits). The pools hold a
	// job for the delivery too: with a receiver slower than the provider,
	// raise ProviderLatency. Defaults to 2s; set a negative value to send
	// every event through the queue.
	InlineWebhookTimeout time.Duration
	// WebhookRetention is how long a delivered webhook task is kept; while
	// it is, a re-run of its job cannot enqueue a second one. Defaults to
	// 7 days.
	WebhookRetention time.Duration

	// Logger receives JSON logs; never personal data. Defaults to a no-op
	// logger.
	Logger *zerolog.Logger
	// Metrics records Prometheus metrics: results, provider calls and
	// errors, rate-limit waits, webhook deliveries, cache lookups and the
	// daily budget. Defaults to nil: nothing is recorded.
	Metrics *metrics.Metrics
}

// Worker processes verification and webhook tasks.
type Worker struct {
	cfg       Config
	log       zerolog.Logger
	srv       *asynq.Server // signup and webhooks
	bulkSrv   *asynq.Server // bulk; nil when BulkConcurrency < 0
	client    *asynq.Client
	inspector *asynq.Inspector
	router    *provider.Router
	// pipeStore is Config.Store when it can join the worker's pipelines.
	pipeStore store.PipelineStore
	// receivers holds a circuit per webhook receiver for inline
	// deliveries.
	receivers *receiverCircuits
	// locks refreshes the job locks this process holds.
	locks *lockKeeper
	// recent holds the results stored in the last RecentKeep.
	recent recent
	// settleUntil holds provider calls until then (Unix ns) after a Redis
	// restart.
	settleUntil atomic.Int64
	// credentialsRefused is when (Unix ns) a provider last refused our
	// credentials; 0: never.
	credentialsRefused atomic.Int64
	// limits holds the rate limit of each provider action, by limitKey.
	limits   map[string]*callLimit
	batches  *batch.Store
	stopping chan struct{}
}

// callLimit is the rate limit of one provider action (or of a whole
// provider that documents no per-action quota).
type callLimit struct {
	all  *ratelimit.Limiter
	bulk *ratelimit.Limiter // a cap on bulk's share; nil: none
}

// New returns a Worker for cfg after filling in defaults and validating it.
func New(cfg Config) (*Worker, error) {
	if cfg.Redis == nil || (cfg.Router == nil && cfg.Provider == nil) || cfg.Store == nil || cfg.Codec == nil {
		return nil, errors.New("worker: Redis, Router or Provider, Store and Codec are required")
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 20)
	cfg.ProviderLatency = cmp.Or(cfg.ProviderLatency, 250*time.Millisecond)
	cfg.BulkRateShare = cmp.Or(cfg.BulkRateShare, 1)
	if cfg.BulkRateShare < 0 || cfg.BulkRateShare > 1 {
		return nil, errors.New("worker: BulkRateShare must be within (0, 1]")
	}
	cfg.MaxAttemptsPerOrder = cmp.Or(cfg.MaxAttemptsPerOrder, 12)
	cfg.ShutdownTimeout = cmp.Or(cfg.ShutdownTimeout, 30*time.Second)
	cfg.TaskCheckInterval = cmp.Or(cfg.TaskCheckInterval, time.Second)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 20*time.Millisecond)
	cfg.JobDeadline = cmp.Or(cfg.JobDeadline, 24*time.Hour)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, time.Second)
	cfg.RetryCap = cmp.Or(cfg.RetryCap, 5*time.Minute)
	cfg.ThrottleDelay = cmp.Or(cfg.ThrottleDelay, 2*time.Second)
	cfg.PausedRetryDelay = cmp.Or(cfg.PausedRetryDelay, 10*time.Second)
	cfg.InflightTTL = cmp.Or(cfg.InflightTTL, 10*time.Second)
	cfg.OrphanAfter = cmp.Or(cfg.OrphanAfter, 12*time.Second)
	cfg.OrphanScan = cmp.Or(cfg.OrphanScan, 2*time.Second)
	cfg.SpoolScan = cmp.Or(cfg.SpoolScan, 5*time.Second)
	cfg.StoreRetryCap = cmp.Or(cfg.StoreRetryCap, 2*time.Second)
	cfg.RecentKeep = cmp.Or(cfg.RecentKeep, 5*time.Second)
	cfg.RestartSettle = cmp.Or(cfg.RestartSettle, 3*time.Second)
	cfg.ArchiveSweep = cmp.Or(cfg.ArchiveSweep, 30*time.Second)
	if cfg.OrphanAfter < 7*time.Second {
		return nil, errors.New("worker: OrphanAfter must be at least 7s: asynq extends leases every 5s")
	}
	cfg.CircuitRetryDelay = cmp.Or(cfg.CircuitRetryDelay, 2*time.Second)
	cfg.CircuitWait = cmp.Or(cfg.CircuitWait, 30*time.Second)
	if len(cfg.WebhookSchedule) == 0 {
		cfg.WebhookSchedule = webhook.DefaultSchedule
	}
	cfg.WebhookRetention = cmp.Or(cfg.WebhookRetention, 7*24*time.Hour)
	cfg.InlineWebhookTimeout = cmp.Or(cfg.InlineWebhookTimeout, 2*time.Second)
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	router := cfg.Router
	if router == nil {
		routes := make(map[provider.Kind]provider.Route, len(provider.Kinds))
		for _, k := range provider.Kinds {
			routes[k] = provider.Route{Primary: cfg.Provider}
		}
		var err error
		if router, err = provider.NewRouter(provider.RouterConfig{Routes: routes}); err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
	}
	w := &Worker{
		cfg:       cfg,
		log:       log,
		client:    asynq.NewClientFromRedisClient(cfg.Redis),
		inspector: asynq.NewInspectorFromRedisClient(cfg.Redis),
		router:    router,
		limits:    make(map[string]*callLimit),
		batches:   batch.New(cfg.Redis),
		receivers: newReceiverCircuits(receiverOpenFor),
		locks:     newLockKeeper(),
		stopping:  make(chan struct{}),
	}
	if ps, ok := cfg.Store.(store.PipelineStore); ok && ps.Client() == cfg.Redis {
		w.pipeStore = ps
	}
	if err := w.buildLimits(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	server := func(concurrency int, queues map[string]int, poll time.Duration) *asynq.Server {
		return asynq.NewServerFromRedisClient(cfg.Redis, asynq.Config{
			Concurrency:              concurrency,
			Queues:                   queues,
			StrictPriority:           cfg.StrictPriority,
			ShutdownTimeout:          cfg.ShutdownTimeout,
			DelayedTaskCheckInterval: cfg.TaskCheckInterval,
			TaskCheckInterval:        poll,
			RetryDelayFunc:           w.retryDelay,
			IsFailure:                isFailure,
			Logger:                   asynqLogger{log.With().Str("component", "asynq").Logger()},
			// Errors are logged by the handlers with their context.
		})
	}
	if cfg.BulkConcurrency == 0 {
		cfg.BulkConcurrency = w.bulkConcurrencyFor(cfg.ProviderLatency)
		w.cfg.BulkConcurrency = cfg.BulkConcurrency
	}
	w.srv = server(cfg.Concurrency, map[string]int{task.QueueSignup: 2, task.QueueWebhook: 1}, cfg.PollInterval)
	if cfg.BulkConcurrency > 0 {
		w.bulkSrv = server(cfg.BulkConcurrency, map[string]int{task.QueueBulk: 1}, max(cfg.PollInterval, 200*time.Millisecond))
	}
	return w, nil
}

// Handler returns the task handler, for tests and for embedding the worker
// in another asynq server.
func (w *Worker) Handler() asynq.Handler {
	mux := asynq.NewServeMux()
	for _, k := range task.Kinds {
		mux.HandleFunc(task.TaskType(k), w.handleVerify)
	}
	mux.HandleFunc(task.TypeWebhook, w.handleWebhook)
	return mux
}

// Run processes tasks until ctx is done, then shuts down: it stops taking
// new tasks, hands back jobs still waiting for a rate-limit token, lets
// in-flight provider calls finish for up to ShutdownTimeout, and hands back
// whatever is still running after that. It does not close Config.Redis.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.checkKeys(); err != nil {
		return err
	}
	w.reportBudget(ctx)
	h := w.Handler()
	if err := w.srv.Start(h); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	if w.bulkSrv != nil {
		if err := w.bulkSrv.Start(h); err != nil {
			w.srv.Shutdown()
			return fmt.Errorf("worker: start bulk pool: %w", err)
		}
	}
	budgetDone := make(chan struct{})
	go func() { defer close(budgetDone); w.resumeAfterBudget(ctx) }()
	// The locks are refreshed until the pools have stopped: a call still
	// running at shutdown keeps its lock.
	keepCtx, stopKeeping := context.WithCancel(context.WithoutCancel(ctx))
	defer stopKeeping()
	go w.locks.run(keepCtx, w.cfg.Redis, w.cfg.InflightTTL, func(err error) {
		w.log.Warn().Err(err).Msg("could not refresh job locks")
	})
	go w.recoverOrphans(ctx)
	go w.drainSpool(ctx)
	go w.watchRestarts(ctx)
	go w.sweepArchived(ctx)
	w.log.Info().Int("concurrency", w.cfg.Concurrency).Int("bulk_concurrency", max(0, w.cfg.BulkConcurrency)).
		Int("rate_limit", w.cfg.RateLimit.Rate).Int("daily_budget", w.cfg.DailyBudget).Bool("cache", w.cfg.Cache != nil).
		Msg("worker started")
	<-ctx.Done()
	w.log.Info().Msg("worker stopping")
	close(w.stopping)
	// Both pools stop taking tasks at once; each then waits for its
	// in-flight calls (up to ShutdownTimeout) and hands back the rest.
	var wg sync.WaitGroup
	for _, srv := range []*asynq.Server{w.srv, w.bulkSrv} {
		if srv != nil {
			wg.Add(1)
			go func() { defer wg.Done(); srv.Shutdown() }()
		}
	}
	wg.Wait()
	<-budgetDone
	w.log.Info().Msg("worker stopped")
	return nil
}

// buildLimits makes the rate limit of every provider action the router
// can call: the action's quota (Config.Quotas, else the documented one),
// shared through Redis under "realname:provider:NAME:ACTION"; or, for a
// provider that documents none, Config.RateLimit for all its actions.
func (w *Worker) buildLimits() error {
	known := make(map[string]bool)
	for _, p := range w.router.Providers() {
		for _, k := range provider.Kinds {
			key := limitKey(p, k)
			known[p.Name()+"/"+p.Action(k)] = true
			if _, ok := w.limits[key]; ok {
				continue
			}
			rl := w.cfg.RateLimit
			if quota := p.Quota(k); quota > 0 {
				rl = ratelimit.Config{
					Rate: cmp.Or(w.cfg.Quotas[p.Name()+"/"+p.Action(k)], quota), Burst: rl.Burst, Headroom: rl.Headroom,
					Key: "realname:provider:" + p.Name() + ":" + p.Action(k),
				}
			} else if rl.Key == "" {
				rl.Key = "realname:provider:" + p.Name()
			}
			lim, err := newCallLimit(w.cfg.Redis, rl, w.cfg.BulkRateShare)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p.Name(), p.Action(k), err)
			}
			w.limits[key] = lim
		}
	}
	for k := range w.cfg.Quotas {
		if !known[k] {
			return fmt.Errorf("quota for %q: no configured provider has that action (want provider/Action)", k)
		}
	}
	return nil
}

// bulkConcurrencyFor returns the bulk pool that holds every limit at the
// given provider latency: Σ rate × latency calls in flight, and one
// goroutine per limit waiting for its next slot.
func (w *Worker) bulkConcurrencyFor(latency time.Duration) int {
	inFlight := 0.0
	for _, l := range w.limits {
		if iv := l.all.Interval(); iv > 0 {
			inFlight += float64(latency) / float64(iv)
		}
	}
	return max(10, int(math.Ceil(inFlight))+len(w.limits))
}

// limitKey names the limit a call of kind to p waits on.
func limitKey(p provider.Provider, kind provider.Kind) string {
	if p.Quota(kind) > 0 {
		return p.Name() + "/" + p.Action(kind)
	}
	return p.Name()
}

// newCallLimit returns the limit of rl, with a share of it for bulk jobs.
func newCallLimit(rdb redis.UniversalClient, rl ratelimit.Config, bulkShare float64) (*callLimit, error) {
	all, err := ratelimit.New(rdb, rl)
	if err != nil {
		return nil, err
	}
	l := &callLimit{all: all}
	if rl.Rate > 0 && bulkShare < 1 {
		l.bulk, err = ratelimit.New(rdb, ratelimit.Config{
			Rate: max(1, int(float64(rl.Rate)*bulkShare)), Burst: rl.Burst, Headroom: rl.Headroom, Key: rl.Key + ":bulk",
		})
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// wait waits for the call's slot: signups at once, bulk jobs while no
// signup takes the slot (and within their share, if capped).
func (l *callLimit) wait(ctx context.Context, bulk bool) (time.Duration, error) {
	if !bulk {
		return l.all.WaitPriority(ctx, ratelimit.Signup)
	}
	var waited time.Duration
	if l.bulk != nil {
		d, err := l.bulk.WaitPriority(ctx, ratelimit.Bulk)
		waited += d
		if err != nil {
			return waited, err
		}
	}
	d, err := l.all.WaitPriority(ctx, ratelimit.Bulk)
	return waited + d, err
}

// retryLater is a handler error that asks for a retry after a set delay,
// and says whether it counts against the job's retries.
type retryLater struct {
	delay   time.Duration
	failure bool
	reason  string
}

func (e *retryLater) Error() string { return e.reason }

// isFailure is asynq's IsFailure: throttling, a paused queue and a hand-back
// at shutdown are not failures and do not use up retries.
func isFailure(err error) bool {
	var rl *retryLater
	if errors.As(err, &rl) {
		return rl.failure
	}
	return true
}

// retryDelay is asynq's RetryDelayFunc.
func (w *Worker) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if t.Type() == task.TypeWebhook {
		if wh, derr := task.DecodeWebhook(t.Payload()); derr == nil && wh.Inline {
			n++ // the inline delivery was the schedule's first attempt
		}
		return w.cfg.WebhookSchedule.Delay(n, err, nil)
	}
	var rl *retryLater
	if errors.As(err, &rl) {
		return rl.delay
	}
	return backoff(n, w.cfg.RetryBase, w.cfg.RetryCap)
}

// backoff returns an exponential delay with full jitter: uniform in
// [0, min(maxDelay, base·2^n)].
func backoff(n int, base, maxDelay time.Duration) time.Duration {
	d := maxDelay
	if n < 30 {
		d = min(maxDelay, base<<n)
	}
	return rand.N(d + 1)
}

// asynqLogger adapts zerolog to asynq.Logger.
type asynqLogger struct{ l zerolog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Fatal().Msg(fmt.Sprint(args...)) }

// NewMetrics registers the worker's Prometheus metrics on reg and returns
// them for Config.Metrics, so that programs outside this module can turn
// metrics on too.
func NewMetrics(reg prometheus.Registerer) *metrics.Metrics { return metrics.New(reg) }
