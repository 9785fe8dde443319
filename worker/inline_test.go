package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// webhookTask returns the state of the webhooks queue's task of entry i's
// event, or "" when there is none.
func (b *bundle) webhookTask(t *testing.T, i int) asynq.TaskState {
	t.Helper()
	id := task.WebhookID(task.JobID(identity.OrderNo(b.stack.Entries[i].OrderNo)))
	info, err := asynq.NewInspectorFromRedisClient(b.rdb).GetTaskInfo(task.QueueWebhook, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return 0
	case err != nil:
		t.Fatal(err)
	}
	return info.State
}

// TestWebhookInline: the events of signups and bulk jobs alike are
// delivered by the worker that stored their results, without a trip
// through the webhooks queue: no task of the queue exists for them.
func TestWebhookInline(t *testing.T) {
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
	for i := range b.stack.Entries {
		if st := b.webhookTask(t, i); st != 0 {
			t.Fatalf("entry %d: webhook task in state %v: want none after an inline delivery", i, st)
		}
	}
	if s := b.stack.Receiver.Stats(); s.Unique != n || s.Duplicates != 0 || s.Failed != 0 {
		t.Fatalf("receiver %+v: want %d events, no repeats", s, n)
	}
	b.checkTruth(t)
}

// TestWebhookInlineFailure: when the inline delivery fails, the event's
// task of the webhooks queue delivers it, once, and the job is not
// verified again.
func TestWebhookInlineFailure(t *testing.T) {
	t.Parallel()
	const n = 4
	b := setup(t, setupOpts{n: n, receiver: webhook.ReceiverConfig{FailFirst: 1}})
	b.startWorker(t, b.config(t, nil))
	b.enqueueAll(t, producer.Bulk)
	b.waitWebhooks(t, 30*time.Second)
	s := b.stack.Receiver.Stats()
	if s.Unique != n || s.Failed != n || s.Duplicates != 0 {
		t.Fatalf("receiver %+v: want each of %d events refused once inline, then delivered once by its task", s, n)
	}
	for i := range b.stack.Entries {
		for deadline := time.Now().Add(5 * time.Second); b.webhookTask(t, i) != asynq.TaskStateCompleted; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("entry %d: webhook task in state %v, want completed", i, b.webhookTask(t, i))
			}
		}
	}
	if st := b.stack.Sandbox.Stats(); st.Calls != n {
		t.Fatalf("sandbox saw %d calls for %d jobs: a failed delivery re-ran a verification", st.Calls, n)
	}
}

// TestWebhookInlineGone: a receiver answering 410 Gone to the inline
// delivery is asked once: the event's task is archived at once, replayable.
func TestWebhookInlineGone(t *testing.T) {
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

// TestRerunWithStoredResultSendsEvent: a job whose result was stored by a
// run that stopped before its event went out (a crash between the two)
// is the event's durable record: running it again calls no provider and
// sends the stored result's event, once, through the webhooks queue.
func TestRerunWithStoredResultSendsEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 1})
	ctx := context.Background()
	e := b.stack.Entries[0]
	jobID := task.JobID(identity.OrderNo(e.OrderNo))
	stored := &store.Result{JobID: jobID, OrderNo: e.OrderNo, Kind: "idcard", Class: "mismatch", Provider: "tencent-v2",
		Action: "idcard", AuthCode: "01", Attempts: 1, CompletedAt: time.Now()}
	if ok, err := b.store.Save(ctx, stored); err != nil || !ok {
		t.Fatalf("save: %v, %v", ok, err)
	}
	v := task.Verification{Kind: task.KindIDCard, OrderNo: identity.OrderNo(e.OrderNo), EnqueuedAt: time.Now()}
	v.Name, _ = identity.ParseName(e.Name)
	v.IDNumber, _ = identity.ParseIDNumber(e.IDNumber)
	tk, err := b.codec.NewVerifyTask(v, asynq.Queue(task.QueueSignup))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asynq.NewClientFromRedisClient(b.rdb).Enqueue(tk); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, b.config(t, nil))
	b.waitWebhooks(t, 20*time.Second)
	body := b.stack.Receiver.Events()[task.WebhookID(jobID)]
	var ev worker.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.Data.Class != "mismatch" || ev.Data.AuthCode != "01" {
		t.Fatalf("event %s (%v): want the stored result's", body, err)
	}
	// The event is received just before its task is marked done.
	for deadline := time.Now().Add(5 * time.Second); b.webhookTask(t, 0) != asynq.TaskStateCompleted; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("webhook task in state %v, want completed: a re-run sends through the queue", b.webhookTask(t, 0))
		}
	}
	if st := b.stack.Sandbox.Stats(); st.Calls != 0 {
		t.Fatalf("sandbox saw %d calls: a stored result was bought again", st.Calls)
	}
}

// TestWebhookAfterScriptFlush: the worker's scripts run inside pipelines
// and on their own; with Redis's script cache emptied, every job still
// gets its result and its event.
func TestWebhookAfterScriptFlush(t *testing.T) {
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
