package producer

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/asynqwire"
	"github.com/realname-io/realname/internal/task"
)

// Pipelined enqueue: asynq's Client enqueues one task per round trip,
// which caps bulk enqueue far below what Redis can take. EnqueueMany
// therefore writes a chunk's tasks in one pipeline, in asynq's own layout
// (package asynqwire).

// asynqMessage encodes a verification task's message.
func asynqMessage(typ string, payload []byte, id, queue string, retry int, timeout time.Duration) []byte {
	return asynqwire.Message{Type: typ, Payload: payload, ID: id, Queue: queue, Retry: retry, Timeout: timeout}.Encode()
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
			pipe.SAdd(ctx, asynqwire.AllQueues, q)
		}
	}
	cmds := make([]*redis.Cmd, len(vs))
	payloads := make([][]byte, len(vs))
	for i, v := range vs {
		payload, err := c.cfg.Codec.Encode(v)
		if err != nil {
			return nil, err
		}
		payloads[i] = payload
		id := task.JobID(v.OrderNo)
		msg := asynqMessage(task.TaskType(v.Kind), payload, id, queues[i], c.cfg.MaxRetry, c.cfg.Timeout)
		cmds[i] = asynqwire.EnqueueScript.EvalSha(ctx, pipe, []string{asynqwire.TaskKey(queues[i], id), asynqwire.PendingKey(queues[i])}, msg, id, now)
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
			payload := payloads[i]
			id := task.JobID(vs[i].OrderNo)
			n, err = asynqwire.EnqueueScript.Run(ctx, c.cfg.Redis, []string{asynqwire.TaskKey(queues[i], id), asynqwire.PendingKey(queues[i])},
				asynqMessage(task.TaskType(vs[i].Kind), payload, id, queues[i], c.cfg.MaxRetry, c.cfg.Timeout), id, now).Int()
		}
		if err != nil {
			return out[:i], fmt.Errorf("producer: enqueue order %s: %w", vs[i].OrderNo, err)
		}
		out[i] = n == 1
	}
	return out, nil
}
