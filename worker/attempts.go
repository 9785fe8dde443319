package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/store"
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
	// settled counts the calls whose run recorded how they ended: a call
	// counted but never settled was cut by its worker's death.
	settled int
	// billedBy names the providers that may have billed the job, sorted.
	billedBy []string
}

const billedPrefix = "billed:"

func parseAttempts(m map[string]string) jobCalls {
	c := jobCalls{calls: atoi(m["calls"]), possiblyBilled: atoi(m["unknown"]), settled: atoi(m["settled"])}
	for f, v := range m {
		if name, ok := strings.CutPrefix(f, billedPrefix); ok && atoi(v) > 0 {
			c.billedBy = append(c.billedBy, name)
		}
	}
	slices.Sort(c.billedBy)
	return c
}

// cut returns how many of the job's calls were counted but never settled:
// their runs died during the call (or between its answer and storing it).
// The provider may have billed them.
func (c jobCalls) cut() int { return max(0, c.calls-c.settled) }

// countCall records, before it is made, a call of the job to the named
// provider: until the answer says otherwise, the provider may bill it, so
// a crash during the call leaves the job bound to that provider. A call
// that could not be recorded is not made: nothing would stop a later run
// from paying a second provider for it. cut calls found by this run are
// recorded as possibly billed, and settled, in the same round trip.
func (w *Worker) countCall(ctx context.Context, jobID, providerName string, cut int) (jobCalls, error) {
	key := w.attemptsKey(jobID)
	pipe := w.cfg.Redis.TxPipeline()
	if cut > 0 {
		pipe.HIncrBy(ctx, key, "unknown", int64(cut))
		pipe.HIncrBy(ctx, key, "settled", int64(cut))
	}
	pipe.HIncrBy(ctx, key, "calls", 1)
	pipe.HIncrBy(ctx, key, billedPrefix+providerName, 1)
	pipe.Expire(ctx, key, attemptsRetention)
	all := pipe.HGetAll(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return jobCalls{}, fmt.Errorf("record the call before making it: %w", err)
	}
	return parseAttempts(all.Val()), nil
}

// decrScript takes one from each field ARGV of hash KEYS[1] that is above
// zero: a count taken back never goes below zero, even when Redis lost the
// write that counted it.
var decrScript = redis.NewScript(`
for i = 1, #ARGV do
  if tonumber(redis.call("HGET", KEYS[1], ARGV[i]) or "0") > 0 then
    redis.call("HINCRBY", KEYS[1], ARGV[i], -1)
  end
end
return 0`)

// callNotMade takes back what was counted for a call that was not made
// after all: its attempt (uncountCall) and its unit of the daily budget.
func (w *Worker) callNotMade(ctx context.Context, jobID, providerName string) {
	w.uncountCall(ctx, jobID, providerName)
	w.refundBudget(ctx)
}

// uncountCall takes back a call counted by countCall that was not made;
// best effort.
func (w *Worker) uncountCall(ctx context.Context, jobID, providerName string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := decrScript.Run(ctx, w.cfg.Redis, []string{w.attemptsKey(jobID)}, "calls", billedPrefix+providerName).Err(); err != nil {
		w.log.Warn().Err(err).Msg("could not take back a call that was not made")
	}
}

// settle records, in l's release, what the answer of a call counted by
// countCall said about billing: a call that cannot have been billed no
// longer binds the job to its provider; one sent without an answer counts
// as possibly billed. It returns the job's counts as they then stand. The
// write waits for the release, which is the run's last round trip: until
// then the job stays bound to the provider, which is the safe side.
func (l *jobLock) settle(counted jobCalls, providerName string, billing provider.Billing, answered bool) jobCalls {
	key := l.w.attemptsKey(l.jobID)
	notBilled, unknown := billing == provider.NotBilled, billing != provider.NotBilled && !answered
	if unknown {
		counted.possiblyBilled++
	}
	counted.settled++
	l.settleCmds = func(ctx context.Context, pipe redis.Pipeliner) {
		pipe.HIncrBy(ctx, key, "settled", 1)
		switch {
		case notBilled:
			decrScript.Eval(ctx, pipe, []string{key}, billedPrefix+providerName)
		case unknown:
			pipe.HIncrBy(ctx, key, "unknown", 1)
		}
	}
	return counted
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

// jobLock is a run's hold on a job's provider calls.
type jobLock struct {
	w          *Worker
	jobID, key string
	token      string
	settleCmds func(context.Context, redis.Pipeliner)
	released   bool
}

// lockedJob is what lockJob reads with the lock.
type lockedJob struct {
	calls jobCalls
	// batchState is the state of the job's batch, if it has one.
	batchState string
	// stored is the job's stored result, or nil; read only when the
	// store can join the round trip (storedRead is then true).
	stored     *store.Result
	storedRead bool
}

// lockJob takes the job's provider-call lock for InflightTTL and reads the
// job's calls, its batch's state and, when the result store is on the same
// Redis, its stored result, in one round trip; ok is false when another run
// holds the lock.
func (w *Worker) lockJob(ctx context.Context, jobID, batchName string) (l *jobLock, j lockedJob, ok bool, err error) {
	l = &jobLock{w: w, jobID: jobID, key: "realname:inflight:" + jobID, token: strconv.FormatUint(rand.Uint64(), 36)}
	if w.locks.holds(l.key) {
		return nil, j, false, nil
	}
	pipe := w.cfg.Redis.Pipeline()
	set := pipe.SetNX(ctx, l.key, l.token, w.cfg.InflightTTL)
	all := pipe.HGetAll(ctx, w.attemptsKey(jobID))
	var state *redis.StringCmd
	if batchName != "" {
		state = w.batches.QueueState(ctx, pipe, batchName)
	}
	var stored func() (*store.Result, error)
	if w.pipeStore != nil {
		stored = w.pipeStore.QueueGet(ctx, pipe, jobID)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, j, false, err
	}
	if !set.Val() {
		return nil, j, false, nil
	}
	w.locks.hold(l.key, l.token)
	fail := func(err error) (*jobLock, lockedJob, bool, error) {
		l.release(ctx)
		return nil, lockedJob{}, false, err
	}
	if state != nil {
		if j.batchState, err = batch.StateOf(state); err != nil {
			return fail(fmt.Errorf("batch state: %w", err))
		}
	}
	if stored != nil {
		j.storedRead = true
		if j.stored, err = stored(); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fail(fmt.Errorf("look up result: %w", err))
		}
	}
	j.calls = parseAttempts(all.Val())
	return l, j, true, nil
}

// queueRelease queues on pipe what release does, for a caller that ends
// the run's hold in a round trip with other writes; once that round trip
// has succeeded, the caller sets released, and release is a no-op.
func (l *jobLock) queueRelease(ctx context.Context, pipe redis.Pipeliner) *redis.Cmd {
	if l.settleCmds != nil {
		l.settleCmds(ctx, pipe)
	}
	return unlockScript.Eval(ctx, pipe, []string{l.key}, l.token)
}

// release records how the run's call settled, if it made one, and deletes
// the lock if the run still holds it, in one round trip. The result is
// stored by now: the lock must go even if the task's context has ended.
func (l *jobLock) release(ctx context.Context) {
	if l.released {
		return
	}
	l.released = true
	l.w.locks.drop(l.key)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	pipe := l.w.cfg.Redis.Pipeline()
	l.queueRelease(ctx, pipe)
	if _, err := pipe.Exec(ctx); err != nil {
		l.w.log.Warn().Err(err).Str("job_id", l.jobID).Msg("could not release the job lock (it expires by itself)")
	}
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
