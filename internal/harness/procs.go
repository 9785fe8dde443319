package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StopGrace is how long a child has to exit after SIGTERM before it is
// killed: longer than the workers' REALNAME_SHUTDOWN_TIMEOUT.
const StopGrace = 15 * time.Second

// ErrTimeout is wrapped by the waits that gave up.
var ErrTimeout = errors.New("timed out")

// Proc is a child process of the harness. Its output goes to a log file in
// the harness's directory, whose tail a failure prints.
type Proc struct {
	// Name names the process in messages; its log is Name.log.
	Name string
	// LogPath is the file that holds its standard output and error.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // Wait's error, set before done is closed
}

// procSet is every child the harness started, for the clean-up.
type procSet struct {
	mu  sync.Mutex
	all []*Proc
}

func (s *procSet) add(p *Proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, p)
}

// stopAll stops every child still running, all at once.
func (s *procSet) stopAll() {
	s.mu.Lock()
	all := s.all
	s.mu.Unlock()
	StopProcs(all)
}

// Start runs path with args and env as a child named name; Close stops it
// if nothing else has. A name used before gets a log of its own all the
// same: the old one is kept as NAME.log.1, NAME.log.2, ….
func (h *Harness) Start(name string, env []string, path string, args ...string) (*Proc, error) {
	logPath := filepath.Join(h.Dir, name+".log")
	for i := 1; ; i++ {
		if _, err := os.Stat(logPath); errors.Is(err, os.ErrNotExist) {
			break
		}
		logPath = filepath.Join(h.Dir, fmt.Sprintf("%s.log.%d", name, i))
	}
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
	p := &Proc{Name: name, cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.procs.add(p)
	return p, nil
}

// PID returns the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done returns a channel closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Failure describes a process that ended when it should not have, with the
// end of its log.
func (p *Proc) Failure() error {
	return fmt.Errorf("%s exited early (%v); the end of its log:\n%s", p.Name, p.err, Tail(p.LogPath, 15))
}

// Kill kills the process with SIGKILL, as a crash would, and waits until
// it is gone.
func (p *Proc) Kill() {
	if !p.Exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// Stop stops the process (see StopProcs) and returns how it ended.
func (p *Proc) Stop() Exit {
	StopProcs([]*Proc{p})
	return p.Exit()
}

// StopProcs sends SIGTERM to every process still running, then waits for
// each, killing those that outlast StopGrace. Signalling them all first lets
// ten workers shut down side by side rather than one after another.
func StopProcs(ps []*Proc) {
	for _, p := range ps {
		if !p.Exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(StopGrace)
	for _, p := range ps {
		select {
		case <-p.done:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// Exit is how a stopped process ended: its peak resident set, and what it
// said was wrong.
type Exit struct {
	// Name is the process's name.
	Name string
	// KiB is its peak resident set size.
	KiB int64
	// Err is how it exited, when not cleanly.
	Err error
	// Warnings counts the lines it logged at level warn or above, by
	// level and message.
	Warnings map[string]int
}

// Exit describes the process, which must have exited. On Linux Maxrss is
// in KiB.
func (p *Proc) Exit() Exit {
	<-p.done
	e := Exit{Name: p.Name, Err: p.err}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		e.KiB = ru.Maxrss
	}
	e.Warnings = logWarnings(p.LogPath)
	return e
}

// logWarnings counts the zerolog JSON lines of the log at path at level
// warn or above, by level and message.
func logWarnings(path string) map[string]int {
	counts := make(map[string]int)
	ScanLog(path, func(line string) (string, bool) {
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

// WaitLogLine waits until a line of p's log makes match return ok, and
// returns what match found: how the harness learns a child's address. It
// gives up after 30s, or when p exits.
func WaitLogLine(ctx context.Context, p *Proc, match func(line string) (string, bool)) (string, error) {
	var v string
	err := Poll(ctx, 20*time.Millisecond, 30*time.Second, []*Proc{p}, func() (bool, error) {
		var ok bool
		v, ok = ScanLog(p.LogPath, match)
		return ok, nil
	}, func() string { return "no start line" })
	if errors.Is(err, ErrTimeout) {
		return "", fmt.Errorf("%s did not start within 30s; the end of its log:\n%s", p.Name, Tail(p.LogPath, 15))
	}
	return v, err
}

// Poll calls check every interval until it reports done, or an error. It
// gives up when ctx ends, when one of watch exits (the process's Failure),
// or after timeout, with an error that wraps ErrTimeout and says what
// status says then.
func Poll(ctx context.Context, every, timeout time.Duration, watch []*Proc, check func() (done bool, err error), status func() string) error {
	deadline := time.Now().Add(timeout)
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		for _, p := range watch {
			if p.Exited() {
				return p.Failure()
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s within %s: %w", status(), timeout.Round(time.Second), ErrTimeout)
		}
		if err := Sleep(ctx, every); err != nil {
			return err
		}
	}
}

// ScanLog calls match with each line of the file at path until it returns
// ok, and returns what it returned then; false when no line matched or the
// file cannot be read.
func ScanLog(path string, match func(line string) (string, bool)) (string, bool) {
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

// Tail returns the last n lines of the file at path.
func Tail(path string, n int) string {
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

// BaseEnv is the harness's environment without any REALNAME_ variable (a
// setting left in the shell must not change what is measured), and with
// the harness's encryption key ring.
func BaseEnv() []string {
	env := []string{"REALNAME_ENCRYPTION_KEYS=" + EncryptionKeys()}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REALNAME_") {
			env = append(env, kv)
		}
	}
	return env
}

// CPUTime returns the CPU time (user and system) the process has used so
// far; zero where /proc cannot tell.
func (p *Proc) CPUTime() time.Duration { return CPUTimeOf(p.PID()) }

// CPUTimeOf returns the CPU time of process pid from /proc/PID/stat.
func CPUTimeOf(pid int) time.Duration {
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

// Sleep waits for d or until ctx ends, and returns ctx's cause then.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// WarningNotes sums up what the processes logged at level warn or above,
// the processes of one run together (worker-quota-10w-1 … -10), one line
// a message.
func WarningNotes(ps []Exit) []string {
	type group struct {
		procs  map[string]bool
		counts map[string]int
	}
	groups := make(map[string]*group)
	for _, p := range ps {
		for msg, n := range p.Warnings {
			name := procGroup(p.Name)
			g := groups[name]
			if g == nil {
				g = &group{procs: make(map[string]bool), counts: make(map[string]int)}
				groups[name] = g
			}
			g.procs[p.Name] = true
			g.counts[msg] += n
		}
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		g := groups[name]
		for _, msg := range slices.Sorted(maps.Keys(g.counts)) {
			out = append(out, fmt.Sprintf("%s (%d process(es)) logged %d× %s", name, len(g.procs), g.counts[msg], msg))
		}
	}
	return out
}

// procGroup drops the process number of a name: worker-quota-10w-3 →
// worker-quota-10w.
func procGroup(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}
