package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// openT opens a spool in dir and closes it at the end of the test unless
// the test closed it.
func openT(t *testing.T, dir string) *Spool {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Error(err)
		}
	})
	return s
}

// contents returns s's entries as a map, checking that Each gives them in
// id order.
func contents(t *testing.T, s *Spool) map[string]string {
	t.Helper()
	got := map[string]string{}
	var ids []string
	if err := s.Each(func(id string, value []byte) error {
		got[id] = string(value)
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("Each gave ids %q, not in order", ids)
	}
	if n, err := s.Len(); err != nil || n != len(got) {
		t.Errorf("Len() = %d, %v; Each gave %d entries", n, err, len(got))
	}
	return got
}

// adoptAll adopts with a callback that accepts every entry, and returns
// them.
func adoptAll(t *testing.T, s *Spool) (map[string]string, error) {
	t.Helper()
	got := map[string]string{}
	n, err := s.Adopt(func(id string, value []byte) error {
		got[id] = string(value)
		return nil
	})
	if n != len(got) {
		t.Errorf("Adopt returned %d, accepted %d", n, len(got))
	}
	return got, err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	type op struct {
		del   bool
		id    string
		value string
	}
	tests := []struct {
		name string
		ops  []op
		want map[string]string
	}{
		{"empty", nil, map[string]string{}},
		{"puts in any order", []op{{id: "b", value: "2"}, {id: "a", value: "1"}, {id: "c", value: "3"}},
			map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"same id overwrites", []op{{id: "a", value: "old"}, {id: "a", value: "new"}},
			map[string]string{"a": "new"}},
		{"empty value", []op{{id: "a", value: ""}}, map[string]string{"a": ""}},
		{"delete", []op{{id: "a", value: "1"}, {id: "b", value: "2"}, {del: true, id: "a"}},
			map[string]string{"b": "2"}},
		{"delete of a missing id", []op{{id: "a", value: "1"}, {del: true, id: "zz"}},
			map[string]string{"a": "1"}},
		{"put after delete", []op{{id: "a", value: "1"}, {del: true, id: "a"}, {id: "a", value: "2"}},
			map[string]string{"a": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openT(t, t.TempDir())
			for _, o := range tt.ops {
				var err error
				if o.del {
					err = s.Delete(o.id)
				} else {
					err = s.Put(o.id, []byte(o.value))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := contents(t, s); !maps.Equal(got, tt.want) {
				t.Errorf("entries = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "spool")
	s := openT(t, dir)
	name := filepath.Base(s.Path())
	if filepath.Dir(s.Path()) != dir || !isSpoolName(name) ||
		!strings.Contains(name, fmt.Sprintf("-%d-", os.Getpid())) {
		t.Errorf("Path() = %q", s.Path())
	}
	for path, want := range map[string]fs.FileMode{dir: 0o700 | fs.ModeDir, s.Path(): 0o600} {
		if fi, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	// The temporary file is gone.
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 1 {
		t.Errorf("files in the directory: %q", files)
	}
	if other := openT(t, dir); other.Path() == s.Path() {
		t.Error("two spools share a file")
	}
}

func TestEach(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Put(id, []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop")
	var seen []string
	err := s.Each(func(id string, _ []byte) error {
		seen = append(seen, id)
		if id == "b" {
			return stop
		}
		return nil
	})
	if err != stop || !slices.Equal(seen, []string{"a", "b"}) {
		t.Errorf("Each = %v after %q, want stop after a, b", err, seen)
	}
	// fn may write to the spool: drain it.
	var kept [][]byte
	if err := s.Each(func(id string, value []byte) error {
		kept = append(kept, value)
		return s.Delete(id)
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Len(); n != 0 || err != nil {
		t.Errorf("Len() after draining = %d, %v", n, err)
	}
	if string(slices.Concat(kept...)) != "abc" {
		t.Errorf("values kept from Each = %q", kept)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{s.Put("", nil), s.Delete("")} {
		if !errors.Is(err, ErrEmptyID) {
			t.Errorf("empty id: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, lenErr := s.Len()
	_, adoptErr := s.Adopt(func(string, []byte) error { return nil })
	for i, err := range []error{s.Put("a", nil), s.Delete("a"), s.Each(nil), lenErr, adoptErr, s.Close()} {
		var se *Error
		if !errors.Is(err, ErrClosed) || !errors.As(err, &se) || se.Path != s.Path() {
			t.Errorf("call %d after Close: %v", i, err)
		}
	}

	// Open in a place where the directory cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(file, "spool")); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("Open under a file: %v", err)
	}
}

func TestCloseAndAdopt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	empty := openT(t, dir)
	if err := empty.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(empty.Path()) {
		t.Error("Close of an empty spool kept its file")
	}

	old := openT(t, dir)
	for _, id := range []string{"a", "b", "c"} {
		if err := old.Put(id, []byte("v"+id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if !exists(old.Path()) {
		t.Fatal("Close of a spool with entries removed its file")
	}

	s := openT(t, dir)
	// First refuse b: it stays in the file.
	refuse := errors.New("redis down")
	got := map[string]string{}
	n, err := s.Adopt(func(id string, value []byte) error {
		if id == "b" {
			return refuse
		}
		got[id] = string(value)
		return nil
	})
	var se *Error
	if n != 2 || !errors.Is(err, refuse) || !errors.As(err, &se) || se.Path != old.Path() || se.ID != "b" {
		t.Fatalf("Adopt = %d, %v; want 2 and the refusal of b in %s", n, err, old.Path())
	}
	if want := map[string]string{"a": "va", "c": "vc"}; !maps.Equal(got, want) {
		t.Errorf("adopted %v, want %v", got, want)
	}
	if !exists(old.Path()) {
		t.Fatal("Adopt removed a file still holding an entry")
	}
	// A later Adopt gets b, and the emptied file goes.
	got, err = adoptAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"b": "vb"}; !maps.Equal(got, want) {
		t.Errorf("adopted %v, want %v", got, want)
	}
	if exists(old.Path()) {
		t.Error("Adopt kept an emptied file")
	}
	// Adopt never touches the spool's own entries.
	if err := s.Put("own", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := adoptAll(t, s); err != nil || len(got) != 0 {
		t.Errorf("Adopt with nothing to adopt = %v, %v", got, err)
	}
	if got := contents(t, s); !maps.Equal(got, map[string]string{"own": "x"}) {
		t.Errorf("own entries = %v", got)
	}
}

// TestAdoptSkipsLive: a file held open by a live spool, here of this same
// process, is not adopted, and Adopt does not wait for it.
func TestAdoptSkipsLive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	live := openT(t, dir)
	if err := live.Put("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	s := openT(t, dir)
	start := time.Now()
	got, err := adoptAll(t, s)
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("Adopt took %v", elapsed)
	}
	if err != nil || len(got) != 0 {
		t.Errorf("Adopt = %v, %v; want nothing", got, err)
	}
	if got := contents(t, live); !maps.Equal(got, map[string]string{"a": "1"}) {
		t.Errorf("live spool's entries = %v", got)
	}
}

// TestAdoptConcurrent: spools adopting the same orphaned files at once hand
// each entry over exactly once, and remove every file.
func TestAdoptConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := map[string]string{}
	var paths []string
	for f := range 6 {
		s := openT(t, dir)
		for e := range 5 {
			id := fmt.Sprintf("%d-%d", f, e)
			want[id] = "v" + id
			if err := s.Put(id, []byte(want[id])); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, s.Path())
	}

	var (
		mu   sync.Mutex
		got  = map[string]string{}
		dups []string
		wg   sync.WaitGroup
	)
	for range 4 {
		s := openT(t, dir)
		wg.Go(func() {
			_, err := s.Adopt(func(id string, value []byte) error {
				mu.Lock()
				defer mu.Unlock()
				if _, ok := got[id]; ok {
					dups = append(dups, id)
				}
				got[id] = string(value)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(dups) > 0 || !maps.Equal(got, want) {
		t.Errorf("adopted %v (twice: %q), want %v", got, dups, want)
	}
	for _, p := range paths {
		if exists(p) {
			t.Errorf("%s is still there", p)
		}
	}
}

// TestAdoptIgnoresAndReports: files not named like spool files are left
// alone; a corrupt spool file is reported and kept; a temporary file of an
// Open that died long ago is removed, a recent one kept.
func TestAdoptIgnoresAndReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := openT(t, dir)
	if err := old.Put("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	files := []struct {
		name    string
		content string
		age     time.Duration
		corrupt bool // reported as ErrCorrupt
		removed bool
	}{
		{name: "notes.txt", content: "hello"},
		{name: "spool-x.db.bak", content: "not ours"},
		{name: "other.db", content: strings.Repeat("x", 8192)},
		{name: "spool-garbage-1-00.db", content: strings.Repeat("not a bolt database\n", 500), corrupt: true},
		{name: "spool-short-1-00.db", content: "short", corrupt: true},
		{name: "spool-empty-1-00.db", content: "", corrupt: true},
		{name: "spool-dead-1-00.db.tmp", content: "", age: time.Hour, removed: true},
		{name: "spool-busy-1-00.db.tmp", content: ""},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if f.age > 0 {
			then := time.Now().Add(-f.age)
			if err := os.Chtimes(path, then, then); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "spool-dir-1-00.db"), 0o700); err != nil {
		t.Fatal(err)
	}

	s := openT(t, dir)
	got, err := adoptAll(t, s)
	if want := map[string]string{"a": "1"}; !maps.Equal(got, want) {
		t.Errorf("adopted %v, want %v", got, want)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("Adopt error %v does not report corrupt files", err)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if mentioned := err != nil && strings.Contains(err.Error(), path); mentioned != f.corrupt {
			t.Errorf("%s: mentioned in the error: %t", f.name, mentioned)
		}
		if exists(path) == f.removed {
			t.Errorf("%s: removed: %t, want %t", f.name, !f.removed, f.removed)
			continue
		}
		if !f.removed {
			if b, err := os.ReadFile(path); err != nil || string(b) != f.content {
				t.Errorf("%s: changed (%v)", f.name, err)
			}
		}
	}
	var errs interface{ Unwrap() []error }
	if !errors.As(err, &errs) || len(errs.Unwrap()) != 3 {
		t.Errorf("Adopt error: %v", err)
	}
}

// TestAdoptAfterKill: an entry Put by a process killed with SIGKILL is
// adopted from its file, which no one can adopt while that process lives.
func TestAdoptAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SPOOL_CHILD=1", "SPOOL_DIR="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				lines <- line
				break
			}
		}
		close(lines)
		for sc.Scan() { // keep the pipe drained
		}
	}()
	var childPath string
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("the child exited before it was ready")
		}
		childPath = line
	case <-time.After(30 * time.Second):
		t.Fatal("the child is not ready after 30s")
	}

	s := openT(t, dir)
	if got, err := adoptAll(t, s); err != nil || len(got) != 0 {
		t.Fatalf("Adopt while the child lives = %v, %v; want nothing", got, err)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the child exited normally")
	}
	if !exists(childPath) {
		t.Fatalf("the child's file %s is gone", childPath)
	}
	got, err := adoptAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"job-1": `{"result":"paid"}`}; !maps.Equal(got, want) {
		t.Errorf("adopted %v, want %v", got, want)
	}
	if exists(childPath) {
		t.Error("the adopted file is still there")
	}
}

// TestChildProcess is TestAdoptAfterKill's child: it Puts an entry in a
// spool, reports ready, and waits to be killed.
func TestChildProcess(t *testing.T) {
	if os.Getenv("SPOOL_CHILD") != "1" {
		t.Skip("run by TestAdoptAfterKill")
	}
	s, err := Open(os.Getenv("SPOOL_DIR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := s.Put("job-1", []byte(`{"result":"paid"}`)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("ready " + s.Path())
	time.Sleep(time.Minute) // killed long before
	os.Exit(3)
}
