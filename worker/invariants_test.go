package worker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/demo"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/ratelimit"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// TestSameOrderNoOnce: an order number enqueued again, before, during or
// after its job runs, is reported as a duplicate and never paid twice.
func TestSameOrderNoOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 2})
	ctx := context.Background()
	e := b.stack.Entries[0]
	req := b.request(0, e)

	// Eight concurrent enqueues of one order: exactly one is new.
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job, err := b.prod.Enqueue(ctx, req, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if !job.Duplicate {
				fresh.Add(1)
			} else if job.State != "pending" || job.Queue != task.QueueSignup {
				t.Errorf("duplicate reported %+v, want the pending signup job", job)
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d enqueues created a job, want 1", fresh.Load())
	}
	// The same order as a bulk job, even with other data, is the same job.
	other := req
	other.Name = b.stack.Entries[1].Name
	job, err := b.prod.Enqueue(ctx, other, &producer.Opts{Priority: producer.Bulk})
	if err != nil || !job.Duplicate || job.Queue != task.QueueSignup {
		t.Fatalf("re-enqueue with other data: %+v, %v; want the first job", job, err)
	}

	b.startWorker(t, b.config(t, nil))
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := b.stack.Receiver.WaitFor(waitCtx, 1); err != nil {
		t.Fatal(err)
	}
	// After completion the task is gone; the stored result still makes a
	// new enqueue a duplicate.
	job, err = b.prod.Enqueue(ctx, req, nil)
	if err != nil || !job.Duplicate || job.State != "completed" {
		t.Fatalf("enqueue after completion: %+v, %v", job, err)
	}
	time.Sleep(500 * time.Millisecond) // let a wrongly enqueued job run
	if s := b.stack.Sandbox.Stats(); s.Calls != 1 || s.OrderNoReused != 0 {
		t.Fatalf("sandbox meter %+v: want exactly one call", s)
	}
	if s := b.stack.Receiver.Stats(); s.Unique != 1 || s.Duplicates != 0 {
		t.Fatalf("receiver %+v: want one event", s)
	}
}

// TestTransientFaults: with 30% of calls failing transiently, every job
// still ends with the right answer, and the calls are all accounted for.
func TestTransientFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 60, faults: sandbox.Faults{HTTP5xxRate: 0.15, CodeRate: 0.15, Codes: []int{5100, 6000, 6200}}})
	b.startWorker(t, b.config(t, nil))
	b.enqueueAll(t, producer.Signup)
	b.waitWebhooks(t, 60*time.Second)
	b.checkTruth(t)

	stats := b.stack.Sandbox.Stats()
	if stats.Billed != 60 || stats.OrderNoReused != 0 {
		t.Fatalf("sandbox meter %+v: want 60 billed, none twice", stats)
	}
	faulted := stats.Calls - stats.Billed
	if faulted < 60*15/100 {
		t.Fatalf("only %d faulted calls of %d: the faults were not injected", faulted, stats.Calls)
	}
	// Each job's stored attempts add up to what the provider saw.
	var attempts int64
	for _, e := range b.stack.Entries {
		res, err := b.store.GetByOrderNo(context.Background(), e.OrderNo)
		if err != nil {
			t.Fatal(err)
		}
		attempts += int64(res.Attempts)
	}
	if attempts != stats.Calls {
		t.Fatalf("results record %d attempts, the sandbox saw %d calls", attempts, stats.Calls)
	}
	t.Logf("%d calls for 60 jobs (%d faulted)", stats.Calls, faulted)
}

// TestTimeoutsArePossiblyBilled: a call that timed out after the provider
// billed it is retried with the same orderNo and recorded as possibly
// billed.
func TestTimeoutsArePossiblyBilled(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 24, faults: sandbox.Faults{TimeoutRate: 0.25, TimeoutHold: 2 * time.Second}})
	cfg := b.config(t, nil)
	provider, err := b.stack.Client(tencentv2.Config{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Provider = provider
	b.startWorker(t, cfg)
	b.enqueueAll(t, producer.Signup)
	b.waitWebhooks(t, 60*time.Second)
	b.checkTruth(t)
	var possiblyBilled int64
	for _, e := range b.stack.Entries {
		res, _ := b.store.GetByOrderNo(context.Background(), e.OrderNo)
		possiblyBilled += int64(res.PossiblyBilled)
	}
	stats := b.stack.Sandbox.Stats()
	if timeouts := stats.ByAnswer["timeout"]; timeouts == 0 || possiblyBilled != timeouts || stats.OrderNoReused != timeouts {
		t.Fatalf("sandbox held %d answers and saw %d orders billed twice; results record %d possibly billed calls",
			timeouts, stats.OrderNoReused, possiblyBilled)
	}
}

// TestWebhookRetriesNeverReverify: a receiver that fails its first three
// deliveries gets each event once in the end, and the verification runs
// once.
func TestWebhookRetriesNeverReverify(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 10, receiver: webhook.ReceiverConfig{FailFirst: 3}})
	b.startWorker(t, b.config(t, nil))
	b.enqueueAll(t, producer.Signup)
	b.waitWebhooks(t, 30*time.Second)
	b.checkTruth(t)
	if s := b.stack.Receiver.Stats(); s.Failed != 30 || s.Unique != 10 || s.Duplicates != 0 || s.Rejected != 0 {
		t.Fatalf("receiver %+v: want 30 failed, 10 unique, no duplicates", s)
	}
	if s := b.stack.Sandbox.Stats(); s.Calls != 10 {
		t.Fatalf("sandbox saw %d calls for 10 jobs: a webhook retry re-ran a verification", s.Calls)
	}
}

// TestExhaustedRetriesEndWithError: a job that never gets a definitive
// answer ends with an error result and its webhook, not in limbo: when its
// retries run out, or earlier when the per-order cap on calls is reached.
func TestExhaustedRetriesEndWithError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		cap      int
		attempts int
		reason   string
	}{
		// MaxRetry is 15 in setup: 16 attempts.
		{"retries run out", 100, 16, "last failure transient"},
		{"per-order cap", 5, 5, "attempt cap reached"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{n: 3, faults: sandbox.Faults{HTTP5xxRate: 1}})
			b.startWorker(t, b.config(t, func(c *worker.Config) {
				c.MaxAttemptsPerOrder = tc.cap
				// A provider failing every call would open its circuit and
				// the jobs would wait it out (TestOutageIsWaitedOut): keep
				// it closed, as for failures of single jobs.
				c.Router, c.Provider = b.router(t, c.Provider, 1000, 0), nil
			}))
			b.enqueueAll(t, producer.Signup)
			b.waitWebhooks(t, 60*time.Second)
			for _, e := range b.stack.Entries {
				res, err := b.store.GetByOrderNo(context.Background(), e.OrderNo)
				if err != nil {
					t.Fatal(err)
				}
				if res.Class != store.ClassError || res.Attempts != tc.attempts || !strings.Contains(res.Error, tc.reason) {
					t.Fatalf("result %+v: want class error after %d attempts (%s)", res, tc.attempts, tc.reason)
				}
			}
			if s := b.stack.Sandbox.Stats(); s.Calls != int64(3*tc.attempts) {
				t.Fatalf("%d provider calls, want %d", s.Calls, 3*tc.attempts)
			}
			b.checkLogs(t)
		})
	}
}

// TestSharedRateLimit: two workers, each allowed the whole limit locally,
// share one limit through Redis: the provider never sees more than the
// limit in any second.
func TestSharedRateLimit(t *testing.T) {
	t.Parallel()
	const limit = 20
	b := setup(t, setupOpts{n: 90})
	for range 2 {
		b.startWorker(t, b.config(t, func(c *worker.Config) {
			c.RateLimit = ratelimit.Config{Rate: limit, Burst: 1, LocalRate: limit}
		}))
	}
	start := time.Now()
	b.enqueueAll(t, producer.Bulk)
	b.waitWebhooks(t, 60*time.Second)
	elapsed := time.Since(start)
	b.checkTruth(t)
	stats := b.stack.Sandbox.Stats()
	// GCRA with burst 1 spaces calls 1/limit apart; a wall-clock second can
	// catch one more at its edge.
	if stats.MaxPerSecond > limit+1 {
		t.Fatalf("the sandbox saw %d calls in one second, limit %d (+1 tolerance)", stats.MaxPerSecond, limit)
	}
	// 90 calls at 20/s take at least 4.45 s; not starved: under 8 s.
	if elapsed < 4*time.Second || elapsed > 8*time.Second {
		t.Fatalf("90 calls at %d/s took %s", limit, elapsed)
	}
	t.Logf("max %d calls/s, %s for 90 jobs", stats.MaxPerSecond, elapsed)
}

// queueCounts sums the jobs still in the verification queues, by state.
func queueCounts(t *testing.T, in *asynq.Inspector) (waiting, archived int) {
	t.Helper()
	for _, q := range task.VerifyQueues {
		info, err := in.GetQueueInfo(q)
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				continue
			}
			t.Fatal(err)
		}
		waiting += info.Pending + info.Active + info.Scheduled + info.Retry
		archived += info.Archived
	}
	return waiting, archived
}

func (b *bundle) countResults(t *testing.T) int {
	t.Helper()
	n := 0
	for _, e := range b.stack.Entries {
		if _, err := b.store.GetByOrderNo(context.Background(), e.OrderNo); err == nil {
			n++
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	return n
}

// TestStopHandsBackJobs: a worker stopped mid-batch (what SIGTERM does)
// loses nothing: every job is answered or back in its queue, and a new
// worker answers the rest without paying twice.
func TestStopHandsBackJobs(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 60, faults: sandbox.Faults{Latency: sandbox.Latency{Kind: sandbox.LatencyFixed, Min: 50 * time.Millisecond}}})
	slow := func(c *worker.Config) { c.RateLimit = ratelimit.Config{Rate: 25, Burst: 1} }
	stop := b.startWorker(t, b.config(t, slow))
	b.enqueueAll(t, producer.Bulk)
	for b.countResults(t) < 15 {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	done := b.countResults(t)
	waiting, archived := queueCounts(t, in)
	if done+waiting != 60 || archived != 0 || done == 60 {
		t.Fatalf("after stop: %d answered + %d waiting (archived %d), want 60 in all and some waiting", done, waiting, archived)
	}
	t.Logf("stopped with %d answered, %d handed back", done, waiting)

	b.startWorker(t, b.config(t, nil))
	b.waitWebhooks(t, 60*time.Second)
	b.checkTruth(t)
	if s := b.stack.Sandbox.Stats(); s.OrderNoReused != 0 || s.Billed != 60 {
		t.Fatalf("sandbox meter %+v: want 60 billed, none twice", s)
	}
}

// waitPaused waits up to 10s for queue to be paused, and returns the
// inspector it used.
func (b *bundle) waitPaused(t *testing.T, queue string) *asynq.Inspector {
	t.Helper()
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := in.GetQueueInfo(queue)
		if err == nil && info.Paused {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s not paused after credentials errors: %+v, %v", queue, info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCredentialsPauseQueues: the provider refusing our credentials pauses
// the verification queues with an alarm; jobs wait, none fail or are paid;
// after the credentials are fixed and the queues resumed, all finish.
func TestCredentialsPauseQueues(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 20})
	bad, err := tencentv2.NewProvider(tencentv2.Config{SecretID: demo.SecretID, SecretKey: "wrong-key", Endpoint: b.stack.SandboxURL})
	if err != nil {
		t.Fatal(err)
	}
	stop := b.startWorker(t, b.config(t, func(c *worker.Config) { c.Provider = bad }))
	for i, e := range b.stack.Entries { // both queues, to see both paused
		if _, err := b.prod.Enqueue(context.Background(), b.request(i, e), &producer.Opts{Priority: producer.Priority(i % 2)}); err != nil {
			t.Fatal(err)
		}
	}

	in := b.waitPaused(t, task.QueueSignup)
	time.Sleep(500 * time.Millisecond)
	if info, err := in.GetQueueInfo(task.QueueBulk); err != nil || !info.Paused {
		t.Fatalf("bulk queue not paused: %+v, %v", info, err)
	}
	if !strings.Contains(b.logs.String(), "ALARM") {
		t.Fatal("no alarm logged")
	}
	stop()
	waiting, archived := queueCounts(t, in)
	if n := b.countResults(t); n != 0 || waiting != 20 || archived != 0 {
		t.Fatalf("while paused: %d results, %d waiting, %d archived; want 0, 20, 0", n, waiting, archived)
	}
	if s := b.stack.Sandbox.Stats(); s.Billed != 0 {
		t.Fatalf("%d calls billed with wrong credentials", s.Billed)
	}

	// The operator fixes the credentials and restarts the worker: nothing
	// moves until the queues are resumed.
	b.startWorker(t, b.config(t, nil))
	time.Sleep(500 * time.Millisecond)
	if n := b.countResults(t); n != 0 {
		t.Fatalf("%d jobs ran while the queues were paused", n)
	}
	for _, q := range task.VerifyQueues {
		if err := in.UnpauseQueue(q); err != nil {
			t.Fatal(err)
		}
	}
	b.waitWebhooks(t, 30*time.Second)
	b.checkTruth(t)
	if s := b.stack.Sandbox.Stats(); s.Billed != 20 || s.OrderNoReused != 0 {
		t.Fatalf("sandbox meter %+v: want 20 billed once", s)
	}
}

// TestInvalidRequestEnqueuesNothing: bad input is refused by the producer
// with an error naming the field, and nothing reaches the queue.
func TestInvalidRequestEnqueuesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 1})
	e := b.stack.Entries[0]
	cases := []struct {
		name  string
		edit  func(*producer.Request)
		field string
	}{
		{"bad check digit", func(r *producer.Request) { r.IDNumber = r.IDNumber[:17] + flip(r.IDNumber[17]) }, "idNumber"},
		{"empty name", func(r *producer.Request) { r.Name = "" }, "name"},
		{"card fails Luhn", func(r *producer.Request) {
			r.Kind = "bankcard3"
			r.BankCard = r.BankCard[:len(r.BankCard)-1] + flip(r.BankCard[len(r.BankCard)-1])
		}, "bankCardNumber"},
		{"mobile3 without phone", func(r *producer.Request) { r.Kind = "mobile3"; r.Phone = "" }, "phoneNumber"},
		{"unknown kind", func(r *producer.Request) { r.Kind = "face" }, "kind"},
		{"bad order number", func(r *producer.Request) { r.OrderNo = "has space" }, "orderNo"},
		{"bad callback", func(r *producer.Request) { r.CallbackURL = "ftp://x" }, "callbackUrl"},
	}
	for _, tc := range cases {
		req := b.request(0, e)
		tc.edit(&req)
		_, err := b.prod.Enqueue(context.Background(), req, nil)
		var fe *producer.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, producer.ErrInvalid) {
			t.Errorf("%s: err = %v, want a FieldError on %s", tc.name, err, tc.field)
		}
		if err != nil && (strings.Contains(err.Error(), e.IDNumber[:10]) || strings.Contains(err.Error(), e.Name)) {
			t.Errorf("%s: error leaks personal data: %v", tc.name, err)
		}
	}
	waiting, _ := queueCounts(t, asynq.NewInspectorFromRedisClient(b.rdb))
	if waiting != 0 {
		t.Fatalf("%d jobs enqueued from invalid requests", waiting)
	}
}

func flip(c byte) string {
	if c == '1' {
		return "2"
	}
	return "1"
}
