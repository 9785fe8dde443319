package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/realname-io/realname/internal/harness"
)

// results is everything one run of the harness measured.
type results struct {
	cfg       config
	enqueue   enqueueResult
	quota     []quotaResult
	signup    signupResult
	e2e       e2eResult
	asynq     asynqResult
	sandboxes []harness.Exit
	receiver  harness.Exit
	plot      string
}

// printTable prints the one table of the run, then what looked wrong.
func printTable(w io.Writer, res results) {
	cfg := res.cfg
	mode := "full"
	if cfg.short {
		mode = "short"
	}
	fmt.Fprintf(w, "pipeline bench (%s mode), %d CPUs, private redis-server; sandbox tencent-v2, quota %d/s, latency %s\n",
		mode, runtime.NumCPU(), cfg.quota, cfg.latency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(part, measure, value string) { fmt.Fprintf(tw, "%s\t%s\t%s\n", part, measure, value) }
	row("part", "measure", "value")

	// (a): one value per run, joined.
	perRun := func(f func(quotaResult) string) string {
		var vs []string
		for _, r := range res.quota {
			vs = append(vs, f(r))
		}
		return strings.Join(vs, " / ")
	}
	row("(a)", fmt.Sprintf("quota use, %d bulk jobs a run: worker processes", cfg.jobs), perRun(func(r quotaResult) string { return fmt.Sprint(r.workers) }))
	row("", "billed calls/s ÷ Q, steady part", perRun(func(r quotaResult) string {
		if !r.steadyOK {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", r.steady/float64(cfg.quota))
	}))
	row("", "refused by the quota (quotaRefused)", perRun(func(r quotaResult) string { return fmt.Sprint(r.refused) }))
	row("", "most calls in a sliding second (maxPerSecond)", perRun(func(r quotaResult) string { return fmt.Sprint(r.maxPerSecond) }))
	row("", "wall time, worker start → last webhook", perRun(func(r quotaResult) string { return r.wall.Round(10 * time.Millisecond).String() }))
	row("", "ideal wall time at Q", (time.Duration(float64(cfg.jobs) / float64(cfg.quota) * float64(time.Second))).String())

	e2e, aq := res.e2e, res.asynq
	row("(b)", fmt.Sprintf("realname, %d jobs, 1 worker (bulk concurrency %d), latency 0", e2e.jobs, e2eConcurrency), fmt.Sprintf("%.0f verifications/s", e2e.rate()))
	row("", fmt.Sprintf("asynq no-op handler, %d tasks, concurrency %d", aq.tasks, e2eConcurrency), fmt.Sprintf("%.0f tasks/s", aq.rate()))
	row("", "ratio realname ÷ asynq", fmt.Sprintf("%.3f", e2e.rate()/aq.rate()))

	s := res.signup
	row("(c)", fmt.Sprintf("signup latency, enqueue → webhook, %d signups at %.1f/s: p50 / p99 / max", s.n, s.rate),
		fmt.Sprintf("%s / %s / %s", ms(percentile(s.latencies, 50)), ms(percentile(s.latencies, 99)), ms(percentile(s.latencies, 100))))
	row("", fmt.Sprintf("batch billed calls/s ÷ (Q − %.1f/s), over %s", s.rate, s.window.Round(10*time.Millisecond)), fmt.Sprintf("%.3f", s.batchShare(cfg.quota)))

	row("(d)", "Redis commands / verification (INFO commandstats)", fmt.Sprintf("%.1f", e2e.perJob(float64(e2e.commands.total))))
	row("", "  of which EVAL/EVALSHA", fmt.Sprintf("%.2f", e2e.perJob(float64(e2e.commands.scripts))))
	row("", "worker round trips / verification (redis_round_trips_total)", fmt.Sprintf("%.1f", e2e.perJob(e2e.roundTrips)))
	row("", "worker commands sent / verification (redis_commands_total)", fmt.Sprintf("%.1f", e2e.perJob(e2e.sent)))
	row("", "asynq no-op: Redis commands / task", fmt.Sprintf("%.1f", float64(aq.commands.total)/float64(aq.tasks)))

	en := res.enqueue
	row("(e)", fmt.Sprintf("realname enqueue, %d rows (concurrency %d, chunks %d)", en.rows, en.concurrency, en.chunks),
		fmt.Sprintf("%.0f rows/s (%s)", en.rate, en.elapsed))
	row("", "asynq Client.Enqueue one by one", fmt.Sprintf("%.0f tasks/s (realname %.1fx)", en.oneByOne, en.rate/en.oneByOne))
	row("", "realname enqueue peak RSS", fmt.Sprintf("%.0f MB", en.rssMB))

	row("(f)", "peak RSS, worker (a), max over the processes of each run", perRun(func(r quotaResult) string { return mb(maxRSS(r.rss)) }))
	row("", "peak RSS, worker (b) / worker (c)", mb(maxRSS(e2e.rss))+" / "+mb(maxRSS(s.rss)))
	var sbs []string
	for _, p := range res.sandboxes {
		sbs = append(sbs, p.Name+" "+mb(p.KiB))
	}
	row("", "peak RSS, sandboxes", strings.Join(sbs, " / "))
	row("", "peak RSS, receiver", mb(res.receiver.KiB))
	tw.Flush()
	fmt.Fprintf(w, "calls/s plot of (a): %s\n", res.plot)

	if notes := anomalies(res); len(notes) > 0 {
		fmt.Fprintln(w, "\nworth a look:")
		for _, n := range notes {
			fmt.Fprintln(w, "  - "+n)
		}
	}
}

// anomalies lists what the system did that it should not have, or that
// makes a figure suspect.
func anomalies(res results) []string {
	var out []string
	for _, r := range res.quota {
		run := fmt.Sprintf("(a) %d worker(s)", r.workers)
		if r.refused > 0 {
			out = append(out, fmt.Sprintf("%s: the provider refused %d calls over its quota", run, r.refused))
		}
		if r.maxPerSecond > int64(res.cfg.quota) {
			out = append(out, fmt.Sprintf("%s: %d calls in one sliding second, over the quota of %d", run, r.maxPerSecond, res.cfg.quota))
		}
		if r.steadyOK && r.steady < 0.95*float64(res.cfg.quota) {
			out = append(out, fmt.Sprintf("%s: held only %.1f%% of the quota in its steady part", run, 100*r.steady/float64(res.cfg.quota)))
		}
		if r.billed != int64(r.jobs) {
			out = append(out, fmt.Sprintf("%s: %d calls billed for %d jobs", run, r.billed, r.jobs))
		}
		if r.orderNoReused > 0 {
			out = append(out, fmt.Sprintf("%s: %d order numbers billed twice", run, r.orderNoReused))
		}
		out = append(out, receiverNotes(run, r.received)...)
	}
	if res.signup.drained {
		out = append(out, "(c): the batch drained before the window ended: its share is understated")
	}
	if res.signup.refused > 0 {
		out = append(out, fmt.Sprintf("(c): the provider refused %d calls over its quota", res.signup.refused))
	}
	if res.e2e.billed != int64(res.e2e.jobs) {
		out = append(out, fmt.Sprintf("(b): %d calls billed for %d jobs", res.e2e.billed, res.e2e.jobs))
	}
	out = append(out, receiverNotes("(b)", res.e2e.received)...)
	all := append([]harness.Exit{res.receiver}, res.sandboxes...)
	for _, r := range res.quota {
		all = append(all, r.rss...)
	}
	all = append(all, res.e2e.rss...)
	all = append(all, res.signup.rss...)
	for _, p := range all {
		if p.Err != nil {
			out = append(out, fmt.Sprintf("%s did not exit cleanly on SIGTERM: %v", p.Name, p.Err))
		}
	}
	return append(out, harness.WarningNotes(all)...)
}

func receiverNotes(run string, a harness.Arrivals) []string {
	var out []string
	if a.Rejected > 0 {
		out = append(out, fmt.Sprintf("%s: the receiver rejected %d deliveries (bad signature or timestamp)", run, a.Rejected))
	}
	if a.Duplicates > 0 {
		out = append(out, fmt.Sprintf("%s: %d webhooks were delivered more than once", run, a.Duplicates))
	}
	return out
}

// rssRange prints the peak RSS of processes: one figure, or the range.
func rssRange(ps []harness.Exit) string {
	if len(ps) == 0 {
		return "n/a"
	}
	lo, hi := ps[0].KiB, ps[0].KiB
	for _, p := range ps {
		lo, hi = min(lo, p.KiB), max(hi, p.KiB)
	}
	if mb(lo) == mb(hi) {
		return mb(hi)
	}
	return mb(lo) + "–" + mb(hi)
}

func maxRSS(ps []harness.Exit) int64 {
	var m int64
	for _, p := range ps {
		m = max(m, p.KiB)
	}
	return m
}

// mb prints KiB as MB, as the enqueue harness does (KiB/1024).
func mb(kib int64) string { return fmt.Sprintf("%.0f MB", float64(kib)/1024) }

// ms prints a latency in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// topCommands prints the k commands Redis ran most, per job.
func topCommands(d commandDelta, jobs, k int) string {
	cmds := slices.SortedFunc(maps.Keys(d.byCmd), func(a, b string) int {
		return cmp.Or(cmp.Compare(d.byCmd[b], d.byCmd[a]), cmp.Compare(a, b))
	})
	var parts []string
	for _, c := range cmds[:min(k, len(cmds))] {
		parts = append(parts, fmt.Sprintf("%s %.2f", c, float64(d.byCmd[c])/float64(jobs)))
	}
	return strings.Join(parts, ", ")
}
