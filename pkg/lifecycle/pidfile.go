package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrAlreadyRunning is wrapped by WritePIDFile's error when another
// instance holds the PID file.
var ErrAlreadyRunning = errors.New("already running")

// WritePIDFile writes this process's pid to path and returns a function
// that removes the file again, but only while it still holds our pid.
//
// If path names a live process of this same program (its /proc comm or
// argv[0] matches our executable's name), it fails with "already running as
// pid N". A pid that is dead, belongs to another program (reused after a
// reboot), is our own (a container restarting as pid 1) or is unreadable is
// stale: it is replaced and a line logged on slog.Default(). The file
// appears atomically, complete: it is written to a temporary file and
// hard-linked into place, and the link fails if someone else created the
// file meanwhile (O_EXCL semantics), in which case the new holder is
// examined again.
func WritePIDFile(path string) (release func() error, err error) {
	return writePIDFile(path, slog.Default())
}

func writePIDFile(path string, logger *slog.Logger) (func() error, error) {
	pid := os.Getpid()
	self := selfName()
	content := []byte(strconv.Itoa(pid) + "\n")

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, werr := tmp.Write(content)
	if werr == nil {
		werr = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("pid file %s: write temp: %w", path, werr)
	}

	for attempt := 0; ; attempt++ {
		err := os.Link(tmpName, path)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			// Filesystems without hard links: fall back to O_EXCL create.
			if err := createExcl(path, content); err == nil {
				break
			} else if !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("pid file %s: %w", path, err)
			}
		}
		if attempt == 3 {
			return nil, fmt.Errorf("pid file %s: keeps being recreated by another process", path)
		}
		old, reason, running := inspectPIDFile(path, self, pid)
		if running {
			return nil, fmt.Errorf("pid file %s: %w as pid %d", path, ErrAlreadyRunning, old)
		}
		logger.Warn("replacing stale pid file", "path", path, "old_pid", old, "reason", reason)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale pid file %s: %w", path, err)
		}
	}

	var once sync.Once
	var relErr error
	return func() error {
		once.Do(func() {
			b, err := os.ReadFile(path)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					relErr = fmt.Errorf("release pid file %s: %w", path, err)
				}
				return
			}
			if !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(content)) {
				return // someone else's now; not ours to remove
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				relErr = fmt.Errorf("release pid file %s: %w", path, err)
			}
		})
		return relErr
	}, nil
}

func createExcl(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// inspectPIDFile decides whether the pid in path is a running instance of
// this program. reason explains a stale verdict for the log.
func inspectPIDFile(path, self string, ourPID int) (pid int, reason string, running bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "unreadable: " + err.Error(), false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Sprintf("no pid in %q", strings.TrimSpace(string(b))), false
	}
	if pid == ourPID {
		return pid, "holds our own pid (left by an earlier run in this pid namespace)", false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return pid, "process is gone", false
	}
	name, ok := processName(pid, self)
	if !ok {
		return pid, "pid now belongs to another program (" + name + ")", false
	}
	return pid, "", true
}

// processName reports whether pid runs the program named self, judged by
// /proc/<pid>/comm (truncated by the kernel to 15 bytes) or the base name
// of its argv[0]. When /proc cannot tell, the process counts as ours:
// refusing to start is safer than two instances sharing one database.
func processName(pid int, self string) (string, bool) {
	proc := "/proc/" + strconv.Itoa(pid)
	comm, cerr := os.ReadFile(proc + "/comm")
	cmdline, lerr := os.ReadFile(proc + "/cmdline")
	if cerr != nil && lerr != nil {
		return "", true
	}
	name := strings.TrimSpace(string(comm))
	short := self
	if len(short) > 15 {
		short = short[:15]
	}
	if name != "" && name == short {
		return name, true
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	if len(argv0) > 0 && filepath.Base(string(argv0)) == self {
		return name, true
	}
	if name == "" {
		name = filepath.Base(string(argv0))
	}
	return name, false
}

func selfName() string {
	if exe, err := os.Executable(); err == nil {
		return filepath.Base(exe)
	}
	return filepath.Base(os.Args[0])
}
