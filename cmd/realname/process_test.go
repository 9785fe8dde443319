package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/demo"
	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

func TestMain(m *testing.M) {
	// Every command of these tests, in process or a child, seals and opens
	// personal data with the harness's key ring (harness.Codec in process).
	os.Setenv("REALNAME_ENCRYPTION_KEYS", harness.EncryptionKeys())
	redistest.Main(m)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the realname binary once for the package's tests.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "realname-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "realname")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer that a process's output can be written to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// workerProc is a `realname worker` process.
type workerProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

// stopWorkerProcs stops the workers with SIGTERM and checks that each
// exits cleanly, after shutting down gracefully, within 20s.
func stopWorkerProcs(t *testing.T, procs []*workerProc) {
	t.Helper()
	for _, p := range procs {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range procs {
		select {
		case err := <-p.done:
			p.done <- err // for the cleanup
			if err != nil {
				t.Fatalf("worker %d exited with %v after SIGTERM; logs:\n%s", i, err, p.logs)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("worker %d did not stop within 20s of SIGTERM; logs:\n%s", i, p.logs)
		}
		if !strings.Contains(p.logs.String(), "worker stopped") {
			t.Fatalf("worker %d did not shut down gracefully; logs:\n%s", i, p.logs)
		}
	}
}

func startWorkerProc(t *testing.T, env []string) *workerProc {
	t.Helper()
	cmd := exec.Command(binary(t), "worker")
	cmd.Env = append(os.Environ(), env...)
	p := &workerProc{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// TestWorkerProcesses runs two `realname worker` processes sharing one
// rate limit, stops both with SIGTERM mid-batch, checks that no job was
// lost, and lets a new process finish the batch.
func TestWorkerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const limit = 15
	db := redistest.New(t)
	st, err := demo.NewStack(demo.StackConfig{N: 60, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env := []string{
		"REALNAME_REDIS_URL=" + db.URL(),
		"REALNAME_TENCENT_SECRET_ID=" + demo.SecretID,
		"REALNAME_TENCENT_SECRET_KEY=" + demo.SecretKey,
		"REALNAME_TENCENT_ENDPOINT=" + st.SandboxURL,
		"REALNAME_WEBHOOK_SECRET=" + st.WebhookSecret,
		"REALNAME_WEBHOOK_URL=" + st.ReceiverURL,
		"REALNAME_WEBHOOK_ALLOW=" + demo.LoopbackAllow, // the receiver listens on loopback
		"REALNAME_WEBHOOK_SCHEDULE=200ms,500ms,1s",
		"REALNAME_RATE_LIMIT=" + strconv.Itoa(limit),
		"REALNAME_CONCURRENCY=8",
		"REALNAME_SHUTDOWN_TIMEOUT=10s",
		"REALNAME_METRICS_ADDR=127.0.0.1:0", // a free port each: two workers share the host
	}
	rdb := db.Client(t)
	codec := harness.Codec()
	results, _ := store.NewRedis(rdb, store.RedisConfig{})
	prod, err := producer.New(producer.Config{Redis: rdb, Store: results, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	procs := []*workerProc{startWorkerProc(t, env), startWorkerProc(t, env)}
	for i, e := range st.Entries {
		if _, err := prod.Enqueue(context.Background(), producer.Request{Kind: demo.KindOf(i), OrderNo: e.OrderNo,
			Name: e.Name, IDNumber: e.IDNumber, Phone: e.Phone, BankCard: e.BankCard}, &producer.Opts{Priority: producer.Bulk}); err != nil {
			t.Fatal(err)
		}
	}
	countResults := func() int {
		n := 0
		for _, e := range st.Entries {
			if _, err := results.GetByOrderNo(context.Background(), e.OrderNo); err == nil {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for countResults() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("workers answered %d jobs in 30s; logs:\n%s", countResults(), procs[0].logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopWorkerProcs(t, procs)
	done := countResults()
	var waiting int
	in := asynq.NewInspectorFromRedisClient(rdb)
	info, err := in.GetQueueInfo(task.QueueBulk)
	if err != nil {
		t.Fatal(err)
	}
	waiting = info.Pending + info.Active + info.Scheduled + info.Retry
	if done+waiting != 60 || info.Archived != 0 || done == 60 {
		t.Fatalf("after SIGTERM: %d answered + %d waiting (%d archived), want 60 and some waiting", done, waiting, info.Archived)
	}
	t.Logf("SIGTERM with %d answered and %d waiting", done, waiting)

	startWorkerProc(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := st.Receiver.WaitFor(ctx, 60); err != nil {
		t.Fatalf("after restart: %d of 60 webhooks: %v", st.Receiver.Stats().Unique, err)
	}
	for i, e := range st.Entries {
		res, err := results.GetByOrderNo(context.Background(), e.OrderNo)
		if err != nil || res.Class != string(demo.Truth(e, demo.KindOf(i))) {
			t.Fatalf("%s: %+v, %v", e.OrderNo, res, err)
		}
	}
	stats := st.Sandbox.Stats()
	if stats.Billed != 60 || stats.OrderNoReused != 0 {
		t.Fatalf("sandbox meter %+v: want 60 billed once each", stats)
	}
	if stats.MaxPerSecond > limit+1 {
		t.Fatalf("two worker processes made %d calls in one second, limit %d (+1)", stats.MaxPerSecond, limit)
	}
	for i, p := range procs {
		for _, e := range st.Entries {
			if strings.Contains(p.logs.String(), e.IDNumber) || strings.Contains(p.logs.String(), e.Name) {
				t.Fatalf("worker %d logged personal data", i)
			}
		}
	}
}

// TestTwoWorkersDefaultSettings: two `realname worker` processes on one
// host, with nothing set but Redis and the provider, both start and both
// stop cleanly on SIGTERM. /metrics listens only when REALNAME_METRICS_ADDR
// or --metrics-addr says where, so that two workers cannot collide on a
// default port (a second one used to exit with "address already in use").
func TestTwoWorkersDefaultSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// The default is what is tested: nothing inherited may set the address.
	t.Setenv("REALNAME_METRICS_ADDR", "")
	os.Unsetenv("REALNAME_METRICS_ADDR")
	db := redistest.New(t)
	st, err := demo.NewStack(demo.StackConfig{N: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env := []string{
		"REALNAME_REDIS_URL=" + db.URL(),
		"REALNAME_TENCENT_SECRET_ID=" + demo.SecretID,
		"REALNAME_TENCENT_SECRET_KEY=" + demo.SecretKey,
		"REALNAME_TENCENT_ENDPOINT=" + st.SandboxURL,
		"REALNAME_SHUTDOWN_TIMEOUT=5s",
	}
	procs := []*workerProc{startWorkerProc(t, env), startWorkerProc(t, env)}
	deadline := time.Now().Add(20 * time.Second)
	for i, p := range procs {
		for !strings.Contains(p.logs.String(), "worker started") {
			select {
			case err := <-p.done:
				p.done <- err // for the cleanup
				t.Fatalf("worker %d exited (%v) before it started; logs:\n%s", i, err, p.logs)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("worker %d did not log \"worker started\" within 20s; logs:\n%s", i, p.logs)
			}
		}
	}
	// Both are still running once both have started.
	for i, p := range procs {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("worker %d exited (%v) after it started; logs:\n%s", i, err, p.logs)
		default:
		}
	}
	stopWorkerProcs(t, procs)
	for i, p := range procs {
		logs := p.logs.String()
		if strings.Count(logs, "metrics endpoint off") != 1 || strings.Contains(logs, "serving metrics") {
			t.Fatalf("worker %d: want /metrics off by default, logged once; logs:\n%s", i, logs)
		}
	}
}

// TestWorkerMetricsAddrInUse: a metrics address that is configured stays
// strict: a port in use fails the worker at once, naming the endpoint.
func TestWorkerMetricsAddrInUse(t *testing.T) {
	db := redistest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("REALNAME_TENCENT_SECRET_ID", demo.SecretID)
	t.Setenv("REALNAME_TENCENT_SECRET_KEY", demo.SecretKey)
	t.Setenv("REALNAME_METRICS_ADDR", ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, []string{"worker", "--redis-url", db.URL()}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "metrics endpoint") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("worker with its metrics port in use: %v, want a metrics endpoint error naming %s; logs:\n%s", err, ln.Addr(), &errOut)
	}
	if strings.Contains(errOut.String(), "worker started") {
		t.Fatalf("the worker started before failing; logs:\n%s", &errOut)
	}
}

// TestQueueResume: `realname queue resume` unpauses the verification
// queues an alarm paused.
func TestQueueResume(t *testing.T) {
	db := redistest.New(t)
	in := asynq.NewInspectorFromRedisClient(db.Client(t))
	for _, q := range task.VerifyQueues {
		if err := in.PauseQueue(q); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runCmd(t, "queue", "resume", "--redis-url", db.URL())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range task.VerifyQueues {
		if !strings.Contains(out, q+": resumed") {
			t.Fatalf("output %q lacks %s resumed", out, q)
		}
	}
	// Paused queues are what asynq skips; check through a fresh pause.
	for _, q := range task.VerifyQueues {
		if err := in.PauseQueue(q); err != nil {
			t.Fatalf("%s still paused after resume: %v", q, err)
		}
	}
}

// TestWebhookReplay: a webhook the receiver refused for good (410) stays
// archived, and `realname webhook replay` delivers it again without a
// second verification.
func TestWebhookReplay(t *testing.T) {
	db := redistest.New(t)
	var refuse atomic.Bool
	refuse.Store(true)
	st, err := demo.NewStack(demo.StackConfig{N: 2, Seed: 5, Receiver: webhook.ReceiverConfig{Status: func(string, int) int {
		if refuse.Load() {
			return http.StatusGone
		}
		return 0
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rdb := db.Client(t)
	codec := harness.Codec()
	results, _ := store.NewRedis(rdb, store.RedisConfig{})
	provider, _ := st.Client(tencentv2.Config{})
	hooks, _ := st.WebhookClient()
	w, err := worker.New(worker.Config{Redis: rdb, Provider: provider, Store: results, Webhooks: hooks, Codec: codec,
		DefaultWebhookURL: st.ReceiverURL, TaskCheckInterval: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	prod, _ := producer.New(producer.Config{Redis: rdb, Store: results, Codec: codec})
	defer prod.Close()
	for i, e := range st.Entries {
		if _, err := prod.Enqueue(ctx, producer.Request{Kind: demo.KindOf(i), OrderNo: e.OrderNo, Name: e.Name,
			IDNumber: e.IDNumber, Phone: e.Phone, BankCard: e.BankCard}, nil); err != nil {
			t.Fatal(err)
		}
	}
	in := asynq.NewInspectorFromRedisClient(rdb)
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := in.GetQueueInfo(task.QueueWebhook)
		if err == nil && info.Archived == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks not archived after 410: %+v, %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := st.Receiver.Stats(); s.Failed != 2 || s.Unique != 0 {
		t.Fatalf("receiver %+v: want two refusals", s)
	}

	refuse.Store(false)
	jobID := task.JobID(identity.OrderNo(st.Entries[0].OrderNo))
	out, err := runCmd(t, "webhook", "replay", "--redis-url", db.URL(), "--job", jobID)
	if err != nil || !strings.Contains(out, "queued for delivery again") {
		t.Fatalf("replay one: %q, %v", out, err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := st.Receiver.WaitFor(wctx, 1); err != nil {
		t.Fatal(err)
	}
	out, err = runCmd(t, "webhook", "replay", "--redis-url", db.URL())
	if err != nil || !strings.Contains(out, "1 webhooks queued") {
		t.Fatalf("replay all: %q, %v", out, err)
	}
	if err := st.Receiver.WaitFor(wctx, 2); err != nil {
		t.Fatal(err)
	}
	if s := st.Sandbox.Stats(); s.Calls != 2 {
		t.Fatalf("%d provider calls for 2 jobs: a replay re-ran a verification", s.Calls)
	}
}
