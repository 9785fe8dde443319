package worker

import (
	"math/rand/v2"
	"slices"

	"context"
	"strconv"
	"strings"
	"time"

	"github.com/realname-io/realname/internal/provider"
	"github.com/redis/go-redis/v9"
)

// Attempt counters: one Redis hash per job, counting provider calls, the
// calls that were sent without an answer (possibly billed), and per
// provider the calls that may have cost money ("billed:NAME"). They outlive
// crashes and hand-overs between workers, so the stored result says how
// many calls its answer cost, and a job that one provider may have billed
// is never sent to another.

func (w *Worker) attemptsKey(jobID string) string { return "realname:attempts:" + jobID }

// jobCalls is what the attempt counters say of a job.
type jobCalls struct {
	calls, possiblyBilled int
	// billedBy names the providers that may have billed the job, sorted.
	billedBy []string
}

const billedPrefix = "billed:"

func parseAttempts(m map[string]string) jobCalls {
	c := jobCalls{calls: atoi(m["calls"]), possiblyBilled: atoi(m["unknown"])}
	for f, v := range m {
		if name, ok := strings.CutPrefix(f, billedPrefix); ok && atoi(v) > 0 {
			c.billedBy = append(c.billedBy, name)
		}
	}
	slices.Sort(c.billedBy)
	return c
}

// countCall records, before it is made, a call of the job to the named
// provider: until the answer says otherwise, the provider may bill it, so
// a crash during the call leaves the job bound to that provider. Counting
// is best effort: a Redis error must not stop a verification.
func (w *Worker) countCall(ctx context.Context, jobID, providerName string) jobCalls {
	key := w.attemptsKey(jobID)
	pipe := w.cfg.Redis.TxPipeline()
	pipe.HIncrBy(ctx, key, "calls", 1)
	pipe.HIncrBy(ctx, key, billedPrefix+providerName, 1)
	pipe.Expire(ctx, key, attemptsRetention)
	all := pipe.HGetAll(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		w.log.Warn().Err(err).Msg("could not count attempt")
		return jobCalls{calls: 1, billedBy: []string{providerName}}
	}
	return parseAttempts(all.Val())
}

// uncountCall takes back a call counted by countCall that was not made;
// best effort.
func (w *Worker) uncountCall(ctx context.Context, jobID, providerName string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	key := w.attemptsKey(jobID)
	pipe := w.cfg.Redis.TxPipeline()
	pipe.HIncrBy(ctx, key, "calls", -1)
	pipe.HIncrBy(ctx, key, billedPrefix+providerName, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		w.log.Warn().Err(err).Msg("could not take back a call that was not made")
	}
}

// settleCall records what the answer said about billing: a call that
// cannot have been billed no longer binds the job to its provider; one sent
// without an answer counts as possibly billed.
func (w *Worker) settleCall(ctx context.Context, jobID, providerName string, billing provider.Billing, answered bool) jobCalls {
	key := w.attemptsKey(jobID)
	pipe := w.cfg.Redis.TxPipeline()
	switch {
	case billing == provider.NotBilled:
		pipe.HIncrBy(ctx, key, billedPrefix+providerName, -1)
	case !answered:
		pipe.HIncrBy(ctx, key, "unknown", 1)
	}
	all := pipe.HGetAll(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		w.log.Warn().Err(err).Msg("could not record the call's billing")
		return jobCalls{calls: 1, billedBy: []string{providerName}}
	}
	return parseAttempts(all.Val())
}

// attempts returns the job's counts without changing them.
func (w *Worker) attempts(ctx context.Context, jobID string) (jobCalls, error) {
	m, err := w.cfg.Redis.HGetAll(ctx, w.attemptsKey(jobID)).Result()
	if err != nil {
		return jobCalls{}, err
	}
	return parseAttempts(m), nil
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
