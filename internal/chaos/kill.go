package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/task"
)

// orphanRecovery is the longest a job held by a killed worker may wait for
// its answer (its event at the receiver), counted from the kill.
const orphanRecovery = 20 * time.Second

// orphanAfter is how late after a kill an answer to a job active at the
// kill makes it count as an orphan of the killed worker: the live
// workers' jobs are answered within a second or two.
const orphanAfter = 3 * time.Second

// kill is one kill -9 of a worker.
type kill struct {
	worker string
	at     time.Time
	// inFlight is the sandbox's calls in flight just before it.
	inFlight int64
	// active are the job IDs asynq held active just after it: the killed
	// worker's, and the live workers' of the moment.
	active []string
}

// baselineScenario drains the kill scenario's batch without a fault: the
// completion time the kills are compared with.
func (c *chaos) baselineScenario(ctx context.Context) *outcome {
	r, err := c.begin(ctx, "baseline", c.cfg.killJobs)
	defer r.close()
	if err == nil {
		err = r.waitDone(ctx, c.drainTimeout(r.o.jobs))
	}
	r.finish(ctx, err)
	r.o.check(0)
	return r.o
}

// killScenario kills one worker with SIGKILL every killEvery, in turn,
// and starts another in its place at once, as a supervisor would, while
// the batch drains.
func (c *chaos) killScenario(ctx context.Context) *outcome {
	r, err := c.begin(ctx, "kill", c.cfg.killJobs)
	defer r.close()
	var kills []kill
	if err == nil {
		kills, err = r.kills(ctx)
	}
	if err == nil {
		err = r.waitDone(ctx, c.drainTimeout(r.o.jobs)+time.Duration(c.cfg.kills)*c.cfg.killEvery)
	}
	results, arrivals := r.finish(ctx, err)
	o := r.o
	for _, k := range kills {
		o.inFlight = append(o.inFlight, k.inFlight)
	}
	o.check(o.inFlightSum())
	st := o.stats
	if answered := st.Calls - st.QuotaRefused; answered > int64(o.jobs)+o.inFlightSum() {
		o.failf("provider calls ≤ jobs + calls in flight at the kills: %d calls answered (%d refused by the quota besides) for %d jobs + %d in flight",
			answered, st.QuotaRefused, o.jobs, o.inFlightSum())
	}

	// The recovery of each kill: how long the jobs active at the kill
	// waited for their events, and for their results.
	for i, k := range kills {
		var eventWait, resultWait time.Duration
		orphans, missing := 0, 0
		for _, id := range k.active {
			orderNo, _ := task.OrderNoOf(id)
			at, ok := arrivals.At[task.WebhookID(id)]
			if !ok {
				missing++
				continue
			}
			if heldAtEarlierKill(kills[:i], id) && time.Unix(0, at).After(k.at) {
				continue // an orphan of an earlier kill, still waiting: counted there
			}
			wait := time.Unix(0, at).Sub(k.at)
			eventWait = max(eventWait, wait)
			if wait > orphanAfter {
				orphans++
			}
			if res, ok := results[string(orderNo)]; ok && !res.CompletedAt.IsZero() {
				resultWait = max(resultWait, res.CompletedAt.Sub(k.at))
			}
		}
		o.detailf("kill %d (%s at +%s): %d calls in flight, %d jobs active, %d of them answered more than %s later (orphans); all answered within %s (results stored within %s)",
			i+1, k.worker, k.at.Sub(r.start).Round(100*time.Millisecond), k.inFlight, len(k.active), orphans, orphanAfter,
			eventWait.Round(100*time.Millisecond), resultWait.Round(100*time.Millisecond))
		if missing > 0 {
			o.failf("kill %d: %d of the %d jobs active at the kill never got an event", i+1, missing, len(k.active))
		}
		if eventWait > orphanRecovery {
			o.failf("kill %d: the jobs active at the kill were answered %s after it, more than %s", i+1, eventWait.Round(100*time.Millisecond), orphanRecovery)
		}
	}
	if len(kills) > 0 {
		last := kills[len(kills)-1].at
		o.detailf("last kill → last event %s; longest time without an event %s",
			(time.Unix(0, arrivals.Last).Sub(last)).Round(100*time.Millisecond), longestGap(arrivals.At, r.start).Round(100*time.Millisecond))
	}
	if len(kills) < c.cfg.kills {
		o.detailf("only %d of %d kills: the batch drained before the others were due", len(kills), c.cfg.kills)
	}
	return o
}

// kills kills a worker every killEvery, the first killEvery/2 after the
// first provider call, each time the next one in turn, until cfg.kills or
// the batch's end; each is replaced at once.
func (r *scenarioRun) kills(ctx context.Context) ([]kill, error) {
	if _, err := r.c.sb.WaitCalls(ctx, 1, time.Minute, harness.ProcsOf(r.ws)); err != nil {
		return nil, err
	}
	first := time.Now()
	var kills []kill
	for i := range r.c.cfg.kills {
		if err := harness.Sleep(ctx, time.Until(first.Add(r.c.cfg.killEvery/2+time.Duration(i)*r.c.cfg.killEvery))); err != nil {
			return kills, err
		}
		if st, err := r.c.sb.Stats(ctx); err != nil {
			return kills, err
		} else if st.Calls >= int64(r.o.jobs) {
			break // every job has had its call: nothing left to cut
		}
		victim := i % len(r.ws)
		k, err := r.kill(ctx, victim)
		if err != nil {
			return kills, err
		}
		kills = append(kills, k)
		fmt.Fprintf(r.c.w, "  kill %d: %s at +%s, %d calls in flight, %d jobs active\n",
			i+1, k.worker, k.at.Sub(r.start).Round(100*time.Millisecond), k.inFlight, len(k.active)) // the figures come with the recovery
		if err := r.replace(victim); err != nil {
			return kills, err
		}
	}
	return kills, nil
}

// kill kills worker i with SIGKILL, reading the sandbox's calls in flight
// just before and the active jobs just after.
func (r *scenarioRun) kill(ctx context.Context, i int) (kill, error) {
	w := r.ws[i]
	st, err := r.c.sb.Stats(ctx)
	if err != nil {
		return kill{}, err
	}
	w.Kill()
	k := kill{worker: w.Name, at: time.Now(), inFlight: st.InFlight}
	for _, q := range task.VerifyQueues {
		for page := 1; ; page++ {
			tasks, err := r.in.ListActiveTasks(q, asynq.PageSize(1000), asynq.Page(page))
			if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) { // no job was ever enqueued there
				return k, fmt.Errorf("active tasks of %s: %w", q, err)
			}
			for _, t := range tasks {
				k.active = append(k.active, t.ID)
			}
			if len(tasks) < 1000 {
				break
			}
		}
	}
	return k, nil
}

// heldAtEarlierKill reports whether the job id was active at one of kills.
func heldAtEarlierKill(kills []kill, id string) bool {
	for _, k := range kills {
		if slices.Contains(k.active, id) {
			return true
		}
	}
	return false
}

// longestGap returns the longest time without an arrival between start
// and the last arrival.
func longestGap(at map[string]int64, start time.Time) time.Duration {
	times := make([]int64, 0, len(at)+1)
	times = append(times, start.UnixNano())
	for _, t := range at {
		times = append(times, t)
	}
	slices.Sort(times)
	var gap int64
	for i := 1; i < len(times); i++ {
		gap = max(gap, times[i]-times[i-1])
	}
	return time.Duration(gap)
}
