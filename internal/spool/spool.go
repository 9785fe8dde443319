// Package spool keeps paid provider answers on local disk while they cannot
// be stored in Redis, so that a worker never loses an answer it has paid for.
//
// Each worker process opens a spool file of its own in a directory shared by
// the processes of one host. Put makes an entry durable (fsynced) before it
// returns; the worker deletes the entry once Redis holds the answer. When a
// process stops or dies with entries left, its file stays behind, and any
// process that later calls Adopt on the same directory hands them over.
//
// The files are bbolt databases (go.etcd.io/bbolt): bbolt gives atomic
// transactions, an fsync on every commit, and an exclusive flock(2) lock
// held as long as a database is open. That lock is how Adopt tells an
// orphaned file from one whose owner is alive: the kernel releases it when
// its owner closes the file or dies, even by kill -9, and a file Adopt cannot
// lock at once belongs to a live process (another *Spool of the same process
// included, since flock locks belong to open file descriptions) and is left
// alone.
//
// Delivery to Adopt's callback is at least once: an entry is deleted only
// after the callback accepted it, so a process that dies in between hands the
// same entry over again later. Values are opaque bytes.
//
// The package relies on Unix semantics (flock, renaming an open file,
// fsync of a directory).
package spool

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	// filePrefix and fileSuffix name the spool files Adopt considers.
	filePrefix = "spool-"
	fileSuffix = ".db"
	// tempSuffix is appended to a spool file's name while Open prepares it;
	// such a file never holds an entry.
	tempSuffix = ".tmp"
	// lockWait bounds how long opening another process's file waits for
	// its lock: a file still locked after it has a live owner.
	lockWait = 50 * time.Millisecond
	// staleTemp is the age after which Adopt removes a file left by an
	// Open that did not finish (its process died in the middle).
	staleTemp = 10 * time.Minute
)

// bucket holds the entries of a spool file, keyed by id.
var bucket = []byte("entries")

var (
	// ErrClosed is returned by the methods of a Spool after Close.
	ErrClosed = errors.New("spool: closed")
	// ErrEmptyID is returned by Put and Delete for an empty id.
	ErrEmptyID = errors.New("spool: empty id")
	// ErrCorrupt is reported by Adopt (wrapped in an *Error naming the
	// file) for a file named like a spool file that is not one: not a
	// valid bbolt database, or one without the spool's bucket. Adopt
	// leaves such a file alone.
	ErrCorrupt = errors.New("spool: not a valid spool file")
)

// Error describes a failed operation on one spool file (or, for Open and
// Adopt's listing, on the spool directory). It wraps the underlying error,
// including, for Adopt, the callback's error for one entry.
type Error struct {
	Op   string // "open", "put", "delete", "read", "close", "adopt"
	Path string // the spool file or directory
	ID   string // the entry's id, when the failure concerns one entry
	Err  error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("spool: %s %s (entry %q): %v", e.Op, e.Path, e.ID, e.Err)
	}
	return fmt.Sprintf("spool: %s %s: %v", e.Op, e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Spool is one process's spool file, open and locked until Close. Its
// methods are safe for concurrent use.
type Spool struct {
	dir  string
	path string

	mu     sync.RWMutex // write-held by Close; read-held by the others
	closed bool
	db     *bolt.DB
}

// Open creates dir (mode 0700) if needed and a new spool file of this
// process's own in it, named spool-<hostname>-<pid>-<random>.db (mode
// 0600), which stays open and locked until Close.
//
// The file is prepared under a temporary name and renamed once locked and
// initialised, so that Adopt never sees it unlocked.
func Open(dir string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &Error{Op: "open", Path: dir, Err: err}
	}
	name, err := newName()
	if err != nil {
		return nil, &Error{Op: "open", Path: dir, Err: err}
	}
	path := filepath.Join(dir, name)
	temp := path + tempSuffix
	db, err := bolt.Open(temp, 0o600, &bolt.Options{Timeout: lockWait, OpenFile: createExclusive})
	if err != nil {
		if !errors.Is(err, fs.ErrExist) {
			_ = os.Remove(temp)
		}
		return nil, &Error{Op: "open", Path: temp, Err: err}
	}
	fail := func(err error) (*Spool, error) {
		_ = db.Close()
		_ = os.Remove(temp)
		return nil, &Error{Op: "open", Path: path, Err: err}
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return fail(err)
	}
	// The lock belongs to the open file, so it survives the rename.
	if err := os.Rename(temp, path); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		_ = db.Close()
		_ = os.Remove(path)
		return nil, &Error{Op: "open", Path: path, Err: err}
	}
	return &Spool{dir: dir, path: path, db: db}, nil
}

// createExclusive is bbolt's OpenFile for a new spool file: it never opens
// an existing file.
func createExclusive(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag|os.O_CREATE|os.O_EXCL, perm)
}

// openExisting is bbolt's OpenFile for adopting a file: it never creates
// one (the file may have been adopted and removed meanwhile).
func openExisting(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag&^os.O_CREATE, perm)
}

// newName returns a fresh spool file name.
func newName() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	host = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, host)
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", err
	}
	return filePrefix + host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(random[:]) + fileSuffix, nil
}

// syncDir makes the directory's entries (a new or renamed file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// isSpoolName reports whether name is a spool file's name.
func isSpoolName(name string) bool {
	return strings.HasPrefix(name, filePrefix) && strings.HasSuffix(name, fileSuffix) &&
		len(name) > len(filePrefix)+len(fileSuffix)
}

// Path returns the spool file's path.
func (s *Spool) Path() string { return s.path }

// Put stores value under id, replacing any entry of the same id. The entry
// is durable (committed and fsynced) when Put returns nil.
func (s *Spool) Put(id string, value []byte) error {
	if id == "" {
		return &Error{Op: "put", Path: s.path, Err: ErrEmptyID}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return &Error{Op: "put", Path: s.path, ID: id, Err: ErrClosed}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(id), value)
	}); err != nil {
		return &Error{Op: "put", Path: s.path, ID: id, Err: err}
	}
	return nil
}

// Delete removes the entry of id, if any; the removal is durable when
// Delete returns nil.
func (s *Spool) Delete(id string) error {
	if id == "" {
		return &Error{Op: "delete", Path: s.path, Err: ErrEmptyID}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return &Error{Op: "delete", Path: s.path, ID: id, Err: ErrClosed}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Delete([]byte(id))
	}); err != nil {
		return &Error{Op: "delete", Path: s.path, ID: id, Err: err}
	}
	return nil
}

// entry is a copy of one stored entry, valid outside any transaction.
type entry struct {
	id    string
	value []byte
}

// Each calls fn for each of this spool's own entries, in id order, with a
// copy of the entries as they were when Each began; fn may keep the value
// and may call Put and Delete. An error of fn stops Each and is returned
// unchanged.
func (s *Spool) Each(fn func(id string, value []byte) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return &Error{Op: "read", Path: s.path, Err: ErrClosed}
	}
	entries, err := snapshot(s.db)
	s.mu.RUnlock()
	if err != nil {
		return &Error{Op: "read", Path: s.path, Err: err}
	}
	for _, e := range entries {
		if err := fn(e.id, e.value); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of this spool's entries.
func (s *Spool) Len() (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, &Error{Op: "read", Path: s.path, Err: ErrClosed}
	}
	n, err := count(s.db)
	if err != nil {
		return 0, &Error{Op: "read", Path: s.path, Err: err}
	}
	return n, nil
}

// Close closes the spool. It removes the file when it holds no entry and
// keeps it otherwise, for a later Adopt. Later calls return ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &Error{Op: "close", Path: s.path, Err: ErrClosed}
	}
	s.closed = true
	var errs []error
	// Removed while still locked, so that no one can open it in between.
	if n, err := count(s.db); err != nil {
		errs = append(errs, err)
	} else if n == 0 {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return &Error{Op: "close", Path: s.path, Err: err}
	}
	return nil
}

// Adopt hands over the entries of the directory's other spool files whose
// owners are gone: the files it can lock at once. A file locked by a live
// process, this one's other Spools included, is skipped after at most about
// 50ms. Adopt calls fn for each entry, file by file in name order and in id
// order within a file, while holding that file's lock; an entry for which
// fn returns nil is deleted from its file, and a file left without entries
// is removed. An entry for which fn returns an error stays for a later
// Adopt.
//
// Adopt returns how many entries fn accepted. Errors (fn's, each wrapped in
// an *Error naming the file and the entry, and those of files Adopt could
// not read, ErrCorrupt among them) are joined; none stops the others.
// Files not named like spool files are ignored; a file left by an Open
// that died midway is removed once it is old.
func (s *Spool) Adopt(fn func(id string, value []byte) error) (int, error) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return 0, &Error{Op: "adopt", Path: s.path, Err: ErrClosed}
	}
	dirents, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, &Error{Op: "adopt", Path: s.dir, Err: err}
	}
	var (
		accepted int
		errs     []error
	)
	for _, d := range dirents {
		name := d.Name()
		path := filepath.Join(s.dir, name)
		if !d.Type().IsRegular() || path == s.path {
			continue
		}
		if n := strings.TrimSuffix(name, tempSuffix); n != name && isSpoolName(n) {
			if err := removeStaleTemp(path); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if !isSpoolName(name) {
			continue
		}
		n, err := adoptFile(path, fn)
		accepted += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return accepted, errors.Join(errs...)
}

// adoptFile hands over the entries of the spool file at path unless its
// owner is alive.
func adoptFile(path string, fn func(id string, value []byte) error) (int, error) {
	// Open never lets a spool file be seen empty: an empty one is not ours
	// (and bbolt would write into it).
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // adopted and removed meanwhile
	}
	if err != nil {
		return 0, &Error{Op: "adopt", Path: path, Err: err}
	}
	if info.Size() == 0 {
		return 0, &Error{Op: "adopt", Path: path, Err: fmt.Errorf("%w: empty file", ErrCorrupt)}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait, OpenFile: openExisting})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return 0, nil // owner alive
	case errors.Is(err, fs.ErrNotExist):
		return 0, nil
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return 0, &Error{Op: "adopt", Path: path, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
	case err != nil:
		return 0, &Error{Op: "adopt", Path: path, Err: err}
	}

	var (
		accepted int
		errs     []error
	)
	entries, snapErr := snapshot(db)
	if snapErr != nil {
		errs = append(errs, &Error{Op: "adopt", Path: path, Err: snapErr})
	}
	for _, e := range entries {
		if err := fn(e.id, e.value); err != nil {
			errs = append(errs, &Error{Op: "adopt", Path: path, ID: e.id, Err: err})
			continue
		}
		accepted++
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucket).Delete([]byte(e.id))
		}); err != nil {
			errs = append(errs, &Error{Op: "adopt", Path: path, ID: e.id, Err: fmt.Errorf("delete accepted entry: %w", err)})
		}
	}
	if snapErr == nil {
		// Removed while still locked: an adopter that opened the file
		// before finds it empty once it gets the lock.
		if n, err := count(db); err != nil {
			errs = append(errs, &Error{Op: "adopt", Path: path, Err: err})
		} else if n == 0 {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, &Error{Op: "adopt", Path: path, Err: err})
			}
		}
	}
	if err := db.Close(); err != nil {
		errs = append(errs, &Error{Op: "adopt", Path: path, Err: err})
	}
	return accepted, errors.Join(errs...)
}

// removeStaleTemp removes a file left by an Open that did not finish, once
// it is old enough that no Open can still be preparing it. Such a file
// never holds an entry.
func removeStaleTemp(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && time.Since(info.ModTime()) > staleTemp {
		err = os.Remove(path)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &Error{Op: "adopt", Path: path, Err: err}
	}
	return nil
}

// errNoBucket is wrapped with ErrCorrupt for a bbolt database that is not a
// spool file.
var errNoBucket = fmt.Errorf("%w: no %q bucket", ErrCorrupt, bucket)

// snapshot copies all entries of db, in id order.
func snapshot(db *bolt.DB) ([]entry, error) {
	var entries []entry
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return errNoBucket
		}
		// Keys and values are only valid inside the transaction.
		return b.ForEach(func(k, v []byte) error {
			entries = append(entries, entry{id: string(k), value: bytes.Clone(v)})
			return nil
		})
	})
	return entries, err
}

// count returns the number of entries of db.
func count(db *bolt.DB) (int, error) {
	n := 0
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return errNoBucket
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}
