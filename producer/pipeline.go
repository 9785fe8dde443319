package producer

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/realname-io/realname/internal/task"
)

// Pipelined enqueue.
//
// asynq's Client enqueues one task per round trip, which caps bulk
// enqueue far below what Redis can take. EnqueueMany therefore writes a
// chunk's tasks in one pipeline, through the very script asynq's own
// Client runs (asynq v0.26.0, internal/rdb.enqueueCmd), with the task
// message encoded as asynq's TaskMessage protobuf. The layout is asynq's,
// pinned by go.mod; TestPipelinedTasksAreAsynqTasks checks that asynq's
// Inspector reads these tasks, that its server runs them, and that its
// Client sees their IDs as taken, so an asynq upgrade that changed the
// layout fails there, not in production.

// asynqEnqueueScript is asynq v0.26.0's enqueueCmd, verbatim.
var asynqEnqueueScript = redis.NewScript(`
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

// asynq's key layout (internal/base).
func asynqTaskKey(queue, id string) string { return "asynq:{" + queue + "}:t:" + id }
func asynqPendingKey(queue string) string  { return "asynq:{" + queue + "}:pending" }

const asynqAllQueues = "asynq:queues"

// asynqMessage encodes asynq's TaskMessage protobuf for a task without a
// deadline, group or uniqueness lock: the fields asynq's Client sets for
// such a task, with their field numbers from asynq's asynq.proto.
func asynqMessage(typ string, payload []byte, id, queue string, retry int, timeout time.Duration) []byte {
	b := make([]byte, 0, len(payload)+len(typ)+len(id)+len(queue)+24)
	b = protowire.AppendTag(b, 1, protowire.BytesType) // type
	b = protowire.AppendString(b, typ)
	b = protowire.AppendTag(b, 2, protowire.BytesType) // payload
	b = protowire.AppendBytes(b, payload)
	b = protowire.AppendTag(b, 3, protowire.BytesType) // id
	b = protowire.AppendString(b, id)
	b = protowire.AppendTag(b, 4, protowire.BytesType) // queue
	b = protowire.AppendString(b, queue)
	if retry != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType) // retry
		b = protowire.AppendVarint(b, uint64(int64(int32(retry))))
	}
	if secs := int64(timeout.Seconds()); secs != 0 {
		b = protowire.AppendTag(b, 8, protowire.VarintType) // timeout, seconds
		b = protowire.AppendVarint(b, uint64(secs))
	}
	return b
}

// pipelineEnqueue enqueues verifications into their queues in one
// pipeline and reports, for each, whether it was new (false: the task ID
// was taken).
func (c *Client) pipelineEnqueue(ctx context.Context, vs []task.Verification, queues []string) ([]bool, error) {
	now := time.Now().UnixNano()
	pipe := c.cfg.Redis.Pipeline()
	seen := map[string]bool{}
	for _, q := range queues {
		if !seen[q] {
			seen[q] = true
			pipe.SAdd(ctx, asynqAllQueues, q)
		}
	}
	cmds := make([]*redis.Cmd, len(vs))
	for i, v := range vs {
		payload, err := task.EncodeVerification(v)
		if err != nil {
			return nil, err
		}
		id := task.JobID(v.OrderNo)
		msg := asynqMessage(task.TaskType(v.Kind), payload, id, queues[i], c.cfg.MaxRetry, c.cfg.Timeout)
		cmds[i] = asynqEnqueueScript.EvalSha(ctx, pipe, []string{asynqTaskKey(queues[i], id), asynqPendingKey(queues[i])}, msg, id, now)
	}
	if _, err := pipe.Exec(ctx); err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return nil, fmt.Errorf("producer: enqueue: %w", err)
	}
	out := make([]bool, len(vs))
	for i := range vs {
		n, err := cmds[i].Int()
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			// The script cache was empty: Run loads the script for the
			// chunks to come.
			payload, _ := task.EncodeVerification(vs[i])
			id := task.JobID(vs[i].OrderNo)
			n, err = asynqEnqueueScript.Run(ctx, c.cfg.Redis, []string{asynqTaskKey(queues[i], id), asynqPendingKey(queues[i])},
				asynqMessage(task.TaskType(vs[i].Kind), payload, id, queues[i], c.cfg.MaxRetry, c.cfg.Timeout), id, now).Int()
		}
		if err != nil {
			return out[:i], fmt.Errorf("producer: enqueue order %s: %w", vs[i].OrderNo, err)
		}
		out[i] = n == 1
	}
	return out, nil
}
