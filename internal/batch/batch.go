// Package batch keeps the record of a bulk re-verification batch in Redis:
// how many rows were read, enqueued, already present and rejected, how many
// jobs are done and with which class, and whether the batch is open, sealed
// (every row read), cancelled or completed.
//
// Workers count each job once, whatever its retries and re-runs: a bitmap
// of the batch's job sequence numbers makes counting idempotent, and the
// update that brings the count to the total is the one, and only one, that
// completes the batch and sends its batch.completed event.
package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
)

// States of a batch.
const (
	// StateOpen: rows are still being enqueued.
	StateOpen = "open"
	// StateSealed: every row has been read; jobs are draining.
	StateSealed = "sealed"
	// StateCancelled: jobs not yet started are answered as cancelled.
	StateCancelled = "cancelled"
	// StateCompleted: every job has its result.
	StateCompleted = "completed"
)

// ClassCancelled is the result class of a job of a cancelled batch that
// never reached the provider.
const ClassCancelled = "cancelled"

// ErrNotFound is returned for a batch that does not exist.
var ErrNotFound = errors.New("batch: not found")

// ErrName is returned for a batch name that is empty or has characters
// outside [A-Za-z0-9_.:-], or is longer than 64.
var ErrName = errors.New("batch: name must be 1-64 characters of A-Z a-z 0-9 _ . : -")

// Status is a batch's record.
type Status struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	State string `json:"state"`
	// CallbackURL receives the batch.completed event; empty means the
	// workers' default endpoint.
	CallbackURL string `json:"callbackUrl,omitempty"`
	// Owner is the ID of the API key that created the batch through the
	// HTTP API; empty for a batch of the CLI or an admin key, which only
	// admins see. Other non-admin keys do not see the batch.
	Owner string `json:"owner,omitempty"`
	// Read counts rows read from input by the latest run, Rejected the
	// invalid ones, Present those whose order number was enqueued before
	// (by an earlier run or otherwise); Total counts the jobs this batch
	// enqueued over all runs.
	Read     int64 `json:"read"`
	Rejected int64 `json:"rejected"`
	Present  int64 `json:"present"`
	Total    int64 `json:"total"`
	// Done counts jobs with a final result, cancelled ones included.
	Done int64 `json:"done"`
	// ByClass counts done jobs by result class.
	ByClass map[string]int64 `json:"byClass"`
	// Cached counts results answered from the result cache.
	Cached int64 `json:"cached"`
	// PossiblyBilled counts provider calls of the batch's jobs that were
	// sent without an answer: timeouts, and calls cut by a worker's crash.
	// The provider may have billed them; finance reconciles them against
	// the invoice.
	PossiblyBilled int64     `json:"possiblyBilled"`
	CreatedAt      time.Time `json:"createdAt"`
	CompletedAt    time.Time `json:"completedAt,omitzero"`
}

// Store reads and writes batch records.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	policy webhook.URLPolicy
}

// Option configures a Store.
type Option func(*Store)

// WithCallbackPolicy sets the policy Open holds a batch's callback URL to.
// Without it, the strict default applies: a public https URL.
func WithCallbackPolicy(p webhook.URLPolicy) Option {
	return func(s *Store) { s.policy = p }
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: "realname:"}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ValidName reports whether name is usable as a batch name.
func ValidName(name string) error {
	if name == "" || len(name) > 64 {
		return ErrName
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return ErrName
		}
	}
	return nil
}

func (s *Store) key(name string) string  { return s.prefix + "batch:" + name }
func (s *Store) seen(name string) string { return s.prefix + "batch:" + name + ":seen" }
func (s *Store) jobs(name string) string { return s.prefix + "batch:" + name + ":jobs" }
func (s *Store) indexKey() string        { return s.prefix + "batches" }

// openScript opens a batch, or refuses to and changes nothing: checks
// first, writes after. KEYS: the batch, the index. ARGV: kind, now (ms),
// callback URL ("" keeps the batch's), name. It returns {"ok"}, or the
// field that conflicts and its value.
var openScript = redis.NewScript(`
local kind = redis.call("HGET", KEYS[1], "kind")
if kind and ARGV[5] ~= "" and redis.call("HGET", KEYS[1], "owner") ~= ARGV[5] then return {"owner"} end
if kind and kind ~= ARGV[1] then return {"kind", kind} end
local state = redis.call("HGET", KEYS[1], "state")
if state == "` + StateCancelled + `" or state == "` + StateCompleted + `" then return {"state", state} end
redis.call("HSETNX", KEYS[1], "kind", ARGV[1])
redis.call("HSETNX", KEYS[1], "createdAt", ARGV[2])
if not kind and ARGV[5] ~= "" then redis.call("HSET", KEYS[1], "owner", ARGV[5]) end
if ARGV[3] ~= "" then redis.call("HSET", KEYS[1], "callbackUrl", ARGV[3]) end
redis.call("HSET", KEYS[1], "state", "` + StateOpen + `", "read", 0, "rejected", 0, "present", 0)
redis.call("ZADD", KEYS[2], "NX", ARGV[2], ARGV[4])
return {"ok"}`)

// Open creates the batch, or returns the existing one when a run resumes
// it. A batch is of one kind: reopening it with another kind is an error,
// and so is reopening a cancelled or completed batch. A non-empty
// callbackURL replaces the batch's; one the Store's policy refuses is an
// error wrapping the *webhook.URLError. A refused Open changes nothing.
func (s *Store) Open(ctx context.Context, name, kind, callbackURL string) (*Status, error) {
	return s.OpenAs(ctx, name, kind, callbackURL, "")
}

// ErrNotOwned is matched by the error of OpenAs for a batch another API key
// created: to that caller it does not exist.
var ErrNotOwned = errors.New("batch: created by another API key")

// OpenAs is Open on behalf of owner, the ID of the API key that asks: a new
// batch belongs to it, and an existing batch that another key created is
// refused with ErrNotOwned, changing nothing. An empty owner acts as an
// administrator (the CLI, an admin key): it opens any batch, and a batch it
// creates belongs to nobody in particular.
func (s *Store) OpenAs(ctx context.Context, name, kind, callbackURL, owner string) (*Status, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if callbackURL != "" {
		if err := s.policy.Check(callbackURL); err != nil {
			return nil, fmt.Errorf("batch %s: callbackUrl: %w", name, err)
		}
	}
	// Read, rejected and present describe the latest run over the input;
	// a resumed run counts them afresh. Total and done accumulate. A sealed
	// batch opens again: the new run may add rows.
	now := time.Now().UnixMilli()
	reply, err := openScript.Run(ctx, s.rdb, []string{s.key(name), s.indexKey()}, kind, now, callbackURL, name, owner).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("batch %s: open: %w", name, err)
	}
	switch {
	case len(reply) == 1 && reply[0] == "owner":
		return nil, fmt.Errorf("batch %s: %w", name, ErrNotOwned)
	case len(reply) == 2 && reply[0] == "kind":
		return nil, fmt.Errorf("batch %s is of kind %s, not %s", name, reply[1], kind)
	case len(reply) == 2 && reply[0] == "state":
		return nil, fmt.Errorf("batch %s is %s; use another batch name", name, reply[1])
	case len(reply) != 1 || reply[0] != "ok":
		return nil, fmt.Errorf("batch %s: open: unexpected reply %q", name, reply)
	}
	return s.Get(ctx, name)
}

// Get returns a batch's record.
func (s *Store) Get(ctx context.Context, name string) (*Status, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(name)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", name, err)
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	st := &Status{Name: name, Kind: m["kind"], State: m["state"], CallbackURL: m["callbackUrl"], Owner: m["owner"], ByClass: map[string]int64{}}
	num := func(k string) int64 { n, _ := strconv.ParseInt(m[k], 10, 64); return n }
	st.Read, st.Rejected, st.Present, st.Total = num("read"), num("rejected"), num("present"), num("total")
	st.Done, st.Cached, st.PossiblyBilled = num("done"), num("cached"), num("possiblyBilled")
	st.CreatedAt = time.UnixMilli(num("createdAt"))
	if c := num("completedAt"); c > 0 {
		st.CompletedAt = time.UnixMilli(c)
	}
	for k, v := range m {
		if c, ok := strings.CutPrefix(k, "class:"); ok {
			st.ByClass[c], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return st, nil
}

// List returns every batch, newest first.
func (s *Store) List(ctx context.Context) ([]*Status, error) {
	names, err := s.rdb.ZRevRange(ctx, s.indexKey(), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*Status, 0, len(names))
	for _, n := range names {
		st, err := s.Get(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// Reserve allocates n job sequence numbers of the batch and returns the
// first. Sequence numbers index the counting bitmap.
func (s *Store) Reserve(ctx context.Context, name string, n int) (int64, error) {
	last, err := s.rdb.HIncrBy(ctx, s.key(name), "seq", int64(n)).Result()
	if err != nil {
		return 0, fmt.Errorf("batch %s: reserve: %w", name, err)
	}
	return last - int64(n) + 1, nil
}

// Progress is what one chunk of input added to a batch.
type Progress struct {
	Read, Rejected, Present, Enqueued int64
	// OrderNos are the order numbers enqueued, for export.
	OrderNos []string
}

// Add records a chunk's progress in one round trip.
func (s *Store) Add(ctx context.Context, name string, p Progress) error {
	pipe := s.rdb.Pipeline()
	for f, v := range map[string]int64{"read": p.Read, "rejected": p.Rejected, "present": p.Present, "total": p.Enqueued} {
		if v != 0 {
			pipe.HIncrBy(ctx, s.key(name), f, v)
		}
	}
	if len(p.OrderNos) > 0 {
		vals := make([]any, len(p.OrderNos))
		for i, o := range p.OrderNos {
			vals[i] = o
		}
		pipe.RPush(ctx, s.jobs(name), vals...)
	}
	_, err := pipe.Exec(ctx)
	if err != nil {
		return fmt.Errorf("batch %s: record progress: %w", name, err)
	}
	return nil
}

// completeIfDone is shared by recordScript and sealScript: it completes
// the batch when it is sealed or cancelled and every job is done, and
// returns 1 to the one caller that completed it.
const completeIfDone = `
local function completeIfDone()
  local state = redis.call("HGET", KEYS[1], "state")
  if state ~= "sealed" and state ~= "cancelled" then return 0 end
  local done = tonumber(redis.call("HGET", KEYS[1], "done") or "0")
  local total = tonumber(redis.call("HGET", KEYS[1], "total") or "0")
  if done < total then return 0 end
  if redis.call("HSETNX", KEYS[1], "completedAt", ARGV[1]) == 1 then
    redis.call("HSET", KEYS[1], "state", "completed")
    return 1
  end
  return 0
end
`

// recordScript counts one job of a batch, once, and completes the batch
// when it was the last one. It answers -1 when the batch does not exist, 0
// when the job was counted before, 1 when it completed the batch and 2
// when it counted the job.
var recordScript = redis.NewScript(completeIfDone + `
if redis.call("EXISTS", KEYS[1]) == 0 then return -1 end
if redis.call("SETBIT", KEYS[2], ARGV[2], 1) == 1 then return 0 end
redis.call("HINCRBY", KEYS[1], "done", 1)
redis.call("HINCRBY", KEYS[1], "class:" .. ARGV[3], 1)
if ARGV[4] == "1" then redis.call("HINCRBY", KEYS[1], "cached", 1) end
if tonumber(ARGV[5]) > 0 then redis.call("HINCRBY", KEYS[1], "possiblyBilled", ARGV[5]) end
if completeIfDone() == 1 then return 1 end
return 2`)

// Record counts the final result of the job with sequence number seq. It
// returns true to exactly one caller: the one whose job completed the
// batch, which must then send the batch.completed event. Counting the same
// job again changes nothing.
func (s *Store) Record(ctx context.Context, name string, seq int64, class string, cached bool) (completed bool, err error) {
	c := "0"
	if cached {
		c = "1"
	}
	n, err := recordScript.Run(ctx, s.rdb, []string{s.key(name), s.seen(name)},
		time.Now().UnixMilli(), seq, class, c, 0).Int()
	if err != nil {
		return false, fmt.Errorf("batch %s: record job %d: %w", name, seq, err)
	}
	return n == 1, nil
}

// QueueRecord queues Record's work on pipe, for a caller that records a
// job in a round trip with other things; RecordedCompleted reads the
// answer. possiblyBilled, the job's calls sent without an answer, is
// added to the batch's count.
func (s *Store) QueueRecord(ctx context.Context, pipe redis.Pipeliner, name string, seq int64, class string, cached bool, possiblyBilled int) *redis.Cmd {
	c := "0"
	if cached {
		c = "1"
	}
	return recordScript.Eval(ctx, pipe, []string{s.key(name), s.seen(name)}, time.Now().UnixMilli(), seq, class, c, possiblyBilled)
}

// RecordedCompleted returns what a command of QueueRecord answered: true
// when the job completed the batch, as Record does; counted is true when
// this command counted the job (it had not been counted before).
func RecordedCompleted(name string, seq int64, cmd *redis.Cmd) (completed, counted bool, err error) {
	n, err := cmd.Int()
	if err != nil {
		return false, false, fmt.Errorf("batch %s: record job %d: %w", name, seq, err)
	}
	return n == 1, n >= 1, nil
}

// Reclass moves one counted job of the batch from the class (and cache
// flag) it was counted with to the ones its stored result has: for the
// rare run that counted its own answer in the round trip that found
// another run's result stored first.
func (s *Store) Reclass(ctx context.Context, name, from string, fromCached bool, to string, toCached bool) error {
	if from == to && fromCached == toCached {
		return nil
	}
	key := s.key(name)
	pipe := s.rdb.TxPipeline()
	pipe.HIncrBy(ctx, key, "class:"+from, -1)
	pipe.HIncrBy(ctx, key, "class:"+to, 1)
	switch {
	case fromCached && !toCached:
		pipe.HIncrBy(ctx, key, "cached", -1)
	case toCached && !fromCached:
		pipe.HIncrBy(ctx, key, "cached", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("batch %s: reclass a job: %w", name, err)
	}
	return nil
}

var sealScript = redis.NewScript(completeIfDone + `
if redis.call("HGET", KEYS[1], "state") == "open" then redis.call("HSET", KEYS[1], "state", "sealed") end
return completeIfDone()`)

// Seal marks every row of the batch as read. It returns true when the
// batch completed with it (every job was done already).
func (s *Store) Seal(ctx context.Context, name string) (completed bool, err error) {
	n, err := sealScript.Run(ctx, s.rdb, []string{s.key(name)}, time.Now().UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("batch %s: seal: %w", name, err)
	}
	return n == 1, nil
}

var cancelScript = redis.NewScript(completeIfDone + `
local state = redis.call("HGET", KEYS[1], "state")
if not state then return -1 end
if state == "completed" then return -2 end
redis.call("HSET", KEYS[1], "state", "cancelled")
return completeIfDone()`)

// Cancel cancels a batch: jobs not yet started are answered as cancelled
// without a provider call; running ones finish. It returns true when the
// batch completed with it.
func (s *Store) Cancel(ctx context.Context, name string) (completed bool, err error) {
	n, err := cancelScript.Run(ctx, s.rdb, []string{s.key(name)}, time.Now().UnixMilli()).Int()
	switch {
	case err != nil:
		return false, fmt.Errorf("batch %s: cancel: %w", name, err)
	case n == -1:
		return false, ErrNotFound
	case n == -2:
		return false, fmt.Errorf("batch %s is completed already", name)
	}
	return n == 1, nil
}

// State returns a batch's state, or "" when it does not exist.
func (s *Store) State(ctx context.Context, name string) (string, error) {
	return StateOf(s.rdb.HGet(ctx, s.key(name), "state"))
}

// QueueState queues on pipe the read of a batch's state, for a caller that
// reads it in a round trip with other things; StateOf reads the answer.
func (s *Store) QueueState(ctx context.Context, pipe redis.Pipeliner, name string) *redis.StringCmd {
	return pipe.HGet(ctx, s.key(name), "state")
}

// StateOf returns the state a command of QueueState read: "" for a batch
// that does not exist.
func StateOf(cmd *redis.StringCmd) (string, error) {
	st, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return st, err
}

// OrderNos calls fn with the batch's order numbers, in enqueue order, in
// pages.
func (s *Store) OrderNos(ctx context.Context, name string, fn func([]string) error) error {
	const page = 1000
	for start := int64(0); ; start += page {
		ids, err := s.rdb.LRange(ctx, s.jobs(name), start, start+page-1).Result()
		if err != nil {
			return fmt.Errorf("batch %s: list jobs: %w", name, err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := fn(ids); err != nil {
			return err
		}
		if len(ids) < page {
			return nil
		}
	}
}

// EventCompleted is the type of the event sent, once, when a batch
// completes.
const EventCompleted = "batch.completed"

// CompletedEvent is the JSON body of a batch.completed webhook: the
// batch's record, counts by class included.
type CompletedEvent struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      *Status   `json:"data"`
}

// WebhookID returns the webhook-id, and task ID, of a batch's completion
// event: one per batch.
func WebhookID(name string) string { return "wh:batch:" + name }

// CompletedTask returns the webhook task that tells url the batch
// completed. opts follow the defaults (retry schedule, retention).
func CompletedTask(st *Status, url string, opts ...asynq.Option) (*asynq.Task, error) {
	body, err := json.Marshal(CompletedEvent{Type: EventCompleted, Timestamp: st.CompletedAt, Data: st})
	if err != nil {
		return nil, err
	}
	return task.NewWebhookTask(task.Webhook{ID: WebhookID(st.Name), URL: url, Body: body}, opts...)
}

// VisibleTo reports whether the API key keyID, an admin key when admin,
// may see the batch: admins see every batch, other keys the batches they
// created.
func (st *Status) VisibleTo(keyID string, admin bool) bool {
	return admin || (st.Owner != "" && st.Owner == keyID)
}
