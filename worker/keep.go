package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
)

// A paid answer is never thrown away (invariant 1):
//
//   - A result that cannot be stored (Redis unreachable or restarting) is
//     written to the spool (Config.Spool: a local file, fsynced) and stored
//     again and again, with backoff, until Redis takes it. If the worker
//     stops or dies first, the spool keeps it: the next worker to start on
//     the host, or any running one within SpoolScan, stores it and sends
//     its event.
//   - Redis with appendfsync everysec loses up to a second of writes when
//     it dies. Every stored result stays in memory for RecentKeep; when a
//     worker sees Redis come back as a new process (its run_id changed),
//     it stores those results again (the first stored result wins, so this
//     changes nothing that survived), and no worker makes a provider call
//     for RestartSettle meanwhile: a job whose result was lost with Redis
//     finds it again instead of being bought twice.

// keptResult is what the spool holds for one result: the result (masked
// identity only, as stored) and what announcing it needs. No personal data.
type keptResult struct {
	Result      store.Result `json:"result"`
	Batch       string       `json:"batch,omitempty"`
	BatchSeq    int64        `json:"batchSeq,omitempty"`
	CallbackURL string       `json:"callbackUrl,omitempty"`
}

// verification returns the part of the job that announcing k needs.
func (k *keptResult) verification() task.Verification {
	return task.Verification{Kind: task.Kind(k.Result.Kind), Batch: k.Batch, BatchSeq: k.BatchSeq, CallbackURL: k.CallbackURL}
}

func keptFrom(v task.Verification, res *store.Result) keptResult {
	return keptResult{Result: *res, Batch: v.Batch, BatchSeq: v.BatchSeq, CallbackURL: v.CallbackURL}
}

// keep stores a result that could not be stored (first error err) until
// it is: it writes it to the spool, then tries again with backoff. When the
// worker stops first, the spool holds it and the job's task is handed back
// with the error: its next run, or whichever worker drains the spool,
// stores it.
func (w *Worker) keep(ctx context.Context, log zerolog.Logger, v task.Verification, res *store.Result, lk *jobLock, err error) error {
	k := keptFrom(v, res)
	spooled := false
	if w.cfg.Spool != nil {
		b, merr := json.Marshal(k)
		if merr == nil {
			merr = w.cfg.Spool.Put(res.JobID, b)
		}
		if merr != nil {
			log.Error().Err(merr).Msg("could not write the answer to the spool: it is kept in memory only")
		} else {
			spooled = true
		}
	}
	log.Warn().Err(err).Bool("spooled", spooled).Msg("result not stored: retrying until Redis takes it")
	stopping := w.stopping
	for attempt := 0; ; attempt++ {
		t := time.NewTimer(backoff(attempt, 50*time.Millisecond, w.cfg.StoreRetryCap))
		select {
		case <-t.C:
		case <-stopping:
			t.Stop()
			if spooled {
				return fmt.Errorf("worker stopping; result kept in the spool %s: %w", w.cfg.Spool.Path(), err)
			}
			// Without a spool, the answer lives as long as this run: keep
			// trying until the shutdown timeout ends the process.
			stopping = nil
		}
		err = w.storeAndAnnounce(ctx, log, v, res, lk)
		var ns *notStoredError
		if errors.As(err, &ns) {
			continue
		}
		if spooled {
			if derr := w.cfg.Spool.Delete(res.JobID); derr != nil {
				log.Warn().Err(derr).Msg("could not delete a stored answer from the spool: it will be stored again, changing nothing")
			}
		}
		log.Info().Int("attempts", attempt+2).Msg("kept result stored")
		return err
	}
}

// drainSpool stores the results left in other processes' spool files of
// the spool's directory (their owners gone) and enqueues their events,
// every SpoolScan until ctx ends, the first time at once.
func (w *Worker) drainSpool(ctx context.Context) {
	if w.cfg.Spool == nil {
		return
	}
	t := time.NewTicker(w.cfg.SpoolScan)
	defer t.Stop()
	for {
		n, err := w.cfg.Spool.Adopt(func(id string, value []byte) error {
			var k keptResult
			if err := json.Unmarshal(value, &k); err != nil {
				return fmt.Errorf("spooled result %s: %w", id, err)
			}
			return w.storeKept(ctx, &k, true)
		})
		if n > 0 {
			w.log.Warn().Int("results", n).Msg("results left in the spool by a worker that stopped: stored")
		}
		if err != nil && ctx.Err() == nil {
			w.log.Warn().Err(err).Msg("spool drain incomplete: will try again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// storeKept stores a kept result and counts it in its batch; with event,
// it also enqueues the result's event (through the webhooks queue: its
// job's run may have sent it already).
func (w *Worker) storeKept(ctx context.Context, k *keptResult, event bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res := &k.Result
	v := k.verification()
	if _, err := w.cfg.Store.Save(ctx, res); err != nil {
		return err
	}
	stored, err := w.cfg.Store.Get(ctx, res.JobID)
	if err != nil {
		return err
	}
	if v.Batch != "" {
		pipe := w.cfg.Redis.Pipeline()
		record := w.batches.QueueRecord(ctx, pipe, v.Batch, v.BatchSeq, stored.Class, stored.Cached, stored.PossiblyBilled)
		_, _ = pipe.Exec(ctx)
		completed, _, err := batch.RecordedCompleted(v.Batch, v.BatchSeq, record)
		if err != nil {
			return err
		}
		if completed {
			if err := w.announceBatch(ctx, w.log, v.Batch); err != nil {
				return err
			}
		}
	}
	if !event {
		return nil
	}
	wh, hook, err := w.webhookFor(v, stored)
	if err != nil || !hook {
		return err
	}
	return w.enqueueWebhook(ctx, w.log, wh, 0)
}

// recent holds the results this process stored in the last RecentKeep, to
// be stored again if Redis comes back without them.
type recent struct {
	mu      sync.Mutex
	entries []recentEntry
	byJob   map[string]*keptResult
}

type recentEntry struct {
	at time.Time
	k  *keptResult
}

// add records a stored result and forgets those older than keep.
func (r *recent) add(k keptResult, keep time.Duration) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byJob == nil {
		r.byJob = make(map[string]*keptResult)
	}
	i := 0
	for i < len(r.entries) && now.Sub(r.entries[i].at) > keep {
		if old := r.entries[i].k; r.byJob[old.Result.JobID] == old {
			delete(r.byJob, old.Result.JobID)
		}
		i++
	}
	r.entries = append(r.entries[i:], recentEntry{at: now, k: &k})
	r.byJob[k.Result.JobID] = &k
}

// all returns the results stored in the last keep.
func (r *recent) all(keep time.Duration) []keptResult {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []keptResult
	for _, e := range r.entries {
		if now.Sub(e.at) <= keep {
			out = append(out, *e.k)
		}
	}
	return out
}

// get returns the job's result if this process stored it in the last
// RecentKeep (or a little longer).
func (r *recent) get(jobID string) (keptResult, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.byJob[jobID]
	if !ok {
		return keptResult{}, false
	}
	return *k, true
}

// watchRestarts notices Redis coming back as a new process (its run_id
// changed): it holds provider calls for RestartSettle and stores this
// process's recent results again. It checks every second until ctx ends.
func (w *Worker) watchRestarts(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := ""
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		info, err := w.cfg.Redis.Info(ctx, "server").Result()
		if err != nil {
			continue
		}
		id := infoField(info, "run_id")
		if id == "" || id == last {
			continue
		}
		if last == "" {
			last = id
			continue
		}
		last = id
		w.settleUntil.Store(time.Now().Add(w.cfg.RestartSettle).UnixNano())
		kept := w.recent.all(w.cfg.RecentKeep)
		w.log.Warn().Int("results", len(kept)).Dur("calls_paused", w.cfg.RestartSettle).
			Msg("Redis restarted: storing the latest results again before new calls")
		for i := range kept {
			if err := w.storeKept(ctx, &kept[i], false); err != nil {
				w.log.Warn().Err(err).Str("job_id", kept[i].Result.JobID).Msg("could not store a recent result again")
			}
		}
	}
}

// settle waits while calls are held after a Redis restart, and reports
// whether it waited.
func (w *Worker) settle(ctx context.Context) (bool, error) {
	d := time.Until(time.Unix(0, w.settleUntil.Load()))
	if d <= 0 {
		return false, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// infoField returns a field of an INFO answer.
func infoField(info, name string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
