package worker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// TestNoPersonalDataAtRest: after signups and a batch have run with
// transient faults and retries, events that failed once, jobs archived
// and answered by the sweep, and jobs still queued in a paused queue,
// every key of every type in Redis, its RDB file (uncompressed) and the
// worker's logs hold no name, ID number (either case of x), phone or
// card number of anyone: queued payloads hold them only sealed.
func TestNoPersonalDataAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := redistest.Start(ctx, redistest.Options{Dir: dir, Args: []string{"--rdbcompression", "no"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	const n = 40
	b := setup(t, setupOpts{n: n, rdb: rdb, faults: sandbox.Faults{HTTP5xxRate: 0.2, CodeRate: 0.1, Seed: 3},
		receiver: webhook.ReceiverConfig{FailFirst: 1}})
	in := asynq.NewInspectorFromRedisClient(rdb)

	// Jobs 0–9: a batch that stays queued (its queue paused).
	// Jobs 10–24: signups, two of them archived before any worker runs.
	// Jobs 25–39: bulk, run.
	held := b.stack.Entries[:10]
	if st := b.enqueueBatch(t, "held", held, ""); st.Enqueued != 10 {
		t.Fatalf("held batch: %+v", st)
	}
	if err := in.PauseQueue(task.QueueBulk); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < n; i++ {
		p := producer.Signup
		if i >= 25 {
			p = producer.Bulk
		}
		if _, err := b.prod.Enqueue(ctx, b.request(i, b.stack.Entries[i]), &producer.Opts{Priority: p}); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{11, 12} {
		if err := in.ArchiveTask(task.QueueSignup, task.JobID(identity.OrderNo(b.stack.Entries[i].OrderNo))); err != nil {
			t.Fatal(err)
		}
	}
	b.startWorker(t, b.config(t, func(c *worker.Config) { c.ArchiveSweep = 200 * time.Millisecond }))
	// Signups first, while bulk is paused; then only the last 15 bulk
	// jobs are let through: the held batch's stay queued.
	waitCount := func(want int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for b.stack.Receiver.Stats().Unique < want {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d events", b.stack.Receiver.Stats().Unique, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitCount(15)
	// The held jobs move to a queue nobody serves, still sealed as
	// enqueued: they rest there.
	for _, e := range held {
		id := task.JobID(identity.OrderNo(e.OrderNo))
		info, err := in.GetTaskInfo(task.QueueBulk, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.DeleteTask(task.QueueBulk, id); err != nil {
			t.Fatal(err)
		}
		if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask(info.Type, info.Payload), asynq.TaskID(id), asynq.Queue("parked")); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.UnpauseQueue(task.QueueBulk); err != nil {
		t.Fatal(err)
	}
	waitCount(30)
	time.Sleep(500 * time.Millisecond) // last webhook tasks marked done

	dump := dumpRedis(t, rdb)
	if !strings.Contains(dump, "parked") || !strings.Contains(dump, "sealed") {
		t.Fatal("the dump holds no parked, sealed task: it would prove nothing")
	}
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rdbFile, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"Redis keys": dump, "the RDB file": string(rdbFile), "the logs": b.logs.String()} {
		for _, e := range b.stack.Entries {
			for _, secret := range []string{e.Name, e.IDNumber, strings.ToLower(e.IDNumber), e.Phone, e.BankCard} {
				if secret != "" && strings.Contains(text, secret) {
					t.Fatalf("personal data of %s in %s", e.OrderNo, where)
				}
			}
		}
	}
}

// dumpRedis returns every key of the database and its value, whatever its
// type, as text.
func dumpRedis(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = rdb.Get(ctx, key).Result()
		case "hash":
			v, err = rdb.HGetAll(ctx, key).Result()
		case "list":
			v, err = rdb.LRange(ctx, key, 0, -1).Result()
		case "set":
			v, err = rdb.SMembers(ctx, key).Result()
		case "zset":
			v, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "stream":
			v, err = rdb.XRange(ctx, key, "-", "+").Result()
		default:
			t.Fatalf("key %s of type %s: not dumped", key, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s (%s): %v\n", key, typ, v)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}
