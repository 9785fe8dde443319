package harness

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// WorkerSpec is how a run configures its workers.
type WorkerSpec struct {
	// Run names the run: its workers are worker-RUN-1, worker-RUN-2, …,
	// and share the spool directory spool-RUN in the harness's directory.
	Run string
	// Count is the number of worker processes StartWorkers starts.
	Count int
	// RateLimit is REALNAME_RATE_LIMIT, shared by all of them.
	RateLimit int
	// Env holds further REALNAME_ settings of the run; they win over the
	// harness's (REALNAME_LOG_LEVEL=info, a wrong secret key).
	Env []string
}

// Worker is a running `realname worker` and the address of its metrics.
type Worker struct {
	*Proc
	// MetricsAddr is where it serves /metrics.
	MetricsAddr string
}

// StartWorkers starts spec.Count workers calling the sandbox sb and
// delivering to h.Receiver, and returns them with the time just before the
// first started.
func (h *Harness) StartWorkers(sb *Sandbox, spec WorkerSpec) ([]*Worker, time.Time, error) {
	var ws []*Worker
	start := time.Now()
	addrs, err := FreeAddrs(spec.Count)
	if err != nil {
		return nil, start, err
	}
	for i, addr := range addrs {
		w, err := h.startWorker(sb, spec, fmt.Sprintf("worker-%s-%d", spec.Run, i+1), addr)
		if err != nil {
			return ws, start, err
		}
		ws = append(ws, w)
	}
	return ws, start, nil
}

// StartWorker starts one worker of the run spec, named name: one more, or
// one in place of a worker that died.
func (h *Harness) StartWorker(sb *Sandbox, spec WorkerSpec, name string) (*Worker, error) {
	addrs, err := FreeAddrs(1)
	if err != nil {
		return nil, err
	}
	return h.startWorker(sb, spec, name, addrs[0])
}

// startWorker starts a worker serving its metrics on addr.
func (h *Harness) startWorker(sb *Sandbox, spec WorkerSpec, name, addr string) (*Worker, error) {
	env := append(BaseEnv(),
		"REALNAME_REDIS_URL="+h.RedisURL(DB),
		"REALNAME_PROVIDER=tencent-v2",
		"REALNAME_TENCENT_ENDPOINT="+sb.URL+"/v2/index.php",
		"REALNAME_TENCENT_SECRET_ID="+SecretID,
		"REALNAME_TENCENT_SECRET_KEY="+SecretKey,
		"REALNAME_WEBHOOK_URL="+h.Receiver.HooksURL(),
		"REALNAME_WEBHOOK_SECRET="+h.WebhookSecret,
		// The receiver is on loopback, which webhooks may reach only
		// when allowed.
		"REALNAME_WEBHOOK_ALLOW=127.0.0.0/8",
		"REALNAME_RATE_LIMIT="+strconv.Itoa(spec.RateLimit),
		"REALNAME_METRICS_ADDR="+addr,
		// The run's own spool, shared by its workers as by the workers
		// of a host: a worker that dies leaves its answers to the others.
		"REALNAME_SPOOL_DIR="+filepath.Join(h.Dir, "spool-"+spec.Run),
		// Info logs two lines a job: enough to cost CPU the
		// measurement would miss.
		"REALNAME_LOG_LEVEL=warn",
		// Every run stops its workers; they have nothing left to finish
		// but what a stop in the middle of a run cuts short.
		"REALNAME_SHUTDOWN_TIMEOUT=5s",
	)
	// Later entries win (os/exec keeps the last value of a key).
	env = append(env, spec.Env...)
	p, err := h.Start(name, env, h.Bin, "worker")
	if err != nil {
		return nil, err
	}
	return &Worker{Proc: p, MetricsAddr: addr}, nil
}

// StopWorkers stops the workers side by side and returns how each ended.
func StopWorkers(ws []*Worker) []Exit {
	ps := ProcsOf(ws)
	StopProcs(ps)
	out := make([]Exit, len(ps))
	for i, p := range ps {
		out[i] = p.Exit()
	}
	return out
}

// ProcsOf returns the processes of ws, for waits that watch them.
func ProcsOf(ws []*Worker) []*Proc {
	ps := make([]*Proc, len(ws))
	for i, w := range ws {
		ps[i] = w.Proc
	}
	return ps
}

// FreeAddrs returns n distinct loopback addresses whose ports were free a
// moment ago: all are held open until all are chosen, so the kernel cannot
// hand one port out twice. A child binds its own at start; another process
// taking it in between would fail the run loudly rather than skew it.
func FreeAddrs(n int) ([]string, error) {
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
