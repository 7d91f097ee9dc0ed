package lifecycle

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the helper processes some tests need: a live
// process with this program's name, and a daemon child.
const helperEnv = "LIFECYCLE_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "sleep":
		// Killed by the test's cleanup; the bound only guards against an
		// orphan surviving a crashed test run.
		time.Sleep(2 * time.Minute)
		os.Exit(0)
	case "daemon":
		os.Exit(daemonChild())
	}
	os.Exit(m.Run())
}

// daemonChild reports what a daemon child looks like from inside.
func daemonChild() int {
	isChild, err := Daemonize(nil, "")
	if err != nil || !isChild {
		fmt.Fprintf(os.Stderr, "helper: Daemonize = %v, %v\n", isChild, err)
		return 2
	}
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 3
	}
	// Fields after the parenthesised comm: state ppid pgrp session ...
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	stdin, _ := os.Readlink("/proc/self/fd/0")
	fmt.Println("daemon child writes to stdout")
	out := os.Getenv("LIFECYCLE_TEST_DAEMON_OUT")
	report := fmt.Sprintf("pid=%d\nsid=%s\nstdin=%s\nmarker=%s\n", os.Getpid(), fields[3], stdin, os.Getenv(DaemonEnv))
	if err := os.WriteFile(out+".tmp", []byte(report), 0o600); err != nil {
		return 4
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return 5
	}
	return 0
}
