package producer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
)

// FieldCallbackURL is the wire name of Request.CallbackURL, as a
// FieldError names it.
const FieldCallbackURL = "callbackUrl"

// ErrInvalid is matched (errors.Is) by every validation error of Enqueue.
var ErrInvalid = identity.ErrInvalid

// FieldError names the field that failed validation and why; use errors.As
// to get it from an Enqueue error.
type FieldError = identity.FieldError

// Result is the final answer to a job, with the identity masked.
type Result = store.Result

// CallbackPolicy says which callback URLs are accepted: its zero value
// takes absolute https URLs to public hosts, without user info or a
// fragment, of at most 2048 bytes. Allow (CIDRs) and AllowHosts (host
// names) admit, explicitly, non-public destinations such as loopback, and
// plain http to them.
type CallbackPolicy = webhook.URLPolicy

// CallbackURLError is why a CallbackPolicy refused a URL; an Enqueue error
// holds it as the Reason of a FieldError naming callbackUrl.
type CallbackURLError = webhook.URLError

// The kinds of verification.
const (
	KindIDCard    = string(task.KindIDCard)
	KindMobile3   = string(task.KindMobile3)
	KindBankCard3 = string(task.KindBankCard3)
	KindBankCard4 = string(task.KindBankCard4)
)

// Priority selects the queue of a job.
type Priority int

// Priorities. Signup jobs are served before bulk ones, so a draining batch
// does not delay a person waiting at a signup form.
const (
	// Signup is for a person waiting: the high-priority queue. The default.
	Signup Priority = iota
	// Bulk is for re-verification batches: the low-priority queue.
	Bulk
)

// Config configures a Client. Redis is required.
type Config struct {
	// Redis is the queue's Redis.
	Redis redis.UniversalClient
	// Codec seals the personal data of every task payload under the
	// encryption key ring (task.NewCodec). Required: personal data rests
	// in Redis only as ciphertext.
	Codec *task.Codec
	// Store is where results are looked up. Defaults to the Redis store on
	// Redis.
	Store store.Store
	// MaxRetry is how many times a job is retried after transient
	// failures before it ends with an error result. Defaults to 10.
	MaxRetry int
	// Timeout bounds one processing attempt of a job, waiting for a
	// rate-limit token included. Defaults to 10m.
	Timeout time.Duration
	// ClaimTTL is how long the queue an order number was first enqueued to
	// is remembered, so that a re-enqueue with another priority finds the
	// job. Defaults to 30 days; keep it at least as long as the result
	// retention.
	ClaimTTL time.Duration
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
	// CallbackPolicy is what a Request's CallbackURL must satisfy; it
	// should be the workers' (REALNAME_WEBHOOK_ALLOW), which deliver
	// under the same rules. The zero value: public https URLs only.
	CallbackPolicy CallbackPolicy
}

// Client enqueues verification jobs. It is safe for concurrent use.
type Client struct {
	cfg       Config
	asynq     *asynq.Client
	inspector *asynq.Inspector
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Redis == nil {
		return nil, errors.New("producer: Config.Redis is required")
	}
	if cfg.Codec == nil {
		return nil, errors.New("producer: Config.Codec is required: personal data rests in Redis only as ciphertext")
	}
	if cfg.Store == nil {
		s, err := store.NewRedis(cfg.Redis, store.RedisConfig{})
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		cfg.Store = s
	}
	cfg.MaxRetry = cmp.Or(cfg.MaxRetry, 10)
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Minute)
	cfg.ClaimTTL = cmp.Or(cfg.ClaimTTL, 30*24*time.Hour)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{
		cfg:       cfg,
		asynq:     asynq.NewClientFromRedisClient(cfg.Redis),
		inspector: asynq.NewInspectorFromRedisClient(cfg.Redis),
	}, nil
}

// Close releases the client's resources. It does not close Config.Redis.
func (c *Client) Close() error { return c.asynq.Close() }

// Request is one verification as a caller sends it: raw strings, validated
// and normalised by Enqueue.
type Request struct {
	// Kind is idcard, mobile3, bankcard3 or bankcard4.
	Kind string `json:"kind"`
	// OrderNo is the caller's serial number of this verification, 1–64
	// characters of [A-Za-z0-9_-.:]. Enqueueing it again returns the first
	// job: one order number is verified, and paid for, once.
	OrderNo string `json:"orderNo"`
	// Name is the person's name in Han characters (· for minority names).
	Name string `json:"name"`
	// IDNumber is the 18-character resident ID number.
	IDNumber string `json:"idNumber"`
	// Phone is a mainland mobile number (mobile3, bankcard4).
	Phone string `json:"phoneNumber,omitempty"`
	// BankCard is the bank card number (bankcard3, bankcard4).
	BankCard string `json:"bankCardNumber,omitempty"`
	// CallbackURL receives the result's webhook; empty means the workers'
	// default endpoint.
	CallbackURL string `json:"callbackUrl,omitempty"`
}

// Opts are per-call options of Enqueue; nil means the defaults.
type Opts struct {
	// Priority selects the queue. Defaults to Signup.
	Priority Priority
	// Batch names the bulk batch the job belongs to.
	Batch string
}

// Job describes an enqueued job.
type Job struct {
	// ID is the job's ID, derived from the order number.
	ID string `json:"id"`
	// OrderNo is the caller's order number.
	OrderNo string `json:"orderNo"`
	// Queue is the queue the job is in.
	Queue string `json:"queue,omitempty"`
	// State is pending, active, scheduled, retry, archived or completed.
	State string `json:"state"`
	// Duplicate is true when the order number was enqueued before: the job
	// described is that first one, and nothing new was enqueued.
	Duplicate bool `json:"duplicate"`
}

// Validate parses and normalises req into a task payload, holding its
// callback URL to the strict default CallbackPolicy. Every failure is a
// *FieldError naming the field; all failing fields are reported, joined.
func Validate(req Request) (task.Verification, error) {
	return validate(req, &CallbackPolicy{})
}

// Validate is the package's Validate with the Client's CallbackPolicy.
func (c *Client) Validate(req Request) (task.Verification, error) {
	return validate(req, &c.cfg.CallbackPolicy)
}

// CallbackPolicy returns the policy the Client holds callback URLs to, for
// whatever else accepts them alongside it (a batch's callback URL).
func (c *Client) CallbackPolicy() CallbackPolicy { return c.cfg.CallbackPolicy }

func validate(req Request, policy *CallbackPolicy) (task.Verification, error) {
	var errs []error
	v := task.Verification{CallbackURL: req.CallbackURL}
	var err error
	if v.Kind, err = task.ParseKind(req.Kind); err != nil {
		errs = append(errs, err)
	}
	if v.OrderNo, err = identity.ParseOrderNo(req.OrderNo); err != nil {
		errs = append(errs, err)
	}
	if v.Name, err = identity.ParseName(req.Name); err != nil {
		errs = append(errs, err)
	}
	if v.IDNumber, err = identity.ParseIDNumber(req.IDNumber); err != nil {
		errs = append(errs, err)
	}
	needPhone := v.Kind == task.KindMobile3 || v.Kind == task.KindBankCard4
	needCard := v.Kind == task.KindBankCard3 || v.Kind == task.KindBankCard4
	if needPhone || req.Phone != "" {
		if v.Phone, err = identity.ParsePhone(req.Phone); err != nil {
			errs = append(errs, err)
		}
	}
	if needCard || req.BankCard != "" {
		if v.BankCard, err = identity.ParseBankCard(req.BankCard); err != nil {
			errs = append(errs, err)
		}
	}
	if !needPhone {
		v.Phone = "" // not sent to the provider, so not kept either
	}
	if !needCard {
		v.BankCard = ""
	}
	if req.CallbackURL != "" {
		if err := policy.Check(req.CallbackURL); err != nil {
			reason := "is not an acceptable webhook URL"
			var ue *CallbackURLError
			if errors.As(err, &ue) {
				reason = ue.Reason
			}
			errs = append(errs, &FieldError{Field: FieldCallbackURL, Reason: reason})
		}
	}
	if len(errs) > 0 {
		return task.Verification{}, errors.Join(errs...)
	}
	return v, nil
}

// Enqueue validates req and enqueues its verification. Bad input returns an
// error naming the field, and nothing is enqueued. An order number seen
// before returns its first job with Duplicate set, whether that job is
// waiting, running or answered.
func (c *Client) Enqueue(ctx context.Context, req Request, opts *Opts) (*Job, error) {
	if opts == nil {
		opts = &Opts{}
	}
	v, err := c.Validate(req)
	if err != nil {
		return nil, err
	}
	v.Batch = opts.Batch
	v.EnqueuedAt = c.cfg.Now()
	return c.EnqueueVerification(ctx, v, opts.Priority)
}

// EnqueueVerification enqueues an already validated verification; it is
// Enqueue without the parsing, for callers that validated in bulk.
func (c *Client) EnqueueVerification(ctx context.Context, v task.Verification, p Priority) (*Job, error) {
	jobID := task.JobID(v.OrderNo)
	job := &Job{ID: jobID, OrderNo: string(v.OrderNo)}

	// Answered before: the task may be gone, the result is not.
	if _, err := c.cfg.Store.Get(ctx, jobID); err == nil {
		job.State, job.Duplicate = "completed", true
		return job, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("producer: look up order %s: %w", v.OrderNo, err)
	}

	queue := task.QueueSignup
	if p == Bulk {
		queue = task.QueueBulk
	}
	// asynq's task IDs are unique within a queue only: the claim makes an
	// order number go to one queue, whichever priority a later enqueue asks.
	queue, _, err := c.claim(ctx, v.OrderNo, queue)
	if err != nil {
		return nil, fmt.Errorf("producer: claim order %s: %w", v.OrderNo, err)
	}
	t, err := c.cfg.Codec.NewVerifyTask(v, asynq.Queue(queue), asynq.MaxRetry(c.cfg.MaxRetry), asynq.Timeout(c.cfg.Timeout))
	if err != nil {
		return nil, err
	}
	info, err := c.asynq.EnqueueContext(ctx, t)
	switch {
	case err == nil:
		job.Queue, job.State = info.Queue, info.State.String()
		return job, nil
	case errors.Is(err, asynq.ErrTaskIDConflict):
		job.Duplicate = true
		return c.describe(ctx, job)
	default:
		return nil, fmt.Errorf("producer: enqueue order %s: %w", v.OrderNo, err)
	}
}

// claimScript records the queue of an order number the first time it is
// enqueued and returns the recorded queue every time, with 1 when this call
// made the claim.
var claimScript = redis.NewScript(`
local q = redis.call("GET", KEYS[1])
if q then return {q, 0} end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return {ARGV[1], 1}`)

// claim returns the queue of orderNo: want, unless an earlier enqueue chose
// another; fresh is true when this call claimed it.
func (c *Client) claim(ctx context.Context, orderNo identity.OrderNo, want string) (queue string, fresh bool, err error) {
	v, err := claimScript.Run(ctx, c.cfg.Redis, []string{claimKey(orderNo)}, want, c.cfg.ClaimTTL.Milliseconds()).Slice()
	if err != nil {
		return "", false, err
	}
	return parseClaim(v)
}

func claimKey(orderNo identity.OrderNo) string { return "realname:claim:" + string(orderNo) }

func parseClaim(v []any) (string, bool, error) {
	if len(v) != 2 {
		return "", false, errors.New("unexpected claim reply")
	}
	q, _ := v[0].(string)
	n, _ := v[1].(int64)
	return q, n == 1, nil
}

// Outcome says what EnqueueMany did with one verification.
type Outcome int

// Outcomes of EnqueueMany.
const (
	// Enqueued: a new job.
	Enqueued Outcome = iota + 1
	// Present: the order number was enqueued before (its job is waiting,
	// running or answered); nothing new was enqueued.
	Present
)

// EnqueueMany enqueues validated verifications, as bulk re-verification
// does: the order-number claims of the whole slice go to Redis in one round
// trip, only order numbers seen before are looked up further, and the new
// tasks are written in one more (see pipeline.go). Call it from several
// goroutines for throughput. On error, the outcomes are unknown: a run
// again finds what was enqueued.
func (c *Client) EnqueueMany(ctx context.Context, vs []task.Verification, p Priority) ([]Outcome, error) {
	queue := task.QueueSignup
	if p == Bulk {
		queue = task.QueueBulk
	}
	pipe := c.cfg.Redis.Pipeline()
	cmds := make([]*redis.Cmd, len(vs))
	for i, v := range vs {
		cmds[i] = claimScript.EvalSha(ctx, pipe, []string{claimKey(v.OrderNo)}, queue, c.cfg.ClaimTTL.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return nil, fmt.Errorf("producer: claim orders: %w", err)
	}
	out := make([]Outcome, len(vs))
	var todo []int // indexes still to enqueue
	var queues []string
	for i, v := range vs {
		reply, err := cmds[i].Slice()
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			// The script cache was flushed: claim this one the slow way
			// (which loads the script for the rest).
			reply, err = claimScript.Run(ctx, c.cfg.Redis, []string{claimKey(v.OrderNo)}, queue, c.cfg.ClaimTTL.Milliseconds()).Slice()
		}
		if err != nil {
			return nil, fmt.Errorf("producer: claim order %s: %w", v.OrderNo, err)
		}
		q, fresh, err := parseClaim(reply)
		if err != nil {
			return nil, fmt.Errorf("producer: claim order %s: %w", v.OrderNo, err)
		}
		if !fresh {
			// Seen before: answered already, or still queued.
			if _, err := c.cfg.Store.Get(ctx, task.JobID(v.OrderNo)); err == nil {
				out[i] = Present
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("producer: look up order %s: %w", v.OrderNo, err)
			}
		}
		todo = append(todo, i)
		queues = append(queues, q)
	}
	batch := make([]task.Verification, len(todo))
	for j, i := range todo {
		batch[j] = vs[i]
	}
	created, err := c.pipelineEnqueue(ctx, batch, queues)
	for j, ok := range created {
		if ok {
			out[todo[j]] = Enqueued
		} else {
			out[todo[j]] = Present
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// describe fills in where an existing job is.
func (c *Client) describe(ctx context.Context, job *Job) (*Job, error) {
	for _, q := range task.VerifyQueues {
		if info, err := c.inspector.GetTaskInfo(q, job.ID); err == nil {
			job.Queue, job.State = info.Queue, info.State.String()
			return job, nil
		}
	}
	// Not in a queue any more: it completed between the two looks.
	if _, err := c.cfg.Store.Get(ctx, job.ID); err == nil {
		job.State = "completed"
		return job, nil
	}
	job.State = "unknown"
	return job, nil
}

// Result returns the final result of a job, or an error matching
// store.ErrNotFound (ErrNotFound) while it has none.
func (c *Client) Result(ctx context.Context, jobID string) (*Result, error) {
	return c.cfg.Store.Get(ctx, jobID)
}

// ResultByOrderNo returns the final result for an order number.
func (c *Client) ResultByOrderNo(ctx context.Context, orderNo string) (*Result, error) {
	return c.cfg.Store.GetByOrderNo(ctx, orderNo)
}

// ErrNotFound is returned by Result and ResultByOrderNo while a job has no
// final result.
var ErrNotFound = store.ErrNotFound
