package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/producer"
)

// signupWarmup is how long the batch drains before the first signup: the
// window measures a batch at its steady rate, not one starting up.
const signupWarmup = 2 * time.Second

// signupOrderPrefix starts the order number of every signup of (c).
const signupOrderPrefix = "signup-"

// signupBatchJobs is the size of the batch of (c): enough to drain at the
// full quota through the warm-up, the window and a few seconds of start,
// so that it is still draining when the window ends.
func (c config) signupBatchJobs() int {
	return int(float64(c.quota) * (signupWarmup + c.signupFor + 4*time.Second).Seconds())
}

// signupResult is run (c).
type signupResult struct {
	// n signups were enqueued over window, rate a second.
	n      int
	window time.Duration
	rate   float64
	// latencies are enqueue → webhook arrival, sorted.
	latencies []time.Duration
	// batchRate is the batch's billed calls/s over the window.
	batchRate float64
	// drained is true when the batch ran out before the window ended, so
	// batchRate understates what it could take.
	drained bool
	refused int64
	rss     []harness.Exit
}

// signupRun drains a batch at the quota with one worker and enqueues
// signups through the Go producer meanwhile.
func (h *bench) signupRun(ctx context.Context, sb *harness.Sandbox) (signupResult, error) {
	var r signupResult
	const name = "signup-batch"
	if err := h.Fresh(ctx, sb); err != nil {
		return r, err
	}
	if err := h.EnqueueBatch(ctx, name, h.cfg.signupBatchJobs()); err != nil {
		return r, err
	}
	ws, _, err := h.StartWorkers(sb, harness.WorkerSpec{Run: "signup", Count: 1, RateLimit: h.cfg.quota})
	if err != nil {
		return r, err
	}
	defer func() {
		if r.rss == nil {
			harness.StopWorkers(ws)
		}
	}()
	// The worker is up when the sandbox has seen a call.
	if _, err := sb.WaitCalls(ctx, 1, time.Minute, harness.ProcsOf(ws)); err != nil {
		return r, err
	}
	if err := harness.Sleep(ctx, signupWarmup); err != nil {
		return r, err
	}

	rdb := redis.NewClient(&redis.Options{Addr: h.Redis.Addr, DB: harness.DB})
	defer rdb.Close()
	prod, err := producer.New(producer.Config{Redis: rdb, Codec: harness.Codec()})
	if err != nil {
		return r, err
	}
	defer prod.Close()

	// The window: the sandbox's meter and the worker's count of signup
	// calls at its start and its end, so that the batch's share is the
	// billed calls less the signups'.
	before, err := h.signupWindowEdge(ctx, sb, ws[0])
	if err != nil {
		return r, err
	}
	enqueued, err := h.enqueueSignups(ctx, prod)
	if err != nil {
		return r, err
	}
	after, err := h.signupWindowEdge(ctx, sb, ws[0])
	if err != nil {
		return r, err
	}
	st, err := batch.New(rdb).Get(ctx, name)
	if err != nil {
		return r, fmt.Errorf("batch status: %w", err)
	}
	r.drained = st.Done >= st.Total

	r.n = len(enqueued)
	if _, err := h.Receiver.WaitArrivals(ctx, harness.VerifyPrefix+signupOrderPrefix, r.n, time.Minute, harness.ProcsOf(ws)); err != nil {
		return r, fmt.Errorf("signups: %w", err)
	}
	got, err := h.Receiver.Arrivals(ctx, harness.VerifyPrefix+signupOrderPrefix, false)
	if err != nil {
		return r, err
	}
	r.rss = harness.StopWorkers(ws)

	for id, at := range enqueued {
		r.latencies = append(r.latencies, time.Unix(0, got.At[id]).Sub(at))
	}
	slices.Sort(r.latencies)
	r.window = after.at.Sub(before.at)
	r.rate = float64(r.n) / r.window.Seconds()
	signupCalls := after.signupCalls - before.signupCalls
	r.batchRate = (float64(after.billed-before.billed) - signupCalls) / r.window.Seconds()
	r.refused = after.refused

	drained := ""
	if r.drained {
		drained = " (the batch drained before the window ended)"
	}
	fmt.Printf("  %d signups at %.2f/s over %s: latency p50 %s, p99 %s, max %s; batch billed %.1f/s = %.3f of (Q − signups)%s; refused %d; worker peak RSS %s\n",
		r.n, r.rate, r.window.Round(10*time.Millisecond), ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 99)), ms(percentile(r.latencies, 100)),
		r.batchRate, r.batchShare(h.cfg.quota), drained, r.refused, rssRange(r.rss))
	return r, nil
}

// batchShare is the batch's billed calls/s ÷ what the signups left of the
// quota.
func (r signupResult) batchShare(quota int) float64 {
	return r.batchRate / (float64(quota) - r.rate)
}

// windowEdge is what the window of (c) reads at each end.
type windowEdge struct {
	at              time.Time
	billed, refused int64
	signupCalls     float64
}

// signupWindowEdge reads the sandbox's meter and the worker's count of
// signup calls (one rate-limit token a call).
func (h *bench) signupWindowEdge(ctx context.Context, sb *harness.Sandbox, w *harness.Worker) (windowEdge, error) {
	e := windowEdge{at: time.Now()}
	st, err := sb.Stats(ctx)
	if err != nil {
		return e, err
	}
	m, err := scrape(ctx, w.MetricsAddr)
	if err != nil {
		return e, err
	}
	e.billed, e.refused = st.Billed, st.QuotaRefused
	e.signupCalls = sumSeries(m, "realname_ratelimit_wait_seconds_count", `queue="signup"`)
	return e, nil
}

// enqueueSignups enqueues cfg.signupRate signups a second for
// cfg.signupFor, each at its own tick, and returns the webhook-id of each
// with the time just before its Enqueue.
func (h *bench) enqueueSignups(ctx context.Context, prod *producer.Client) (map[string]time.Time, error) {
	n := int(math.Round(h.cfg.signupRate * h.cfg.signupFor.Seconds()))
	every := time.Duration(float64(time.Second) / h.cfg.signupRate)
	enqueued := make(map[string]time.Time, n)
	start := time.Now()
	i := 0
	// Identities of their own (seed 7), unknown to the fixture: the
	// sandbox answers them by its rule.
	for e := range sample.Generate(n, 7) {
		if err := harness.Sleep(ctx, time.Until(start.Add(time.Duration(i)*every))); err != nil {
			return nil, err
		}
		orderNo := fmt.Sprintf("%s%04d", signupOrderPrefix, i)
		at := time.Now()
		if _, err := prod.Enqueue(ctx, producer.Request{Kind: producer.KindIDCard, OrderNo: orderNo, Name: e.Name, IDNumber: e.IDNumber},
			&producer.Opts{Priority: producer.Signup}); err != nil {
			return nil, fmt.Errorf("enqueue signup %s: %w", orderNo, err)
		}
		enqueued[harness.VerifyPrefix+orderNo] = at
		i++
	}
	// The window ends one interval after the last signup, so that n
	// signups span n intervals.
	return enqueued, harness.Sleep(ctx, time.Until(start.Add(time.Duration(n)*every)))
}

// percentile returns the p-th percentile of sorted by nearest rank; p 100
// is the maximum.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
