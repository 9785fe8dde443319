package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// orphanAfter is the shortest orphan period a worker accepts: the tests
// wait it out.
const orphanAfter = 7 * time.Second

// TestOrphanRunsAgainInSeconds: a job left active by a worker that died
// (its lease not extended, its job lock left to lapse) runs again within
// seconds, not asynq's one to two minutes, and is verified once.
func TestOrphanRunsAgainInSeconds(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 1})
	ctx := context.Background()
	b.enqueueAll(t, producer.Bulk)
	e := b.stack.Entries[0]
	id := task.JobID(identity.OrderNo(e.OrderNo))
	// What a worker leaves when it dies mid-call: the task active with
	// the lease of its last extension, and its job lock.
	const q = "asynq:{" + task.QueueBulk + "}:"
	pipe := b.rdb.TxPipeline()
	pipe.LRem(ctx, q+"pending", 0, id)
	pipe.LPush(ctx, q+"active", id)
	pipe.HSet(ctx, q+"t:"+id, "state", "active")
	pipe.ZAdd(ctx, q+"lease", redis.Z{Score: float64(time.Now().Add(-time.Second).Unix()), Member: id})
	pipe.Set(ctx, "realname:inflight:"+id, "dead-run", 3*time.Second)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b.startWorker(t, b.config(t, func(c *worker.Config) {
		c.OrphanAfter, c.OrphanScan = orphanAfter, 200*time.Millisecond
	}))
	b.waitWebhooks(t, 20*time.Second)
	// The worker acts once Redis has answered it for orphanAfter.
	if took := time.Since(start); took > orphanAfter+4*time.Second {
		t.Fatalf("orphan answered after %s, want within about %s", took, orphanAfter)
	}
	b.checkTruth(t)
	if st := b.stack.Sandbox.Stats(); st.Calls != 1 {
		t.Fatalf("sandbox saw %d calls for one orphan", st.Calls)
	}
}

// TestLongCallIsNotAnOrphan: a call longer than the orphan period and
// than the lock's lifetime, on a live worker, keeps its task and its lock
// (refreshed): the job is verified once.
func TestLongCallIsNotAnOrphan(t *testing.T) {
	t.Parallel()
	lat, err := sandbox.ParseLatency("fixed:" + (orphanAfter + 3*time.Second).String())
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, setupOpts{n: 1, faults: sandbox.Faults{Latency: lat}})
	p, err := b.stack.Client(tencentv2.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, b.config(t, func(c *worker.Config) {
		c.Provider = p
		c.OrphanAfter, c.OrphanScan = orphanAfter, 200*time.Millisecond
		c.InflightTTL = 3 * time.Second // refreshed every second
	}))
	b.enqueueAll(t, producer.Bulk)
	lock := "realname:inflight:" + task.JobID(identity.OrderNo(b.stack.Entries[0].OrderNo))
	time.Sleep(orphanAfter)
	if n, err := b.rdb.Exists(context.Background(), lock).Result(); err != nil || n != 1 {
		t.Fatalf("job lock after %s of a call, lifetime 3s: exists %d (%v), want refreshed", orphanAfter, n, err)
	}
	b.waitWebhooks(t, 30*time.Second)
	if st := b.stack.Sandbox.Stats(); st.Calls != 1 {
		t.Fatalf("sandbox saw %d calls: a live worker's job was taken for an orphan, or its lock lapsed", st.Calls)
	}
}

// TestCallsCutAreReported: a call counted by a run that died before it
// settled (cut by a crash) is recorded as possibly billed when the job
// runs again: on its result, in its batch's count and in the metrics.
func TestCallsCutAreReported(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 2})
	ctx := context.Background()
	jobID := task.JobID(identity.OrderNo(b.stack.Entries[0].OrderNo))
	// What a run leaves when its worker dies during the call.
	if err := b.rdb.HSet(ctx, "realname:attempts:"+jobID, "calls", 1, "billed:"+tencentv2.Name, 1).Err(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	b.startWorker(t, b.config(t, func(c *worker.Config) { c.Metrics = worker.NewMetrics(reg) }))
	st := b.enqueueBatch(t, "cut", b.stack.Entries, "")
	if st.Enqueued != 2 {
		t.Fatalf("enqueued %+v", st)
	}
	status := b.waitBatch(t, "cut", 20*time.Second)
	res, err := b.store.Get(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if res.PossiblyBilled != 1 || res.Attempts != 2 {
		t.Fatalf("result %+v: want 2 attempts, 1 possibly billed (the cut call)", res)
	}
	if status.PossiblyBilled != 1 {
		t.Fatalf("batch %+v: want 1 possibly billed call", status)
	}
	if got := metricSum(t, reg, "realname_calls_cut_total", map[string]string{"provider": tencentv2.Name}); got != 1 {
		t.Fatalf("realname_calls_cut_total = %v, want 1", got)
	}
	other, err := b.store.GetByOrderNo(ctx, b.stack.Entries[1].OrderNo)
	if err != nil || other.PossiblyBilled != 0 || other.Attempts != 1 {
		t.Fatalf("the other job: %+v (%v): want 1 attempt, none possibly billed", other, err)
	}
}

// TestArchivedJobsAreAnswered: verification tasks that asynq archived (here
// archived by hand, as an operator or asynq's own recovery would) get their
// final result and their event: an error result for a job without one,
// the stored result's event for a job that has one. No provider call.
func TestArchivedJobsAreAnswered(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 3})
	ctx := context.Background()
	b.enqueueAll(t, producer.Signup)
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	stored := task.JobID(identity.OrderNo(b.stack.Entries[2].OrderNo))
	if _, err := b.store.Save(ctx, &store.Result{JobID: stored, OrderNo: b.stack.Entries[2].OrderNo, Kind: "bankcard3", Class: "match",
		Provider: tencentv2.Name, AuthCode: "00", Attempts: 1, CompletedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.stack.Entries {
		if err := in.ArchiveTask(task.QueueSignup, task.JobID(identity.OrderNo(e.OrderNo))); err != nil {
			t.Fatal(err)
		}
	}
	b.startWorker(t, b.config(t, func(c *worker.Config) { c.ArchiveSweep = 200 * time.Millisecond }))
	b.waitWebhooks(t, 20*time.Second)
	for i, e := range b.stack.Entries {
		res, err := b.store.GetByOrderNo(ctx, e.OrderNo)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 && (res.Class != store.ClassError || !strings.Contains(res.Error, "archived")) {
			t.Fatalf("%s: %+v, want an error result saying it was archived", e.OrderNo, res)
		}
		if i == 2 && res.Class != "match" {
			t.Fatalf("%s: %+v, want the stored result", e.OrderNo, res)
		}
	}
	if s := b.stack.Receiver.Stats(); s.Unique != 3 || s.Duplicates != 0 {
		t.Fatalf("receiver %+v: want one event per job", s)
	}
	if _, archived := queueCounts(t, in); archived != 0 {
		t.Fatalf("%d tasks still archived", archived)
	}
	if st := b.stack.Sandbox.Stats(); st.Calls != 0 {
		t.Fatalf("%d provider calls for archived jobs", st.Calls)
	}
}

// TestWrongKeysFailAtStart: a worker whose key ring lacks the key queued
// tasks are sealed under refuses to start, naming the key, instead of
// failing job after job.
func TestWrongKeysFailAtStart(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 2})
	b.enqueueAll(t, producer.Bulk)
	sealedWith := b.codec.Keys().Primary()
	other, _ := task.NewCodec(keyring.Ephemeral())
	w, err := worker.New(b.config(t, func(c *worker.Config) { c.Codec = other }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = w.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), sealedWith) || !strings.Contains(err.Error(), "REALNAME_ENCRYPTION_KEYS") {
		t.Fatalf("Run with the wrong keys: %v, want an error naming key %s", err, sealedWith)
	}
	if st := b.stack.Sandbox.Stats(); st.Calls != 0 {
		t.Fatalf("%d provider calls", st.Calls)
	}
}
