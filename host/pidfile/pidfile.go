package pidfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Name is the pid file's name inside data_dir.
const Name = "altimeter.pid"

// ErrLocked is returned by Acquire when a live agent holds the pid file.
var ErrLocked = errors.New("another agent holds the pid file")

// ErrNotRunning is returned by Running when no agent holds the pid file.
var ErrNotRunning = errors.New("no agent is running")

// File is a held pid file.
type File struct {
	path string
	f    *os.File
}

// Path is the pid file of the agent whose data directory is dataDir.
func Path(dataDir string) string { return filepath.Join(dataDir, Name) }

// Acquire takes the pid file in dataDir for this process: it locks it
// (flock, released by the kernel if the process dies) and writes the pid.
// When another live process holds it, the error wraps ErrLocked and names
// that pid.
func Acquire(dataDir string) (*File, error) {
	path := Path(dataDir)
	for try := 0; ; try++ {
		p, err := acquire(path)
		// A holder that released (removed) the file between our open and
		// our lock leaves us the lock on an unlinked file: open again.
		if errors.Is(err, errReplaced) && try < 3 {
			continue
		}
		return p, err
	}
}

var errReplaced = errors.New("pid file replaced while locking")

func acquire(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open pid file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid, rerr := readPID(path); rerr == nil {
				return nil, fmt.Errorf("%s: %w (pid %d)", path, ErrLocked, pid)
			}
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock pid file %s: %w", path, err)
	}
	held, herr := f.Stat()
	named, nerr := os.Stat(path)
	if herr != nil || nerr != nil || !os.SameFile(held, named) {
		_ = f.Close()
		return nil, fmt.Errorf("%s: %w", path, errReplaced)
	}
	if err := f.Truncate(0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	return &File{path: path, f: f}, nil
}

// Release removes the pid file and drops the lock. Safe to call twice and
// on nil.
func (p *File) Release() error {
	if p == nil || p.f == nil {
		return nil
	}
	// Remove while still locked, so no other agent takes a file that is
	// about to go away.
	err := os.Remove(p.path)
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	p.f = nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove pid file: %w", err)
	}
	return nil
}

// Running returns the pid of the agent holding the pid file in dataDir. It
// returns an error wrapping ErrNotRunning when there is no pid file, or
// when no process holds its lock (a stale file left by a killed agent).
func Running(dataDir string) (int, error) {
	path := Path(dataDir)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%s: no pid file: %w", path, ErrNotRunning)
	}
	if err != nil {
		return 0, fmt.Errorf("open pid file: %w", err)
	}
	defer func() { _ = f.Close() }()
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); {
	case err == nil:
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, fmt.Errorf("%s: stale pid file: %w", path, ErrNotRunning)
	case !errors.Is(err, syscall.EWOULDBLOCK):
		return 0, fmt.Errorf("lock pid file %s: %w", path, err)
	}
	return readPID(path)
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: %q is not a pid", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}
