package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// memInfo is the memory lines of /proc/<pid>/status, in KiB.
type memInfo struct {
	RSS     int64 `json:"rss_kb"`      // VmRSS
	HWM     int64 `json:"hwm_kb"`      // VmHWM: peak RSS
	RSSAnon int64 `json:"rss_anon_kb"` // heap, stacks
	RSSFile int64 `json:"rss_file_kb"` // mapped binary and libraries
}

func readMem(pid string) (memInfo, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return memInfo{}, fmt.Errorf("read memory of %s: %w", pid, err)
	}
	defer func() { _ = f.Close() }()
	var m memInfo
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
		}
	}
	return m, sc.Err()
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
