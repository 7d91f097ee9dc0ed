package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// memInfo is the memory lines of /proc/<pid>/status, in KiB.
type memInfo struct {
	RSS     int64 `json:"rss_kb"`      // VmRSS
	HWM     int64 `json:"hwm_kb"`      // VmHWM: peak RSS
	RSSAnon int64 `json:"rss_anon_kb"` // heap, stacks
	RSSFile int64 `json:"rss_file_kb"` // mapped binary and libraries
	// PSS shares each shared page among the processes mapping it, so N
	// ffmpeg processes are not charged N times for their libraries.
	PSS int64 `json:"pss_kb"`
}

// add sums the memory of several processes.
func (m *memInfo) add(o memInfo) {
	m.RSS += o.RSS
	m.HWM += o.HWM
	m.RSSAnon += o.RSSAnon
	m.RSSFile += o.RSSFile
	m.PSS += o.PSS
}

// readMem reads /proc/<pid>/status and, where the kernel has it,
// smaps_rollup for the PSS.
func readMem(pid string) (memInfo, error) {
	var m memInfo
	if err := scanMem("/proc/"+pid+"/status", &m); err != nil {
		return m, fmt.Errorf("read memory of %s: %w", pid, err)
	}
	_ = scanMem("/proc/"+pid+"/smaps_rollup", &m)
	return m, nil
}

func scanMem(path string, m *memInfo) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			m.RSS = n
		case "VmHWM":
			m.HWM = n
		case "RssAnon":
			m.RSSAnon = n
		case "RssFile":
			m.RSSFile = n
		case "Pss":
			m.PSS = n
		}
	}
	return sc.Err()
}

// procStat is the fields of /proc/<pid>/stat after the command name, which
// may itself hold spaces and parentheses: [0] is field 3 (state).
func procStat(pid int) ([]string, string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, "", err
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return nil, "", fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[end+1:])), string(b[open+1 : end]), nil
}

// procCPU is the CPU a live process has used so far, its threads (the
// exited ones too) included and its children not, in nanoseconds: read
// from the process's CPU clock, which any process may read. /proc/PID/stat
// has the same total only in USER_HZ ticks (10 ms), too coarse for a
// recorder that uses a tenth of a second a minute.
func procCPU(pid int) (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(processClock(pid), &ts); err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	return time.Duration(ts.Nano()), nil
}

// processClock is the clock id of pid's process CPU clock, as glibc's
// clock_getcpuclockid makes it: the pid's complement shifted past the
// three low bits, which say "whole process, scheduler time" (CPUCLOCK_SCHED).
func processClock(pid int) int32 {
	const cpuclockSched = 2
	return int32(^pid)<<3 | cpuclockSched
}

// childPIDs lists the live children of ppid whose command name is comm.
func childPIDs(ppid int, comm string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, name, err := procStat(pid)
		if err == nil && len(f) > 1 && name == comm && f[1] == strconv.Itoa(ppid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cpuTime is user+system CPU of an rusage.
func cpuTime(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func selfRusage() syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

func mb(kb int64) float64 { return float64(kb) / 1024 }
