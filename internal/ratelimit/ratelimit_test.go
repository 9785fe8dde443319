package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 3 {
		l, err := New(db.Client(t), Config{Rate: limit, Key: "test:shared"})
		if err != nil {
			t.Fatal(err)
		}
		for range 8 { // 8 goroutines per "process"
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := l.Wait(ctx); err != nil {
						return
					}
					total.Add(1)
					mu.Lock()
					perSecond[time.Now().Unix()]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	// Burst 1 spreads grants evenly; a wall-clock second can still catch
	// one grant more than the rate at its edge.
	for sec, n := range perSecond {
		if n > limit+1 {
			t.Errorf("second %d: %d calls granted, limit %d (+1 tolerance)", sec, n, limit)
		}
	}
	// 2.5 s at 40/s is 100 calls: the three limiters together must not
	// starve either (at least 85% of the limit).
	if got := total.Load(); got < 85 || got > 102 {
		t.Errorf("%d calls granted in 2.5 s at %d/s", got, limit)
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

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, Config{Rate: 5}); err == nil {
		t.Error("shared rate without Redis accepted")
	}
	if _, err := New(nil, Config{Rate: -1}); err == nil {
		t.Error("negative rate accepted")
	}
}
