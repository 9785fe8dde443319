// Package storetest is the conformance suite every store.Store
// implementation passes: the Redis store now, the PostgreSQL one later.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/store"
)

// Run runs the suite. newStore returns an empty store for one subtest.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	result := func(n int) *store.Result {
		return &store.Result{
			JobID: fmt.Sprintf("vrf:order-%d", n), OrderNo: fmt.Sprintf("order-%d", n), Kind: "idcard",
			Class: "match", Provider: "tencent-v2", Action: "BspIdCardAuth", AuthCode: "00", Message: "认证通过",
			Attempts: 1, Identity: store.MaskedIdentity{Name: "张*丰", IDNumber: "110101********1234"},
			EnqueuedAt:  time.UnixMilli(1700000000000).UTC(),
			CompletedAt: time.UnixMilli(1700000001000).UTC(),
		}
	}

	t.Run("SaveThenGet", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		want := result(1)
		ok, err := s.Save(ctx, want)
		if err != nil || !ok {
			t.Fatalf("Save = %v, %v; want true, nil", ok, err)
		}
		got, err := s.Get(ctx, want.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.EnqueuedAt.Equal(want.EnqueuedAt) || !got.CompletedAt.Equal(want.CompletedAt) {
			t.Fatalf("times: got %v/%v, want %v/%v", got.EnqueuedAt, got.CompletedAt, want.EnqueuedAt, want.CompletedAt)
		}
		got.EnqueuedAt, got.CompletedAt = want.EnqueuedAt, want.CompletedAt
		if *got != *want {
			t.Fatalf("Get = %+v\nwant %+v", got, want)
		}
		byOrder, err := s.GetByOrderNo(ctx, want.OrderNo)
		if err != nil || byOrder.JobID != want.JobID {
			t.Fatalf("GetByOrderNo = %+v, %v", byOrder, err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.Get(ctx, "vrf:nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get = %v, want ErrNotFound", err)
		}
		if _, err := s.GetByOrderNo(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetByOrderNo = %v, want ErrNotFound", err)
		}
	})

	t.Run("FirstResultWins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := result(2)
		second := result(2)
		second.Class, second.AuthCode = "mismatch", "01"
		if ok, err := s.Save(ctx, first); err != nil || !ok {
			t.Fatalf("first Save = %v, %v", ok, err)
		}
		if ok, err := s.Save(ctx, second); err != nil || ok {
			t.Fatalf("second Save = %v, %v; want false, nil", ok, err)
		}
		got, err := s.Get(ctx, first.JobID)
		if err != nil || got.Class != "match" {
			t.Fatalf("Get = %+v, %v; the first result must stay", got, err)
		}
	})

	t.Run("ConcurrentSavesStoreOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		stored := 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := result(3)
				r.Attempts = i + 1
				ok, err := s.Save(ctx, r)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					stored++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if stored != 1 {
			t.Fatalf("%d concurrent saves stored, want exactly 1", stored)
		}
	})

	t.Run("RejectsIncompleteResult", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.Save(ctx, &store.Result{OrderNo: "x"}); err == nil {
			t.Fatal("saved a result without a job ID")
		}
	})
}
