package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/ratelimit"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// Config configures Run.
type Config struct {
	// Redis is the queue's Redis. Required.
	Redis redis.UniversalClient
	// N is the number of identities to verify. Defaults to 1000.
	N int
	// Seed makes the identities and the faults. Defaults to 1.
	Seed int64
	// Faults are the sandbox's. Defaults to DefaultFaults.
	Faults *sandbox.Faults
	// Concurrency of the worker. Defaults to 32.
	Concurrency int
	// RateLimit is the shared provider rate limit, calls/s. Defaults to
	// 1000.
	RateLimit int
	// Timeout bounds the whole run. Defaults to 5m.
	Timeout time.Duration
	// Out receives progress lines and the summary. Defaults to io.Discard.
	Out io.Writer
	// Logger receives the components' logs. Defaults to none.
	Logger zerolog.Logger
}

// DefaultFaults are the demo's: some latency, 5% HTTP 5xx and 2% gateway
// try-again codes, so that retries show.
var DefaultFaults = sandbox.Faults{
	Latency:     sandbox.Latency{Kind: sandbox.LatencyUniform, Min: 2 * time.Millisecond, Max: 20 * time.Millisecond},
	HTTP5xxRate: 0.05,
	CodeRate:    0.02,
	Codes:       []int{5100, 6000},
}

// Summary is what a run did.
type Summary struct {
	// Jobs is the number of identities verified.
	Jobs int
	// Duplicates counts re-enqueues of an order number reported as such.
	Duplicates int
	// ByClass counts results by class.
	ByClass map[string]int
	// Wrong counts results that disagree with the sandbox's truth.
	Wrong int
	// Missing counts jobs without a result.
	Missing int
	// ProviderCalls, Billed and OrderNoReused are the sandbox's meter.
	ProviderCalls, Billed, OrderNoReused int64
	// RetriedByFault counts provider calls that met an injected fault.
	RetriedByFault int64
	// Webhooks is what the receiver saw.
	Webhooks webhook.ReceiverStats
	// Elapsed runs from the first enqueue to the last webhook.
	Elapsed time.Duration
	// PerSecond is Jobs / Elapsed.
	PerSecond float64
}

// OK reports whether the run kept every promise: one correct result and
// one verified webhook per job, no order billed twice.
func (s *Summary) OK() bool {
	return s.Wrong == 0 && s.Missing == 0 && s.OrderNoReused == 0 &&
		s.Webhooks.Unique == s.Jobs && s.Webhooks.Rejected == 0
}

// Run runs the demo: it starts a sandbox, a webhook receiver and a worker,
// enqueues cfg.N generated identities (the four kinds in turn) and a few
// duplicate order numbers, waits until every job's webhook has arrived, and
// checks every stored result against the sandbox's truth.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Redis == nil {
		return nil, errors.New("demo: Config.Redis is required")
	}
	cfg.N = cmp.Or(cfg.N, 1000)
	cfg.Seed = cmp.Or(cfg.Seed, 1)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 32)
	cfg.RateLimit = cmp.Or(cfg.RateLimit, 1000)
	cfg.Timeout = cmp.Or(cfg.Timeout, 5*time.Minute)
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	faults := DefaultFaults
	if cfg.Faults != nil {
		faults = *cfg.Faults
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	out := cfg.Out

	// The receiver answers 503 to the first delivery of one event in ten,
	// so that webhook retries show too.
	st, err := NewStack(StackConfig{N: cfg.N, Seed: cfg.Seed, Faults: faults, Logger: cfg.Logger,
		Receiver: webhook.ReceiverConfig{Status: func(id string, n int) int {
			if n == 1 && fnv32(id)%10 == 0 {
				return 503
			}
			return 0
		}}})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	fmt.Fprintf(out, "sandbox   %s (faults: %.0f%% HTTP 5xx, %.0f%% gateway 5100/6000, latency %s)\n",
		st.SandboxURL, faults.HTTP5xxRate*100, faults.CodeRate*100, faults.Latency)
	fmt.Fprintf(out, "receiver  %s (verifies every signature)\n", st.ReceiverURL)

	provider, err := st.Client(tencentv2.Config{Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	results, err := store.NewRedis(cfg.Redis, store.RedisConfig{})
	if err != nil {
		return nil, err
	}
	hooks, err := st.WebhookClient()
	if err != nil {
		return nil, err
	}
	sched, _ := webhook.ParseSchedule("200ms,500ms,1s,2s,5s")
	w, err := worker.New(worker.Config{
		Redis: cfg.Redis, Provider: provider, Store: results, Webhooks: hooks,
		Concurrency: cfg.Concurrency, TaskCheckInterval: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		RetryBase: 50 * time.Millisecond, RetryCap: time.Second, ThrottleDelay: 200 * time.Millisecond,
		RateLimit:       ratelimit.Config{Rate: cfg.RateLimit, Burst: max(1, cfg.RateLimit/20)},
		WebhookSchedule: sched, DefaultWebhookURL: st.ReceiverURL, ShutdownTimeout: 5 * time.Second,
		Logger: &cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	prod, err := producer.New(producer.Config{Redis: cfg.Redis, Store: results})
	if err != nil {
		return nil, err
	}
	defer prod.Close()

	start := time.Now()
	wctx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(wctx) }()
	defer func() { stopWorker(); <-workerDone }()

	// Enqueue from a few goroutines, as a signup backend's handlers would.
	var enqueued, duplicates atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, e := range st.Entries {
		g.Go(func() error {
			job, err := prod.Enqueue(gctx, producer.Request{
				Kind: KindOf(i), OrderNo: e.OrderNo, Name: e.Name, IDNumber: e.IDNumber,
				Phone: e.Phone, BankCard: e.BankCard,
			}, nil)
			if err != nil {
				return fmt.Errorf("enqueue %s: %w", e.OrderNo, err)
			}
			if job.Duplicate {
				duplicates.Add(1)
			}
			enqueued.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// The same order numbers again: each must be reported as a duplicate
	// and cost nothing.
	for i, e := range st.Entries[:min(10, len(st.Entries))] {
		job, err := prod.Enqueue(ctx, producer.Request{Kind: KindOf(i), OrderNo: e.OrderNo, Name: e.Name, IDNumber: e.IDNumber,
			Phone: e.Phone, BankCard: e.BankCard}, nil)
		if err != nil {
			return nil, err
		}
		if job.Duplicate {
			duplicates.Add(1)
		}
	}
	fmt.Fprintf(out, "enqueued  %d jobs in %s; %d re-enqueues reported as duplicates\n",
		enqueued.Load(), time.Since(start).Round(time.Millisecond), duplicates.Load())

	if err := waitForWebhooks(ctx, out, st, cfg.N, start); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)

	sum := &Summary{Jobs: cfg.N, Duplicates: int(duplicates.Load()), ByClass: map[string]int{}, Elapsed: elapsed}
	for i, e := range st.Entries {
		res, err := results.GetByOrderNo(ctx, e.OrderNo)
		if err != nil {
			sum.Missing++
			continue
		}
		sum.ByClass[res.Class]++
		if res.Class != string(Truth(e, KindOf(i))) {
			sum.Wrong++
		}
	}
	stats := st.Sandbox.Stats()
	sum.ProviderCalls, sum.Billed, sum.OrderNoReused = stats.Calls, stats.Billed, stats.OrderNoReused
	for k, v := range stats.ByAnswer {
		if len(k) > 5 && (k[:5] == "http:" || k[:5] == "code:") {
			sum.RetriedByFault += v
		}
	}
	sum.Webhooks = st.Receiver.Stats()
	sum.PerSecond = float64(cfg.N) / elapsed.Seconds()
	printSummary(out, sum)
	return sum, nil
}

// waitForWebhooks prints progress until n distinct webhooks have arrived.
func waitForWebhooks(ctx context.Context, out io.Writer, st *Stack, n int, start time.Time) error {
	done := make(chan error, 1)
	go func() { done <- st.Receiver.WaitFor(ctx, n) }()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var once sync.Once
	for {
		select {
		case err := <-done:
			once.Do(func() { progress(out, st, n, start) })
			if err != nil {
				return fmt.Errorf("demo: waiting for webhooks: %w (%d of %d arrived)", err, st.Receiver.Stats().Unique, n)
			}
			return nil
		case <-tick.C:
			progress(out, st, n, start)
		}
	}
}

func progress(out io.Writer, st *Stack, n int, start time.Time) {
	got := st.Receiver.Stats().Unique
	el := time.Since(start)
	fmt.Fprintf(out, "progress  %5d/%d answered and delivered  %3.0f%%  %6.0f jobs/s  provider calls %d\n",
		got, n, 100*float64(got)/float64(n), float64(got)/el.Seconds(), st.Sandbox.Stats().Calls)
}

func printSummary(out io.Writer, s *Summary) {
	fmt.Fprintf(out, "\nsummary\n")
	fmt.Fprintf(out, "  jobs                 %d in %s (%.0f jobs/s, enqueue to webhook)\n", s.Jobs, s.Elapsed.Round(time.Millisecond), s.PerSecond)
	for _, c := range slices.Sorted(maps.Keys(s.ByClass)) {
		fmt.Fprintf(out, "  result %-13s %d\n", c, s.ByClass[c])
	}
	fmt.Fprintf(out, "  checked vs sandbox   %d wrong, %d missing\n", s.Wrong, s.Missing)
	fmt.Fprintf(out, "  provider calls       %d (billed %d; %d met an injected fault and were retried; orders billed twice: %d)\n",
		s.ProviderCalls, s.Billed, s.RetriedByFault, s.OrderNoReused)
	fmt.Fprintf(out, "  duplicates refused   %d\n", s.Duplicates)
	fmt.Fprintf(out, "  webhooks             %d received, %d verified, %d rejected, %d failed on purpose and retried, %d unique, %d duplicates\n",
		s.Webhooks.Received, s.Webhooks.Verified, s.Webhooks.Rejected, s.Webhooks.Failed, s.Webhooks.Unique, s.Webhooks.Duplicates)
	if s.OK() {
		fmt.Fprintf(out, "  OK: every job answered once, correctly, with one verified webhook\n")
	} else {
		fmt.Fprintf(out, "  NOT OK\n")
	}
}

// fnv32 is FNV-1a, to pick events to fail deterministically.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
