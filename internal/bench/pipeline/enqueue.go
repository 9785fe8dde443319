package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/realname-io/realname/internal/harness"
)

// enqueueResult is (e): the figures the enqueue harness prints.
type enqueueResult struct {
	rows                int
	oneByOne, rate      float64 // tasks/s, rows/s
	elapsed             time.Duration
	rssMB               float64
	concurrency, chunks int
}

// The enqueue harness's result lines (internal/bench/enqueue).
var (
	enqueueBaselineLine = regexp.MustCompile(`asynq Client\.Enqueue one by one \(baseline\)\s+([0-9.]+) tasks/s`)
	enqueueRunLine      = regexp.MustCompile(`realname enqueue \(concurrency (\d+), chunks (\d+)\)\s+([0-9.]+) rows/s\s+([0-9.]+)s\s+peak RSS ([0-9.]+) MB`)
)

// runEnqueueBench runs the enqueue harness, as `make bench` always did,
// showing its output as it comes, and reads its figures from it.
func (h *bench) runEnqueueBench(ctx context.Context) (enqueueResult, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, h.enqBin, "-rows", strconv.Itoa(h.cfg.enqueueRows), "-baseline", strconv.Itoa(h.cfg.enqueueBaseline))
	// Its temporary directory (and its Redis's) inside ours, so that the
	// clean-up removes them even when it is stopped before its own.
	cmd.Env = append(harness.BaseEnv(), "TMPDIR="+h.Dir)
	cmd.Stdout = io.MultiWriter(os.Stdout, &out)
	cmd.Stderr = io.MultiWriter(os.Stderr, &out)
	// A group of its own, signalled as a whole on cancel: the harness and
	// the `realname enqueue` it runs stop together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = harness.StopGrace
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return enqueueResult{}, context.Cause(ctx)
		}
		return enqueueResult{}, fmt.Errorf("enqueue harness: %w", err)
	}
	r, err := parseEnqueueOutput(out.String())
	r.rows = h.cfg.enqueueRows
	return r, err
}

// parseEnqueueOutput reads the figures of the enqueue harness's output.
func parseEnqueueOutput(s string) (enqueueResult, error) {
	var r enqueueResult
	b := enqueueBaselineLine.FindStringSubmatch(s)
	m := enqueueRunLine.FindStringSubmatch(s)
	if b == nil || m == nil {
		return r, fmt.Errorf("enqueue harness: no figures in its output:\n%s", s)
	}
	r.oneByOne, _ = strconv.ParseFloat(b[1], 64)
	r.concurrency, _ = strconv.Atoi(m[1])
	r.chunks, _ = strconv.Atoi(m[2])
	r.rate, _ = strconv.ParseFloat(m[3], 64)
	secs, _ := strconv.ParseFloat(m[4], 64)
	r.elapsed = time.Duration(secs * float64(time.Second))
	r.rssMB, _ = strconv.ParseFloat(m[5], 64)
	return r, nil
}
