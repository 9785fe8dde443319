package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/batch"
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
func (h *harness) signupBatchJobs() int {
	return int(float64(h.cfg.quota) * (signupWarmup + h.cfg.signupFor + 4*time.Second).Seconds())
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
	rss     []procExit
}

// signupRun drains a batch at the quota with one worker and enqueues
// signups through the Go producer meanwhile.
func (h *harness) signupRun(ctx context.Context, sb *sandboxProc) (signupResult, error) {
	var r signupResult
	const name = "signup-batch"
	if err := h.fresh(ctx, sb); err != nil {
		return r, err
	}
	if err := h.enqueueBatch(ctx, name, h.signupBatchJobs()); err != nil {
		return r, err
	}
	ws, _, err := h.startWorkers(sb, "signup", workerSpec{count: 1, rateLimit: h.cfg.quota})
	if err != nil {
		return r, err
	}
	defer func() {
		if r.rss == nil {
			stopWorkers(ws)
		}
	}()
	if err := waitFirstCall(ctx, sb, ws[0].proc); err != nil {
		return r, err
	}
	if err := sleep(ctx, signupWarmup); err != nil {
		return r, err
	}

	rdb := redis.NewClient(&redis.Options{Addr: h.redis.Addr, DB: pipelineDB})
	defer rdb.Close()
	prod, err := producer.New(producer.Config{Redis: rdb})
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
	if _, err := h.receiver.waitArrivals(ctx, verifyPrefix+signupOrderPrefix, r.n, time.Minute, procsOf(ws)); err != nil {
		return r, fmt.Errorf("signups: %w", err)
	}
	got, err := h.receiver.arrivals(ctx, verifyPrefix+signupOrderPrefix, false)
	if err != nil {
		return r, err
	}
	r.rss = stopWorkers(ws)

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
func (h *harness) signupWindowEdge(ctx context.Context, sb *sandboxProc, w *workerProc) (windowEdge, error) {
	e := windowEdge{at: time.Now()}
	st, err := sb.stats(ctx)
	if err != nil {
		return e, err
	}
	m, err := scrape(ctx, w.metricsAddr)
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
func (h *harness) enqueueSignups(ctx context.Context, prod *producer.Client) (map[string]time.Time, error) {
	n := int(math.Round(h.cfg.signupRate * h.cfg.signupFor.Seconds()))
	every := time.Duration(float64(time.Second) / h.cfg.signupRate)
	enqueued := make(map[string]time.Time, n)
	start := time.Now()
	i := 0
	// Identities of their own (seed 7), unknown to the fixture: the
	// sandbox answers them by its rule.
	for e := range sample.Generate(n, 7) {
		if err := sleep(ctx, time.Until(start.Add(time.Duration(i)*every))); err != nil {
			return nil, err
		}
		orderNo := fmt.Sprintf("%s%04d", signupOrderPrefix, i)
		at := time.Now()
		if _, err := prod.Enqueue(ctx, producer.Request{Kind: producer.KindIDCard, OrderNo: orderNo, Name: e.Name, IDNumber: e.IDNumber},
			&producer.Opts{Priority: producer.Signup}); err != nil {
			return nil, fmt.Errorf("enqueue signup %s: %w", orderNo, err)
		}
		enqueued[verifyPrefix+orderNo] = at
		i++
	}
	// The window ends one interval after the last signup, so that n
	// signups span n intervals.
	return enqueued, sleep(ctx, time.Until(start.Add(time.Duration(n)*every)))
}

// waitFirstCall waits until the sandbox has seen a call: the worker is up.
func waitFirstCall(ctx context.Context, sb *sandboxProc, w *proc) error {
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := sb.stats(ctx)
		if err != nil {
			return err
		}
		if st.Calls > 0 {
			return nil
		}
		if w.exited() {
			return w.failure()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no provider call within a minute of the worker's start: %w", errTimeout)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
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
