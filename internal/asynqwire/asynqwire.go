// Package asynqwire writes tasks into asynq's Redis layout directly, so
// that an enqueue can share a pipeline with other commands: asynq's Client
// spends a round trip on each task.
//
// It runs the very script asynq's own Client runs (asynq v0.26.0,
// internal/rdb.enqueueCmd) on asynq's keys, with the task message encoded
// as asynq's TaskMessage protobuf. The layout is asynq's, pinned by go.mod;
// the tests of this package and producer's TestPipelinedTasksAreAsynqTasks
// check that asynq's Inspector reads such tasks, that its server runs them,
// and that its Client sees their IDs as taken, so an asynq upgrade that
// changed the layout fails there, not in production.
package asynqwire

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
)

// EnqueueScript is asynq v0.26.0's enqueueCmd, verbatim. KEYS: TaskKey,
// PendingKey. ARGV: the encoded message, the task ID, the time in Unix
// nanoseconds. It returns 1 for a new task and 0 when the ID is taken.
var EnqueueScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then
	return 0
end
redis.call("HSET", KEYS[1],
           "msg", ARGV[1],
           "state", "pending",
           "pending_since", ARGV[3])
redis.call("LPUSH", KEYS[2], ARGV[2])
return 1
`)

// TaskKey is the key of a task's hash (asynq's internal/base).
func TaskKey(queue, id string) string { return "asynq:{" + queue + "}:t:" + id }

// PendingKey is the key of a queue's pending list.
func PendingKey(queue string) string { return "asynq:{" + queue + "}:pending" }

// AllQueues is the set of every queue's name.
const AllQueues = "asynq:queues"

// DefaultTimeout is the timeout asynq's Client gives a task enqueued
// without a timeout or a deadline.
const DefaultTimeout = 30 * time.Minute

// Message is a task as asynq's TaskMessage encodes it, for a task without a
// deadline, group, headers or uniqueness lock: the fields asynq's Client
// sets for such a task.
type Message struct {
	Type    string
	Payload []byte
	ID      string
	Queue   string
	// Retry is the task's MaxRetry.
	Retry int
	// Timeout bounds one run; asynq's Client gives DefaultTimeout to a
	// task enqueued without one.
	Timeout time.Duration
	// Retention keeps the task once it is done.
	Retention time.Duration
}

// Encode returns the message as asynq's TaskMessage protobuf, with the
// field numbers of asynq's asynq.proto.
func (m Message) Encode() []byte {
	b := make([]byte, 0, len(m.Payload)+len(m.Type)+len(m.ID)+len(m.Queue)+32)
	b = protowire.AppendTag(b, 1, protowire.BytesType) // type
	b = protowire.AppendString(b, m.Type)
	b = protowire.AppendTag(b, 2, protowire.BytesType) // payload
	b = protowire.AppendBytes(b, m.Payload)
	b = protowire.AppendTag(b, 3, protowire.BytesType) // id
	b = protowire.AppendString(b, m.ID)
	b = protowire.AppendTag(b, 4, protowire.BytesType) // queue
	b = protowire.AppendString(b, m.Queue)
	if m.Retry != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType) // retry
		b = protowire.AppendVarint(b, uint64(int64(int32(m.Retry))))
	}
	if secs := int64(m.Timeout.Seconds()); secs != 0 {
		b = protowire.AppendTag(b, 8, protowire.VarintType) // timeout, seconds
		b = protowire.AppendVarint(b, uint64(secs))
	}
	if secs := int64(m.Retention.Seconds()); secs != 0 {
		b = protowire.AppendTag(b, 12, protowire.VarintType) // retention, seconds
		b = protowire.AppendVarint(b, uint64(secs))
	}
	return b
}

// QueueEnqueue queues the enqueue of m on pipe, with the queue's entry in
// AllQueues; after Exec the command answers 1 for a new task and 0 for a
// taken ID. A NOSCRIPT error means Redis's script cache was empty: load
// the script (EnqueueScript.Load) or enqueue through asynq's Client.
func QueueEnqueue(ctx context.Context, pipe redis.Pipeliner, m Message, now time.Time) *redis.Cmd {
	pipe.SAdd(ctx, AllQueues, m.Queue)
	return EnqueueScript.EvalSha(ctx, pipe, []string{TaskKey(m.Queue, m.ID), PendingKey(m.Queue)}, m.Encode(), m.ID, now.UnixNano())
}
