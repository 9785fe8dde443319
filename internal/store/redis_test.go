package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/store/storetest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestRedisConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.NewRedis(redistest.New(t).Client(t), store.RedisConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRedisRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.New(t).Client(t)
	s, err := store.NewRedis(rdb, store.RedisConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, &store.Result{JobID: "vrf:a", OrderNo: "a", Class: "match"}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"realname:result:vrf:a", "realname:order:a"} {
		ttl, err := rdb.PTTL(ctx, key).Result()
		if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Fatalf("TTL of %s = %v, %v; want about 1h", key, ttl, err)
		}
	}
}

// TestRedisQueued: a read and a save queued on a pipeline answer as Get
// and Save do, the first save winning.
func TestRedisQueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.New(t).Client(t)
	s, err := store.NewRedis(rdb, store.RedisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var pg store.PipelineStore = s
	if pg.Client() != rdb {
		t.Fatal("Client is not the store's client")
	}
	want := &store.Result{JobID: "vrf:q1", OrderNo: "q1", Kind: "idcard", Class: "match", Provider: "tencent-v3", AuthCode: "0"}
	pipe := rdb.Pipeline()
	first := pg.QueueSave(ctx, pipe, want)
	second := pg.QueueSave(ctx, pipe, &store.Result{JobID: "vrf:q1", OrderNo: "q1", Class: "mismatch"})
	invalid := pg.QueueSave(ctx, pipe, &store.Result{JobID: "vrf:q2"})
	_, _ = pipe.Exec(ctx)
	if ok, err := first(); !ok || err != nil {
		t.Fatalf("first queued save: %v, %v; want stored", ok, err)
	}
	if ok, err := second(); ok || err != nil {
		t.Fatalf("second queued save: %v, %v; want not stored, no error", ok, err)
	}
	if _, err := invalid(); err == nil {
		t.Fatal("queued save of a result without an order number: no error")
	}
	if got, err := s.GetByOrderNo(ctx, "q1"); err != nil || got.Class != "match" {
		t.Fatalf("after queued saves: %+v, %v; want the first", got, err)
	}
	pipe = rdb.Pipeline()
	found := pg.QueueGet(ctx, pipe, "vrf:q1")
	missing := pg.QueueGet(ctx, pipe, "vrf:none")
	_, _ = pipe.Exec(ctx)
	if got, err := found(); err != nil || got.OrderNo != "q1" || got.Class != "match" || got.Provider != "tencent-v3" {
		t.Fatalf("queued read of a stored result: %+v, %v", got, err)
	}
	if _, err := missing(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("queued read of a missing result: %v, want ErrNotFound", err)
	}
}
