package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/webhook"
)

// Credentials the sandbox accepts and the workers sign with. They only ever
// reach a loopback sandbox.
const (
	secretID  = "AKIDrealnameBench000000000000000000"
	secretKey = "realname-bench-secret-key"
)

// Redis databases: the pipeline's runs use one, the asynq baseline another.
// Both are flushed before each run.
const (
	pipelineDB = 1
	asynqDB    = 2
)

// harness holds what every run shares: the built binaries, the generated
// identities, the private Redis, the receiver, and the children to stop.
type harness struct {
	cfg     config
	dir     string // removed by close
	bin     string // realname
	enqBin  string // the enqueue harness
	redis   *redistest.Server
	rdb     *redis.Client // database 0: INFO, FLUSHALL
	people  string        // CSV of every generated identity
	fixture string        // the sandbox's fixture of them
	rows    map[int]string

	webhookSecret string
	receiver      *receiverProc
	procs         procSet
}

// newHarness builds the binaries, generates the identities and starts
// Redis. close undoes it, also after an error.
func newHarness(ctx context.Context, cfg config) (_ *harness, err error) {
	h := &harness{cfg: cfg, rows: make(map[int]string)}
	if h.dir, err = os.MkdirTemp("", "realname-pipeline-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	fmt.Println("building realname and the enqueue harness...")
	build := exec.CommandContext(ctx, "go", "build", "-o", h.dir+string(filepath.Separator), "./cmd/realname", "./internal/bench/enqueue")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build: %v\n%s", err, out)
	}
	h.bin, h.enqBin = filepath.Join(h.dir, "realname"), filepath.Join(h.dir, "enqueue")

	// One file of identities, the largest any run needs; each run takes
	// its first rows. The fixture makes the sandbox answer them with the
	// sample's realistic mix of outcomes.
	n := max(cfg.jobs, cfg.e2eJobs, h.signupBatchJobs())
	h.people, h.fixture = filepath.Join(h.dir, "people.csv"), filepath.Join(h.dir, "fixture.jsonl")
	sample := exec.CommandContext(ctx, h.bin, "sample", "--n", strconv.Itoa(n), "--seed", "1", "--format", "csv",
		"--out", h.people, "--fixture", h.fixture)
	if out, err := sample.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("realname sample: %v\n%s", err, out)
	}

	if h.redis, err = redistest.Start(ctx, redistest.Options{}); err != nil {
		return nil, err
	}
	h.rdb = redis.NewClient(&redis.Options{Addr: h.redis.Addr})
	if h.webhookSecret, err = webhook.GenerateSecret(); err != nil {
		return nil, err
	}
	return h, nil
}

// close stops every child, then Redis, and removes the directory.
func (h *harness) close() {
	h.procs.stopAll()
	if h.rdb != nil {
		h.rdb.Close()
	}
	if h.redis != nil {
		h.redis.Stop()
	}
	os.RemoveAll(h.dir)
}

// redisURL is the URL of database db of the private Redis.
func (h *harness) redisURL(db int) string {
	return fmt.Sprintf("redis://%s/%d", h.redis.Addr, db)
}

// fresh empties Redis and the receiver's log, and zeroes the sandbox's
// meter: each run starts from nothing.
func (h *harness) fresh(ctx context.Context, sb *sandboxProc) error {
	if err := h.rdb.FlushAll(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis: %w", err)
	}
	if err := h.receiver.reset(ctx); err != nil {
		return err
	}
	return sb.reset(ctx)
}

// rowsFile returns a CSV file of the first n generated identities.
func (h *harness) rowsFile(n int) (string, error) {
	if path, ok := h.rows[n]; ok {
		return path, nil
	}
	in, err := os.Open(h.people)
	if err != nil {
		return "", err
	}
	defer in.Close()
	var b strings.Builder
	sc := bufio.NewScanner(in)
	for i := 0; i <= n && sc.Scan(); i++ { // the header and n rows
		b.WriteString(sc.Text() + "\n")
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	path := filepath.Join(h.dir, fmt.Sprintf("rows-%d.csv", n))
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", err
	}
	h.rows[n] = path
	return path, nil
}

// enqueueBatch runs `realname enqueue` on the first n identities as batch
// name, in the pipeline's database.
func (h *harness) enqueueBatch(ctx context.Context, name string, n int) error {
	file, err := h.rowsFile(n)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, h.bin, "enqueue", "--batch", name, "--kind", "idcard", "--progress", "none",
		"--rejects", filepath.Join(h.dir, name+".rejects.csv"), file)
	cmd.Env = append(baseEnv(), "REALNAME_REDIS_URL="+h.redisURL(pipelineDB))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("realname enqueue: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("enqueued  %d\n", n)) {
		return fmt.Errorf("realname enqueue did not enqueue %d rows:\n%s", n, out)
	}
	return nil
}

// workerSpec is how a run configures its workers.
type workerSpec struct {
	// count is the number of worker processes.
	count int
	// rateLimit is REALNAME_RATE_LIMIT, shared by all of them.
	rateLimit int
	// env holds further REALNAME_ settings of the run.
	env []string
}

// workerProc is a running worker and the address of its metrics.
type workerProc struct {
	*proc
	metricsAddr string
}

// startWorkers starts the workers of a run, calling the sandbox sb, and
// returns them with the time just before the first started.
func (h *harness) startWorkers(sb *sandboxProc, run string, spec workerSpec) ([]*workerProc, time.Time, error) {
	var ws []*workerProc
	start := time.Now()
	addrs, err := freeAddrs(spec.count)
	if err != nil {
		return nil, start, err
	}
	for i, addr := range addrs {
		env := append(baseEnv(),
			"REALNAME_REDIS_URL="+h.redisURL(pipelineDB),
			"REALNAME_PROVIDER=tencent-v2",
			"REALNAME_TENCENT_ENDPOINT="+sb.url+"/v2/index.php",
			"REALNAME_TENCENT_SECRET_ID="+secretID,
			"REALNAME_TENCENT_SECRET_KEY="+secretKey,
			"REALNAME_WEBHOOK_URL="+h.receiver.url+hooksPath,
			"REALNAME_WEBHOOK_SECRET="+h.webhookSecret,
			"REALNAME_RATE_LIMIT="+strconv.Itoa(spec.rateLimit),
			"REALNAME_METRICS_ADDR="+addr,
			// Info logs two lines a job: enough to cost CPU the
			// measurement would miss.
			"REALNAME_LOG_LEVEL=warn",
			// Every run stops its workers; they have nothing left to
			// finish but what a stop in the middle of (c) cuts short.
			"REALNAME_SHUTDOWN_TIMEOUT=5s",
		)
		env = append(env, spec.env...)
		p, err := h.start(fmt.Sprintf("worker-%s-%d", run, i+1), env, h.bin, "worker")
		if err != nil {
			return nil, start, err
		}
		ws = append(ws, &workerProc{proc: p, metricsAddr: addr})
	}
	return ws, start, nil
}

// stopWorkers stops the workers and returns their peak RSS.
func stopWorkers(ws []*workerProc) []procExit {
	ps := procsOf(ws)
	stopProcs(ps)
	out := make([]procExit, len(ps))
	for i, p := range ps {
		out[i] = p.exit()
	}
	return out
}

// procsOf returns the processes of ws, for waits that watch them.
func procsOf(ws []*workerProc) []*proc {
	ps := make([]*proc, len(ws))
	for i, w := range ws {
		ps[i] = w.proc
	}
	return ps
}

// freeAddrs returns n distinct loopback addresses whose ports were free a
// moment ago: all are held open until all are chosen, so the kernel cannot
// hand one port out twice. A worker binds its own at start; another
// process taking it in between would fail the run loudly rather than skew
// it.
func freeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}
