package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a child has to exit after SIGTERM before it is
// killed: longer than the workers' REALNAME_SHUTDOWN_TIMEOUT.
const stopGrace = 15 * time.Second

// proc is a child process of the harness. Its output goes to a log file in
// the harness's directory, whose tail a failure prints.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited
	err     error         // Wait's error, set before done is closed
}

// procSet is every child the harness started, for the clean-up.
type procSet struct {
	mu  sync.Mutex
	all []*proc
}

func (s *procSet) add(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, p)
}

// stopAll stops every child still running, all at once.
func (s *procSet) stopAll() {
	s.mu.Lock()
	all := s.all
	s.mu.Unlock()
	stopProcs(all)
}

// start runs path with args and env as a child named name.
func (h *harness) start(name string, env []string, path string, args ...string) (*proc, error) {
	logPath := filepath.Join(h.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	// A process group of its own, so that a Ctrl-C at the terminal reaches
	// the harness only, which then stops its children in order; the
	// parent-death signal kills it should the harness die without doing so.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.procs.add(p)
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// failure describes a process that ended when it should not have.
func (p *proc) failure() error {
	return fmt.Errorf("%s exited early (%v); the end of its log:\n%s", p.name, p.err, tail(p.logPath, 15))
}

// stopProcs sends SIGTERM to every process still running, then waits for
// each, killing those that outlast stopGrace. Signalling them all first lets
// ten workers shut down side by side rather than one after another.
func stopProcs(ps []*proc) {
	for _, p := range ps {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(stopGrace)
	for _, p := range ps {
		select {
		case <-p.done:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// procExit is how a stopped process ended: its peak resident set, and
// what it said was wrong.
type procExit struct {
	name string
	kib  int64
	err  error // how it exited, when not cleanly
	// warnings counts the lines it logged at level warn or above, by
	// level and message.
	warnings map[string]int
}

// stopProc stops p and returns how it ended.
func stopProc(p *proc) procExit {
	stopProcs([]*proc{p})
	return p.exit()
}

// exit describes an exited process. On Linux Maxrss is in KiB.
func (p *proc) exit() procExit {
	e := procExit{name: p.name, err: p.err}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		e.kib = ru.Maxrss
	}
	e.warnings = logWarnings(p.logPath)
	return e
}

// logWarnings counts the zerolog JSON lines of the log at path at level
// warn or above, by level and message.
func logWarnings(path string) map[string]int {
	counts := make(map[string]int)
	scanLog(path, func(line string) (string, bool) {
		var l struct{ Level, Message, Error string }
		if json.Unmarshal([]byte(line), &l) != nil {
			return "", false
		}
		switch l.Level {
		case "warn", "error", "fatal", "panic":
			counts[strings.TrimSpace(l.Level+": "+l.Message+" "+l.Error)]++
		}
		return "", false
	})
	return counts
}

// waitLogLine waits until a line of p's log makes match return ok, and
// returns what match found: how the harness learns a child's address.
func waitLogLine(ctx context.Context, p *proc, match func(line string) (string, bool)) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if v, ok := scanLog(p.logPath, match); ok {
			return v, nil
		}
		if p.exited() {
			return "", p.failure()
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s did not start within 30s; the end of its log:\n%s", p.name, tail(p.logPath, 15))
		}
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func scanLog(path string, match func(string) (string, bool)) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := match(sc.Text()); ok {
			return v, true
		}
	}
	return "", false
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// baseEnv is the harness's environment without any REALNAME_ variable: a
// setting left in the shell must not change what is measured.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REALNAME_") {
			env = append(env, kv)
		}
	}
	return env
}

// errTimeout is wrapped by waits that gave up.
var errTimeout = errors.New("timed out")

// cpuTime returns the CPU time (user and system) the process has used so
// far, from /proc; zero where /proc cannot tell.
func (p *proc) cpuTime() time.Duration { return cpuTimeOf(p.cmd.Process.Pid) }

// cpuTimeOf returns the CPU time of process pid from /proc/PID/stat.
func cpuTimeOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15
	// of the line, in clock ticks of 1/100 s.
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	var ticks int64
	for _, s := range f[11:13] {
		var n int64
		fmt.Sscan(s, &n)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
