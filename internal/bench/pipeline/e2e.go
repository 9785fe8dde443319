package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/task"
)

// e2eConcurrency is the bulk pool of the worker in (b) and the concurrency
// of the asynq baseline: the same number of goroutines on both sides, so
// that the ratio is the cost of a verification over a bare task. Left to
// its default, the worker would size its pool for the huge rate limit.
const e2eConcurrency = 50

// e2eRateLimit is the workers' rate limit in (b): high enough never to
// wait, so that the run measures the pipeline, not the limit.
const e2eRateLimit = 100_000

// e2eResult is run (b), with the Redis figures of (d).
type e2eResult struct {
	jobs int
	// elapsed is from the worker's start to the last webhook.
	elapsed time.Duration
	// commands is what Redis ran meanwhile (INFO commandstats).
	commands commandDelta
	// roundTrips and sent are the worker's realname_redis_round_trips_total
	// and realname_redis_commands_total.
	roundTrips, sent float64
	billed           int64
	received         harness.Arrivals
	// cpu is the CPU time each process spent on the run, by name.
	cpu []procCPU
	rss []harness.Exit
}

func (r e2eResult) rate() float64 { return float64(r.jobs) / r.elapsed.Seconds() }

// perJob divides by the number of verifications.
func (r e2eResult) perJob(v float64) float64 { return v / float64(r.jobs) }

// e2eRun drains a batch with one worker and a sandbox without latency or
// quota, and reads what Redis ran for it.
func (h *bench) e2eRun(ctx context.Context, sb *harness.Sandbox) (e2eResult, error) {
	r := e2eResult{jobs: h.cfg.e2eJobs}
	const name = "e2e"
	if err := h.Fresh(ctx, sb); err != nil {
		return r, err
	}
	if err := h.EnqueueBatch(ctx, name, r.jobs); err != nil {
		return r, err
	}
	// Read after the enqueue, before the worker: the delta is the
	// worker's (and the harness's one INFO).
	before, err := h.readCommandStats(ctx)
	if err != nil {
		return r, err
	}
	cpuBefore := []time.Duration{harness.CPUTimeOf(h.Redis.PID()), sb.CPUTime(), h.Receiver.CPUTime()}
	env := []string{"REALNAME_BULK_CONCURRENCY=" + strconv.Itoa(e2eConcurrency)}
	if path := os.Getenv("PIPELINE_CPU_PROFILE"); path != "" {
		// The worker's CPU profile of the run, for `go tool pprof`.
		env = append(env, "REALNAME_CPU_PROFILE="+path)
	}
	ws, start, err := h.StartWorkers(sb, harness.WorkerSpec{Run: name, Count: 1, RateLimit: e2eRateLimit, Env: env})
	if err != nil {
		return r, err
	}
	r.received, err = h.Receiver.WaitArrivals(ctx, harness.VerifyPrefix, r.jobs, 5*time.Minute, harness.ProcsOf(ws))
	if err != nil {
		r.rss = harness.StopWorkers(ws)
		return r, fmt.Errorf("run %s: %w", name, err)
	}
	after, err := h.readCommandStats(ctx)
	if err != nil {
		return r, err
	}
	m, err := scrape(ctx, ws[0].MetricsAddr)
	if err != nil {
		return r, err
	}
	r.cpu = []procCPU{
		{"redis-server", harness.CPUTimeOf(h.Redis.PID()) - cpuBefore[0]}, {"worker", ws[0].CPUTime()},
		{"sandbox", sb.CPUTime() - cpuBefore[1]}, {"receiver", h.Receiver.CPUTime() - cpuBefore[2]},
	}
	r.rss = harness.StopWorkers(ws)
	st, err := sb.Stats(ctx)
	if err != nil {
		return r, err
	}
	r.elapsed = time.Unix(0, r.received.Last).Sub(start)
	r.commands = diffCommands(before, after)
	r.roundTrips = sumSeries(m, "realname_redis_round_trips_total")
	r.sent = sumSeries(m, "realname_redis_commands_total")
	r.billed = st.Billed

	fmt.Printf("  realname: %d jobs in %s = %.0f verifications/s (1 worker, bulk concurrency %d); per verification: %.1f Redis commands (%.2f EVAL/EVALSHA), %.1f round trips, %.1f commands sent; worker peak RSS %s\n",
		r.jobs, r.elapsed.Round(10*time.Millisecond), r.rate(), e2eConcurrency,
		r.perJob(float64(r.commands.total)), r.perJob(float64(r.commands.scripts)), r.perJob(r.roundTrips), r.perJob(r.sent), rssRange(r.rss))
	fmt.Printf("  Redis commands per verification by command: %s\n", topCommands(r.commands, r.jobs, 12))
	var cpu []string
	for _, c := range r.cpu {
		cpu = append(cpu, fmt.Sprintf("%s %.0f", c.name, float64(c.d.Microseconds())/float64(r.jobs)))
	}
	fmt.Printf("  CPU µs per verification by process: %s\n", strings.Join(cpu, ", "))
	return r, nil
}

// procCPU is the CPU time a process spent on a run.
type procCPU struct {
	name string
	d    time.Duration
}

// asynqResult is the asynq baseline of (b).
type asynqResult struct {
	tasks    int
	elapsed  time.Duration
	commands commandDelta
}

func (r asynqResult) rate() float64 { return float64(r.tasks) / r.elapsed.Seconds() }

// asynqBaseline enqueues n tasks with the payloads of verifications, then
// times an asynq.Server in this process draining them with a handler that
// does nothing.
func (h *bench) asynqBaseline(ctx context.Context, n int) (asynqResult, error) {
	r := asynqResult{tasks: n}
	if err := h.RDB.FlushAll(ctx).Err(); err != nil {
		return r, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: h.Redis.Addr, DB: asynqDB})
	defer rdb.Close()
	if err := enqueueNoops(ctx, rdb, n); err != nil {
		return r, err
	}
	before, err := h.readCommandStats(ctx)
	if err != nil {
		return r, err
	}

	var handled atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: e2eConcurrency,
		Queues:      map[string]int{"noop": 1},
		LogLevel:    asynq.WarnLevel,
	})
	start := time.Now()
	redisCPU, selfCPU := harness.CPUTimeOf(h.Redis.PID()), harness.CPUTimeOf(os.Getpid())
	err = srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		if handled.Add(1) == int64(n) {
			once.Do(func() { close(all) })
		}
		return nil
	}))
	if err != nil {
		return r, fmt.Errorf("asynq server: %w", err)
	}
	defer srv.Shutdown()
	select {
	case <-all:
	case <-ctx.Done():
		return r, context.Cause(ctx)
	case <-time.After(5 * time.Minute):
		return r, fmt.Errorf("asynq baseline: %d of %d tasks handled: %w", handled.Load(), n, harness.ErrTimeout)
	}
	r.elapsed = time.Since(start)
	redisCPU, selfCPU = harness.CPUTimeOf(h.Redis.PID())-redisCPU, harness.CPUTimeOf(os.Getpid())-selfCPU
	after, err := h.readCommandStats(ctx)
	if err != nil {
		return r, err
	}
	r.commands = diffCommands(before, after)
	fmt.Printf("  asynq: %d no-op tasks in %s = %.0f tasks/s (concurrency %d); %.1f Redis commands per task; CPU µs per task: redis-server %.0f, asynq server %.0f\n",
		n, r.elapsed.Round(10*time.Millisecond), r.rate(), e2eConcurrency, float64(r.commands.total)/float64(n),
		float64(redisCPU.Microseconds())/float64(n), float64(selfCPU.Microseconds())/float64(n))
	return r, nil
}

// enqueueNoops enqueues n tasks one by one, with the payloads the worker's
// verifications carry, into the "noop" queue.
func enqueueNoops(ctx context.Context, rdb *redis.Client, n int) error {
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	for e := range sample.Generate(n, 2) {
		v := task.Verification{Kind: task.KindIDCard, OrderNo: identity.OrderNo(e.OrderNo), EnqueuedAt: time.Now()}
		v.Name, _ = identity.ParseName(e.Name)
		v.IDNumber, _ = identity.ParseIDNumber(e.IDNumber)
		t, err := harness.Codec().NewVerifyTask(v, asynq.Queue("noop"))
		if err != nil {
			return err
		}
		if _, err := client.EnqueueContext(ctx, t); err != nil {
			return fmt.Errorf("asynq enqueue: %w", err)
		}
	}
	return nil
}
