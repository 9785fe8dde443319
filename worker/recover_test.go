package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/sandbox"
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
