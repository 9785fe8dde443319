package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/demo"
	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/ratelimit"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// syncBuffer collects log output from many goroutines.
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

type bundle struct {
	rdb   *redis.Client
	stack *demo.Stack
	store *store.Redis
	prod  *producer.Client
	logs  *syncBuffer
	codec *task.Codec
	log   zerolog.Logger
}

type setupOpts struct {
	n        int
	faults   sandbox.Faults
	receiver webhook.ReceiverConfig
	// v3Faults and aliyunFaults are the other providers' faults.
	v3Faults, aliyunFaults sandbox.Faults
	// quotas are the sandbox's per-action quotas.
	quotas sandbox.Quotas
	// rdb is the Redis to use; defaults to a database of the package's
	// private server.
	rdb *redis.Client
}

func setup(t *testing.T, o setupOpts) *bundle {
	t.Helper()
	rdb := o.rdb
	if rdb == nil {
		rdb = redistest.New(t).Client(t)
	}
	st, err := demo.NewStack(demo.StackConfig{N: o.n, Seed: 7, Faults: o.faults, Receiver: o.receiver,
		TencentV3Faults: o.v3Faults, AliyunFaults: o.aliyunFaults, Quotas: o.quotas})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	b := &bundle{rdb: rdb, stack: st, logs: &syncBuffer{}}
	b.log = zerolog.New(b.logs).With().Timestamp().Logger()
	if b.store, err = store.NewRedis(b.rdb, store.RedisConfig{}); err != nil {
		t.Fatal(err)
	}
	b.codec, _ = task.NewCodec(keyring.Ephemeral())
	if b.prod, err = producer.New(producer.Config{Redis: b.rdb, Store: b.store, Codec: b.codec, MaxRetry: 15}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.prod.Close() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker logs:\n%s", tail(b.logs.String(), 40))
		}
	})
	return b
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// config returns a worker configuration on the bundle with test-speed
// timings; mod adjusts it.
func (b *bundle) config(t *testing.T, mod func(*worker.Config)) worker.Config {
	t.Helper()
	provider, err := b.stack.Client(tencentv2.Config{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := b.stack.WebhookClient()
	if err != nil {
		t.Fatal(err)
	}
	sched, _ := webhook.ParseSchedule("100ms,200ms,300ms,500ms,1s")
	cfg := worker.Config{
		Redis: b.rdb, Provider: provider, Store: b.store, Webhooks: hooks, Codec: b.codec,
		Concurrency: 16, TaskCheckInterval: 100 * time.Millisecond,
		RetryBase: 20 * time.Millisecond, RetryCap: 200 * time.Millisecond, ThrottleDelay: 100 * time.Millisecond,
		PausedRetryDelay:  100 * time.Millisecond,
		RateLimit:         ratelimit.Config{Rate: 2000, Burst: 100},
		DefaultWebhookURL: b.stack.ReceiverURL, WebhookSchedule: sched, InlineWebhookTimeout: 300 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
		Logger:          &b.log,
	}
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

// startWorker runs a worker until the returned stop is called (or the test
// ends).
func (b *bundle) startWorker(t *testing.T, cfg worker.Config) (stop func()) {
	t.Helper()
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (b *bundle) request(i int, e sample.Entry) producer.Request {
	return producer.Request{Kind: demo.KindOf(i), OrderNo: e.OrderNo, Name: e.Name, IDNumber: e.IDNumber, Phone: e.Phone, BankCard: e.BankCard}
}

func (b *bundle) enqueueAll(t *testing.T, p producer.Priority) {
	t.Helper()
	for i, e := range b.stack.Entries {
		job, err := b.prod.Enqueue(context.Background(), b.request(i, e), &producer.Opts{Priority: p})
		if err != nil {
			t.Fatal(err)
		}
		if job.Duplicate {
			t.Fatalf("%s: first enqueue reported as duplicate", e.OrderNo)
		}
	}
}

// waitWebhooks waits until every entry's webhook has been accepted.
func (b *bundle) waitWebhooks(t *testing.T, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := b.stack.Receiver.WaitFor(ctx, len(b.stack.Entries)); err != nil {
		t.Fatalf("webhooks: %d of %d after %s: %v", b.stack.Receiver.Stats().Unique, len(b.stack.Entries), timeout, err)
	}
}

// checkTruth checks every entry's stored result and webhook against the
// sandbox fixture, and that no personal data leaked into results, webhook
// bodies or logs.
func (b *bundle) checkTruth(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	events := b.stack.Receiver.Events()
	for i, e := range b.stack.Entries {
		want := string(demo.Truth(e, demo.KindOf(i)))
		res, err := b.store.GetByOrderNo(ctx, e.OrderNo)
		if err != nil {
			t.Fatalf("%s: no result: %v", e.OrderNo, err)
		}
		if res.Class != want || res.Kind != demo.KindOf(i) || res.JobID != task.JobID(identity.OrderNo(e.OrderNo)) {
			t.Fatalf("%s: result %+v, want class %s kind %s", e.OrderNo, res, want, demo.KindOf(i))
		}
		if res.Attempts < 1 || res.Provider == "" || res.Action == "" || res.AuthCode == "" || res.CompletedAt.IsZero() || res.Identity.IDNumber == "" {
			t.Fatalf("%s: incomplete result %+v", e.OrderNo, res)
		}
		body, ok := events[task.WebhookID(res.JobID)]
		if !ok {
			t.Fatalf("%s: no webhook", e.OrderNo)
		}
		var ev worker.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != worker.EventVerificationCompleted || ev.Data.Class != want || ev.Data.OrderNo != e.OrderNo || ev.Data.JobID != res.JobID ||
			ev.Data.Provider != res.Provider || ev.Data.Action != res.Action || ev.Data.AuthCode != res.AuthCode {
			t.Fatalf("%s: webhook %+v, want class %s", e.OrderNo, ev, want)
		}
		raw, _ := json.Marshal(res)
		for _, secret := range []string{e.Name, e.IDNumber, e.Phone, e.BankCard} {
			if strings.Contains(string(raw), secret) || strings.Contains(string(body), secret) {
				t.Fatalf("%s: personal data in a stored result or webhook body", e.OrderNo)
			}
		}
	}
	b.checkLogs(t)
}

// checkLogs fails if any entry's personal data appears in the logs.
func (b *bundle) checkLogs(t *testing.T) {
	t.Helper()
	logs := b.logs.String()
	if logs == "" {
		t.Fatal("no logs captured: the leak check would prove nothing")
	}
	for _, e := range b.stack.Entries {
		for _, secret := range []string{e.Name, e.IDNumber, strings.ToLower(e.IDNumber), e.Phone, e.BankCard} {
			if strings.Contains(logs, secret) {
				t.Fatalf("personal data of %s in the logs", e.OrderNo)
			}
		}
	}
}

// TestEndToEnd runs all four kinds through a worker and checks every result
// and webhook against the sandbox's truth: one billed call per job.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{n: 80})
	b.startWorker(t, b.config(t, nil))
	b.enqueueAll(t, producer.Signup)
	b.waitWebhooks(t, 30*time.Second)
	b.checkTruth(t)
	stats := b.stack.Sandbox.Stats()
	if stats.Billed != 80 || stats.Calls != 80 || stats.OrderNoReused != 0 {
		t.Fatalf("sandbox meter %+v: want 80 calls, 80 billed, none reused", stats)
	}
	for _, k := range task.Kinds {
		if n := stats.ByAction[map[task.Kind]string{task.KindIDCard: tencentv2.ActionIDCardAuth, task.KindMobile3: tencentv2.ActionMobileAuth3,
			task.KindBankCard3: tencentv2.ActionBankCard3Auth, task.KindBankCard4: tencentv2.ActionBankCardAuth4}[k]]; n != 20 {
			t.Fatalf("kind %s: %d calls, want 20", k, n)
		}
	}
	if s := b.stack.Receiver.Stats(); s.Duplicates != 0 || s.Rejected != 0 {
		t.Fatalf("receiver %+v: want no duplicates or rejections", s)
	}
}
