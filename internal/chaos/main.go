// Command chaos is the `make chaos` harness: it injects the faults of
// production into the whole pipeline, with every part in a process of its
// own (package harness: a private redis-server with an AOF, the sandbox
// provider, a webhook receiver and `realname worker` processes), and
// asserts the invariants that money and data depend on, from the sandbox's
// meter, the stored results, the receiver's log and the queues:
//
//   - every job has exactly one stored result, with the answer the fixture
//     gives its identity, and the receiver got one distinct event per job
//     (deliveries of an id again are allowed, and counted apart) and one
//     batch.completed;
//   - an order number is billed twice only for a call cut by a kill: no
//     more often than there were calls in flight at the kills, and never
//     because of a Redis restart, a receiver away or a provider outage;
//   - the recovery: the jobs a killed worker held are answered within 20 s
//     of the kill.
//
// The scenarios run one after another, each on an empty Redis and a zeroed
// meter, with a batch of bulk jobs draining at the quota:
//
//	kill          kill -9 of a worker every few seconds, restarted at once
//	redis         Redis stopped (SIGTERM, 5 s down), then killed (-9, 2 s down)
//	receiver      the webhook receiver away for minutes, then back
//	provider      the provider switched off for a minute, then on
//	credentials   wrong credentials, then the right ones and `realname queue resume`
//
// It prints a table of figures per scenario and exits 1 when an invariant
// failed, saying which, with the numbers.
//
//	go run ./internal/chaos             # the full run, about ten minutes
//	go run ./internal/chaos -short      # under two minutes (CI runs it as a test)
//	go run ./internal/chaos -run kill   # one scenario
//
// It must run inside the module (it builds ./cmd/realname), and needs
// redis-server on PATH.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/sandbox"
)

// config is what one run of the harness does; flags fill it, and zero
// values take the defaults of the mode (full or -short).
type config struct {
	// short runs the short mode: smaller batches, shorter faults.
	short bool
	// scenarios are the names of the scenarios to run, in order.
	scenarios []string
	// quota is the sandbox's quota in calls/s (a strict sliding second)
	// and the workers' REALNAME_RATE_LIMIT.
	quota int
	// latency is the sandbox's answer delay, in its --latency syntax.
	latency string
	// workers is the number of worker processes of each scenario.
	workers int
	// baseline runs the kill scenario's batch once without kills, for its
	// completion time. On by default in the full mode.
	baseline bool
	// keep leaves the harness's directory, with every process's log.
	keep bool

	// killJobs, kills and killEvery shape the kill scenario: 12,000 jobs
	// and 8 kills 7 s apart (1,500 and 2 kills 3 s apart with -short).
	killJobs, kills int
	killEvery       time.Duration
	// jobs is the batch of every other scenario: 3,000 (600 with
	// -short); credentials takes a third of it.
	jobs int
	// receiverDown and outage are how long the receiver is away and the
	// provider switched off: 2 min and 60 s (15 s and 10 s with -short).
	receiverDown, outage time.Duration
}

// scenarioNames are the scenarios in the order they run.
var scenarioNames = []string{"kill", "redis", "receiver", "provider", "credentials"}

// withDefaults fills the zero fields of c with the defaults of its mode.
func (c config) withDefaults() config {
	c.killJobs = harness.ModeDefault(c.killJobs, 12_000, 1500, c.short)
	c.kills = harness.ModeDefault(c.kills, 8, 2, c.short)
	c.killEvery = harness.ModeDefault(c.killEvery, 7*time.Second, 3*time.Second, c.short)
	c.jobs = harness.ModeDefault(c.jobs, 3000, 600, c.short)
	c.receiverDown = harness.ModeDefault(c.receiverDown, 2*time.Minute, 15*time.Second, c.short)
	c.outage = harness.ModeDefault(c.outage, time.Minute, 10*time.Second, c.short)
	if len(c.scenarios) == 0 {
		c.scenarios = scenarioNames
	}
	return c
}

func (c config) validate() error {
	for _, s := range c.scenarios {
		if !slices.Contains(scenarioNames, s) {
			return fmt.Errorf("-run: unknown scenario %q (have %s)", s, strings.Join(scenarioNames, ", "))
		}
	}
	if c.quota <= 0 || c.workers <= 0 {
		return errors.New("-quota and -workers must be positive")
	}
	if _, err := sandbox.ParseLatency(c.latency); err != nil {
		return fmt.Errorf("-latency: %w", err)
	}
	if c.killJobs <= 0 || c.kills < 0 || c.killEvery <= 0 || c.jobs < 3 || c.receiverDown <= 0 || c.outage <= 0 {
		return errors.New("batch sizes, kills and durations must be positive")
	}
	return nil
}

func main() {
	var cfg config
	var only string
	flag.BoolVar(&cfg.short, "short", false, "short mode: smaller batches and shorter faults, under two minutes")
	flag.StringVar(&only, "run", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames, ","))
	flag.IntVar(&cfg.quota, "quota", 200, "sandbox quota in calls/s (strict sliding second) and the workers' rate limit")
	flag.StringVar(&cfg.latency, "latency", "fixed:50ms", "sandbox answer delay: none, fixed:D, uniform:D-D or longtail:D-D")
	flag.IntVar(&cfg.workers, "workers", 3, "worker processes of each scenario")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory with every process's log")
	baseline := flag.Bool("baseline", false, "run the kill scenario's batch without kills too (always in the full mode)")
	flag.IntVar(&cfg.killJobs, "kill-jobs", 0, "jobs of the kill scenario (default 12000, 1500 with -short)")
	flag.IntVar(&cfg.kills, "kills", 0, "kills of the kill scenario (default 8, 2 with -short)")
	flag.DurationVar(&cfg.killEvery, "kill-every", 0, "time between kills (default 7s, 3s with -short)")
	flag.IntVar(&cfg.jobs, "jobs", 0, "jobs of the other scenarios (default 3000, 600 with -short)")
	flag.DurationVar(&cfg.receiverDown, "receiver-down", 0, "how long the receiver is away (default 2m, 15s with -short)")
	flag.DurationVar(&cfg.outage, "outage", 0, "how long the provider is switched off (default 60s, 10s with -short)")
	flag.Parse()
	if only != "" {
		cfg.scenarios = strings.Split(only, ",")
	}
	cfg.baseline = *baseline || !cfg.short
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}

	// A Ctrl-C or SIGTERM cancels ctx: every wait returns, and the deferred
	// clean-up stops the children and removes the temporary directory.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	start := time.Now()
	outs, err := run(ctx, cfg, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	fmt.Printf("\nchaos done in %s\n", time.Since(start).Round(100*time.Millisecond))
	if failed := failedScenarios(outs); len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "chaos: invariants failed in %s (see above)\n", strings.Join(failed, ", "))
		os.Exit(1)
	}
}

// run runs the scenarios of cfg in turn, printing as it goes to w, then
// prints the table, and returns every scenario's outcome. An error is a
// failure of the harness itself; a failed invariant is in the outcomes.
func run(ctx context.Context, cfg config, w io.Writer) ([]*outcome, error) {
	people := cfg.jobs
	if slices.Contains(cfg.scenarios, "kill") {
		people = max(people, cfg.killJobs)
	}
	h, err := harness.New(ctx, harness.Options{
		Name:   "chaos",
		People: people,
		// Every write in the AOF, flushed every second as in production:
		// what a restart keeps, and what a kill -9 may lose.
		RedisArgs: []string{"--appendonly", "yes", "--appendfsync", "everysec"},
		Keep:      cfg.keep,
	})
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if _, err := h.StartReceiver(ctx, "127.0.0.1:0"); err != nil {
		return nil, err
	}
	sb, err := h.StartSandbox(ctx, "sandbox", cfg.quota, cfg.latency)
	if err != nil {
		return nil, err
	}
	expected, err := expectedCodes(h.People, h.Fixture)
	if err != nil {
		return nil, err
	}
	c := &chaos{Harness: h, cfg: cfg, sb: sb, expected: expected, w: w}

	scenarios := map[string]func(context.Context) *outcome{
		"kill":        c.killScenario,
		"redis":       c.redisScenario,
		"receiver":    c.receiverScenario,
		"provider":    c.providerScenario,
		"credentials": c.credentialsScenario,
	}
	var outs []*outcome
	for _, name := range cfg.scenarios {
		if name == "kill" && cfg.baseline {
			// The kill scenario's batch without kills, first.
			o := c.baselineScenario(ctx)
			c.report(o)
			outs = append(outs, o)
		}
		o := scenarios[name](ctx)
		c.report(o)
		outs = append(outs, o)
		if ctx.Err() != nil {
			return outs, context.Cause(ctx)
		}
	}
	fmt.Fprintln(w)
	printTable(w, cfg, outs)
	return outs, nil
}

// failedScenarios returns the names of the scenarios whose invariants
// failed.
func failedScenarios(outs []*outcome) []string {
	var failed []string
	for _, o := range outs {
		if len(o.failures) > 0 {
			failed = append(failed, o.name)
		}
	}
	return failed
}
