package producer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/task"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func verifications(t *testing.T, n int) []task.Verification {
	t.Helper()
	var out []task.Verification
	for e := range sample.Generate(n, 11) {
		v, err := Validate(Request{Kind: KindIDCard, OrderNo: e.OrderNo, Name: e.Name, IDNumber: e.IDNumber})
		if err != nil {
			t.Fatal(err)
		}
		v.EnqueuedAt = time.UnixMilli(1700000000000)
		v.Batch, v.BatchSeq = "b", int64(len(out)+1)
		out = append(out, v)
	}
	return out
}

// TestPipelinedTasksAreAsynqTasks pins the pipelined writer to asynq's own
// layout: asynq's Inspector reads the tasks as its Client would have
// written them, its Client sees their IDs as taken, and its server runs
// them with the payload intact.
func TestPipelinedTasksAreAsynqTasks(t *testing.T) {
	db := redistest.New(t)
	rdb := db.Client(t)
	codec, _ := task.NewCodec(keyring.Ephemeral())
	c, err := New(Config{Redis: rdb, Codec: codec, MaxRetry: 7, Timeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	vs := verifications(t, 20)

	// One order enqueued first through the one-by-one path, as a signup.
	first := vs[0]
	if _, err := c.EnqueueVerification(ctx, first, Signup); err != nil {
		t.Fatal(err)
	}
	out, err := c.EnqueueMany(ctx, vs, Bulk)
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != Present {
		t.Fatalf("order enqueued before: outcome %v, want Present", out[0])
	}
	for i, o := range out[1:] {
		if o != Enqueued {
			t.Fatalf("row %d: outcome %v, want Enqueued", i+1, o)
		}
	}

	in := asynq.NewInspectorFromRedisClient(rdb)
	for _, v := range vs[1:] {
		info, err := in.GetTaskInfo(task.QueueBulk, task.JobID(v.OrderNo))
		if err != nil {
			t.Fatalf("asynq cannot read a pipelined task: %v", err)
		}
		got, err := codec.Decode(task.JobID(v.OrderNo), info.Payload)
		if err != nil || got != v {
			t.Fatalf("payload of %s: %+v, %v", v.OrderNo, got, err)
		}
		if info.Type != task.TaskType(v.Kind) || info.MaxRetry != 7 ||
			info.Timeout != 3*time.Minute || info.State != asynq.TaskStatePending || info.Queue != task.QueueBulk {
			t.Fatalf("task info %+v", info)
		}
	}
	qinfo, err := in.GetQueueInfo(task.QueueBulk)
	if err != nil || qinfo.Pending != 19 {
		t.Fatalf("queue info %+v, %v; want 19 pending", qinfo, err)
	}
	// asynq's Client sees the IDs as taken.
	ac := asynq.NewClientFromRedisClient(rdb)
	defer ac.Close()
	_, err = ac.Enqueue(asynq.NewTask(task.TaskType(vs[1].Kind), nil), asynq.TaskID(task.JobID(vs[1].OrderNo)), asynq.Queue(task.QueueBulk))
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("asynq Client enqueue of a pipelined ID: %v, want ErrTaskIDConflict", err)
	}
	// Enqueued again: all present, nothing new.
	out, err = c.EnqueueMany(ctx, vs, Bulk)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o != Present {
			t.Fatalf("second run, row %d: %v, want Present", i, o)
		}
	}

	// asynq's server runs them, payload intact.
	var mu sync.Mutex
	got := map[identity.OrderNo]task.Verification{}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 4, Queues: map[string]int{task.QueueBulk: 1, task.QueueSignup: 1},
		TaskCheckInterval: 50 * time.Millisecond, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(task.TaskType(task.KindIDCard), func(ctx context.Context, tk *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		v, err := codec.Decode(id, tk.Payload())
		if err != nil {
			return err
		}
		mu.Lock()
		got[v.OrderNo] = v
		mu.Unlock()
		return nil
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("asynq ran %d of 20 tasks", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, v := range vs {
		if got[v.OrderNo] != v {
			t.Fatalf("%s: ran %+v, want %+v", v.OrderNo, got[v.OrderNo], v)
		}
	}
}
