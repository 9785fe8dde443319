// Command enqueue is the `make bench` harness for bulk enqueue: it starts a
// private redis-server, writes a file of generated identities, measures
// one-by-one asynq.Client.Enqueue from one goroutine (the baseline), then
// runs `realname enqueue` on the file as a separate process and prints its
// rows/s, its peak RSS and the ratio to the baseline, all in the same run.
//
//	go run ./internal/bench/enqueue -rows 1000000
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/task"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "rows in the generated file")
	baseline := flag.Int("baseline", 50_000, "tasks enqueued one by one for the baseline")
	concurrency := flag.Int("concurrency", 4, "realname enqueue --concurrency")
	chunk := flag.Int("chunk", 512, "realname enqueue --chunk-size")
	flag.Parse()
	if err := run(*rows, *baseline, *concurrency, *chunk); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(rows, baseline, concurrency, chunk int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "realname-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Printf("building realname and writing %d rows...\n", rows)
	bin := filepath.Join(dir, "realname")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/realname").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "rows.csv")
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := sample.WriteCSV(f, sample.Generate(rows, 1)); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	srv, err := redistest.Start(ctx, redistest.Options{})
	if err != nil {
		return err
	}
	defer srv.Stop()

	// Baseline: one-by-one Client.Enqueue from one goroutine, with the same
	// payloads, into database 1.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 1})
	defer rdb.Close()
	client := asynq.NewClientFromRedisClient(rdb)
	codec := harness.Codec()
	var tasks []*asynq.Task
	for e := range sample.Generate(baseline, 2) {
		v := task.Verification{Kind: task.KindIDCard, OrderNo: identity.OrderNo(e.OrderNo), EnqueuedAt: time.Now()}
		v.Name, _ = identity.ParseName(e.Name)
		v.IDNumber, _ = identity.ParseIDNumber(e.IDNumber)
		t, err := codec.NewVerifyTask(v, asynq.Queue(task.QueueBulk))
		if err != nil {
			return err
		}
		tasks = append(tasks, t)
	}
	start := time.Now()
	for _, t := range tasks {
		if _, err := client.EnqueueContext(ctx, t); err != nil {
			return err
		}
	}
	oneByOne := float64(baseline) / time.Since(start).Seconds()
	client.Close()

	// realname enqueue, a process of its own, into database 2.
	var out bytes.Buffer
	cmd := exec.Command(bin, "enqueue", "--batch", "bench", "--kind", "idcard", "--progress", "none",
		"--concurrency", fmt.Sprint(concurrency), "--chunk-size", fmt.Sprint(chunk), "--rejects", filepath.Join(dir, "rejects.csv"), file)
	cmd.Env = append(os.Environ(), fmt.Sprintf("REALNAME_REDIS_URL=redis://%s/2", srv.Addr), "REALNAME_ENCRYPTION_KEYS="+harness.EncryptionKeys())
	cmd.Stdout, cmd.Stderr = &out, &out
	start = time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("realname enqueue: %v\n%s", err, out.String())
	}
	elapsed := time.Since(start)
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
	if !strings.Contains(out.String(), fmt.Sprintf("enqueued  %d", rows)) {
		return fmt.Errorf("realname enqueue did not enqueue every row:\n%s", out.String())
	}
	rate := float64(rows) / elapsed.Seconds()

	fmt.Printf("\nbulk enqueue of %d rows (CSV parsing and validation included), private redis-server %s\n", rows, srv.Addr)
	fmt.Printf("  %-44s %10.0f tasks/s\n", "asynq Client.Enqueue one by one (baseline)", oneByOne)
	fmt.Printf("  %-44s %10.0f rows/s   %6.1fs   peak RSS %.0f MB   %.1fx baseline\n",
		fmt.Sprintf("realname enqueue (concurrency %d, chunks %d)", concurrency, chunk), rate, elapsed.Seconds(), float64(rss)/1024, rate/oneByOne)
	return nil
}
