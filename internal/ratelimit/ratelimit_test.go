package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestSharedLimitAcrossLimiters runs three limiters, as three worker
// processes would, on one shared limit of 40/s, each allowed 40/s locally,
// and counts the calls granted in each wall-clock second.
func TestSharedLimitAcrossLimiters(t *testing.T) {
	t.Parallel()
	const limit = 40
	db := redistest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()

	var mu sync.Mutex
	perSecond := map[int64]int{}
	var first, last time.Time
	var total atomic.Int64
	var wg sync.WaitGroup
	var interval time.Duration
	for range 3 {
		l, err := New(db.Client(t), Config{Rate: limit, Key: "test:shared"})
		if err != nil {
			t.Fatal(err)
		}
		interval = l.Interval()
		for range 8 { // 8 goroutines per "process"
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := l.Wait(ctx); err != nil {
						return
					}
					total.Add(1)
					now := time.Now()
					mu.Lock()
					perSecond[now.Unix()]++
					if first.IsZero() {
						first = now
					}
					last = now
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	// Burst 1 spreads grants evenly, 1.5% further apart than 1/limit.
	for sec, n := range perSecond {
		if n > limit {
			t.Errorf("second %d: %d calls granted, limit %d", sec, n, limit)
		}
	}
	// About 2.5 s at 40/s less 1.5% is 99 calls: the three limiters
	// together lose no slot to polling. Counted over the span from the
	// first grant to the last, so that a slow start on a loaded machine
	// (building the limiters, the first round trips) is not taken for
	// lost slots: one grant per interval, give or take one at each end.
	want := int64(last.Sub(first)/interval) + 1
	if got := total.Load(); got < want-1 || got > want+1 || got > 100 {
		t.Errorf("%d calls granted from %s to %s at %d/s, want %d ± 1 (at most 100)", got,
			first.Format("15:04:05.000"), last.Format("15:04:05.000"), limit, want)
	}
}

func TestLocalOnly(t *testing.T) {
	t.Parallel()
	l, err := New(nil, Config{LocalRate: 100})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 21 {
		if _, err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Fatalf("21 calls at 100/s took %v, want ≥ 200ms", d)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	t.Parallel()
	db := redistest.New(t)
	l, err := New(db.Client(t), Config{Rate: 1, Key: "test:ctx"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Wait(ctx); err == nil {
		t.Fatal("second call within a second of the first at 1/s was granted")
	}
}

// countingHook counts the commands a client sends, by name.
type countingHook struct {
	mu    sync.Mutex
	calls map[string]int
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.calls[cmd.Name()]++
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		for _, c := range cmds {
			h.calls[c.Name()]++
		}
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestReservesWithoutPolling: every grant costs one script call, however
// many callers wait: nobody asks again after being told to wait.
func TestReservesWithoutPolling(t *testing.T) {
	t.Parallel()
	db := redistest.New(t)
	rdb := db.Client(t)
	l, err := New(rdb, Config{Rate: 100, Key: "test:nopoll"})
	if err != nil {
		t.Fatal(err)
	}
	// One call first: it loads the script into Redis. (Concurrent first
	// calls would each find it missing and send it by EVAL.)
	if _, err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	hook := &countingHook{calls: map[string]int{}}
	rdb.AddHook(hook)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := l.WaitPriority(context.Background(), Priority(granted.Load()%2)); err != nil {
					t.Error(err)
					return
				}
				granted.Add(1)
			}
		}()
	}
	wg.Wait()
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if calls := hook.calls["evalsha"] + hook.calls["eval"]; calls != int(granted.Load()) || granted.Load() != 60 {
		t.Fatalf("%d script calls for %d grants (%v): the limiter polls", calls, granted.Load(), hook.calls)
	}
}

// TestBulkTakesEverySlot: with no signup waiting, bulk callers get the
// whole rate; with signups arriving, each waits for at most a slot or two
// while bulk keeps the rest.
func TestBulkTakesEverySlot(t *testing.T) {
	t.Parallel()
	const limit = 50
	interval := time.Second * 1000 / (limit * 985) // 1/limit less DefaultHeadroom (1.5%)
	db := redistest.New(t)
	var bulk atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var limiters []*Limiter
	for range 2 { // two processes of 8 bulk goroutines
		l, err := New(db.Client(t), Config{Rate: limit, Key: "test:bulk"})
		if err != nil {
			t.Fatal(err)
		}
		limiters = append(limiters, l)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := l.WaitPriority(ctx, Bulk); err != nil {
						return
					}
					bulk.Add(1)
				}
			}()
		}
	}
	// Signups from the first process, one every 200 ms after the first
	// second: bulk alone for a second, then both.
	time.Sleep(time.Second)
	alone := bulk.Load()
	var worst time.Duration
	signups := 0
	for ctx.Err() == nil {
		waited, err := limiters[0].WaitPriority(ctx, Signup)
		if err != nil {
			break
		}
		signups++
		worst = max(worst, waited)
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	// Bulk alone had the whole rate: 50/s less 1.5% over the first second.
	if alone < limit*95/100 {
		t.Errorf("bulk alone got %d slots in 1s at %d/s", alone, limit)
	}
	// A signup finds at most one bulk reservation per process ahead of it.
	if worst > 3*interval+15*time.Millisecond {
		t.Errorf("a signup waited %s with slots %s apart", worst, interval)
	}
	// Together, every slot was taken by one or the other.
	if got := bulk.Load() + int64(signups); got < 2*limit*95/100 {
		t.Errorf("%d slots used in 2s at %d/s (%d bulk, %d signups)", got, limit, bulk.Load(), signups)
	}
}

// TestCancelHandsTheSlotBack: a caller that gives up before its slot hands
// it back, so the next caller gets it instead of the one after.
func TestCancelHandsTheSlotBack(t *testing.T) {
	t.Parallel()
	db := redistest.New(t)
	l, err := New(db.Client(t), Config{Rate: 2, Key: "test:unreserve", Headroom: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Wait(context.Background()); err != nil { // takes the slot now
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Wait(ctx); err == nil { // its slot is 500 ms away: given up
		t.Fatal("a call within the interval was granted")
	}
	waited, err := l.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if waited > 500*time.Millisecond {
		t.Fatalf("waited %s: the abandoned slot was not handed back", waited)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, Config{Rate: 5}); err == nil {
		t.Error("shared rate without Redis accepted")
	}
	if _, err := New(nil, Config{Rate: -1}); err == nil {
		t.Error("negative rate accepted")
	}
	if _, err := New(nil, Config{LocalRate: 1, Headroom: 0.6}); err == nil {
		t.Error("headroom of 60% accepted")
	}
}
