package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/task"
)

// The daily budget of provider calls. Days are counted in China Standard
// Time, the provider's billing day; a fixed zone needs no tzdata.
var cst = time.FixedZone("CST", 8*3600)

const budgetPausedKey = "realname:budget:paused" // hash: queue → day it was paused

func budgetKey(t time.Time) string { return "realname:budget:" + t.In(cst).Format("2006-01-02") }

// BudgetUsed returns the provider calls counted against today's budget.
func BudgetUsed(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	n, err := rdb.Get(ctx, budgetKey(time.Now())).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}

// spendBudget counts one call against today's budget. Over budget, it
// gives the call back, pauses the job's queue (bulk always, signup only
// with BudgetStopsSignup) with an alarm, and reports over; the job waits in
// its paused queue. A signup job over budget without BudgetStopsSignup is
// let through.
func (w *Worker) spendBudget(ctx context.Context, queue string, log zerolog.Logger) (over bool, err error) {
	if w.cfg.DailyBudget <= 0 {
		return false, nil
	}
	key := budgetKey(time.Now())
	pipe := w.cfg.Redis.TxPipeline()
	incr := pipe.Incr(ctx, key)
	pipe.Expire(ctx, key, 48*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("count budget: %w", err)
	}
	used := incr.Val()
	w.cfg.Metrics.SetBudget(used, w.cfg.DailyBudget)
	if used <= int64(w.cfg.DailyBudget) {
		if left := int64(w.cfg.DailyBudget) - used; left%1000 == 0 || left < 10 {
			log.Info().Int64("budget_left", left).Int("daily_budget", w.cfg.DailyBudget).Msg("daily budget")
		}
		return false, nil
	}
	if queue == task.QueueSignup && !w.cfg.BudgetStopsSignup {
		return false, nil
	}
	w.cfg.Redis.Decr(ctx, key)
	w.cfg.Metrics.SetBudget(used-1, w.cfg.DailyBudget)
	day := time.Now().In(cst).Format("2006-01-02")
	if err := w.inspector.PauseQueue(queue); err != nil && !isAlreadyPaused(err) {
		return true, fmt.Errorf("pause %s for the budget: %w", queue, err)
	} else if err == nil {
		w.cfg.Redis.HSet(ctx, budgetPausedKey, queue, day)
		log.Error().Bool("alarm", true).Str("queue", queue).Int("daily_budget", w.cfg.DailyBudget).Int64("budget_left", 0).
			Msg("ALARM: daily budget of provider calls reached; queue paused until tomorrow (CST)")
	}
	return true, nil
}

// refundBudget gives back one call counted by spendBudget that was not
// made; best effort.
func (w *Worker) refundBudget(ctx context.Context) {
	if w.cfg.DailyBudget <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.cfg.Redis.Decr(ctx, budgetKey(time.Now())).Err(); err != nil {
		w.log.Warn().Err(err).Msg("could not give back a budget unit of a call that was not made")
	}
}

// reportBudget sets the budget metrics from today's count: at startup and
// then every 30s (with the check for a new day), so that the gauges follow
// the other workers' calls and the reset at midnight (CST).
func (w *Worker) reportBudget(ctx context.Context) {
	if w.cfg.Metrics == nil {
		return
	}
	if w.cfg.DailyBudget <= 0 {
		w.cfg.Metrics.SetBudget(0, 0)
		return
	}
	if used, err := BudgetUsed(ctx, w.cfg.Redis); err == nil {
		w.cfg.Metrics.SetBudget(used, w.cfg.DailyBudget)
	}
}

// resumeAfterBudget unpauses, once a new day has begun, the queues the
// budget paused. It runs until ctx ends.
func (w *Worker) resumeAfterBudget(ctx context.Context) {
	if w.cfg.DailyBudget <= 0 {
		return
	}
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		today := time.Now().In(cst).Format("2006-01-02")
		paused, err := w.cfg.Redis.HGetAll(ctx, budgetPausedKey).Result()
		if err == nil {
			for queue, day := range paused {
				if day == today {
					continue
				}
				if err := w.inspector.UnpauseQueue(queue); err != nil && !isNotPaused(err) {
					w.log.Warn().Err(err).Str("queue", queue).Msg("could not resume queue after the budget day")
					continue
				}
				w.cfg.Redis.HDel(ctx, budgetPausedKey, queue)
				w.log.Info().Str("queue", queue).Msg("new budget day: queue resumed")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.reportBudget(ctx)
		}
	}
}
