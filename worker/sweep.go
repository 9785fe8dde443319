package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
)

// Every accepted job gets exactly one final result and one event, also when
// asynq archives its task (invariant 4). The handler ends a job itself when
// its retries or its deadline run out, but asynq still archives a
// verification task in a few cases: an error the handler returned on the
// task's last retry (Redis failing at that moment), a lease that expired
// with no retry left, or an operator archiving it from the dashboard. Such
// a job would keep neither result nor event. Every ArchiveSweep, one worker
// answers every archived verification task: a job whose result is stored
// gets its event (once, by its task ID); one without gets an error result
// saying it was archived, and its event. Then the archived task is
// deleted: the result is the record, and the order number stays taken.

// sweepLockKey is the lock that lets one worker at a time sweep.
const sweepLockKey = "realname:sweep:archived"

// maxSweep bounds the tasks one pass answers.
const maxSweep = 1000

// sweepArchived answers archived verification tasks every ArchiveSweep
// until ctx ends.
func (w *Worker) sweepArchived(ctx context.Context) {
	t := time.NewTicker(w.cfg.ArchiveSweep)
	defer t.Stop()
	token := strconv.FormatUint(rand.Uint64(), 36)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := w.cfg.Redis.SetNX(ctx, sweepLockKey, token, w.cfg.ArchiveSweep).Result()
		if err != nil || !ok {
			continue
		}
		n, err := w.answerArchived(ctx)
		if n > 0 {
			w.log.Warn().Int("jobs", n).Msg("archived verification tasks answered with their results")
		}
		if err != nil && ctx.Err() == nil {
			w.log.Warn().Err(err).Msg("archive sweep incomplete: will try again")
		}
	}
}

// answerArchived answers up to maxSweep archived verification tasks and
// returns how many it answered.
func (w *Worker) answerArchived(ctx context.Context) (int, error) {
	total := 0
	for _, q := range task.VerifyQueues {
		for total < maxSweep {
			infos, err := w.inspector.ListArchivedTasks(q, asynq.PageSize(100))
			if err != nil {
				if errors.Is(err, asynq.ErrQueueNotFound) {
					break
				}
				return total, fmt.Errorf("list archived %s tasks: %w", q, err)
			}
			if len(infos) == 0 {
				break
			}
			for _, info := range infos {
				if err := w.answerArchivedTask(ctx, q, info); err != nil {
					return total, err
				}
				total++
			}
		}
	}
	return total, nil
}

// answerArchivedTask gives an archived verification task its final result
// (the stored one, or an error) and its event, then deletes it.
func (w *Worker) answerArchivedTask(ctx context.Context, queue string, info *asynq.TaskInfo) error {
	log := w.log.With().Str("job_id", info.ID).Str("queue", queue).Logger()
	v, err := w.cfg.Codec.Decode(info.ID, info.Payload)
	if err != nil {
		orderNo, _ := task.OrderNoOf(info.ID)
		v = task.Verification{OrderNo: orderNo}
	}
	res, err := w.cfg.Store.Get(ctx, info.ID)
	switch {
	case err == nil:
		k := keptFrom(v, res)
		if err := w.storeKept(ctx, &k, true); err != nil {
			return fmt.Errorf("announce archived job %s: %w", info.ID, err)
		}
	case errors.Is(err, store.ErrNotFound):
		calls, _ := w.attempts(ctx, info.ID)
		res := w.newResult(v, info.ID, calls)
		if len(calls.billedBy) > 0 {
			res.Provider = calls.billedBy[0]
		}
		res.Class = store.ClassError
		res.Error = fmt.Sprintf("archived by the queue after %d retries without a definitive answer", info.Retried)
		if err := w.finish(ctx, log, v, res, nil); err != nil {
			return fmt.Errorf("answer archived job %s: %w", info.ID, err)
		}
	default:
		return fmt.Errorf("look up result of archived job %s: %w", info.ID, err)
	}
	if err := w.inspector.DeleteTask(queue, info.ID); err != nil {
		return fmt.Errorf("delete answered archived task %s: %w", info.ID, err)
	}
	log.Info().Msg("archived task answered and deleted")
	return nil
}
