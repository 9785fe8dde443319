package asynqwire_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/asynqwire"
	"github.com/realname-io/realname/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestTasksAreAsynqTasks: a task written through the pipeline is one
// asynq reads, refuses to enqueue twice, runs with its payload, and keeps
// for its retention.
func TestTasksAreAsynqTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.New(t).Client(t)
	if err := asynqwire.EnqueueScript.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	m := asynqwire.Message{Type: "webhook:deliver", Payload: []byte(`{"id":"wh:1"}`), ID: "wh:1", Queue: "webhooks",
		Retry: 7, Timeout: asynqwire.DefaultTimeout, Retention: time.Hour}
	pipe := rdb.Pipeline()
	first := asynqwire.QueueEnqueue(ctx, pipe, m, time.Now())
	second := asynqwire.QueueEnqueue(ctx, pipe, m, time.Now())
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := first.Int(); err != nil || n != 1 {
		t.Fatalf("first enqueue: %d, %v; want 1", n, err)
	}
	if n, err := second.Int(); err != nil || n != 0 {
		t.Fatalf("second enqueue of the same ID: %d, %v; want 0", n, err)
	}

	in := asynq.NewInspectorFromRedisClient(rdb)
	info, err := in.GetTaskInfo("webhooks", "wh:1")
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != m.Type || string(info.Payload) != string(m.Payload) || info.MaxRetry != 7 || info.Timeout != asynqwire.DefaultTimeout ||
		info.Retention != time.Hour || info.State != asynq.TaskStatePending {
		t.Fatalf("asynq reads %+v", info)
	}
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask(m.Type, nil), asynq.TaskID("wh:1"), asynq.Queue("webhooks")); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("asynq's Client enqueued a taken ID: %v", err)
	}

	ran := make(chan string, 1)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 1, Queues: map[string]int{"webhooks": 1},
		TaskCheckInterval: 10 * time.Millisecond})
	mux := asynq.NewServeMux()
	mux.HandleFunc(m.Type, func(_ context.Context, tk *asynq.Task) error { ran <- string(tk.Payload()); return nil })
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	select {
	case p := <-ran:
		if p != string(m.Payload) {
			t.Fatalf("ran with payload %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("asynq's server did not run the task")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := in.GetTaskInfo("webhooks", "wh:1")
		if err == nil && info.State == asynq.TaskStateCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task was not kept for its retention: %+v, %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
