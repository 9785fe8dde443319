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

// TestRedisQueueGet: a read queued on a pipeline answers as Get does.
func TestRedisQueueGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.New(t).Client(t)
	s, err := store.NewRedis(rdb, store.RedisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var pg store.PipelineGetter = s
	if pg.Client() != rdb {
		t.Fatal("Client is not the store's client")
	}
	want := &store.Result{JobID: "vrf:q1", OrderNo: "q1", Kind: "idcard", Class: "match", Provider: "tencent-v3", AuthCode: "0"}
	if _, err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	pipe := rdb.Pipeline()
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
