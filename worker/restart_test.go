package worker_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/ratelimit"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/spool"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/worker"
)

// TestRedisRestartBillsNothingTwice: Redis (AOF, appendfsync everysec) is
// shut down, or killed, in the middle of a batch and comes back a moment
// later. Answers that arrive while it is away are kept until it takes
// them; results it lost with the last second of its AOF are stored again
// before any new call. No order number is billed twice, and every job has
// its result and its event.
func TestRedisRestartBillsNothingTwice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kill bool
		// lose is how many bytes of the AOF's tail are cut before the
		// restart: the writes of the last moment lost with the host, as
		// appendfsync everysec allows (a killed redis-server alone loses
		// nothing it answered).
		lose int64
	}{{"shutdown", false, 0}, {"kill -9", true, 0}, {"host crash", true, 64 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := redistest.Options{Dir: t.TempDir(), Args: []string{"--appendonly", "yes", "--appendfsync", "everysec"}}
			srv, err := redistest.Start(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Stop() })
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { rdb.Close() })
			lat, err := sandbox.ParseLatency("fixed:150ms")
			if err != nil {
				t.Fatal(err)
			}
			const n = 300
			b := setup(t, setupOpts{n: n, rdb: rdb, faults: sandbox.Faults{Latency: lat}})
			sp, err := spool.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sp.Close() })
			b.startWorker(t, b.config(t, func(c *worker.Config) {
				c.Spool = sp
				c.RateLimit = ratelimit.Config{Rate: 150, Burst: 1}
				c.BulkConcurrency = 60
			}))
			b.enqueueAll(t, producer.Bulk)
			deadline := time.Now().Add(20 * time.Second)
			for b.stack.Sandbox.Stats().Calls < n/3 {
				if time.Now().After(deadline) {
					t.Fatalf("batch not under way: %d calls", b.stack.Sandbox.Stats().Calls)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tc.kill {
				srv.Kill()
			} else {
				srv.Shutdown()
			}
			if tc.lose > 0 {
				cutAOF(t, opts.Dir, tc.lose)
			}
			time.Sleep(time.Second) // answers of the calls in flight arrive meanwhile
			opts.Port = portOf(t, srv.Addr)
			if srv, err = redistest.Start(ctx, opts); err != nil {
				t.Fatal(err)
			}
			b.waitWebhooks(t, 60*time.Second)
			st := b.stack.Sandbox.Stats()
			if st.OrderNoReused != 0 {
				t.Fatalf("%d order numbers billed twice (%d calls, %d billed, for %d jobs)", st.OrderNoReused, st.Calls, st.Billed, n)
			}
			b.checkTruth(t)
			if got := b.countResults(t); got != n {
				t.Fatalf("%d results for %d jobs", got, n)
			}
			if k, err := sp.Len(); err != nil || k != 0 {
				t.Fatalf("spool holds %d results (%v) after everything was stored", k, err)
			}
		})
	}
}

// cutAOF cuts n bytes from the end of the newest incremental AOF file in
// dir (Redis 7's appendonlydir) or of appendonly.aof (older).
func cutAOF(t *testing.T, dir string, n int64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "appendonlydir", "*.incr.aof"))
	if len(files) == 0 {
		files = []string{filepath.Join(dir, "appendonly.aof")}
	}
	slices.Sort(files)
	f := files[len(files)-1]
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f, max(0, fi.Size()-n)); err != nil {
		t.Fatal(err)
	}
	t.Logf("AOF %s cut from %d to %d bytes", filepath.Base(f), fi.Size(), max(0, fi.Size()-n))
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, ok := strings.Cut(addr, ":")
	port, err := strconv.Atoi(p)
	if !ok || err != nil {
		t.Fatalf("address %q: no port", addr)
	}
	return port
}
