// Package harness runs realname as it runs in production, every part in a
// process of its own, for the programs that exercise the whole pipeline:
// the bench (internal/bench/pipeline) and the fault injection
// (internal/chaos). A Harness builds the realname binary and the webhook
// receiver (internal/harness/receiver), generates identities and the
// sandbox's fixture of them, and starts a private redis-server; then, as a
// run asks, the sandbox provider (`realname sandbox`) with a client of its
// meter, the receiver with a client of what arrived, `realname worker`
// processes and `realname enqueue` of a batch. Every child logs to a file
// of its own in the harness's temporary directory, and Close stops them
// all and removes it.
//
// A Harness must be made in a directory of the module (it builds
// ./cmd/realname from the module's root), and needs redis-server on PATH.
package harness

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

	"github.com/redis/go-redis/v9"

	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/internal/webhook"
)

// Credentials the sandbox accepts and the workers sign with. They only ever
// reach a loopback sandbox.
const (
	SecretID  = "AKIDrealnameBench000000000000000000"
	SecretKey = "realname-bench-secret-key"
)

// DB is the Redis database of the runs: the workers', the batches' and
// `realname enqueue`'s. Fresh flushes every database.
const DB = 1

// VerifyPrefix starts the webhook-id of every verification's event, and
// of no batch.completed: the prefix to ask the receiver for.
var VerifyPrefix = task.WebhookID(task.JobID(""))

// ModeDefault is how the harnesses' flags take their defaults: v when it
// is set (not zero), else the default of the mode, short when isShort.
func ModeDefault[T comparable](v, full, short T, isShort bool) T {
	var zero T
	switch {
	case v != zero:
		return v
	case isShort:
		return short
	}
	return full
}

// Options configures New.
type Options struct {
	// Name names the temporary directory (realname-NAME-…).
	Name string
	// People is how many identities to generate: the largest batch any
	// run enqueues.
	People int
	// Build lists packages to build beside ./cmd/realname and the
	// receiver, as paths from the module's root (./internal/bench/enqueue);
	// BinPath gives each binary by its base name.
	Build []string
	// RedisArgs are extra redis-server arguments, e.g. "--appendonly",
	// "yes". StartRedisAgain starts it again with the same ones.
	RedisArgs []string
	// Keep leaves the directory, with every child's log, in place at
	// Close, for a look after a failure.
	Keep bool
}

// Harness holds what every run shares: the built binaries, the generated
// identities, the private Redis, the receiver, and the children to stop.
type Harness struct {
	// Dir is the temporary directory of everything: binaries, logs,
	// identities, Redis's files. Close removes it.
	Dir string
	// Bin is the realname binary.
	Bin string
	// Redis is the private redis-server.
	Redis *redistest.Server
	// RDB is a client of its database 0, for what spans the databases
	// (FLUSHALL, INFO).
	RDB *redis.Client
	// People is a CSV file of every generated identity, and Fixture the
	// sandbox's fixture of them (sample's realistic mix of answers).
	People, Fixture string
	// WebhookSecret signs the workers' webhooks; the receiver verifies them.
	WebhookSecret string
	// Receiver is the receiver StartReceiver started last.
	Receiver *Receiver

	keep      bool
	redisOpts redistest.Options
	rows      map[int]string
	receivers int
	procs     procSet
}

// New builds the binaries, generates the identities and starts Redis.
// Close undoes it, also after an error.
func New(ctx context.Context, opts Options) (_ *Harness, err error) {
	h := &Harness{rows: make(map[int]string), keep: opts.Keep}
	if h.Dir, err = os.MkdirTemp("", "realname-"+opts.Name+"-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	pkgs := append([]string{"./cmd/realname", "./internal/harness/receiver"}, opts.Build...)
	fmt.Printf("building %s...\n", strings.Join(pkgs, " "))
	// Never with -race, whatever runs the harness: the children are
	// measured, and a race-built worker is several times slower.
	build := exec.CommandContext(ctx, "go", append([]string{"build", "-o", h.Dir + string(filepath.Separator)}, pkgs...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build: %v\n%s", err, out)
	}
	h.Bin = h.BinPath("realname")

	// One file of identities, the largest any run needs; each run takes
	// its first rows. The fixture makes the sandbox answer them with the
	// sample's realistic mix of outcomes.
	h.People, h.Fixture = filepath.Join(h.Dir, "people.csv"), filepath.Join(h.Dir, "fixture.jsonl")
	sample := exec.CommandContext(ctx, h.Bin, "sample", "--n", strconv.Itoa(max(opts.People, 1)), "--seed", "1", "--format", "csv",
		"--out", h.People, "--fixture", h.Fixture)
	if out, err := sample.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("realname sample: %v\n%s", err, out)
	}

	h.redisOpts = redistest.Options{Dir: filepath.Join(h.Dir, "redis"), Args: opts.RedisArgs}
	if err := os.Mkdir(h.redisOpts.Dir, 0o700); err != nil {
		return nil, err
	}
	if h.Redis, err = redistest.Start(ctx, h.redisOpts); err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(h.Redis.Addr)
	if h.redisOpts.Port, err = strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("redis address %s: %w", h.Redis.Addr, err)
	}
	h.RDB = redis.NewClient(&redis.Options{Addr: h.Redis.Addr})
	if h.WebhookSecret, err = webhook.GenerateSecret(); err != nil {
		return nil, err
	}
	return h, nil
}

// moduleRoot returns the directory of the module the harness runs in.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not in a Go module: run from the realname module")
	}
	return filepath.Dir(mod), nil
}

// BinPath returns the path of a binary New built, by its base name
// (realname, receiver, enqueue).
func (h *Harness) BinPath(name string) string { return filepath.Join(h.Dir, name) }

// Close stops every child, then Redis, and removes the directory unless
// Options.Keep says to leave it.
func (h *Harness) Close() {
	h.procs.stopAll()
	if h.RDB != nil {
		h.RDB.Close()
	}
	if h.Redis != nil {
		h.Redis.Stop()
	}
	if h.keep {
		fmt.Printf("the logs are in %s\n", h.Dir)
		return
	}
	os.RemoveAll(h.Dir)
}

// StartRedisAgain starts redis-server again on the port, in the directory
// and with the arguments of the first: after h.Redis.Kill or
// h.Redis.Shutdown, it comes back as a Redis restarted in place would,
// from its AOF when RedisArgs turned it on. RDB reconnects by itself.
func (h *Harness) StartRedisAgain(ctx context.Context) error {
	s, err := redistest.Start(ctx, h.redisOpts)
	if err != nil {
		return err
	}
	h.Redis = s
	return nil
}

// RedisURL is the URL of database db of the private Redis.
func (h *Harness) RedisURL(db int) string {
	return fmt.Sprintf("redis://%s/%d", h.Redis.Addr, db)
}

// Fresh empties Redis and the receiver's log, and zeroes the sandbox's
// meter: each run starts from nothing.
func (h *Harness) Fresh(ctx context.Context, sb *Sandbox) error {
	if err := h.RDB.FlushAll(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis: %w", err)
	}
	if err := h.Receiver.Reset(ctx); err != nil {
		return err
	}
	return sb.Reset(ctx)
}

// RowsFile returns a CSV file of the first n generated identities.
func (h *Harness) RowsFile(n int) (string, error) {
	if path, ok := h.rows[n]; ok {
		return path, nil
	}
	in, err := os.Open(h.People)
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
	path := filepath.Join(h.Dir, fmt.Sprintf("rows-%d.csv", n))
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", err
	}
	h.rows[n] = path
	return path, nil
}

// EnqueueBatch runs `realname enqueue` on the first n identities as batch
// name, in database DB, and checks that it enqueued all n.
func (h *Harness) EnqueueBatch(ctx context.Context, name string, n int) error {
	file, err := h.RowsFile(n)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, h.Bin, "enqueue", "--batch", name, "--kind", "idcard", "--progress", "none",
		"--rejects", filepath.Join(h.Dir, name+".rejects.csv"), file)
	cmd.Env = append(BaseEnv(), "REALNAME_REDIS_URL="+h.RedisURL(DB))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("realname enqueue: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("enqueued  %d\n", n)) {
		return fmt.Errorf("realname enqueue did not enqueue %d rows:\n%s", n, out)
	}
	return nil
}

// Realname runs the realname binary with args on database DB, as an
// operator would (`realname queue resume`), and returns its standard
// output; an error carries its standard error.
func (h *Harness) Realname(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.Bin, args...)
	cmd.Env = append(BaseEnv(), "REALNAME_REDIS_URL="+h.RedisURL(DB))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("realname %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}
