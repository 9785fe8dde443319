package batch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/webhook"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func newStore(t *testing.T) *Store { return New(redistest.New(t).Client(t)) }

// TestRecordCompletesOnce: 4 goroutines record 200 jobs, each job several
// times (as retries and re-runs do); the counts are exact and exactly one
// call reports the completion.
func TestRecordCompletesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.Open(ctx, "b", "idcard", ""); err != nil {
		t.Fatal(err)
	}
	first, err := s.Reserve(ctx, "b", 200)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "b", Progress{Read: 200, Enqueued: 200}); err != nil {
		t.Fatal(err)
	}
	if completed, err := s.Seal(ctx, "b"); err != nil || completed {
		t.Fatalf("seal with nothing done: %v, %v", completed, err)
	}
	var completions atomic.Int32
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range int64(200) {
				class := "match"
				if i%10 == 0 {
					class = "mismatch"
				}
				done, err := s.Record(ctx, "b", first+(i+int64(g)*50)%200, class, i%7 == 0)
				if err != nil {
					t.Error(err)
				}
				if done {
					completions.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	st, err := s.Get(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if completions.Load() != 1 || st.State != StateCompleted || st.Done != 200 || st.ByClass["match"]+st.ByClass["mismatch"] != 200 {
		t.Fatalf("%d completions, status %+v", completions.Load(), st)
	}
}

func TestSealCompletesWhenAllDone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.Open(ctx, "b", "idcard", "https://hooks.example.com/cb"); err != nil {
		t.Fatal(err)
	}
	seq, _ := s.Reserve(ctx, "b", 1)
	_ = s.Add(ctx, "b", Progress{Read: 1, Enqueued: 1, OrderNos: []string{"o1"}})
	if done, _ := s.Record(ctx, "b", seq, "match", false); done {
		t.Fatal("completed before the seal")
	}
	done, err := s.Seal(ctx, "b")
	if err != nil || !done {
		t.Fatalf("seal after every job: %v, %v; want completion", done, err)
	}
	if done, _ := s.Seal(ctx, "b"); done {
		t.Fatal("a second seal completed it again")
	}
	st, _ := s.Get(ctx, "b")
	if st.CallbackURL != "https://hooks.example.com/cb" || st.CompletedAt.IsZero() {
		t.Fatalf("status %+v", st)
	}
}

func TestOpenRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.Open(ctx, "has space", "idcard", ""); err == nil {
		t.Fatal("bad name accepted")
	}
	if _, err := s.Open(ctx, "b", "idcard", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "b", "mobile3", ""); err == nil {
		t.Fatal("reopened with another kind")
	}
	if _, err := s.Cancel(ctx, "nope"); err != ErrNotFound {
		t.Fatalf("cancel of a missing batch: %v", err)
	}
	if done, err := s.Cancel(ctx, "b"); err != nil || !done {
		t.Fatalf("cancel of an empty batch: %v, %v; want completion", done, err)
	}
	if _, err := s.Open(ctx, "b", "idcard", ""); err == nil {
		t.Fatal("reopened a cancelled batch")
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "b" {
		t.Fatalf("list %+v, %v", list, err)
	}
}

// TestOpenRefusalsChangeNothing: an Open refused for its kind, its state
// or its callback URL leaves the batch (and the index) as they were, the
// callback URL included; the policy given to the Store decides which URLs
// pass.
func TestOpenRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.New(t).Client(t)
	s := New(rdb)
	snapshot := func() map[string]string {
		t.Helper()
		m, err := rdb.HGetAll(ctx, "realname:batch:b").Result()
		if err != nil {
			t.Fatal(err)
		}
		idx, err := rdb.ZRangeWithScores(ctx, "realname:batches", 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		m["(index)"] = fmt.Sprint(idx)
		return m
	}
	if _, err := s.Open(ctx, "b", "idcard", "https://hooks.example.com/first"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "b", Progress{Read: 3, Enqueued: 2, Rejected: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	before := snapshot()
	for _, tc := range []struct{ name, kind, url, want string }{
		{"wrong kind with a new callback", "mobile3", "https://hooks.example.com/second", "kind idcard"},
		{"wrong kind without a callback", "mobile3", "", "kind idcard"},
		{"not a URL", "idcard", "not-a-url", "callbackUrl"},
		{"plain http", "idcard", "http://hooks.example.com/x", "callbackUrl"},
		{"private address", "idcard", "https://10.0.0.1/x", "callbackUrl"},
		{"metadata address", "idcard", "http://169.254.169.254/latest/meta-data/", "callbackUrl"},
		{"loopback", "idcard", "https://127.0.0.1:9/cb", "callbackUrl"},
		{"user info", "idcard", "https://u:p@hooks.example.com/x", "callbackUrl"},
	} {
		_, err := s.Open(ctx, "b", tc.kind, tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open = %v, want an error naming %q", tc.name, err, tc.want)
		}
		var ue *webhook.URLError
		if tc.want == "callbackUrl" && !errors.As(err, &ue) {
			t.Errorf("%s: Open = %v, want it to wrap a *webhook.URLError", tc.name, err)
		}
		if after := snapshot(); !maps.Equal(before, after) {
			t.Errorf("%s: the refused Open changed the batch:\nbefore %v\nafter  %v", tc.name, before, after)
		}
	}
	if _, err := s.Open(ctx, "new", "idcard", "not-a-url"); err == nil {
		t.Error("a new batch opened with callbackUrl=not-a-url")
	}
	if n, _ := rdb.Exists(ctx, "realname:batch:new").Result(); n != 0 {
		t.Error("a refused Open created the batch")
	}

	// A cancelled (completed) batch refuses a reopen, and keeps its URL.
	if _, err := s.Cancel(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	before = snapshot()
	if _, err := s.Open(ctx, "b", "idcard", "https://hooks.example.com/third"); err == nil {
		t.Error("reopened a cancelled batch")
	}
	if after := snapshot(); !maps.Equal(before, after) {
		t.Errorf("the refused reopen changed the batch:\nbefore %v\nafter  %v", before, after)
	}

	// A Store allowlisting loopback takes a loopback http URL; a resumed
	// run replaces the URL and counts its rows afresh.
	loop := New(rdb, WithCallbackPolicy(webhook.URLPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}))
	if _, err := loop.Open(ctx, "c", "idcard", "http://127.0.0.1:9/cb"); err != nil {
		t.Fatal(err)
	}
	_ = loop.Add(ctx, "c", Progress{Read: 5})
	st, err := loop.Open(ctx, "c", "idcard", "http://127.0.0.1:10/cb")
	if err != nil || st.CallbackURL != "http://127.0.0.1:10/cb" || st.Read != 0 || st.State != StateOpen {
		t.Fatalf("resumed: %+v, %v", st, err)
	}
	if st, _ := loop.Open(ctx, "c", "idcard", ""); st.CallbackURL != "http://127.0.0.1:10/cb" {
		t.Errorf("an Open without a callback URL changed it to %q", st.CallbackURL)
	}
}

// TestQueueRecordAndReclass: a queued record says whether it counted the
// job (once) and whether it completed the batch; Reclass moves a counted
// job to another class and cache flag.
func TestQueueRecordAndReclass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.Open(ctx, "b", "idcard", ""); err != nil {
		t.Fatal(err)
	}
	first, err := s.Reserve(ctx, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "b", Progress{Read: 2, Enqueued: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	record := func(seq int64, class string, cached bool) (completed, counted bool) {
		t.Helper()
		pipe := s.rdb.Pipeline()
		cmd := s.QueueRecord(ctx, pipe, "b", seq, class, cached, 1)
		_, _ = pipe.Exec(ctx)
		completed, counted, err := RecordedCompleted("b", seq, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return completed, counted
	}
	if completed, counted := record(first, "match", true); completed || !counted {
		t.Fatalf("first job: completed %v counted %v; want counted only", completed, counted)
	}
	if completed, counted := record(first, "mismatch", false); completed || counted {
		t.Fatalf("first job again: completed %v counted %v; want neither", completed, counted)
	}
	if err := s.Reclass(ctx, "b", "match", true, "mismatch", false); err != nil {
		t.Fatal(err)
	}
	if completed, counted := record(first+1, "match", false); !completed || !counted {
		t.Fatalf("last job: completed %v counted %v; want both", completed, counted)
	}
	st, err := s.Get(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != 2 || st.ByClass["match"] != 1 || st.ByClass["mismatch"] != 1 || st.Cached != 0 || st.State != StateCompleted || st.PossiblyBilled != 2 {
		t.Fatalf("status %+v: want 2 done, one match, one mismatch, none cached, 2 possibly billed (one per counted job), completed", st)
	}
}
