// Package redistest gives tests and benchmarks a private Redis: a
// redis-server process on a free loopback port, started once per test package
// and stopped when the package's tests end, so that packages run in parallel
// without touching each other or the machine's own Redis.
//
// Within a package, each test takes a database of its own with New, flushed
// before and after, so tests may run in parallel too. When TEST_REDIS_URL is
// set, that server is used instead of starting one (run one package at a
// time then: go test -p 1).
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// databases is how many logical databases a private server has: one per test
// of a package that asks for one.
const databases = 1024

// Server is a redis-server process this package started.
type Server struct {
	// Addr is host:port of the server.
	Addr string

	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// Options configures Start.
type Options struct {
	// Args are extra redis-server arguments, e.g. "--appendonly", "yes".
	Args []string
	// Dir is the server's working directory (AOF, logs). Defaults to a new
	// temporary directory, removed by Stop.
	Dir string
	// Port is the port to listen on. Defaults to a free one; set it (with
	// Dir and the same Args) to start a server again where one stopped.
	Port int
}

// Start runs a redis-server on a free loopback port and waits until it
// answers PING. It fails when redis-server is not on PATH.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redistest: redis-server not found on PATH (apt-get install redis-server): %w", err)
	}
	dir := opts.Dir
	ownDir := dir == ""
	if ownDir {
		if dir, err = os.MkdirTemp("", "redistest-"); err != nil {
			return nil, err
		}
	}
	var lastErr error
	// A port found free can be taken before redis-server binds it: try a few.
	for range 5 {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		args := append([]string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--databases", strconv.Itoa(databases),
			"--dir", dir,
			"--logfile", filepath.Join(dir, "redis.log"),
		}, opts.Args...)
		cmd := exec.Command(bin, args...)
		// Its own process group, so a Ctrl-C of go test reaches it through
		// Stop rather than killing it behind our back.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, done: make(chan struct{})}
		if ownDir {
			s.dir = dir
		}
		go func() { _ = cmd.Wait(); close(s.done) }()
		if lastErr = s.waitReady(ctx); lastErr == nil {
			return s, nil
		}
		s.kill()
	}
	if ownDir {
		os.RemoveAll(dir)
	}
	return nil, fmt.Errorf("redistest: redis-server did not start: %w (log in %s)", lastErr, dir)
}

func (s *Server) waitReady(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.done:
			return errors.New("redis-server exited")
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Kill kills the server with SIGKILL, as a crash would, and waits until
// it is gone. Its directory stays.
func (s *Server) Kill() { s.kill() }

// Shutdown stops the server with SIGTERM, as an operator would (Redis
// writes its AOF and exits), and waits until it is gone. Its directory
// stays.
func (s *Server) Shutdown() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.kill()
	}
}

// Stop shuts the server down and removes its directory when Start made it.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.kill()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// PID returns the server's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// The package's shared server, started by Main or lazily by the first New.
var (
	mu      sync.Mutex
	shared  *Server
	baseURL *url.URL
	nextDB  = 1 // database 0 is left alone
	mainRan bool
)

// Main runs the package's tests with a private redis-server (or
// TEST_REDIS_URL) and stops it afterwards. Call it from TestMain.
func Main(m *testing.M) {
	mu.Lock()
	mainRan = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
	mu.Unlock()
	os.Exit(code)
}

// DB is one logical database of the package's server, reserved for one test.
type DB struct {
	// Addr is host:port of the server.
	Addr string
	// Password is the server's password, empty for a private server.
	Password string
	// Index is the database number.
	Index int
}

// URL returns the database as a redis:// URL.
func (d DB) URL() string {
	u := url.URL{Scheme: "redis", Host: d.Addr, Path: "/" + strconv.Itoa(d.Index)}
	if d.Password != "" {
		u.User = url.UserPassword("", d.Password)
	}
	return u.String()
}

// Options returns go-redis options for the database.
func (d DB) Options() *redis.Options {
	return &redis.Options{Addr: d.Addr, Password: d.Password, DB: d.Index}
}

// Client returns a go-redis client for the database, closed by the test's
// cleanup.
func (d DB) Client(tb testing.TB) *redis.Client {
	c := redis.NewClient(d.Options())
	tb.Cleanup(func() { c.Close() })
	return c
}

// New reserves a fresh, empty database for tb and flushes it when tb ends.
// The package's server starts on first use; the package must call Main from
// TestMain so that it is stopped.
func New(tb testing.TB) DB {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !mainRan {
		tb.Fatal("redistest: call redistest.Main(m) from TestMain")
	}
	var db DB
	if raw := os.Getenv("TEST_REDIS_URL"); raw != "" {
		if baseURL == nil {
			u, err := url.Parse(raw)
			if err != nil {
				tb.Fatalf("redistest: TEST_REDIS_URL: %v", err)
			}
			baseURL = u
		}
		db.Addr = baseURL.Host
		db.Password, _ = baseURL.User.Password()
	} else {
		if shared == nil {
			s, err := Start(context.Background(), Options{})
			if err != nil {
				tb.Fatal(err)
			}
			shared = s
		}
		db.Addr = shared.Addr
	}
	if nextDB >= databases {
		tb.Fatalf("redistest: more than %d databases asked for in one package", databases-1)
	}
	db.Index = nextDB
	nextDB++
	c := redis.NewClient(db.Options())
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatalf("redistest: flush db %d: %v", db.Index, err)
	}
	tb.Cleanup(func() {
		c := redis.NewClient(db.Options())
		defer c.Close()
		_ = c.FlushDB(context.Background()).Err()
	})
	return db
}

// LogTail returns the last lines of a server's log, for a failing test to
// print.
func (s *Server) LogTail(n int) string {
	if s.dir == "" {
		return ""
	}
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
