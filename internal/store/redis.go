package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a Redis store.
type RedisConfig struct {
	// Prefix starts every key. Defaults to "realname:".
	Prefix string
	// Retention is how long a result is kept. Defaults to 30 days; a
	// negative value keeps results until they are deleted.
	Retention time.Duration
}

// Redis is the Redis implementation of Store: one key per result holding its
// JSON, and one per order number pointing at the job.
type Redis struct {
	rdb       redis.UniversalClient
	prefix    string
	retention time.Duration
}

// NewRedis returns a Redis store on rdb.
func NewRedis(rdb redis.UniversalClient, cfg RedisConfig) (*Redis, error) {
	if rdb == nil {
		return nil, errors.New("store: nil redis client")
	}
	r := &Redis{rdb: rdb, prefix: cmp.Or(cfg.Prefix, "realname:"), retention: cfg.Retention}
	switch {
	case r.retention == 0:
		r.retention = 30 * 24 * time.Hour
	case r.retention < 0:
		r.retention = 0 // no expiry
	}
	return r, nil
}

func (r *Redis) resultKey(jobID string) string  { return r.prefix + "result:" + jobID }
func (r *Redis) orderKey(orderNo string) string { return r.prefix + "order:" + orderNo }

// saveScript stores the result and its order index only when no result is
// stored for the job: one round trip, atomic.
var saveScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ttl)
  redis.call("SET", KEYS[2], ARGV[2], "PX", ttl)
else
  redis.call("SET", KEYS[1], ARGV[1])
  redis.call("SET", KEYS[2], ARGV[2])
end
return 1`)

// Save implements Store.
func (r *Redis) Save(ctx context.Context, res *Result) (bool, error) {
	keys, args, err := r.saveArgs(res)
	if err != nil {
		return false, err
	}
	return saved(res.JobID, saveScript.Run(ctx, r.rdb, keys, args...))
}

// QueueSave implements PipelineStore.
func (r *Redis) QueueSave(ctx context.Context, pipe redis.Pipeliner, res *Result) func() (bool, error) {
	keys, args, err := r.saveArgs(res)
	if err != nil {
		return func() (bool, error) { return false, err }
	}
	// EVAL, not EVALSHA: inside a pipeline a NOSCRIPT could not be
	// retried by itself.
	cmd := saveScript.Eval(ctx, pipe, keys, args...)
	return func() (bool, error) { return saved(res.JobID, cmd) }
}

// saveArgs returns the keys and arguments of saveScript for res.
func (r *Redis) saveArgs(res *Result) (keys []string, args []any, err error) {
	if res.JobID == "" || res.OrderNo == "" {
		return nil, nil, errors.New("store: result needs a job ID and an order number")
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, nil, fmt.Errorf("store: encode result %s: %w", res.JobID, err)
	}
	return []string{r.resultKey(res.JobID), r.orderKey(res.OrderNo)}, []any{b, res.JobID, r.retention.Milliseconds()}, nil
}

// saved reads saveScript's answer.
func saved(jobID string, cmd *redis.Cmd) (bool, error) {
	n, err := cmd.Int()
	if err != nil {
		return false, fmt.Errorf("store: save result %s: %w", jobID, err)
	}
	return n == 1, nil
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, jobID string) (*Result, error) {
	return r.decode(jobID, r.rdb.Get(ctx, r.resultKey(jobID)))
}

// Client returns the Redis client the store keeps its results in.
func (r *Redis) Client() redis.UniversalClient { return r.rdb }

// QueueGet implements PipelineStore.
func (r *Redis) QueueGet(ctx context.Context, pipe redis.Pipeliner, jobID string) func() (*Result, error) {
	cmd := pipe.Get(ctx, r.resultKey(jobID))
	return func() (*Result, error) { return r.decode(jobID, cmd) }
}

func (r *Redis) decode(jobID string, cmd *redis.StringCmd) (*Result, error) {
	b, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get result %s: %w", jobID, err)
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("store: decode result %s: %w", jobID, err)
	}
	return &res, nil
}

// GetByOrderNo implements Store.
func (r *Redis) GetByOrderNo(ctx context.Context, orderNo string) (*Result, error) {
	jobID, err := r.rdb.Get(ctx, r.orderKey(orderNo)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: look up order %s: %w", orderNo, err)
	}
	return r.Get(ctx, jobID)
}
