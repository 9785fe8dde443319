package worker

import (
	"math/rand/v2"

	"context"
	"github.com/redis/go-redis/v9"
	"strconv"
	"strings"
	"time"
)

// Attempt counters: one Redis hash per job, counting provider calls and the
// calls that were sent without an answer (possibly billed). They outlive
// crashes and hand-overs between workers, so the stored result says how
// many calls its answer cost.

func (w *Worker) attemptsKey(jobID string) string { return "realname:attempts:" + jobID }

// countAttempt adds one call to the job's counter (or, with billed 1, one
// possibly billed call) and returns both counts. Counting is best effort: a
// Redis error must not stop a verification.
func (w *Worker) countAttempt(ctx context.Context, jobID string, billed int) (calls, possiblyBilled int) {
	key := w.attemptsKey(jobID)
	pipe := w.cfg.Redis.TxPipeline()
	field := "calls"
	if billed > 0 {
		field = "unknown"
	}
	pipe.HIncrBy(ctx, key, field, 1)
	pipe.Expire(ctx, key, attemptsRetention)
	all := pipe.HGetAll(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		w.log.Warn().Err(err).Msg("could not count attempt")
		return 1, billed
	}
	return parseAttempts(all.Val())
}

// attempts returns the job's counts without changing them.
func (w *Worker) attempts(ctx context.Context, jobID string) (calls, possiblyBilled int) {
	m, err := w.cfg.Redis.HGetAll(ctx, w.attemptsKey(jobID)).Result()
	if err != nil {
		return 0, 0
	}
	return parseAttempts(m)
}

func parseAttempts(m map[string]string) (calls, possiblyBilled int) {
	return atoi(m["calls"]), atoi(m["unknown"])
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// unlockScript deletes a job lock only if this run still holds it.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`)

// lockJob takes the job's provider-call lock for InflightTTL and returns
// its release; ok is false when another run holds it.
func (w *Worker) lockJob(ctx context.Context, jobID string) (release func(), ok bool, err error) {
	key := "realname:inflight:" + jobID
	token := strconv.FormatUint(rand.Uint64(), 36)
	ok, err = w.cfg.Redis.SetNX(ctx, key, token, w.cfg.InflightTTL).Result()
	if err != nil || !ok {
		return nil, false, err
	}
	return func() {
		// The result is stored by now; the lock must go even if the task's
		// context has ended.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = unlockScript.Run(ctx, w.cfg.Redis, []string{key}, token).Err()
	}, true, nil
}

func isAlreadyPaused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "already paused")
}

func isNotPaused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not paused")
}

// attemptsRetention is how long a job's call counts are kept: as long as
// an order number's claim, so the per-order cap holds across re-submissions.
const attemptsRetention = 30 * 24 * time.Hour
