package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report prints a scenario's outcome as soon as it is known: its figures,
// its failures, and what its processes logged.
func (c *chaos) report(o *outcome) {
	w := c.w
	st := o.stats
	fmt.Fprintf(w, "  %d jobs: %d results, %d distinct events (%d delivered again), batch.completed %d; %d calls, %d billed, %d order numbers billed twice; wall %s\n",
		o.jobs, o.results, o.events, o.again, o.batchEvents, st.Calls, st.Billed, st.OrderNoReused, o.wall.Round(100*time.Millisecond))
	for _, d := range o.details[o.shown:] {
		fmt.Fprintln(w, "  "+d)
	}
	if len(o.failures) == 0 {
		fmt.Fprintln(w, "  invariants: PASS")
	}
	for _, f := range o.failures {
		fmt.Fprintln(w, "  FAIL: "+f)
	}
	// What the processes logged, as the log excerpt of a failure; a
	// scenario that passed only counts it.
	if len(o.failures) == 0 {
		if len(o.notes) > 0 {
			fmt.Fprintf(w, "  logs: %d kinds of warnings, as the faults would have them (shown when an invariant fails)\n", len(o.notes))
		}
		return
	}
	for i, n := range o.notes {
		if i == maxNotes {
			fmt.Fprintf(w, "  log: … and %d more kinds of warnings (the logs were in the harness's directory)\n", len(o.notes)-maxNotes)
			break
		}
		fmt.Fprintln(w, "  log: "+n)
	}
}

// maxNotes is how many kinds of warnings a failed scenario shows.
const maxNotes = 20

// printTable prints one row of figures per scenario, then the failures.
func printTable(w io.Writer, cfg config, outs []*outcome) {
	mode := "full"
	if cfg.short {
		mode = "short"
	}
	fmt.Fprintf(w, "chaos (%s mode), %d CPUs, %d workers; sandbox %s, quota %d/s, latency %s; Redis with appendfsync everysec\n",
		mode, runtime.NumCPU(), cfg.workers, provider, cfg.quota, cfg.latency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tjobs\tresults\tevents\tagain\tcalls\tbilled\tbilled twice\tin flight at kills\trefused\twall\tinvariants\t")
	for _, o := range outs {
		st := o.stats
		inFlight := "-"
		if len(o.inFlight) > 0 {
			var parts []string
			for _, n := range o.inFlight {
				parts = append(parts, fmt.Sprint(n))
			}
			inFlight = fmt.Sprintf("%d (%s)", o.inFlightSum(), strings.Join(parts, "+"))
		}
		verdict := "PASS"
		if len(o.failures) > 0 {
			verdict = fmt.Sprintf("FAIL (%d)", len(o.failures))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\t\n",
			o.name, o.jobs, o.results, o.events, o.again, st.Calls, st.Billed, st.OrderNoReused, inFlight,
			st.Calls-st.Billed, o.wall.Round(100*time.Millisecond), verdict)
	}
	tw.Flush()
	fmt.Fprintln(w, "events: distinct webhook-ids of the jobs' events; again: deliveries of one of them after its first (allowed);")
	fmt.Fprintln(w, "billed twice: the sandbox's orderNoReused; refused: calls not billed (quota, outage, credentials); wall: workers' start → last event")
	for _, o := range outs {
		if o.name == "kill" {
			for _, b := range outs {
				if b.name == "baseline" && b.wall > 0 {
					fmt.Fprintf(w, "kill: the batch took %s with the kills, %s without (%+.1f s)\n",
						o.wall.Round(100*time.Millisecond), b.wall.Round(100*time.Millisecond), (o.wall - b.wall).Seconds())
				}
			}
		}
	}
	for _, o := range outs {
		for _, f := range o.failures {
			fmt.Fprintf(w, "FAIL %s: %s\n", o.name, f)
		}
	}
}
