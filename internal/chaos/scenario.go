package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/sandbox"
)

// provider is the sandbox provider the workers call.
const provider = sandbox.ProviderTencentV2

// chaos is the harness of this program: the shared one, the sandbox every
// scenario calls, and what the results are checked against.
type chaos struct {
	*harness.Harness
	cfg config
	sb  *harness.Sandbox
	// expected is the fixture's authCode of each order number's identity.
	expected map[string]string
	w        io.Writer
	// gone are the arrivals of the receivers stopped during the current
	// scenario, which can no longer be asked.
	gone []harness.Arrivals
}

// outcome is what one scenario did and how it fared.
type outcome struct {
	name string
	jobs int
	// results counts the jobs with a stored result; errors those whose
	// result is of class error, and wrong those whose answer is not the
	// fixture's; listedTwice the order numbers the batch lists twice.
	results, errors, wrong, listedTwice int
	// events counts the distinct webhook-ids of the jobs' events that
	// arrived, again the deliveries of one of them after its first.
	events, again int
	// batchEvents counts the batch.completed events that arrived (one id
	// a batch), batchAgain their deliveries after the first.
	batchEvents, batchAgain int
	batch                   *batch.Status
	// stats is the sandbox's meter at the end.
	stats sandbox.Stats
	// archived counts the tasks asynq archived, in every queue.
	archived int
	// wall is from the workers' start to the last event.
	wall time.Duration
	// inFlight is the sandbox's in-flight calls at each kill (kill
	// scenario only).
	inFlight []int64
	// details are the scenario's own figures, one line each; the first
	// shown of them were printed as they came.
	details []string
	shown   int
	// failures are the invariants that failed, each with its numbers.
	failures []string
	// notes are what the processes logged at level warn or above.
	notes []string
}

// failf records a failed invariant.
func (o *outcome) failf(format string, args ...any) {
	o.failures = append(o.failures, fmt.Sprintf(format, args...))
}

// detailf records one of the scenario's figures.
func (o *outcome) detailf(format string, args ...any) {
	o.details = append(o.details, fmt.Sprintf(format, args...))
}

// inFlightSum is the calls in flight at all the kills together.
func (o *outcome) inFlightSum() int64 {
	var n int64
	for _, f := range o.inFlight {
		n += f
	}
	return n
}

// scenarioRun is one scenario under way: its batch, its workers and its
// clients.
type scenarioRun struct {
	c     *chaos
	o     *outcome
	spec  harness.WorkerSpec
	ws    []*harness.Worker
	start time.Time
	// exits are the workers that ended, killed or stopped.
	exits []harness.Exit
	rdb   *redis.Client // database harness.DB
	in    *asynq.Inspector
}

// begin starts a scenario: an empty Redis and receiver, a zeroed meter, a
// batch of jobs named after the scenario, and its workers, with env added
// to theirs.
func (c *chaos) begin(ctx context.Context, name string, jobs int, env ...string) (*scenarioRun, error) {
	fmt.Fprintf(c.w, "\n== %s: %d jobs, %d workers, quota %d/s, latency %s\n", name, jobs, c.cfg.workers, c.cfg.quota, c.cfg.latency)
	c.gone = nil
	r := &scenarioRun{c: c, o: &outcome{name: name, jobs: jobs}}
	r.rdb = redis.NewClient(&redis.Options{Addr: c.Redis.Addr, DB: harness.DB})
	r.in = asynq.NewInspectorFromRedisClient(r.rdb)
	if err := c.Fresh(ctx, c.sb); err != nil {
		return r, err
	}
	if err := c.EnqueueBatch(ctx, name, jobs); err != nil {
		return r, err
	}
	r.spec = harness.WorkerSpec{Run: name, Count: c.cfg.workers, RateLimit: c.cfg.quota, Env: env}
	var err error
	r.ws, r.start, err = c.StartWorkers(c.sb, r.spec)
	return r, err
}

// name is the scenario's name, and its batch's.
func (r *scenarioRun) name() string { return r.o.name }

// progressf records one of the scenario's figures and prints it at once.
func (r *scenarioRun) progressf(format string, args ...any) {
	r.o.detailf(format, args...)
	fmt.Fprintln(r.c.w, "  "+r.o.details[len(r.o.details)-1])
	r.o.shown = len(r.o.details)
}

// replace starts a worker in place of r.ws[i], which has ended; the new
// one is numbered after every worker of the run so far.
func (r *scenarioRun) replace(i int) error {
	r.exits = append(r.exits, r.ws[i].Exit())
	w, err := r.c.StartWorker(r.c.sb, r.spec, fmt.Sprintf("worker-%s-%d", r.name(), len(r.ws)+len(r.exits)))
	if err != nil {
		return err
	}
	r.ws[i] = w
	return nil
}

// stopWorkers stops the run's workers.
func (r *scenarioRun) stopWorkers() {
	r.exits = append(r.exits, harness.StopWorkers(r.ws)...)
	r.ws = nil
}

// close stops what is left of the run and its clients.
func (r *scenarioRun) close() {
	if r.ws != nil {
		r.stopWorkers()
	}
	if r.rdb != nil {
		r.rdb.Close()
	}
}

// arrivals returns every event that arrived in the scenario: at the
// receivers stopped since it began and at the running one.
func (c *chaos) arrivals(ctx context.Context) (harness.Arrivals, error) {
	live, err := c.Receiver.Arrivals(ctx, "", false)
	if err != nil {
		return live, err
	}
	return mergeArrivals(append(slices.Clone(c.gone), live)...), nil
}

// mergeArrivals merges what several receivers accepted: an id's first
// arrival is the earliest, and an id that arrived at two of them arrived
// again at the second.
func mergeArrivals(as ...harness.Arrivals) harness.Arrivals {
	m := harness.Arrivals{At: make(map[string]int64), Again: make(map[string]int)}
	for _, a := range as {
		m.Rejected += a.Rejected
		m.Duplicates += a.Duplicates
		for id, at := range a.At {
			if first, seen := m.At[id]; seen {
				m.Again[id]++
				m.Duplicates++
				at = min(at, first)
			}
			m.At[id] = at
		}
		for id, n := range a.Again {
			m.Again[id] += n
		}
	}
	for _, at := range m.At {
		m.Last = max(m.Last, at)
	}
	m.Count = len(m.At)
	return m
}

// counts returns the distinct events of the jobs, and whether the batch's
// completion arrived.
func (r *scenarioRun) counts(a harness.Arrivals) (events int, completed bool) {
	for id := range a.At {
		if strings.HasPrefix(id, harness.VerifyPrefix) {
			events++
		}
	}
	_, completed = a.At[batch.WebhookID(r.name())]
	return events, completed
}

// waitDone waits until every job's event and the batch's completion have
// arrived. It gives up after timeout, or when a worker exits by itself; a
// failure then says what was missing, and the run's figures are still
// read.
func (r *scenarioRun) waitDone(ctx context.Context, timeout time.Duration) error {
	events, completed := 0, false
	return harness.Poll(ctx, 250*time.Millisecond, timeout, harness.ProcsOf(r.ws), func() (bool, error) {
		a, err := r.c.arrivals(ctx)
		events, completed = r.counts(a)
		return events >= r.o.jobs && completed, err
	}, func() string {
		return fmt.Sprintf("%d of %d events and batch.completed %v; queues: %s", events, r.o.jobs, completed, r.queues())
	})
}

// drainTimeout is how long a batch of jobs may take to drain at the quota,
// beyond the faults' own time: three times the ideal, and a minute and a
// half for starts and recoveries.
func (c *chaos) drainTimeout(jobs int) time.Duration {
	return 3*time.Duration(float64(jobs)/float64(c.cfg.quota)*float64(time.Second)) + 90*time.Second
}

// queues describes the asynq queues, for a failure.
func (r *scenarioRun) queues() string {
	names, err := r.in.Queues()
	if err != nil {
		return "(" + err.Error() + ")"
	}
	slices.Sort(names)
	var parts []string
	for _, q := range names {
		info, err := r.in.GetQueueInfo(q)
		if err != nil {
			parts = append(parts, q+": "+err.Error())
			continue
		}
		parts = append(parts, fmt.Sprintf("%s pending %d active %d scheduled %d retry %d archived %d paused %v",
			q, info.Pending, info.Active, info.Scheduled, info.Retry, info.Archived, info.Paused))
	}
	return strings.Join(parts, "; ")
}

// exported is one line of `realname batch export --format jsonl`: the part
// of a stored result the invariants look at.
type exported struct {
	OrderNo     string    `json:"orderNo"`
	JobID       string    `json:"jobId"`
	Class       string    `json:"class"`
	AuthCode    string    `json:"authCode"`
	Error       string    `json:"error"`
	CompletedAt time.Time `json:"completedAt"`
}

// finish stops the workers and reads the scenario's figures: the stored
// results (through `realname batch export`, as an operator reads them),
// the events, the meter, the queues and the batch. waitErr, when set, is
// why the scenario did not run to its end; it is a failure too.
func (r *scenarioRun) finish(ctx context.Context, waitErr error) (results map[string]exported, a harness.Arrivals) {
	o := r.o
	if waitErr != nil {
		o.failf("the scenario did not run to its end: %v", waitErr)
	}
	r.stopWorkers()
	o.notes = harness.WarningNotes(r.exits)
	for _, e := range r.exits {
		if e.Err != nil && !strings.Contains(e.Err.Error(), "killed") {
			o.notes = append(o.notes, fmt.Sprintf("%s did not exit cleanly on SIGTERM: %v", e.Name, e.Err))
		}
	}
	var err error
	if o.stats, err = r.c.sb.Stats(ctx); err != nil {
		o.failf("sandbox stats: %v", err)
	}
	if a, err = r.c.arrivals(ctx); err != nil {
		o.failf("receiver arrivals: %v", err)
	}
	results, err = r.results(ctx)
	if err != nil {
		o.failf("results: %v", err)
	}
	if o.batch, err = batch.New(r.rdb).Get(ctx, r.name()); err != nil {
		o.failf("batch status: %v", err)
	}
	if names, err := r.in.Queues(); err != nil {
		o.failf("queues: %v", err)
	} else {
		for _, q := range names {
			if info, err := r.in.GetQueueInfo(q); err == nil {
				o.archived += info.Archived
			}
		}
	}

	for id, at := range a.At {
		if !r.start.IsZero() {
			o.wall = max(o.wall, time.Unix(0, at).Sub(r.start))
		}
		if strings.HasPrefix(id, harness.VerifyPrefix) {
			o.events++
			o.again += a.Again[id]
		}
	}
	bid := batch.WebhookID(r.name())
	if _, ok := a.At[bid]; ok {
		o.batchEvents = 1
		o.batchAgain = a.Again[bid]
	}
	for _, res := range results {
		switch {
		case res.Class == batch.ClassPending:
			continue
		case res.Class == "error":
			o.errors++
		case res.AuthCode != r.c.expected[res.OrderNo]:
			o.wrong++
		}
		o.results++
	}
	return results, a
}

// results reads the batch's results with `realname batch export`.
func (r *scenarioRun) results(ctx context.Context) (map[string]exported, error) {
	out, err := r.c.Realname(ctx, "batch", "export", r.name(), "--format", "jsonl")
	if err != nil {
		return nil, err
	}
	results := make(map[string]exported, r.o.jobs)
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e exported
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("batch export: %w: %.200s", err, sc.Text())
		}
		if _, dup := results[e.OrderNo]; dup {
			r.o.listedTwice++
		}
		results[e.OrderNo] = e
	}
	return results, sc.Err()
}

// check asserts the invariants every scenario shares. Order numbers may be
// billed twice at most twiceAllowed times (the calls in flight at kills;
// zero for every other fault).
func (o *outcome) check(twiceAllowed int64) {
	if o.results != o.jobs || o.listedTwice > 0 {
		o.failf("one result per job: %d jobs, %d with a result, %d listed twice", o.jobs, o.results, o.listedTwice)
	}
	if o.errors > 0 {
		o.failf("no error results: %d jobs ended with class error", o.errors)
	}
	if o.wrong > 0 {
		o.failf("the fixture's answers: %d results differ from the identity's authCode", o.wrong)
	}
	if o.events != o.jobs {
		o.failf("one event per job: %d distinct events for %d jobs", o.events, o.jobs)
	}
	if o.batchEvents != 1 {
		o.failf("batch.completed once: it arrived %d times (%d deliveries again)", o.batchEvents, o.batchAgain)
	}
	if b := o.batch; b != nil && (b.State != batch.StateCompleted || b.Done != int64(o.jobs) || b.Total != int64(o.jobs)) {
		o.failf("batch record: state %s, done %d of %d, want completed, %d of %d", b.State, b.Done, b.Total, o.jobs, o.jobs)
	}
	if o.archived > 0 {
		o.failf("nothing archived: %d tasks archived", o.archived)
	}
	st := o.stats
	if st.OrderNoReused > twiceAllowed {
		o.failf("order numbers billed twice: %d, allowed %d", st.OrderNoReused, twiceAllowed)
	}
	if st.Billed-st.OrderNoReused != int64(o.jobs) {
		o.failf("every job billed once: %d billed, %d of them again, for %d jobs", st.Billed, st.OrderNoReused, o.jobs)
	}
	if st.BilledByMoreThanOneProvider > 0 {
		o.failf("one provider per identity: %d identities billed by two", st.BilledByMoreThanOneProvider)
	}
}

// expectedCodes returns the fixture's v2 authCode of each order number's
// identity, from the identities file and the fixture.
func expectedCodes(people, fixture string) (map[string]string, error) {
	byID := make(map[string]string)
	f, err := os.Open(fixture)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for {
		var e sandbox.FixtureEntry
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("fixture: %w", err)
		}
		byID[e.IDNumber] = e.AuthCodes[sandbox.ActionIDCardAuth]
	}
	p, err := os.Open(people)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	rows, err := csv.NewReader(p).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("identities: empty file")
	}
	col := func(name string) int { return slices.Index(rows[0], name) }
	o, id := col(identity.FieldOrderNo), col(identity.FieldIDNumber)
	if o < 0 || id < 0 {
		return nil, fmt.Errorf("identities: no %s or %s column in %v", identity.FieldOrderNo, identity.FieldIDNumber, rows[0])
	}
	out := make(map[string]string, len(rows)-1)
	for _, row := range rows[1:] {
		code, ok := byID[row[id]]
		if !ok {
			return nil, fmt.Errorf("identities: order %s is not in the fixture", row[o])
		}
		out[row[o]] = code
	}
	return out, nil
}
