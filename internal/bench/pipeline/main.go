// Command pipeline is the `make bench` harness of the whole pipeline:
// bulk file → `realname enqueue` → Redis → `realname worker` → provider →
// result → signed webhook, with every part in a process of its own as in
// production, through package harness: a private redis-server, the sandbox
// provider (`realname sandbox`), a webhook receiver
// (internal/harness/receiver) and one or more workers, each serving its
// Prometheus metrics on a loopback port of its own. It measures, in one
// run:
//
//   - (a) quota use: how much of a strict sliding-window quota Q the workers
//     turn into billed calls, with 1, 3 and 10 worker processes sharing it,
//     how many calls the provider refused, and the most calls in any second;
//   - (b) end-to-end verifications/s at zero provider latency, next to bare
//     asynq no-op tasks/s on the same Redis;
//   - (c) the latency of signups (enqueue to webhook arrival) while a batch
//     drains at the quota, and how much of the quota the batch still gets;
//   - (d) Redis commands (INFO commandstats, script-run commands included)
//     and worker round trips per verification, from run (b);
//   - (e) bulk enqueue rows/s next to one-by-one asynq, and its peak RSS,
//     from the enqueue harness (internal/bench/enqueue), run as a
//     subprocess;
//   - (f) the peak RSS of every process it started;
//
// then prints one table, and writes an SVG plot of the provider calls/s of
// each run of (a).
//
//	go run ./internal/bench/pipeline            # the full run, several minutes
//	go run ./internal/bench/pipeline -short     # under two minutes
//
// It must run inside the module (it builds ./cmd/realname), and needs
// redis-server on PATH.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/sandbox"
)

// config is what one run of the harness measures; flags fill it, and zero
// values take the defaults of the mode (full or -short).
type config struct {
	// short runs the short mode: fewer jobs, shorter windows.
	short bool
	// quota is the sandbox's provider-wide quota in calls/s (a strict
	// sliding second) in runs (a) and (c), and the workers'
	// REALNAME_RATE_LIMIT there.
	quota int
	// latency is the sandbox's answer delay in runs (a) and (c), in the
	// sandbox's --latency syntax. Run (b) has none.
	latency string
	// jobs is the number of bulk jobs of each run of (a). Defaults to 6,000
	// (1,500 with -short).
	jobs int
	// e2eJobs is the number of jobs of run (b) and of the asynq baseline.
	// Defaults to 10,000 (3,000 with -short).
	e2eJobs int
	// workerCounts are the worker processes of the runs of (a).
	workerCounts []int
	// signupRate is the signups enqueued per second in run (c).
	signupRate float64
	// signupFor is how long run (c) enqueues signups. Defaults to 10s (5s
	// with -short).
	signupFor time.Duration
	// enqueueRows and enqueueBaseline are the enqueue harness's -rows and
	// -baseline. Default to 1,000,000 and 50,000 (100,000 and 10,000 with
	// -short).
	enqueueRows, enqueueBaseline int
	// plot is the SVG file written. Defaults to bench-calls.svg.
	plot string
	// e2eOnly runs (b) and (d) alone, for work on the hot path.
	e2eOnly bool
}

// withDefaults fills the zero fields of c with the defaults of its mode.
func (c config) withDefaults() config {
	c.jobs = harness.ModeDefault(c.jobs, 6000, 1500, c.short)
	c.e2eJobs = harness.ModeDefault(c.e2eJobs, 10_000, 3000, c.short)
	c.enqueueRows = harness.ModeDefault(c.enqueueRows, 1_000_000, 100_000, c.short)
	c.enqueueBaseline = harness.ModeDefault(c.enqueueBaseline, 50_000, 10_000, c.short)
	c.signupFor = harness.ModeDefault(c.signupFor, 10*time.Second, 5*time.Second, c.short)
	if c.signupRate == 0 {
		c.signupRate = 5
	}
	if len(c.workerCounts) == 0 {
		c.workerCounts = []int{1, 3, 10}
	}
	if c.plot == "" {
		c.plot = "bench-calls.svg"
	}
	return c
}

func (c config) validate() error {
	if c.quota <= 0 {
		return fmt.Errorf("-quota must be positive, not %d", c.quota)
	}
	if float64(c.quota) <= c.signupRate {
		return fmt.Errorf("-quota %d leaves nothing to the batch beside %.0f signups/s", c.quota, c.signupRate)
	}
	if _, err := sandbox.ParseLatency(c.latency); err != nil {
		return fmt.Errorf("-latency: %w", err)
	}
	if c.jobs < 0 || c.e2eJobs < 0 || c.enqueueRows < 0 || c.enqueueBaseline < 0 {
		return errors.New("job and row counts must not be negative")
	}
	return nil
}

func main() {
	var cfg config
	flag.BoolVar(&cfg.short, "short", false, "short mode: fewer jobs and shorter windows, under two minutes")
	flag.IntVar(&cfg.quota, "quota", 200, "sandbox quota in calls/s (strict sliding second) and the workers' rate limit, runs (a) and (c)")
	flag.StringVar(&cfg.latency, "latency", "fixed:50ms", "sandbox answer delay in runs (a) and (c): none, fixed:D, uniform:D-D or longtail:D-D")
	flag.IntVar(&cfg.jobs, "jobs", 0, "bulk jobs per run of (a) (default 6000, 1500 with -short)")
	flag.IntVar(&cfg.e2eJobs, "e2e-jobs", 0, "jobs of run (b) and of the asynq baseline (default 10000, 3000 with -short)")
	flag.IntVar(&cfg.enqueueRows, "enqueue-rows", 0, "rows of the enqueue harness, (e) (default 1000000, 100000 with -short; BENCH_ROWS in make bench)")
	flag.StringVar(&cfg.plot, "plot", "bench-calls.svg", "SVG file of the provider calls/s of each run of (a)")
	flag.BoolVar(&cfg.e2eOnly, "e2e-only", false, "run only (b) and (d), end to end at zero latency next to bare asynq")
	flag.Parse()
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(2)
	}

	// A Ctrl-C or SIGTERM cancels ctx: every wait returns, and the deferred
	// clean-up stops the children and removes the temporary directory.
	// Signals stay caught until then, so a second Ctrl-C cannot cut the
	// clean-up short; it takes at most stopGrace per step.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		if !errors.Is(context.Cause(ctx), context.Canceled) {
			fmt.Fprintln(os.Stderr, "pipeline: interrupted: stopping the children and cleaning up...")
		}
	}()
	start := time.Now()
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
	fmt.Printf("\npipeline bench done in %s\n", time.Since(start).Round(100*time.Millisecond))
}

// run measures everything in turn, each part alone on the machine, and
// prints the table at the end.
func run(ctx context.Context, cfg config) error {
	var res results
	res.cfg = cfg

	h, err := newBench(ctx, cfg)
	if err != nil {
		return err
	}
	defer h.Close()

	if cfg.e2eOnly {
		return runE2E(ctx, h)
	}
	// (e) first, before any other process of ours competes for the CPUs:
	// it is the same harness `make bench` always ran.
	fmt.Println("\n== (e) bulk enqueue: the enqueue harness")
	if res.enqueue, err = h.runEnqueueBench(ctx); err != nil {
		return err
	}

	if _, err := h.StartReceiver(ctx, "127.0.0.1:0"); err != nil {
		return err
	}
	fmt.Printf("\n== (a) quota use: quota %d/s, latency %s, %d bulk jobs a run\n", cfg.quota, cfg.latency, cfg.jobs)
	sb, err := h.StartSandbox(ctx, "sandbox-quota", cfg.quota, cfg.latency)
	if err != nil {
		return err
	}
	for _, n := range cfg.workerCounts {
		r, err := h.quotaRun(ctx, sb, n)
		if err != nil {
			return err
		}
		res.quota = append(res.quota, r)
	}

	fmt.Printf("\n== (c) signup latency: %.0f signups/s for %s while a batch drains at %d/s\n", cfg.signupRate, cfg.signupFor, cfg.quota)
	if res.signup, err = h.signupRun(ctx, sb); err != nil {
		return err
	}
	res.sandboxes = append(res.sandboxes, sb.Stop())

	fmt.Printf("\n== (b, d) end to end at zero provider latency: %d jobs\n", cfg.e2eJobs)
	sb0, err := h.StartSandbox(ctx, "sandbox-open", 0, "none")
	if err != nil {
		return err
	}
	if res.e2e, err = h.e2eRun(ctx, sb0); err != nil {
		return err
	}
	res.sandboxes = append(res.sandboxes, sb0.Stop())
	if res.asynq, err = h.asynqBaseline(ctx, cfg.e2eJobs); err != nil {
		return err
	}
	res.receiver = h.Receiver.Stop()

	path, err := writePlot(cfg.plot, cfg.quota, res.quota)
	if err != nil {
		return err
	}
	res.plot = path
	fmt.Println()
	printTable(os.Stdout, res)
	return nil
}

// runE2E runs (b) and (d) alone and prints their ratio.
func runE2E(ctx context.Context, h *bench) error {
	rc, err := h.StartReceiver(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer rc.Stop()
	sb, err := h.StartSandbox(ctx, "sandbox-open", 0, "none")
	if err != nil {
		return err
	}
	e2e, err := h.e2eRun(ctx, sb)
	sb.Stop()
	if err != nil {
		return err
	}
	aq, err := h.asynqBaseline(ctx, h.cfg.e2eJobs)
	if err != nil {
		return err
	}
	fmt.Printf("\nratio realname ÷ asynq: %.3f\n", e2e.rate()/aq.rate())
	return nil
}
