package main

import (
	"context"
	"fmt"
	"time"

	"github.com/realname-io/realname/internal/harness"
)

// steadyEdge is cut from both ends of a run of (a) to keep its steady part:
// the workers' start and the batch's tail are not what the quota is about.
const steadyEdge = time.Second

// quotaResult is one run of (a).
type quotaResult struct {
	workers, jobs int
	// steady is the billed calls/s over the steady part; steadyOK is false
	// when the run was too short to have one.
	steady   float64
	steadyOK bool
	// What the sandbox's meter says at the end of the run.
	calls, billed, refused, maxPerSecond, orderNoReused int64
	// wall is from the first worker's start to the last webhook.
	wall time.Duration
	// rates are the calls/s over time, for the plot.
	rates    []point
	received harness.Arrivals
	rss      []harness.Exit
}

// quotaRun drains a batch of cfg.jobs bulk jobs with workers processes
// sharing the quota, and reads the sandbox's meter as it goes.
func (h *bench) quotaRun(ctx context.Context, sb *harness.Sandbox, workers int) (quotaResult, error) {
	r := quotaResult{workers: workers, jobs: h.cfg.jobs}
	name := fmt.Sprintf("quota-%dw", workers)
	if err := h.Fresh(ctx, sb); err != nil {
		return r, err
	}
	if err := h.EnqueueBatch(ctx, name, r.jobs); err != nil {
		return r, err
	}
	smp := startSampler(ctx, sb)
	ws, start, err := h.StartWorkers(sb, harness.WorkerSpec{Run: name, Count: workers, RateLimit: h.cfg.quota})
	if err != nil {
		smp.finish()
		return r, err
	}
	// Three times the ideal drain time, and a minute for the start: a
	// worker that cannot hold the quota still finishes, a stuck one fails.
	ideal := time.Duration(float64(r.jobs) / float64(h.cfg.quota) * float64(time.Second))
	r.received, err = h.Receiver.WaitArrivals(ctx, harness.VerifyPrefix, r.jobs, 3*ideal+time.Minute, harness.ProcsOf(ws))
	samples := smp.finish()
	r.rss = harness.StopWorkers(ws)
	if err != nil {
		return r, fmt.Errorf("run %s: %w", name, err)
	}
	st, err := sb.Stats(ctx)
	if err != nil {
		return r, err
	}
	r.calls, r.billed, r.refused, r.maxPerSecond, r.orderNoReused = st.Calls, st.Billed, st.QuotaRefused, st.MaxPerSecond, st.OrderNoReused
	r.wall = time.Unix(0, r.received.Last).Sub(start)
	r.steady, r.steadyOK = steadyRate(samples, steadyEdge)
	r.rates = callRates(samples, start)

	steady := "n/a (run too short)"
	if r.steadyOK {
		steady = fmt.Sprintf("%.1f/s = %.3f Q", r.steady, r.steady/float64(h.cfg.quota))
	}
	fmt.Printf("  %2d worker(s): %d jobs in %s; billed %d of %d calls, steady %s; refused %d; max in a sliding second %d; worker peak RSS %s\n",
		workers, r.jobs, r.wall.Round(10*time.Millisecond), r.billed, r.calls, steady, r.refused, r.maxPerSecond, rssRange(r.rss))
	return r, nil
}
