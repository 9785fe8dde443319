package worker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/task"
)

// Recovery in seconds. asynq gives a task back when its lease has been
// expired for 30s, on a pass once a minute: a job whose worker died comes
// back after one to two minutes. Two things of our own bring it back
// within about 15s:
//
//   - the job lock is short (InflightTTL, 10s) and refreshed while the run
//     holds it (lockKeeper), so a dead run's lock lapses in seconds while a
//     live run's call may take as long as it takes;
//   - every worker process looks for orphans every OrphanScan (2s): active
//     tasks whose lease no live asynq server has extended for OrphanAfter
//     (12s; asynq extends the leases of the tasks it runs every 5s), and
//     puts them back in their queue, as asynq does with the tasks it hands
//     back at shutdown. A crash does not count as a failure of the job: its
//     retries are not used up. A process acts only after its own Redis has
//     answered for OrphanAfter in a row, so that leases not extended while
//     Redis was away are not taken for dead workers'.

// leaseDuration is asynq's lease: a task's lease score is the Unix second
// its lease ends, set to now+30s at dequeue and at every extension.
const leaseDuration = 30 * time.Second

// refreshScript extends a job lock if this run still holds it.
var refreshScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0`)

// lockKeeper refreshes the job locks this process holds.
type lockKeeper struct {
	mu   sync.Mutex
	held map[string]string // lock key → token
}

func newLockKeeper() *lockKeeper { return &lockKeeper{held: make(map[string]string)} }

func (k *lockKeeper) hold(key, token string) {
	k.mu.Lock()
	k.held[key] = token
	k.mu.Unlock()
}

// holds reports whether a run of this process holds the lock key: a
// second run of the job here (its task handed out again after Redis lost
// the first dequeue) must not take it, whatever Redis says.
func (k *lockKeeper) holds(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.held[key]
	return ok
}

func (k *lockKeeper) drop(key string) {
	k.mu.Lock()
	delete(k.held, key)
	k.mu.Unlock()
}

// run refreshes every held lock to ttl every ttl/3, in one round trip,
// until ctx ends.
func (k *lockKeeper) run(ctx context.Context, rdb redis.UniversalClient, ttl time.Duration, log func(error)) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	ms := strconv.FormatInt(ttl.Milliseconds(), 10)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k.mu.Lock()
		if len(k.held) == 0 {
			k.mu.Unlock()
			continue
		}
		pipe := rdb.Pipeline()
		for key, token := range k.held {
			// EVAL, not EVALSHA: a NOSCRIPT inside a pipeline could not
			// be retried by itself.
			refreshScript.Eval(ctx, pipe, []string{key}, token, ms)
		}
		k.mu.Unlock()
		if _, err := pipe.Exec(ctx); err != nil && ctx.Err() == nil {
			log(err)
		}
	}
}

// requeueScript puts an orphaned active task back in its queue, as
// asynq's own requeue does, if its lease still ends no later than ARGV[2]
// (a live server may have extended it since it was listed). KEYS: the
// queue's active list, lease set, pending list and the task's hash.
var requeueScript = redis.NewScript(`
local lease = redis.call("ZSCORE", KEYS[2], ARGV[1])
if not lease or tonumber(lease) > tonumber(ARGV[2]) then return 0 end
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then
  redis.call("ZREM", KEYS[2], ARGV[1])
  return 0
end
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("RPUSH", KEYS[3], ARGV[1])
redis.call("HSET", KEYS[4], "state", "pending")
return 1`)

// recoverOrphans looks for orphaned tasks every OrphanScan until ctx ends.
func (w *Worker) recoverOrphans(ctx context.Context) {
	t := time.NewTicker(w.cfg.OrphanScan)
	defer t.Stop()
	healthySince := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := w.cfg.Redis.Ping(ctx).Err(); err != nil {
			healthySince = time.Now()
			continue
		}
		if time.Since(healthySince) < w.cfg.OrphanAfter {
			continue
		}
		n, err := w.requeueOrphans(ctx, time.Now())
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn().Err(err).Msg("orphan scan failed")
				healthySince = time.Now()
			}
			continue
		}
		if n > 0 {
			w.log.Warn().Int("tasks", n).Msg("tasks of a worker that stopped answering put back in their queues")
		}
	}
}

// requeueOrphans puts back every active task whose lease has not been
// extended for OrphanAfter, as of now, and returns how many.
func (w *Worker) requeueOrphans(ctx context.Context, now time.Time) (int, error) {
	// A lease extended at time e ends at e+30s: not extended since
	// now-OrphanAfter means it ends before now-OrphanAfter+30s.
	cutoff := strconv.FormatInt(now.Add(leaseDuration-w.cfg.OrphanAfter).Unix(), 10)
	total := 0
	for _, q := range []string{task.QueueSignup, task.QueueBulk, task.QueueWebhook} {
		prefix := "asynq:{" + q + "}:"
		ids, err := w.cfg.Redis.ZRangeByScore(ctx, prefix+"lease", &redis.ZRangeBy{Min: "-inf", Max: cutoff}).Result()
		if err != nil {
			return total, fmt.Errorf("list leases of %s: %w", q, err)
		}
		for _, id := range ids {
			n, err := requeueScript.Run(ctx, w.cfg.Redis,
				[]string{prefix + "active", prefix + "lease", prefix + "pending", prefix + "t:" + id}, id, cutoff).Int()
			if err != nil {
				return total, fmt.Errorf("requeue %s: %w", id, err)
			}
			if n == 1 {
				total++
				w.cfg.Metrics.OrphanRecovered(q)
			}
		}
	}
	return total, nil
}
