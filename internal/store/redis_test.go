package store_test

import (
	"context"
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
