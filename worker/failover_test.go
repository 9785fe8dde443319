package worker_test

import (
	"context"

	"github.com/hibiken/asynq"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/aliyun"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/provider/tencentv3"
	"github.com/realname-io/realname/internal/ratelimit"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// failoverConfig returns a worker configuration that sends every kind to
// Tencent v3 first and to Alibaba Cloud while v3's circuit is open.
func (b *bundle) failoverConfig(t *testing.T, primary provider.Provider, openFor time.Duration, mod func(*worker.Config)) worker.Config {
	t.Helper()
	if primary == nil {
		var err error
		if primary, err = b.stack.Provider(tencentv3.Name, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	secondary, err := b.stack.Provider(aliyun.Name, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	routes := map[provider.Kind]provider.Route{}
	for _, k := range provider.Kinds {
		routes[k] = provider.Route{Primary: primary, Secondary: secondary}
	}
	router, err := provider.NewRouter(provider.RouterConfig{Routes: routes, Failures: 3, OpenFor: openFor})
	if err != nil {
		t.Fatal(err)
	}
	return b.config(t, func(c *worker.Config) {
		c.Router, c.Provider = router, nil
		c.CircuitRetryDelay = 50 * time.Millisecond
		if mod != nil {
			mod(c)
		}
	})
}

// enqueueRange enqueues entries [from, to) as signup jobs.
func (b *bundle) enqueueRange(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := b.prod.Enqueue(context.Background(), b.request(i, b.stack.Entries[i]), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// waitN waits until n webhooks have arrived.
func (b *bundle) waitN(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := b.stack.Receiver.WaitFor(ctx, n); err != nil {
		t.Fatalf("webhooks: %d of %d: %v", b.stack.Receiver.Stats().Unique, n, err)
	}
}

// results returns the stored results of entries [from, to).
func (b *bundle) results(t *testing.T, from, to int) []*store.Result {
	t.Helper()
	var out []*store.Result
	for _, e := range b.stack.Entries[from:to] {
		res, err := b.store.GetByOrderNo(context.Background(), e.OrderNo)
		if err != nil {
			t.Fatalf("%s: %v", e.OrderNo, err)
		}
		out = append(out, res)
	}
	return out
}

// checkNoDoubleBill fails if the sandbox's meter saw an identity billed
// twice, by one provider or by two.
func (b *bundle) checkNoDoubleBill(t *testing.T) sandbox.Stats {
	t.Helper()
	stats := b.stack.Sandbox.Stats()
	if stats.BilledByMoreThanOneProvider != 0 {
		t.Fatalf("%d identities billed by two providers", stats.BilledByMoreThanOneProvider)
	}
	for name, p := range stats.Providers {
		if p.IdentityReused != 0 {
			t.Fatalf("%s billed %d identities twice", name, p.IdentityReused)
		}
	}
	return stats
}

// TestFailoverDuringOutage: while the primary is down its jobs are
// answered by the secondary; when it is back, jobs return to it; every job
// gets one correct result and one webhook, and no identity is billed by
// both.
func TestFailoverDuringOutage(t *testing.T) {
	t.Parallel()
	const n = 48
	b := setup(t, setupOpts{n: n})
	if err := b.stack.Sandbox.SetOutage(tencentv3.Name, true); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, b.failoverConfig(t, nil, 300*time.Millisecond, nil))

	b.enqueueRange(t, 0, n/2)
	b.waitN(t, n/2, 30*time.Second)
	for _, res := range b.results(t, 0, n/2) {
		if res.Provider != aliyun.Name {
			t.Fatalf("%s answered by %q during the primary's outage, want %s", res.OrderNo, res.Provider, aliyun.Name)
		}
	}
	if got := b.stack.Sandbox.Stats().Providers[tencentv3.Name].OutageRefused; got < 3 {
		t.Fatalf("the primary refused %d calls: the circuit opened without an outage", got)
	}

	if err := b.stack.Sandbox.SetOutage(tencentv3.Name, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // the circuit's trial call is due
	// One job: its call is the trial that closes the primary's circuit.
	b.enqueueRange(t, n/2, n/2+1)
	b.waitN(t, n/2+1, 30*time.Second)
	b.enqueueRange(t, n/2+1, n)
	b.waitWebhooks(t, 30*time.Second)
	b.checkTruth(t)
	for _, res := range b.results(t, n/2, n) {
		if res.Provider != tencentv3.Name {
			t.Fatalf("%s answered by %q after the primary recovered", res.OrderNo, res.Provider)
		}
	}
	stats := b.checkNoDoubleBill(t)
	if billed := stats.Providers[tencentv3.Name].Billed + stats.Providers[aliyun.Name].Billed; billed > n {
		t.Fatalf("%d calls billed for %d jobs", billed, n)
	}
	if s := b.stack.Receiver.Stats(); s.Duplicates != 0 || s.Unique != n {
		t.Fatalf("receiver %+v: want %d events, no duplicates", s, n)
	}
}

// TestPossiblyBilledStaysOnProvider: a job whose call to the primary may
// have been billed (sent, no answer) never moves to the secondary, even
// with the primary's circuit open; jobs that no provider billed do.
func TestPossiblyBilledStaysOnProvider(t *testing.T) {
	t.Parallel()
	const stuck, n = 3, 8
	b := setup(t, setupOpts{n: n, v3Faults: sandbox.Faults{TimeoutRate: 1, TimeoutHold: 5 * time.Second}})
	primary, err := b.stack.Provider(tencentv3.Name, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// The circuit opens after the first three timeouts and stays open;
	// the stuck jobs end at their deadline.
	cfg := b.failoverConfig(t, primary, time.Hour, func(c *worker.Config) { c.JobDeadline = 2 * time.Second })
	b.startWorker(t, cfg)
	b.enqueueRange(t, 0, stuck)
	deadline := time.Now().Add(10 * time.Second)
	for b.stack.Sandbox.Stats().Providers[tencentv3.Name].Calls < stuck && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the calls time out; the circuit opens
	b.enqueueRange(t, stuck, n)
	b.waitWebhooks(t, 30*time.Second)

	for _, res := range b.results(t, 0, stuck) {
		if res.Class != store.ClassError || res.Provider != tencentv3.Name || res.PossiblyBilled < 1 {
			t.Fatalf("stuck job %s: %+v, want an error result on %s, possibly billed", res.OrderNo, res, tencentv3.Name)
		}
	}
	for _, res := range b.results(t, stuck, n) {
		if res.Provider != aliyun.Name || res.Class == store.ClassError {
			t.Fatalf("job %s: %+v, want an answer from %s", res.OrderNo, res, aliyun.Name)
		}
	}
	stats := b.checkNoDoubleBill(t)
	if got := stats.Providers[aliyun.Name].Calls; got != n-stuck {
		t.Fatalf("the secondary saw %d calls, want %d: a possibly billed job moved", got, n-stuck)
	}
}

// TestCredentialsDoNotFailOver: a primary refusing our credentials pauses
// the queues; the secondary is never called, since a wrong key is the
// operator's to fix, not a reason to pay a second provider.
func TestCredentialsDoNotFailOver(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 8})
	bad, err := tencentv3.New(tencentv3.Config{SecretID: "AKIDnobody", SecretKey: "wrong", Endpoint: b.stack.BaseURL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, b.failoverConfig(t, bad, 50*time.Millisecond, nil))
	b.enqueueRange(t, 0, 8)
	b.waitPaused(t, task.QueueSignup)
	time.Sleep(500 * time.Millisecond) // time for a wrong failover to happen
	stats := b.stack.Sandbox.Stats()
	if stats.Providers[tencentv3.Name].Calls == 0 || stats.Providers[aliyun.Name].Calls != 0 || stats.Billed != 0 {
		t.Fatalf("sandbox %+v: want refused calls to the primary only", stats.Providers)
	}
	if !strings.Contains(b.logs.String(), "ALARM") {
		t.Fatal("no alarm logged")
	}
}

// TestQuotaPerAction: each provider action has a limit of its own, so a
// batch of one kind waiting on a low quota takes no tokens from another
// kind's signups.
func TestQuotaPerAction(t *testing.T) {
	t.Parallel()
	const slow, fast = 16, 16
	b := setup(t, setupOpts{n: slow + fast})
	cfg := b.failoverConfig(t, nil, time.Second, func(c *worker.Config) {
		c.Quotas = map[string]int{tencentv3.Name + "/" + tencentv3.ActionPhone: 4}
		c.RateLimit = ratelimit.Config{Burst: 1}
	})
	b.startWorker(t, cfg)
	ctx := context.Background()
	for i, e := range b.stack.Entries {
		req := b.request(i, e)
		opts := &producer.Opts{Priority: producer.Signup}
		if req.Kind = "idcard"; i < slow {
			req.Kind, opts.Priority = "mobile3", producer.Bulk
		}
		if _, err := b.prod.Enqueue(ctx, req, opts); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for i := slow; i < slow+fast; i++ {
		for {
			if _, err := b.store.GetByOrderNo(ctx, b.stack.Entries[i].OrderNo); err == nil {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("idcard signup %d has no result after 10s", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	took := time.Since(start)
	stats := b.stack.Sandbox.Stats().Providers[tencentv3.Name]
	// At 4/s, the mobile3 batch needs 4s, and 16 signups sharing its limit
	// would too; the idcard signups must not
	// wait for it.
	if got := stats.ByAction[tencentv3.ActionPhone]; got >= slow || took > 2*time.Second {
		t.Fatalf("idcard signups took %s, while %d of %d mobile3 calls were made: they waited on another action's quota", took, got, slow)
	}
	b.waitWebhooks(t, 20*time.Second)
	if p := b.stack.Sandbox.Stats().Providers[tencentv3.Name]; p.QuotaRefused != 0 || p.ByAction[tencentv3.ActionPhone] != slow {
		t.Fatalf("sandbox %+v: want %d mobile3 calls, none refused", p, slow)
	}
}

// TestUnknownQuotaRefused: a quota override for an action no provider has
// fails at start, naming it.
func TestUnknownQuotaRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 1})
	cfg := b.failoverConfig(t, nil, time.Second, func(c *worker.Config) {
		c.Quotas = map[string]int{"tencent-v3/IdCardVerify": 10}
	})
	if _, err := worker.New(cfg); err == nil || !strings.Contains(err.Error(), "tencent-v3/IdCardVerify") {
		t.Fatalf("err = %v, want the unknown action named", err)
	}
}

// TestNoRefusalsUnderStrictWindow: a batch draining at the provider's
// quota, enforced as a strict sliding one-second window, is never
// refused: the limiter spaces the calls with headroom.
func TestNoRefusalsUnderStrictWindow(t *testing.T) {
	t.Parallel()
	const n, quota = 120, 40
	b := setup(t, setupOpts{n: n, quotas: sandbox.Quotas{Enabled: true,
		Limits: map[string]map[string]int{tencentv3.Name: {tencentv3.ActionIDCard: quota}}}})
	primary, err := b.stack.Provider(tencentv3.Name, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	routes := map[provider.Kind]provider.Route{}
	for _, k := range provider.Kinds {
		routes[k] = provider.Route{Primary: primary}
	}
	router, err := provider.NewRouter(provider.RouterConfig{Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, b.config(t, func(c *worker.Config) {
		c.Router, c.Provider = router, nil
		c.Quotas = map[string]int{tencentv3.Name + "/" + tencentv3.ActionIDCard: quota}
		// A loaded test machine (two cores, the race detector, parallel
		// tests) delays a goroutine by tens of milliseconds, far more than
		// a production network's jitter that the default 1% is for.
		c.RateLimit = ratelimit.Config{Headroom: 0.05}
		c.BulkConcurrency = 0 // sized from the quota
	}))
	for i, e := range b.stack.Entries {
		req := b.request(i, e)
		req.Kind = "idcard"
		if _, err := b.prod.Enqueue(context.Background(), req, &producer.Opts{Priority: producer.Bulk}); err != nil {
			t.Fatal(err)
		}
	}
	b.waitWebhooks(t, 30*time.Second)
	p := b.stack.Sandbox.Stats().Providers[tencentv3.Name]
	if p.QuotaRefused != 0 || p.Calls != n {
		t.Fatalf("sandbox %+v: want %d calls, none refused", p, n)
	}
	if p.MaxPerSecond > quota {
		t.Fatalf("%d calls admitted within one second, quota %d", p.MaxPerSecond, quota)
	}
}

// router returns a router that sends every kind to p alone, its circuit
// opening after failures transient failures in a row for openFor (0: the
// default).
func (b *bundle) router(t *testing.T, p provider.Provider, failures uint32, openFor time.Duration) *provider.Router {
	t.Helper()
	routes := make(map[provider.Kind]provider.Route)
	for _, k := range provider.Kinds {
		routes[k] = provider.Route{Primary: p}
	}
	r, err := provider.NewRouter(provider.RouterConfig{Routes: routes, Failures: failures, OpenFor: openFor})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestOutageIsWaitedOut: with one provider and nowhere to fail over to, an
// outage opens its circuit and the jobs wait: the provider sees a few
// failures and one trial call per open period instead of every job's
// retries, no job spends its retries or ends in error, and all complete
// when it returns.
func TestOutageIsWaitedOut(t *testing.T) {
	t.Parallel()
	const n = 20
	b := setup(t, setupOpts{n: n})
	if err := b.stack.Sandbox.SetOutage(tencentv2.Name, true); err != nil {
		t.Fatal(err)
	}
	const openFor = 200 * time.Millisecond
	b.startWorker(t, b.config(t, func(c *worker.Config) {
		c.Router, c.Provider = b.router(t, c.Provider, 3, openFor), nil
	}))
	b.enqueueAll(t, producer.Bulk)
	const outage = 2 * time.Second
	time.Sleep(outage)
	refused := b.stack.Sandbox.Stats().Providers[tencentv2.Name].OutageRefused
	if err := b.stack.Sandbox.SetOutage(tencentv2.Name, false); err != nil {
		t.Fatal(err)
	}
	// The failures that open the circuit (a few more may be in flight),
	// then one trial per open period. Without the circuit, each of the n
	// jobs retries every 20–200ms: hundreds.
	if limit := int64(3 + n + int(outage/openFor) + 2); refused > limit || refused < 3 {
		t.Fatalf("the provider refused %d calls during a %s outage: want between 3 and %d", refused, outage, limit)
	}
	b.waitWebhooks(t, 30*time.Second)
	b.checkTruth(t) // every job answered for real, none with an error result
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	if _, archived := queueCounts(t, in); archived != 0 {
		t.Fatalf("%d jobs archived after an outage", archived)
	}
}
