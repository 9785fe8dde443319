package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// TestSignupWebhookInline: a signup's event is delivered by the worker that
// stored its result, without a trip through the webhooks queue: its task is
// gone and the delivery recorded. Bulk events still go through the queue.
func TestSignupWebhookInline(t *testing.T) {
	t.Parallel()
	const n = 8
	b := setup(t, setupOpts{n: n})
	// Inline attempts get 5s here: on a loaded test machine a delivery
	// over loopback can take a while, and this test is about where the
	// event is sent from, not how fast.
	b.startWorker(t, b.config(t, func(c *worker.Config) { c.InlineWebhookTimeout = 5 * time.Second }))
	for i, e := range b.stack.Entries {
		p := producer.Signup
		if i%2 == 1 {
			p = producer.Bulk
		}
		if _, err := b.prod.Enqueue(context.Background(), b.request(i, e), &producer.Opts{Priority: p}); err != nil {
			t.Fatal(err)
		}
	}
	b.waitWebhooks(t, 30*time.Second)
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	for i, e := range b.stack.Entries {
		id := task.WebhookID(task.JobID(identity.OrderNo(e.OrderNo)))
		info, err := in.GetTaskInfo(task.QueueWebhook, id)
		delivered, _ := b.rdb.Exists(context.Background(), task.WebhookDeliveredKey(id)).Result()
		if i%2 == 0 {
			if !errors.Is(err, asynq.ErrTaskNotFound) || delivered != 1 {
				t.Fatalf("signup %s: task %+v (%v), delivered marker %d: want the task deleted after an inline delivery", e.OrderNo, info, err, delivered)
			}
		} else if err != nil || info.State != asynq.TaskStateCompleted || delivered != 0 {
			t.Fatalf("bulk %s: task %+v (%v), marker %d: want a completed task of the webhooks queue", e.OrderNo, info, err, delivered)
		}
	}
	if s := b.stack.Receiver.Stats(); s.Unique != n || s.Duplicates != 0 {
		t.Fatalf("receiver %+v: want %d events, no repeats", s, n)
	}
}

// TestSignupWebhookInlineFailure: when the inline delivery fails, the
// event's task delivers it on its schedule, once.
func TestSignupWebhookInlineFailure(t *testing.T) {
	t.Parallel()
	const n = 4
	b := setup(t, setupOpts{n: n, receiver: webhook.ReceiverConfig{FailFirst: 1}})
	b.startWorker(t, b.config(t, nil))
	b.enqueueAll(t, producer.Signup)
	b.waitWebhooks(t, 30*time.Second)
	s := b.stack.Receiver.Stats()
	if s.Unique != n || s.Failed != n || s.Duplicates != 0 {
		t.Fatalf("receiver %+v: want each of %d events refused once inline, then delivered once by its task", s, n)
	}
}

// TestInlineDeliveryRecordedSkipsTask: a task whose event was delivered
// inline, found by the webhooks queue before it could be deleted, sends
// nothing.
func TestInlineDeliveryRecordedSkipsTask(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 1})
	ctx := context.Background()
	id := "wh:vrf:recorded"
	if err := b.rdb.Set(ctx, task.WebhookDeliveredKey(id), 1, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	tk, err := task.NewWebhookTask(task.Webhook{ID: id, URL: b.stack.ReceiverURL, Body: []byte(`{"type":"verification.completed"}`), Inline: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asynq.NewClientFromRedisClient(b.rdb).Enqueue(tk, asynq.Retention(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, b.config(t, nil))
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := in.GetTaskInfo(task.QueueWebhook, id)
		if err == nil && info.State == asynq.TaskStateCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task not completed: %+v, %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := b.stack.Receiver.Stats(); s.Received != 0 {
		t.Fatalf("receiver %+v: the recorded delivery was sent again", s)
	}
}

// TestSignupWebhookInlineGone: a receiver answering 410 Gone to the inline
// delivery is asked once: the event's task is archived at once, replayable.
func TestSignupWebhookInlineGone(t *testing.T) {
	t.Parallel()
	const n = 3
	b := setup(t, setupOpts{n: n, receiver: webhook.ReceiverConfig{Status: func(string, int) int { return 410 }}})
	b.startWorker(t, b.config(t, nil))
	b.enqueueAll(t, producer.Signup)
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := in.GetQueueInfo(task.QueueWebhook)
		if err == nil && info.Archived == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks not archived after 410: %+v, %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // a scheduled task that was not archived would run now
	if s := b.stack.Receiver.Stats(); s.Failed != n {
		t.Fatalf("receiver %+v: want each event refused once", s)
	}
}

// TestBulkWebhookAfterScriptFlush: bulk events are enqueued by a script
// inside a pipeline; with Redis's script cache emptied, they still go out,
// through asynq's Client.
func TestBulkWebhookAfterScriptFlush(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 4})
	b.startWorker(t, b.config(t, nil))
	time.Sleep(100 * time.Millisecond) // the worker has loaded its scripts
	if err := b.rdb.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	b.enqueueAll(t, producer.Bulk)
	b.waitWebhooks(t, 30*time.Second)
	b.checkTruth(t)
}
