package host

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Paths of the kernel's CPU time counters and release names.
const (
	StatPath      = "/proc/stat"
	SelfStatPath  = "/proc/self/stat"
	OSReleasePath = "/etc/os-release"
	KernelPath    = "/proc/sys/kernel/osrelease"
)

// CPUTimes are the machine's CPU time counters in clock ticks, all CPUs
// together: a percentage is the ratio of two deltas, so the tick rate
// never matters.
type CPUTimes struct {
	Total uint64
	Idle  uint64 // idle and waiting for I/O
}

// ReadCPUTimes reads the "cpu" line of a stat file (StatPath).
func ReadCPUTimes(path string) (CPUTimes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return CPUTimes{}, fmt.Errorf("read cpu times: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	// user nice system idle iowait irq softirq steal; guest time is
	// already counted in user and nice.
	if len(f) < 5 || f[0] != "cpu" {
		return CPUTimes{}, fmt.Errorf("read cpu times: %s does not start with a cpu line", path)
	}
	var t CPUTimes
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return CPUTimes{}, fmt.Errorf("read cpu times: field %d of %s: %w", i+1, path, err)
		}
		t.Total += n
		if i == 3 || i == 4 {
			t.Idle += n
		}
	}
	return t, nil
}

// BusyPct is the share of CPU time spent working between an earlier reading
// and t, in percent; 0 when no time passed.
func (t CPUTimes) BusyPct(earlier CPUTimes) float64 {
	if t.Total <= earlier.Total {
		return 0
	}
	total := t.Total - earlier.Total
	idle := min(t.Idle-min(earlier.Idle, t.Idle), total)
	return float64(total-idle) / float64(total) * 100
}

// ReadProcessTicks reads the CPU time (user and system, in clock ticks) of
// a process from its stat file (SelfStatPath for ours).
func ReadProcessTicks(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read process cpu time: %w", err)
	}
	// The command name may hold spaces and parentheses: fields count from
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("read process cpu time: %s has no command name", path)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state(0) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0, fmt.Errorf("read process cpu time: %s is too short", path)
	}
	var sum uint64
	for _, v := range f[11:13] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read process cpu time: %s: %w", path, err)
		}
		sum += n
	}
	return sum, nil
}

// OSName is the distribution's name from an os-release file
// (OSReleasePath): PRETTY_NAME, else NAME and VERSION_ID.
func OSName(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read os release: %w", err)
	}
	kv := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	if kv["PRETTY_NAME"] != "" {
		return kv["PRETTY_NAME"], nil
	}
	if kv["NAME"] == "" {
		return "", fmt.Errorf("read os release: %s names no system", path)
	}
	return strings.TrimSpace(kv["NAME"] + " " + kv["VERSION_ID"]), nil
}

// KernelRelease is the running kernel's release (KernelPath).
func KernelRelease(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read kernel release: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
