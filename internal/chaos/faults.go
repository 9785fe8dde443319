package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/task"
)

// Redis restarts: how long Redis stays down after a graceful stop
// (SIGTERM: it writes its AOF and exits) and after a kill -9 (it loses
// what it had not yet written, up to a second with appendfsync everysec),
// and how long the workers run in between.
const (
	redisDownGraceful = 5 * time.Second
	redisDownKilled   = 2 * time.Second
	redisUpBetween    = 4 * time.Second
)

// redisScenario stops Redis mid-batch with SIGTERM and starts it again on
// the same port and directory (from its AOF) 5 s later; 4 s after that it
// kills it with SIGKILL and starts it again 2 s later. No answer may be
// bought twice.
func (c *chaos) redisScenario(ctx context.Context) *outcome {
	r, err := c.begin(ctx, "redis", c.cfg.jobs)
	defer r.close()
	var back time.Time
	if err == nil {
		back, err = r.restartRedis(ctx)
	}
	if err == nil {
		err = r.waitDone(ctx, c.drainTimeout(r.o.jobs))
	}
	_, a := r.finish(ctx, err)
	r.o.check(0)
	if !back.IsZero() {
		r.o.detailf("last event %s after Redis came back the second time", time.Unix(0, a.Last).Sub(back).Round(100*time.Millisecond))
	}
	return r.o
}

// restartRedis stops and kills Redis in turn, once a fifth of the batch
// has had its call, and returns when it was back the second time.
func (r *scenarioRun) restartRedis(ctx context.Context) (back time.Time, _ error) {
	if _, err := r.c.sb.WaitCalls(ctx, int64(r.o.jobs/5), time.Minute, harness.ProcsOf(r.ws)); err != nil {
		return back, err
	}
	for _, graceful := range []bool{true, false} {
		how, down := "kill -9", redisDownKilled
		if graceful {
			how, down = "SIGTERM", redisDownGraceful
		}
		st, err := r.c.sb.Stats(ctx)
		if err != nil {
			return back, err
		}
		at := time.Now()
		if graceful {
			r.c.Redis.Shutdown()
		} else {
			r.c.Redis.Kill()
		}
		if err := harness.Sleep(ctx, down); err != nil {
			return back, err
		}
		if err := r.c.StartRedisAgain(ctx); err != nil {
			return back, fmt.Errorf("start Redis again: %w", err)
		}
		back = time.Now()
		r.progressf("Redis %s at +%s with %d of %d calls made, %d in flight; down %s",
			how, at.Sub(r.start).Round(100*time.Millisecond), st.Calls, r.o.jobs, st.InFlight, back.Sub(at).Round(100*time.Millisecond))
		if graceful {
			if err := harness.Sleep(ctx, redisUpBetween); err != nil {
				return back, err
			}
		}
	}
	return back, nil
}

// receiverScenario stops the webhook receiver mid-batch, and starts it
// again on the same address receiverDown later. Every event must arrive
// then, without a provider call more.
func (c *chaos) receiverScenario(ctx context.Context) *outcome {
	r, err := c.begin(ctx, "receiver", c.cfg.jobs, "REALNAME_WEBHOOK_SCHEDULE="+retrySchedule(c.cfg.receiverDown))
	defer r.close()
	var back time.Time
	if err == nil {
		back, err = r.receiverAway(ctx)
	}
	if err == nil {
		err = r.waitDone(ctx, c.drainTimeout(r.o.jobs)+c.cfg.receiverDown)
	}
	_, a := r.finish(ctx, err)
	o := r.o
	o.check(0)
	if st := o.stats; st.Calls-st.QuotaRefused != int64(o.jobs) {
		o.failf("no provider call for a delivery: %d calls answered (%d more refused by the quota) for %d jobs", st.Calls-st.QuotaRefused, st.QuotaRefused, o.jobs)
	}
	if !back.IsZero() {
		after := 0
		for _, at := range a.At {
			if time.Unix(0, at).After(back) {
				after++
			}
		}
		o.detailf("%d events arrived after the receiver came back, the last %s after", after, time.Unix(0, a.Last).Sub(back).Round(100*time.Millisecond))
	}
	return o
}

// receiverAway stops the receiver once a fifth of the events have
// arrived, keeps it away for receiverDown, and starts it again where it
// was; it returns when it was back.
func (r *scenarioRun) receiverAway(ctx context.Context) (time.Time, error) {
	rc := r.c.Receiver
	if _, err := rc.WaitArrivals(ctx, harness.VerifyPrefix, r.o.jobs/5, time.Minute, harness.ProcsOf(r.ws)); err != nil {
		return time.Time{}, err
	}
	at := time.Now()
	rc.Stop()
	gone, err := rc.Final()
	if err != nil {
		return time.Time{}, err
	}
	r.c.gone = append(r.c.gone, gone)
	st, err := r.c.sb.Stats(ctx)
	if err != nil {
		return time.Time{}, err
	}
	r.progressf("receiver stopped at +%s with %d events in and %d of %d calls made; away for %s",
		at.Sub(r.start).Round(100*time.Millisecond), gone.Count, st.Calls, r.o.jobs, r.c.cfg.receiverDown)
	if err := harness.Sleep(ctx, r.c.cfg.receiverDown); err != nil {
		return time.Time{}, err
	}
	if _, err := r.c.StartReceiver(ctx, rc.Addr()); err != nil {
		return time.Time{}, fmt.Errorf("start the receiver again: %w", err)
	}
	return time.Now(), nil
}

// retrySchedule is the workers' webhook retry schedule of the receiver
// scenario: the production one waits 5 min before its second retry, so an
// event failed by a receiver away for minutes would arrive long after the
// run. This one retries soon, then every eighth of the time away (2 s to
// 30 s), for longer than twice that time: the events come back within a
// step of the receiver.
func retrySchedule(away time.Duration) string {
	step := min(max(away/8, 2*time.Second), 30*time.Second)
	s := []string{"1s", "2s"}
	n := int(math.Ceil(float64(2*away+time.Minute) / float64(step)))
	for range n {
		s = append(s, step.String())
	}
	return strings.Join(s, ",")
}

// providerScenario switches the provider off mid-batch for the outage, then
// on again. The workers must wait it out: no job fails, nothing is
// archived, and once the circuits have opened, only their trial calls
// reach the provider.
func (c *chaos) providerScenario(ctx context.Context) *outcome {
	r, err := c.begin(ctx, "provider", c.cfg.jobs)
	defer r.close()
	var burst, total int64
	if err == nil {
		burst, total, err = r.providerDown(ctx)
	}
	if err == nil {
		err = r.waitDone(ctx, c.drainTimeout(r.o.jobs)+c.cfg.outage)
	}
	r.finish(ctx, err)
	o := r.o
	o.check(0)
	steady, bound := total-burst, c.trialCallsBound()
	o.detailf("%d calls refused by the outage of %s: %d in its first %s, while the circuits opened, and %d after (allowed %d: a trial call every %s per worker)",
		total, c.cfg.outage, burst, circuitOpening, steady, bound, circuitOpenFor)
	if steady > bound {
		o.failf("open circuits hold the calls: %d calls refused after the first %s of the outage, more than %d", steady, circuitOpening, bound)
	}
	return o
}

// The workers' circuit: REALNAME_FAILOVER_OPEN_FOR (10 s) after it opens,
// it lets a trial call through.
const circuitOpenFor = 10 * time.Second

// circuitOpening is how long the circuits are given to open at the start of
// an outage: the jobs a worker had already let through to the provider
// make their calls meanwhile.
const circuitOpening = 2 * time.Second

// trialCallsBound is how many calls the outage may refuse once the
// circuits are open: per worker, a trial call every circuitOpenFor, and
// one more.
func (c *chaos) trialCallsBound() int64 {
	trials := int64(math.Ceil((c.cfg.outage-circuitOpening).Seconds()/circuitOpenFor.Seconds())) + 1
	return int64(c.cfg.workers) * trials
}

// providerDown switches the provider off once a fifth of the batch has
// had its call, and on again after the outage. It returns the calls the
// outage refused in its first circuitOpening and in all.
func (r *scenarioRun) providerDown(ctx context.Context) (burst, total int64, err error) {
	if _, err := r.c.sb.WaitCalls(ctx, int64(r.o.jobs/5), time.Minute, harness.ProcsOf(r.ws)); err != nil {
		return 0, 0, err
	}
	if err := r.c.sb.SetOutage(ctx, provider, true); err != nil {
		return 0, 0, err
	}
	at := time.Now()
	r.progressf("provider %s off at +%s for %s", provider, at.Sub(r.start).Round(100*time.Millisecond), r.c.cfg.outage)
	read := func(d time.Duration) int64 {
		if err == nil {
			err = harness.Sleep(ctx, time.Until(at.Add(d)))
		}
		var st sandbox.Stats
		if err == nil {
			st, err = r.c.sb.Stats(ctx)
		}
		return st.OutageRefused
	}
	burst = read(min(circuitOpening, r.c.cfg.outage))
	total = read(r.c.cfg.outage)
	// On again whatever happened: the next scenario needs it.
	if oerr := r.c.sb.SetOutage(context.WithoutCancel(ctx), provider, false); err == nil {
		err = oerr
	}
	return burst, total, err
}

// wrongSecretKey is the secret key the credentials scenario starts its
// workers with.
const wrongSecretKey = "not-the-secret-key"

// credentialsAlarm starts the line a worker logs when a provider refuses
// its credentials and it pauses the verification queues.
const credentialsAlarm = "ALARM: provider refused our credentials"

// refusedPerWorker is "a handful", per worker: how many calls the provider
// may refuse it for wrong credentials before it stops calling: the call
// whose refusal pauses the queues, and one more that had its rate-limit
// slot before that refusal came back (refusals take a millisecond).
const refusedPerWorker = 2

// credentialsScenario starts the workers with a wrong secret key: they
// must pause the verification queues with an alarm after a handful of
// refused calls. Then the operator's fix: workers with the right key, and
// `realname queue resume`; everything drains with the right answers.
func (c *chaos) credentialsScenario(ctx context.Context) *outcome {
	r, err := c.begin(ctx, "credentials", max(c.cfg.jobs/3, 1), "REALNAME_TENCENT_SECRET_KEY="+wrongSecretKey)
	defer r.close()
	if err == nil {
		err = r.wrongCredentials(ctx)
	}
	if err == nil {
		err = r.waitDone(ctx, c.drainTimeout(r.o.jobs))
	}
	r.finish(ctx, err)
	r.o.check(0)
	return r.o
}

// wrongCredentials waits until the wrong key's workers have paused the
// verification queues, checks the alarm and the refused calls, then
// replaces the workers with ones that have the right key and resumes the
// queues.
func (r *scenarioRun) wrongCredentials(ctx context.Context) error {
	o := r.o
	deadline := time.Now().Add(30 * time.Second)
	for !r.paused(ctx) {
		if time.Now().After(deadline) {
			o.failf("queues paused on wrong credentials: still not paused 30 s after the start; queues: %s", r.queues())
			break
		}
		if err := harness.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	pausedAt := time.Now()
	// Time for the calls already on their way to show.
	if err := harness.Sleep(ctx, time.Second); err != nil {
		return err
	}
	st, err := r.c.sb.Stats(ctx)
	if err != nil {
		return err
	}
	alarms := 0
	for _, w := range r.ws {
		harness.ScanLog(w.LogPath, func(line string) (string, bool) {
			if strings.Contains(line, credentialsAlarm) {
				alarms++
			}
			return "", false
		})
	}
	r.progressf("queues paused %s after the workers' start; %d calls refused, %d billed; %d alarm lines in the workers' logs",
		pausedAt.Sub(r.start).Round(100*time.Millisecond), st.Calls, st.Billed, alarms)
	if alarms == 0 {
		o.failf("alarm in the logs: no worker logged %q", credentialsAlarm)
	}
	if bound := int64(refusedPerWorker * len(r.ws)); st.Calls > bound || st.Billed > 0 {
		o.failf("a handful of refused calls: %d calls (%d billed) with wrong credentials, more than %d (%d a worker)", st.Calls, st.Billed, bound, refusedPerWorker)
	}

	// The fix: the right key (the harness's), then the operator's resume.
	r.stopWorkers()
	r.spec.Env = nil
	r.spec.Run = r.name() + "-fixed"
	if r.ws, _, err = r.c.StartWorkers(r.c.sb, r.spec); err != nil {
		return err
	}
	out, err := r.c.Realname(ctx, "queue", "resume")
	if err != nil {
		return err
	}
	for _, q := range task.VerifyQueues {
		if !strings.Contains(out, q+": resumed") {
			o.failf("realname queue resume: no %q in its output %q", q+": resumed", out)
		}
	}
	return nil
}

// paused reports whether asynq has every verification queue paused. It
// reads asynq's pause key itself: the inspector knows only the queues a
// task was ever enqueued to, and the signup queue has none here.
func (r *scenarioRun) paused(ctx context.Context) bool {
	for _, q := range task.VerifyQueues {
		if n, err := r.rdb.Exists(ctx, "asynq:{"+q+"}:paused").Result(); err != nil || n == 0 {
			return false
		}
	}
	return true
}
