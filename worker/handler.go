package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/provider"
	"github.com/redis/go-redis/v9"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/cache"
	"github.com/realname-io/realname/internal/metrics"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
)

// EventVerificationCompleted is the type of the event sent when a job has
// its final result.
const EventVerificationCompleted = "verification.completed"

// Event is the JSON body of a webhook. It carries what the receiver needs to
// act on a result and no personal data, not even masked.
type Event struct {
	// Type is EventVerificationCompleted.
	Type string `json:"type"`
	// Timestamp is when the event was created.
	Timestamp time.Time `json:"timestamp"`
	// Data is the result.
	Data EventData `json:"data"`
}

// EventData is the result part of an Event.
type EventData struct {
	JobID    string `json:"jobId"`
	OrderNo  string `json:"orderNo"`
	Kind     string `json:"kind"`
	Batch    string `json:"batch,omitempty"`
	Class    string `json:"class"`
	Provider string `json:"provider,omitempty"`
	// Action is the provider action that answered.
	Action string `json:"action,omitempty"`
	// Code is the provider's code when it is a number (a v2 gateway
	// code for a refusal), else 0.
	Code int `json:"code"`
	// AuthCode is the provider's own result code next to Class: v2's
	// authCode ("00"), v3's Result ("-1"), Alibaba Cloud's
	// BizCode/SubCode ("2/201"), or the code of a refusal.
	AuthCode string `json:"authCode,omitempty"`
	Message  string `json:"message,omitempty"`
	Error    string `json:"error,omitempty"`
	Attempts int    `json:"attempts"`
	// Cached is true when the answer came from the result cache.
	Cached bool `json:"cached,omitempty"`
	// CompletedAt is when the result was stored.
	CompletedAt time.Time `json:"completedAt"`
}

// handleVerify runs one verification job. It follows the data path of
// DESIGN.md: lock the job (reading its calls so far) → choose the provider →
// answered already? → count the call → wait for its slot → call → classify
// → store → webhook.
func (w *Worker) handleVerify(ctx context.Context, t *asynq.Task) error {
	jobID, _ := asynq.GetTaskID(ctx)
	log := w.log.With().Str("job_id", jobID).Str("task", t.Type()).Logger()
	v, err := w.cfg.Codec.Decode(jobID, t.Payload())
	if errors.Is(err, keyring.ErrUnknownKey) || errors.Is(err, keyring.ErrOpen) {
		// A key problem (a key dropped from the ring too early, or the
		// wrong key material), not the job's: it waits, and counts a
		// retry, for the operator to fix the ring. The queue's archive
		// sweep answers it if its retries run out.
		log.Error().Bool("alarm", true).Err(err).Msg("ALARM: cannot open the job's personal data: check REALNAME_ENCRYPTION_KEYS (`realname keys status`)")
		return &retryLater{delay: w.cfg.PausedRetryDelay, failure: true, reason: err.Error()}
	}
	if err != nil {
		// Nothing can run this job: answer it with an error rather than
		// leave it archived without a result.
		log.Error().Err(err).Msg("undecodable payload")
		orderNo, _ := task.OrderNoOf(jobID)
		res := &store.Result{JobID: jobID, OrderNo: string(orderNo), Class: store.ClassError, Error: err.Error(), CompletedAt: time.Now()}
		return w.finish(ctx, log, task.Verification{OrderNo: orderNo}, res, nil)
	}
	log = log.With().Str("order_no", string(v.OrderNo)).Str("kind", string(v.Kind)).Logger()

	// The same kind and identity answered within the cache period is
	// answered again without a call (and without a rate-limit token).
	if w.cfg.Cache != nil {
		e, ok, err := w.cfg.Cache.Get(ctx, v)
		w.cfg.Metrics.CacheLookup(ok)
		if err != nil {
			log.Warn().Err(err).Msg("result cache unavailable; calling the provider")
		} else if ok {
			log.Info().Str("class", e.Class).Msg("answered from the result cache")
			res := w.newResult(v, jobID, jobCalls{})
			res.Class, res.Provider, res.Action, res.AuthCode, res.Message, res.Cached = e.Class, e.Provider, e.Action, e.AuthCode, e.Message, true
			return w.finish(ctx, log, v, res, nil)
		}
	}

	if w.pastDeadline(v) {
		return w.finishError(ctx, log, v, jobID, nil, nil, "job deadline passed without a definitive answer")
	}

	// 1. One run of a job calls a provider at a time: asynq can hand a
	// task whose lease lapsed to a second worker while the first still
	// runs. The lock comes with the job's calls so far, its batch's state
	// and, with a store on the same Redis, its stored result.
	lk, locked, ok, err := w.lockJob(ctx, jobID, v.Batch)
	if err != nil {
		return fmt.Errorf("lock job: %w", err)
	}
	if !ok {
		return &retryLater{delay: time.Second, failure: false, reason: "another run of this job is calling the provider"}
	}
	defer lk.release(ctx)
	calls := locked.calls
	// A result stored already (a re-run after a crash, or a duplicate)
	// costs nothing: make sure its webhook exists and stop.
	if locked.stored != nil {
		log.Debug().Msg("result already stored")
		return w.announce(ctx, log, v, locked.stored, lk, nil)
	}
	// A job of a cancelled batch that has not reached the provider ends
	// here, without a call.
	if locked.batchState == batch.StateCancelled {
		res := w.newResult(v, jobID, jobCalls{})
		res.Class = batch.ClassCancelled
		res.Error = "batch cancelled before the provider was called"
		return w.finish(ctx, log, v, res, lk)
	}
	// A cap on calls per order number: a caller re-submitting an order
	// cannot run up a bill, whatever happens to its retries.
	if calls.calls >= w.cfg.MaxAttemptsPerOrder {
		return w.finishError(ctx, log, v, jobID, &calls, lk, fmt.Sprintf("attempt cap reached: %d provider calls for this order number", calls.calls))
	}

	// 2. Choose the provider: the kind's primary, its secondary while the
	// primary's circuit is open, and whichever may have billed the job
	// already, whatever the circuits say.
	call, err := w.pick(ctx, v, calls.billedBy)
	switch {
	case errors.Is(err, provider.ErrNotConfigured):
		return w.finishError(ctx, log, v, jobID, &calls, lk, err.Error())
	case err != nil && ctx.Err() == nil && w.pastDeadline(v):
		return w.finishError(ctx, log, v, jobID, &calls, lk, "job deadline passed while no provider could take it: "+err.Error())
	case err != nil && ctx.Err() == nil:
		log.Debug().Err(err).Msg("no provider can take the job now")
		return &retryLater{delay: w.cfg.CircuitRetryDelay, failure: false, reason: err.Error()}
	case err != nil:
		return err
	}
	defer call.Abandon() // a call not made says nothing of the provider
	p := call.Provider
	log = log.With().Str("provider", p.Name()).Logger()
	if call.Fallback {
		log.Info().Str("primary", w.router.Route(v.Kind).Primary.Name()).Msg("primary provider unavailable: failing over")
	}

	// 3. With a store on another Redis (or PostgreSQL), the stored-result
	// check is a read of its own.
	if !locked.storedRead {
		if res, err := w.cfg.Store.Get(ctx, jobID); err == nil {
			log.Debug().Msg("result already stored")
			return w.announce(ctx, log, v, res, lk, nil)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up result: %w", err)
		}
	}

	// The daily budget: over it, the job's queue pauses until tomorrow.
	queue, _ := asynq.GetQueueName(ctx)
	if over, err := w.spendBudget(ctx, queue, log); err != nil {
		return err
	} else if over {
		return &retryLater{delay: w.cfg.PausedRetryDelay, failure: false, reason: "daily budget of provider calls reached: queue paused"}
	}

	// 4. Count the call, so that a crash after sending still shows in the
	// job's attempts and keeps it on this provider; then wait for its slot
	// of the provider action's limit, the last thing before the call, so
	// that calls leave as evenly spaced as their slots. A stop while
	// waiting hands the job back, uncounted; it is not a failure.
	// A result this process stored moments ago and Redis lost with a
	// crash of its host is stored again, not bought again.
	if k, ok := w.recent.get(jobID); ok {
		log.Warn().Msg("result stored moments ago not found in Redis: storing it again")
		if err := w.storeKept(ctx, &k, false); err != nil {
			return err
		}
		res, err := w.cfg.Store.Get(ctx, jobID)
		if err != nil {
			return fmt.Errorf("look up result: %w", err)
		}
		return w.announce(ctx, log, v, res, lk, nil)
	}
	// After a Redis restart, the results of the last seconds are stored
	// again before any new call: this job's may be among them.
	if waited, err := w.settle(ctx); err != nil {
		return err
	} else if waited {
		if res, err := w.cfg.Store.Get(ctx, jobID); err == nil {
			log.Info().Msg("result stored again after a Redis restart")
			return w.announce(ctx, log, v, res, lk, nil)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up result: %w", err)
		}
	}
	cut := calls.cut()
	counted, err := w.countCall(ctx, jobID, p.Name(), cut)
	if err != nil {
		return err
	}
	if cut > 0 {
		// Its earlier runs died during their calls: the provider they were
		// bound to (this one) may have billed them.
		log.Warn().Int("calls_cut", cut).Msg("calls cut by a worker's crash recorded as possibly billed")
		w.cfg.Metrics.CallsCut(p.Name(), cut)
	}
	attempt := counted.calls
	waitCtx, cancel := w.untilStopping(ctx)
	waited, err := w.limits[limitKey(p, v.Kind)].wait(waitCtx, queue == task.QueueBulk)
	cancel()
	if err != nil {
		w.callNotMade(ctx, jobID, p.Name())
		if ctx.Err() == nil {
			return &retryLater{delay: 0, failure: false, reason: "worker stopping: handed back before the provider call"}
		}
		return fmt.Errorf("wait for a rate-limit slot: %w", err)
	}
	w.cfg.Metrics.RateLimitWait(queue, waited)
	if waited > time.Second {
		log.Debug().Dur("waited", waited).Msg("rate limited")
	}
	// While this job waited for its slot, the provider may have refused
	// our credentials or its circuit may have opened: a call now would
	// only be refused too. The job goes back, uncounted, without using a
	// retry.
	if reason := w.stopCalling(p.Name()); reason != "" {
		w.callNotMade(ctx, jobID, p.Name())
		return &retryLater{delay: w.cfg.CircuitRetryDelay, failure: false, reason: reason}
	}

	// 5. Call.
	req := v.Request()
	start := time.Now()
	answer, err := p.Verify(ctx, req)
	latency := time.Since(start)
	call.Done(err)
	billing := provider.BillingOf(err)
	if err == nil {
		billing = answer.Billing
	}
	calls = lk.settle(counted, p.Name(), billing, err == nil || billing != provider.PossiblyBilled)
	w.cfg.Metrics.ProviderCall(p.Name(), p.Action(v.Kind), latency, answer, err)

	// 6. Classify.
	if err == nil {
		log.Info().Str("class", string(answer.Class)).Str("code", answer.Code).Str("billing", answer.Billing.String()).
			Int("attempt", attempt).Dur("latency", latency).Msg("verified")
		res := w.newResult(v, jobID, calls)
		res.Provider, res.Action, res.AuthCode, res.Message = answer.Provider, answer.Action, answer.Code, answer.Message
		res.Class = string(answer.Class)
		if w.cfg.Cache != nil && answer.Class != provider.ClassBadRequest {
			e := cache.Entry{Class: res.Class, Provider: res.Provider, Action: res.Action, AuthCode: res.AuthCode, Message: res.Message, At: time.Now()}
			if err := w.cfg.Cache.Put(ctx, v, e); err != nil {
				log.Warn().Err(err).Msg("could not cache the answer")
			}
		}
		return w.finish(ctx, log, v, res, lk)
	}

	class := provider.ClassOf(err)
	ev := log.Warn().Err(err).Str("class", string(class)).Str("billing", billing.String()).Int("attempt", attempt).Dur("latency", latency)
	if class.Definitive() {
		// The provider refused the request for good (malformed, or an
		// answer such as "no record" that came as an error): final, and
		// retrying cannot change it.
		ev.Msg("provider gave a final refusal")
		res := w.newResult(v, jobID, calls)
		res.Provider, res.Action, res.Class = p.Name(), p.Action(v.Kind), string(class)
		var pe *provider.Error
		if errors.As(err, &pe) {
			res.AuthCode, res.Message = pe.Code, pe.Message
			res.Code, _ = strconv.Atoi(pe.Code)
		}
		return w.finish(ctx, log, v, res, lk)
	}

	switch class {
	case provider.ClassCredentials:
		ev.Msg("provider refused our credentials")
		w.credentialsRefused.Store(time.Now().UnixNano())
		w.pauseVerifyQueues(err)
		return &retryLater{delay: w.cfg.PausedRetryDelay, failure: false, reason: "provider refused credentials: queues paused"}

	case provider.ClassThrottled:
		ev.Msg("throttled by the provider")
		return &retryLater{delay: w.cfg.ThrottleDelay, failure: false, reason: "throttled by the provider"}
	}

	// Transient, replay (still failing after the client's immediate
	// re-signs) and unknown: retry with backoff until the budget or the
	// deadline runs out, then answer with an error.
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried >= maxRetry || w.pastDeadline(v) {
		ev.Msg("giving up")
		return w.finishError(ctx, log, v, jobID, &calls, lk, fmt.Sprintf("no definitive answer after %d attempts: last failure %s", attempt, class))
	}
	ev.Int("retried", retried).Msg("will retry")
	if class == provider.ClassReplay {
		return &retryLater{delay: 0, failure: true, reason: err.Error()}
	}
	return err
}

// credentialsHold is how long after the provider refused our credentials
// this worker makes no call: its queues are paused, and the jobs it had
// taken already go back instead of collecting the same refusal.
const credentialsHold = 30 * time.Second

// stopCalling says why a call to the named provider must not leave now,
// or "": the provider refused our credentials moments ago, or its circuit
// is open.
func (w *Worker) stopCalling(providerName string) string {
	if at := w.credentialsRefused.Load(); at != 0 && time.Since(time.Unix(0, at)) < credentialsHold {
		return "provider refused our credentials: queues paused"
	}
	if w.router.State(providerName) == "open" {
		return "provider's circuit opened while the job waited for its slot"
	}
	return ""
}

// circuitPoll is how often a job waiting for an open circuit asks again
// (plus up to as much jitter); the circuits are this process's, so asking
// costs no round trip.
const circuitPoll = 200 * time.Millisecond

// pick returns the call the router lets through for job v, waiting while
// the circuits allow none, for up to CircuitWait, the job's deadline or
// until the worker stops (then ErrUnavailable), or until ctx ends.
func (w *Worker) pick(ctx context.Context, v task.Verification, billedBy []string) (*provider.Call, error) {
	deadline := time.Now().Add(w.cfg.CircuitWait)
	if d := v.EnqueuedAt.Add(w.cfg.JobDeadline); !v.EnqueuedAt.IsZero() && d.Before(deadline) {
		deadline = d
	}
	for {
		call, err := w.router.Pick(v.Kind, billedBy)
		if !errors.Is(err, provider.ErrUnavailable) || time.Now().After(deadline) {
			return call, err
		}
		t := time.NewTimer(circuitPoll + rand.N(circuitPoll))
		select {
		case <-t.C:
		case <-w.stopping:
			t.Stop()
			return nil, err
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// finishError stores a final error result for a job.
// calls are the job's calls, read from Redis when nil; lk is the run's
// lock, if it holds one.
func (w *Worker) finishError(ctx context.Context, log zerolog.Logger, v task.Verification, jobID string, calls *jobCalls, lk *jobLock, reason string) error {
	if calls == nil {
		c, _ := w.attempts(ctx, jobID)
		calls = &c
	}
	res := w.newResult(v, jobID, *calls)
	if len(calls.billedBy) > 0 {
		// The provider that may have billed the job's calls.
		res.Provider = calls.billedBy[0]
	}
	res.Class = store.ClassError
	res.Error = reason
	return w.finish(ctx, log, v, res, lk)
}

// finish stores a job's final result and announces it (see announce). The
// store keeps the first result: if another run stored one first, that one
// is what the batch counts and the webhook carries. lk, the run's lock if
// it holds one, is released on the way. A result that cannot be stored
// now (Redis unreachable) is kept until it can be (see keep).
func (w *Worker) finish(ctx context.Context, log zerolog.Logger, v task.Verification, res *store.Result, lk *jobLock) error {
	res.CompletedAt = time.Now()
	err := w.storeAndAnnounce(ctx, log, v, res, lk)
	var ns *notStoredError
	if !errors.As(err, &ns) {
		return err
	}
	return w.keep(ctx, log, v, res, lk, err)
}

// storeAndAnnounce stores res and announces it, in one attempt. An error
// matching *notStoredError means the result is not stored.
func (w *Worker) storeAndAnnounce(ctx context.Context, log zerolog.Logger, v task.Verification, res *store.Result, lk *jobLock) error {
	// A stop must not lose an answer that was paid for: store it even if
	// the task's context ends now.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if w.pipeStore != nil {
		// The store shares the worker's Redis: the save joins the round
		// trip of the batch record and the lock's release.
		return w.announce(sctx, log, v, res, lk, w.pipeStore.QueueSave)
	}
	stored, err := w.cfg.Store.Save(sctx, res)
	if err != nil {
		return &notStoredError{err}
	}
	if stored {
		return w.announce(sctx, log, v, res, lk, alreadySaved)
	}
	if res, err = w.cfg.Store.Get(sctx, res.JobID); err != nil {
		return fmt.Errorf("read stored result: %w", err)
	}
	return w.announce(sctx, log, v, res, lk, nil)
}

// notStoredError is the error of a result that could not be stored.
type notStoredError struct{ err error }

func (e *notStoredError) Error() string { return "store result: " + e.err.Error() }
func (e *notStoredError) Unwrap() error { return e.err }

// queueSave queues the save of a result on a pipeline (a
// store.PipelineStore's QueueSave); alreadySaved stands for a save made
// before the pipeline.
type queueSave func(ctx context.Context, pipe redis.Pipeliner, res *store.Result) func() (bool, error)

// alreadySaved is the queueSave of a result this run has just stored.
func alreadySaved(context.Context, redis.Pipeliner, *store.Result) func() (bool, error) {
	return func() (bool, error) { return true, nil }
}

// announce tells the world a job has its result. One round trip saves the
// result (when save queues it; nil when the result was stored by another
// run), counts the job in its batch (once, however often this runs) and
// releases the run's lock (lk, if it holds one). Then the batch's
// completion event is enqueued when this job completed the batch, and the
// job's event is sent: by this run at once when it stored the result
// (deliver), else through the webhooks queue, once by its task ID. Jobs of
// a cancelled batch get no event of their own: the batch's event counts
// them.
func (w *Worker) announce(ctx context.Context, log zerolog.Logger, v task.Verification, res *store.Result, lk *jobLock, save queueSave) error {
	var saved func() (bool, error)
	var record, unlock *redis.Cmd
	if save != nil || v.Batch != "" || lk != nil {
		pipe := w.cfg.Redis.Pipeline()
		if save != nil {
			saved = save(ctx, pipe, res)
		}
		if v.Batch != "" {
			record = w.batches.QueueRecord(ctx, pipe, v.Batch, v.BatchSeq, res.Class, res.Cached, res.PossiblyBilled)
		}
		if lk != nil {
			unlock = lk.queueRelease(ctx, pipe)
		}
		_, _ = pipe.Exec(ctx) // each command's error is read below
		if unlock != nil && unlock.Err() == nil {
			lk.released = true // else the deferred release tries again
			w.locks.drop(lk.key)
		}
	}
	ours := false // this run stored the result
	if saved != nil {
		var err error
		if ours, err = saved(); err != nil {
			return &notStoredError{err}
		}
	}
	counted := res
	if save != nil && !ours {
		// Another run stored its result first: that one stands.
		stored, err := w.cfg.Store.Get(ctx, res.JobID)
		if err != nil {
			return fmt.Errorf("read stored result: %w", err)
		}
		res = stored
	} else if ours {
		// Counted here, once per job: a re-run finds the stored result
		// and announces it again, but stores nothing.
		w.cfg.Metrics.Verification(res.Kind, res.Class, res.Cached)
		w.recent.add(keptFrom(v, res), w.cfg.RecentKeep)
	}
	if record != nil {
		completed, countedNow, err := batch.RecordedCompleted(v.Batch, v.BatchSeq, record)
		if err != nil {
			return err
		}
		if countedNow && counted != res {
			// Counted with this run's answer in the round trip that
			// found another's stored: count the stored one instead.
			if err := w.batches.Reclass(ctx, v.Batch, counted.Class, counted.Cached, res.Class, res.Cached); err != nil {
				return err
			}
		}
		if completed {
			if err := w.announceBatch(ctx, log, v.Batch); err != nil {
				return err
			}
		}
	}
	wh, hook, err := w.webhookFor(v, res)
	if err != nil || !hook {
		return err
	}
	if ours && w.cfg.InlineWebhookTimeout > 0 {
		return w.deliver(ctx, log, wh)
	}
	// A re-run, or another run's result: the event may have gone out
	// already, or be on its way. Its task ID makes this a no-op then.
	return w.enqueueWebhook(ctx, log, wh, 0)
}

// announceBatch enqueues the batch.completed event of a batch that has just
// completed.
func (w *Worker) announceBatch(ctx context.Context, log zerolog.Logger, name string) error {
	return AnnounceBatch(ctx, w.client, w.batches, name, w.cfg.DefaultWebhookURL, w.cfg.WebhookSchedule, w.cfg.WebhookRetention, log)
}

// AnnounceBatch enqueues the batch.completed event of a completed batch to
// its callback URL, or defaultURL. Whoever completed the batch (a worker,
// or the enqueue command sealing a batch whose jobs were all done) calls
// it; the event's task ID makes a second call a no-op.
func AnnounceBatch(ctx context.Context, client *asynq.Client, batches *batch.Store, name, defaultURL string,
	sched webhook.Schedule, retention time.Duration, log zerolog.Logger) error {
	st, err := batches.Get(ctx, name)
	if err != nil {
		return err
	}
	log.Info().Str("batch", name).Int64("total", st.Total).Interface("by_class", st.ByClass).Msg("batch completed")
	url := st.CallbackURL
	if url == "" {
		url = defaultURL
	}
	if url == "" {
		return nil
	}
	if len(sched) == 0 {
		sched = webhook.DefaultSchedule
	}
	t, err := batch.CompletedTask(st, url, asynq.MaxRetry(sched.MaxRetry()), asynq.Retention(max(retention, time.Hour)))
	if err != nil {
		return err
	}
	if _, err := client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue batch event: %w", err)
	}
	return nil
}

// webhookFor returns the result's event; hook is false when the job gets
// none: webhooks are off, there is no URL, or the job is a cancelled
// batch's.
func (w *Worker) webhookFor(v task.Verification, res *store.Result) (wh task.Webhook, hook bool, err error) {
	url := v.CallbackURL
	if url == "" {
		url = w.cfg.DefaultWebhookURL
	}
	if w.cfg.Webhooks == nil || url == "" || res.Class == batch.ClassCancelled {
		return wh, false, nil
	}
	body, err := json.Marshal(Event{Type: EventVerificationCompleted, Timestamp: res.CompletedAt, Data: EventData{
		JobID: res.JobID, OrderNo: res.OrderNo, Kind: res.Kind, Batch: res.Batch, Class: res.Class,
		Provider: res.Provider, Action: res.Action, Code: res.Code, AuthCode: res.AuthCode, Message: res.Message, Error: res.Error,
		Attempts: res.Attempts, Cached: res.Cached, CompletedAt: res.CompletedAt,
	}})
	if err != nil {
		return wh, false, fmt.Errorf("encode event: %w", err)
	}
	return task.Webhook{ID: task.WebhookID(res.JobID), URL: url, Body: body}, true, nil
}

// deliver makes the first delivery of an event at once, from the run that
// stored its result, bounded by InlineWebhookTimeout: nobody waits for the
// webhooks queue, and a delivered event costs no task. Until this returns
// nil the job's own task is the event's durable record: a crash before
// then runs the job again, which finds the result stored and enqueues the
// event. A failed delivery becomes a task of the webhooks queue, retried
// on its schedule from the second attempt; a 410 Gone becomes an archived
// task at once, replayable. While a receiver keeps failing, its circuit
// opens and its events go straight to the queue, so that a dead receiver
// does not hold the verification pools.
func (w *Worker) deliver(ctx context.Context, log zerolog.Logger, wh task.Webhook) error {
	log = log.With().Str("webhook_id", wh.ID).Logger()
	done, ok := w.receivers.allow(wh.URL)
	if !ok {
		log.Debug().Msg("receiver failing: event sent through the webhooks queue")
		return w.enqueueWebhook(ctx, log, wh, 0)
	}
	dctx, cancel := context.WithTimeout(ctx, w.cfg.InlineWebhookTimeout)
	err := w.cfg.Webhooks.Deliver(dctx, wh.URL, wh.ID, wh.Body)
	cancel()
	done(err == nil)
	w.cfg.Metrics.WebhookDelivery(metrics.WebhookOutcomeOf(err))
	if err == nil {
		log.Info().Int("attempt", 1).Msg("webhook delivered")
		return nil
	}
	wh.Inline = true // its task's first run is the second attempt
	var de *webhook.DeliveryError
	if errors.As(err, &de) && de.Permanent() {
		// The receiver asked us to stop (410 Gone): archived now, as the
		// task would be, and replayable.
		log.Warn().Err(err).Int("attempt", 1).Msg("webhook refused for good; archived, replayable")
		if err := w.enqueueWebhook(ctx, log, wh, time.Hour); err != nil {
			return err
		}
		if aerr := w.inspector.ArchiveTask(task.QueueWebhook, wh.ID); aerr != nil {
			log.Warn().Err(aerr).Msg("could not archive the refused event's task; it will be refused again")
		}
		return nil
	}
	log.Warn().Err(err).Msg("first webhook delivery failed; the webhooks queue retries it")
	return w.enqueueWebhook(ctx, log, wh, w.cfg.WebhookSchedule.Delay(0, err, nil))
}

// enqueueWebhook enqueues an event's task through asynq's Client, due after
// delay. Its task ID is derived from the job, so a second call finds the
// first task (kept for WebhookRetention once delivered) and sends nothing
// more.
func (w *Worker) enqueueWebhook(ctx context.Context, log zerolog.Logger, wh task.Webhook, delay time.Duration) error {
	retries := w.cfg.WebhookSchedule.MaxRetry()
	if wh.Inline {
		retries-- // the inline delivery was the first attempt
	}
	opts := []asynq.Option{asynq.MaxRetry(max(retries, 0)), asynq.Retention(w.cfg.WebhookRetention)}
	if delay > 0 {
		opts = append(opts, asynq.ProcessIn(delay))
	}
	t, err := task.NewWebhookTask(wh, opts...)
	if err != nil {
		return err
	}
	_, err = w.client.EnqueueContext(ctx, t)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		log.Debug().Msg("webhook already enqueued")
		return nil
	case err != nil:
		return fmt.Errorf("enqueue webhook: %w", err)
	}
	return nil
}

// handleWebhook delivers one event. Failures retry on the webhooks queue's
// own schedule; a verification is never re-run for them.
func (w *Worker) handleWebhook(ctx context.Context, t *asynq.Task) error {
	wh, err := task.DecodeWebhook(t.Payload())
	if err != nil {
		w.log.Error().Err(err).Msg("undecodable webhook task")
		w.cfg.Metrics.WebhookDelivery(metrics.WebhookInvalid)
		return fmt.Errorf("%w: %w", asynq.SkipRetry, err)
	}
	log := w.log.With().Str("webhook_id", wh.ID).Logger()
	if w.cfg.Webhooks == nil {
		return &retryLater{delay: time.Minute, failure: false, reason: "webhooks are not configured on this worker"}
	}
	retried, _ := asynq.GetRetryCount(ctx)
	attempt := retried + 1
	if wh.Inline {
		attempt++ // the worker that stored the result made the first
	}
	err = w.cfg.Webhooks.Deliver(ctx, wh.URL, wh.ID, wh.Body)
	w.cfg.Metrics.WebhookDelivery(metrics.WebhookOutcomeOf(err))
	if err == nil {
		log.Info().Int("attempt", attempt).Msg("webhook delivered")
		return nil
	}
	var de *webhook.DeliveryError
	if errors.As(err, &de) && de.Permanent() {
		log.Warn().Err(err).Int("attempt", attempt).Msg("webhook refused for good; archived, replayable")
		return fmt.Errorf("%w: %w", asynq.SkipRetry, err)
	}
	log.Warn().Err(err).Int("attempt", attempt).Msg("webhook delivery failed")
	return err
}

func (w *Worker) newResult(v task.Verification, jobID string, calls jobCalls) *store.Result {
	return &store.Result{
		JobID: jobID, OrderNo: string(v.OrderNo), Kind: string(v.Kind), Batch: v.Batch,
		Attempts: calls.calls, PossiblyBilled: calls.possiblyBilled + calls.cut(),
		Identity: store.MaskedIdentity{
			Name: v.Name.Masked(), IDNumber: v.IDNumber.Masked(), Phone: v.Phone.Masked(), BankCard: v.BankCard.Masked(),
		},
		EnqueuedAt: v.EnqueuedAt,
	}
}

func (w *Worker) pastDeadline(v task.Verification) bool {
	return !v.EnqueuedAt.IsZero() && time.Since(v.EnqueuedAt) > w.cfg.JobDeadline
}

// untilStopping returns a context that also ends when the worker starts to
// stop.
func (w *Worker) untilStopping(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-w.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// pauseVerifyQueues pauses every queue of paid verifications and raises an
// alarm: with wrong credentials every call would fail, and failing a whole
// batch would only hide the cause. Jobs wait until `realname queue resume`.
func (w *Worker) pauseVerifyQueues(cause error) {
	for _, q := range task.VerifyQueues {
		err := w.inspector.PauseQueue(q)
		if err != nil && !isAlreadyPaused(err) {
			w.log.Error().Err(err).Str("queue", q).Msg("could not pause queue")
			continue
		}
		if err == nil {
			w.log.Error().Bool("alarm", true).Str("queue", q).Err(cause).
				Msg("ALARM: provider refused our credentials; queue paused, jobs kept. Fix the credentials, then run `realname queue resume`")
		}
	}
}
