package redistest

import (
	"context"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := New(t), New(t)
	if a.Index == b.Index {
		t.Fatalf("two tests got database %d", a.Index)
	}
	ca, cb := a.Client(t), b.Client(t)
	if err := ca.Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := cb.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("key leaked into the other database: n=%d err=%v", n, err)
	}
	if got := a.URL(); got == "" || got[:8] != "redis://" {
		t.Fatalf("URL = %q", got)
	}
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	s, err := Start(context.Background(), Options{Args: []string{"--appendonly", "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.PID() <= 0 {
		t.Fatal("no pid")
	}
	s.Stop()
	select {
	case <-s.done:
	default:
		t.Fatal("server still running after Stop")
	}
}
