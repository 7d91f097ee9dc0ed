// Package host reads the facts of the machine lightnvr runs on that several
// parts report or act on: memory, a process's status and disk space. Each is
// read and defined here once, so the system API, `lightnvr diag`, the stream
// manager's memory gate and the storage controller agree on what "available"
// and "total" mean. It also writes the files that must survive a power cut
// whole (the INI, go2rtc's configuration, the HTTPS key).
package host

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MeminfoPath is the kernel's memory report.
const MeminfoPath = "/proc/meminfo"

// Memory is what the kernel says of the machine's memory, in bytes.
type Memory struct {
	Total uint64
	// Available is MemAvailable: what new work can get without swapping,
	// page cache that can be dropped included.
	Available uint64
}

// ReadMemory reads a meminfo file (MeminfoPath, or a copy under another
// proc root).
func ReadMemory(path string) (Memory, error) {
	kv, err := readKV(path)
	if err != nil {
		return Memory{}, fmt.Errorf("read memory: %w", err)
	}
	avail, ok := kv["MemAvailable"]
	if !ok {
		return Memory{}, fmt.Errorf("read memory: %s has no MemAvailable line", path)
	}
	return Memory{Total: kbBytes(kv["MemTotal"]), Available: kbBytes(avail)}, nil
}

// Process is a process's resident memory and thread count.
type Process struct {
	RSS     uint64
	Threads int
}

// ReadProcess reads a /proc/PID/status file ("/proc/self/status" for ours).
func ReadProcess(path string) (Process, error) {
	kv, err := readKV(path)
	if err != nil {
		return Process{}, fmt.Errorf("read process status: %w", err)
	}
	rss, ok := kv["VmRSS"]
	if !ok {
		return Process{}, fmt.Errorf("read process status: %s has no VmRSS line", path)
	}
	threads, _ := strconv.Atoi(kv["Threads"])
	return Process{RSS: kbBytes(rss), Threads: threads}, nil
}

// Disk is what statfs says of the filesystem holding a path, in bytes. Free
// is what an unprivileged writer may still use (f_bavail): the blocks ext4
// keeps for root never count as room. Used is the blocks in use, so Used and
// Free need not add up to Total.
type Disk struct {
	Total uint64 `json:"total_bytes"`
	Free  uint64 `json:"free_bytes"`
	Used  uint64 `json:"used_bytes"`
}

// FreePct is the free share of the filesystem, 0..100.
func (d Disk) FreePct() float64 {
	if d.Total == 0 {
		return 0
	}
	return float64(d.Free) * 100 / float64(d.Total)
}

// UsedPct is the used share of the filesystem, 0..100.
func (d Disk) UsedPct() float64 {
	if d.Total == 0 {
		return 0
	}
	return float64(d.Used) * 100 / float64(d.Total)
}

// StatDisk reads the filesystem holding path.
func StatDisk(path string) (Disk, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Disk{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := uint64(st.Bsize)
	return Disk{
		Total: uint64(st.Blocks) * bs,
		Free:  uint64(st.Bavail) * bs,
		Used:  (uint64(st.Blocks) - uint64(st.Bfree)) * bs,
	}, nil
}

// readKV reads a "Key: value" file of the kernel's.
func readKV(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New(path + " is empty")
	}
	return out, nil
}

// kbBytes reads the kernel's "1234 kB" as bytes.
func kbBytes(v string) uint64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseUint(f[0], 10, 64)
	if len(f) > 1 && f[1] == "kB" {
		n *= 1024
	}
	return n
}

// WriteFile replaces path with data, atomically and durably: a crash or a
// power cut leaves the old file or the new one, never a mix, and the file is
// never readable beyond mode, not even for a moment (keys and passwords go
// through here).
func WriteFile(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
