package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/aliyun"
	"github.com/realname-io/realname/internal/provider/tencentv3"
	"github.com/realname-io/realname/internal/ratelimit"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
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
	// RateLimit is the shared rate limit of a provider without per-action
	// quotas (tencent-v2), calls/s. Defaults to 1000.
	RateLimit int
	// Primary is the provider of every kind. Defaults to "tencent-v3".
	Primary string
	// Fallback takes the jobs while the primary's circuit is open.
	// Defaults to "aliyun"; "none" for no fallback.
	Fallback string
	// Quota is the per-action quota of Tencent v3 and Alibaba Cloud, in
	// calls/s: the sandbox enforces it and the worker keeps to it.
	// Defaults to 200.
	Quota int
	// OutageAfter is the share of jobs answered when the primary is
	// switched off; a third of the jobs are enqueued after it is back.
	// Defaults to 0.1.
	OutageAfter float64
	// OutageFor is how long the primary stays off. Defaults to 1s;
	// negative: no outage.
	OutageFor time.Duration
	// Timeout bounds the whole run. Defaults to 5m.
	Timeout time.Duration
	// Out receives progress lines and the summary. Defaults to io.Discard.
	Out io.Writer
	// Logger receives the components' logs. Defaults to none.
	Logger zerolog.Logger
}

// DefaultFaults are the demo's, for every provider: some latency, 5% HTTP
// 5xx and 2% try-again codes (v2 5100/6000; each other provider's own), so
// that retries show.
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
	// ProviderCalls, Billed and OrderNoReused are the sandbox's meter, over
	// every provider.
	ProviderCalls, Billed, OrderNoReused int64
	// IdentityReused counts identities a provider billed twice.
	IdentityReused int64
	// BilledByBoth counts identities billed by more than one provider.
	BilledByBoth int64
	// QuotaRefused counts calls the sandbox refused over a quota.
	QuotaRefused int64
	// ByProvider counts results by the provider that answered them.
	ByProvider map[string]int
	// Billing is the sandbox's meter by provider.
	Billing map[string]sandbox.ProviderStats
	// Outage is the failover the run showed, if it switched one off.
	Outage *Outage
	// RetriedByFault counts provider calls that met an injected fault.
	RetriedByFault int64
	// Webhooks is what the receiver saw.
	Webhooks webhook.ReceiverStats
	// Elapsed runs from the first enqueue to the last webhook.
	Elapsed time.Duration
	// PerSecond is Jobs / Elapsed.
	PerSecond float64
}

// Outage is what happened when the primary was switched off.
type Outage struct {
	// Primary and Fallback name the providers.
	Primary, Fallback string
	// Start and End are when the primary went off and on, from the first
	// enqueue.
	Start, End time.Duration
	// FailedOver is how long after Start the primary's circuit opened (0
	// if it did not).
	FailedOver time.Duration
	// Recovered is how long after End the primary's circuit closed again
	// (0 if it did not).
	Recovered time.Duration
}

// OK reports whether the run kept every promise: one correct result and
// one verified webhook per job, no order billed twice, by one provider or
// by two.
func (s *Summary) OK() bool {
	return s.Wrong == 0 && s.Missing == 0 && s.OrderNoReused == 0 && s.IdentityReused == 0 && s.BilledByBoth == 0 &&
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
	cfg.Primary = cmp.Or(cfg.Primary, tencentv3.Name)
	cfg.Fallback = cmp.Or(cfg.Fallback, aliyun.Name)
	if cfg.Fallback == "none" || cfg.Fallback == cfg.Primary {
		cfg.Fallback = ""
	}
	cfg.Quota = cmp.Or(cfg.Quota, 200)
	cfg.OutageAfter = cmp.Or(cfg.OutageAfter, 0.1)
	cfg.OutageFor = cmp.Or(cfg.OutageFor, time.Second)
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
	// Progress and the outage both print while the run goes on.
	out := &syncWriter{w: cfg.Out}

	// The receiver answers 503 to the first delivery of one event in ten,
	// so that webhook retries show too.
	// The sandbox enforces the quota of every v3 and Alibaba Cloud action;
	// the worker keeps to the same figures.
	quotas := sandbox.Quotas{Enabled: true, Limits: map[string]map[string]int{}}
	for p, actions := range sandbox.DocumentedQuotas() {
		quotas.Limits[p] = map[string]int{}
		for a := range actions {
			quotas.Limits[p][a] = cfg.Quota
		}
	}
	apiFaults := faults
	apiFaults.Codes = nil // each provider's own try-again codes
	st, err := NewStack(StackConfig{N: cfg.N, Seed: cfg.Seed, Faults: faults, TencentV3Faults: apiFaults, AliyunFaults: apiFaults,
		Quotas: quotas, Logger: cfg.Logger,
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
	fmt.Fprintf(out, "sandbox   %s: Tencent v2, Tencent API 3.0 and Alibaba Cloud (faults: %.0f%% HTTP 5xx, %.0f%% try-again codes, latency %s; quota %d/s per action)\n",
		st.BaseURL, faults.HTTP5xxRate*100, faults.CodeRate*100, faults.Latency, cfg.Quota)
	fmt.Fprintf(out, "receiver  %s (verifies every signature)\n", st.ReceiverURL)

	router, circuits, err := newRouter(st, cfg.Primary, cfg.Fallback)
	if err != nil {
		return nil, err
	}
	workerQuotas := map[string]int{}
	for _, p := range router.Providers() {
		for _, k := range provider.Kinds {
			if p.Quota(k) > 0 {
				workerQuotas[p.Name()+"/"+p.Action(k)] = cfg.Quota
			}
		}
	}
	if cfg.Fallback != "" {
		fmt.Fprintf(out, "providers %s, failing over to %s\n", cfg.Primary, cfg.Fallback)
	} else {
		fmt.Fprintf(out, "providers %s\n", cfg.Primary)
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
	// A key made for this run: the demo's queue dies with it.
	codec, err := task.NewCodec(keyring.Ephemeral())
	if err != nil {
		return nil, err
	}
	w, err := worker.New(worker.Config{
		Redis: cfg.Redis, Router: router, Codec: codec, Quotas: workerQuotas, Store: results, Webhooks: hooks,
		Concurrency: cfg.Concurrency, TaskCheckInterval: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		RetryBase: 50 * time.Millisecond, RetryCap: time.Second, ThrottleDelay: 200 * time.Millisecond,
		RateLimit:       ratelimit.Config{Rate: cfg.RateLimit},
		WebhookSchedule: sched, DefaultWebhookURL: st.ReceiverURL, InlineWebhookTimeout: 500 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
		Logger:          &cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	prod, err := producer.New(producer.Config{Redis: cfg.Redis, Store: results, Codec: codec})
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
	// With an outage, the last jobs are enqueued once the primary is back,
	// so that the run shows the jobs returning to it.
	var enqueued, duplicates atomic.Int64
	enqueue := func(from, to int) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i := from; i < to; i++ {
			e := st.Entries[i]
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
		return g.Wait()
	}
	first := cfg.N
	var outage *Outage
	if cfg.OutageFor > 0 {
		first = cfg.N * 2 / 3
		outage = &Outage{Primary: cfg.Primary, Fallback: cfg.Fallback}
	}
	if err := enqueue(0, first); err != nil {
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
	fmt.Fprintf(out, "enqueued  %d jobs in %s (the rest after the outage); %d re-enqueues reported as duplicates\n",
		enqueued.Load(), time.Since(start).Round(time.Millisecond), duplicates.Load())

	outageDone := make(chan error, 1)
	if outage != nil {
		go func() {
			switchOff(ctx, out, st, outage, int(float64(cfg.N)*cfg.OutageAfter), cfg.OutageFor, start)
			// The rest over a second and a half: the primary's circuit
			// lets one trial call through every half second, and a trial
			// that meets an injected fault must find later jobs to try.
			const steps = 6
			for i := range steps {
				if err := enqueue(first+(cfg.N-first)*i/steps, first+(cfg.N-first)*(i+1)/steps); err != nil {
					outageDone <- err
					return
				}
				time.Sleep(circuitOpenFor / 2)
			}
			outageDone <- nil
		}()
	} else {
		outageDone <- nil
	}
	if err := waitForWebhooks(ctx, out, st, cfg.N, start); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	if err := <-outageDone; err != nil {
		return nil, err
	}
	if outage != nil {
		// The primary's circuit closes at its first call after the outage;
		// with every job answered, a last trial may still be due.
		deadline := time.Now().Add(5 * time.Second)
		for circuits.closedAfter(cfg.Primary, start.Add(outage.End)) == 0 && time.Now().Before(deadline) && cfg.Fallback != "" {
			time.Sleep(20 * time.Millisecond)
		}
		outage.FailedOver = circuits.openedAfter(cfg.Primary, start.Add(outage.Start))
		outage.Recovered = circuits.closedAfter(cfg.Primary, start.Add(outage.End))
	}

	sum := &Summary{Jobs: cfg.N, Duplicates: int(duplicates.Load()), ByClass: map[string]int{}, ByProvider: map[string]int{},
		Elapsed: elapsed, Outage: outage}
	for i, e := range st.Entries {
		res, err := results.GetByOrderNo(ctx, e.OrderNo)
		if err != nil {
			sum.Missing++
			continue
		}
		sum.ByClass[res.Class]++
		sum.ByProvider[res.Provider]++
		if res.Class != string(Truth(e, KindOf(i))) {
			sum.Wrong++
		}
	}
	stats := st.Sandbox.Stats()
	sum.ProviderCalls, sum.Billed, sum.OrderNoReused = stats.Calls, stats.Billed, stats.OrderNoReused
	sum.BilledByBoth, sum.QuotaRefused, sum.Billing = stats.BilledByMoreThanOneProvider, stats.QuotaRefused, stats.Providers
	for _, ps := range stats.Providers {
		sum.IdentityReused += ps.IdentityReused
	}
	for k, v := range stats.ByAnswer {
		if strings.HasPrefix(k, "http:") || strings.HasPrefix(k, "code:") || strings.HasPrefix(k, "error:") || k == "outage" {
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
	fmt.Fprintf(out, "  provider calls       %d (billed %d; %d met an injected fault or the outage and were retried; %d refused over quota)\n",
		s.ProviderCalls, s.Billed, s.RetriedByFault, s.QuotaRefused)
	for _, p := range slices.Sorted(maps.Keys(s.Billing)) {
		b := s.Billing[p]
		if b.Calls == 0 {
			continue
		}
		fmt.Fprintf(out, "  %-20s %d results; %d calls, %d billed, %d identities billed twice\n", p, s.ByProvider[p], b.Calls, b.Billed, b.IdentityReused)
	}
	fmt.Fprintf(out, "  billed twice         %d orders by one provider, %d identities by two providers\n", s.OrderNoReused+s.IdentityReused, s.BilledByBoth)
	if o := s.Outage; o != nil {
		fmt.Fprintf(out, "  outage               %s off from %s to %s", o.Primary, o.Start.Round(time.Millisecond), o.End.Round(time.Millisecond))
		if o.Fallback != "" {
			fmt.Fprintf(out, "; failed over to %s after %s, back %s after it returned", o.Fallback, fmtAfter(o.FailedOver), fmtAfter(o.Recovered))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "  duplicates refused   %d\n", s.Duplicates)
	fmt.Fprintf(out, "  webhooks             %d received, %d verified, %d rejected, %d failed on purpose and retried, %d unique, %d duplicates\n",
		s.Webhooks.Received, s.Webhooks.Verified, s.Webhooks.Rejected, s.Webhooks.Failed, s.Webhooks.Unique, s.Webhooks.Duplicates)
	if s.OK() {
		fmt.Fprintf(out, "  OK: every job answered once, correctly, with one verified webhook\n")
	} else {
		fmt.Fprintf(out, "  NOT OK\n")
	}
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// fmtAfter formats a delay measured by the run, or "never" for 0.
func fmtAfter(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String()
}

// switchOff switches the primary off once after jobs have been answered,
// and on again after d, recording when into o.
func switchOff(ctx context.Context, out io.Writer, st *Stack, o *Outage, after int, d time.Duration, start time.Time) {
	if err := st.Receiver.WaitFor(ctx, after); err != nil {
		return
	}
	if err := st.Sandbox.SetOutage(o.Primary, true); err != nil {
		fmt.Fprintf(out, "outage    %v\n", err)
		return
	}
	o.Start = time.Since(start)
	fmt.Fprintf(out, "outage    %s switched off at %s for %s\n", o.Primary, o.Start.Round(time.Millisecond), d)
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	_ = st.Sandbox.SetOutage(o.Primary, false)
	o.End = time.Since(start)
	fmt.Fprintf(out, "outage    %s switched on at %s\n", o.Primary, o.End.Round(time.Millisecond))
}

// circuitLog records the state changes of the providers' circuits.
type circuitLog struct {
	mu     sync.Mutex
	events []circuitEvent
}

type circuitEvent struct {
	at           time.Time
	provider, to string
}

func (l *circuitLog) record(provider, _, to string) {
	l.mu.Lock()
	l.events = append(l.events, circuitEvent{time.Now(), provider, to})
	l.mu.Unlock()
}

// firstAfter returns how long after t the provider's circuit first went
// to state, or 0.
func (l *circuitLog) firstAfter(provider, state string, t time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.provider == provider && e.to == state && !e.at.Before(t) {
			return e.at.Sub(t)
		}
	}
	return 0
}

func (l *circuitLog) openedAfter(p string, t time.Time) time.Duration {
	return l.firstAfter(p, "open", t)
}
func (l *circuitLog) closedAfter(p string, t time.Time) time.Duration {
	return l.firstAfter(p, "closed", t)
}

// circuitOpenFor is how long the demo's circuits stay open before a trial.
const circuitOpenFor = 500 * time.Millisecond

// newRouter routes every kind to primary, failing over to fallback (if
// any), with a circuit that opens after 5 transient failures in a row and
// tries the primary again after half a second.
func newRouter(st *Stack, primary, fallback string) (*provider.Router, *circuitLog, error) {
	p, err := st.Provider(primary, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	var f provider.Provider
	if fallback != "" {
		if f, err = st.Provider(fallback, 5*time.Second); err != nil {
			return nil, nil, err
		}
	}
	routes := make(map[provider.Kind]provider.Route, len(provider.Kinds))
	for _, k := range provider.Kinds {
		routes[k] = provider.Route{Primary: p, Secondary: f}
	}
	log := &circuitLog{}
	r, err := provider.NewRouter(provider.RouterConfig{Routes: routes, OpenFor: circuitOpenFor, OnStateChange: log.record})
	return r, log, err
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
