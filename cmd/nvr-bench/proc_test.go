package main

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The go2rtc a daemon starts is found by its parent and command name, and
// a command name may hold spaces and parentheses.
func TestChildPIDsFindsChildByName(t *testing.T) {
	// The command name is the base name of the file exec'd: a link will do.
	name := "a) (b"
	bin := t.TempDir() + "/" + name
	sleep, lookErr := exec.LookPath("sleep")
	if err := errors.Join(lookErr, os.Symlink(sleep, bin)); err != nil {
		t.Skip("no sleep to run:", err)
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if got := childPIDs(os.Getpid(), name); len(got) != 1 || got[0] != cmd.Process.Pid {
		t.Errorf("children named %q: %v, want [%d]", name, got, cmd.Process.Pid)
	}
	if _, err := procCPU(cmd.Process.Pid); err != nil {
		t.Errorf("cpu of the child: %v", err)
	}
}

// A window's CPU comes from the process's CPU clock: for this process it
// must agree with getrusage to under a tick, and a thread that burned
// CPU and exited must still be counted.
func TestProcCPUAgreesWithRusage(t *testing.T) {
	pid := os.Getpid()
	c0, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	ru0 := selfRusage()
	burned := make(chan time.Duration)
	go func() {
		// Locked and never unlocked: the thread exits with the goroutine.
		// The thread may be an old one: only what it burns from here on
		// falls between the two reads of the process's clock.
		runtime.LockOSThread()
		thread := func() time.Duration {
			var ts unix.Timespec
			_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
			return time.Duration(ts.Nano())
		}
		start := thread()
		for {
			if d := thread() - start; d > 300*time.Millisecond {
				burned <- d
				return
			}
		}
	}()
	b := <-burned
	c1, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	ru1 := selfRusage()
	got, want := c1-c0, cpuTime(&ru1)-cpuTime(&ru0)
	// Both read the same per-thread sums; a thread running on the other
	// CPU has its sum brought up to date at the scheduler's tick, which
	// may, rarely, fall between the two reads.
	if d := got - want; d < -5*time.Millisecond || d > 5*time.Millisecond {
		t.Errorf("the CPU clock says %v, getrusage %v", got, want)
	}
	if got < b {
		t.Errorf("the CPU clock says %v, less than the %v an exited thread burned", got, b)
	}
}

// Another process's CPU clock is read too. The child is stopped before the
// last read because a process running on another CPU has its time brought
// up to date only at the scheduler's tick; stopped, its clock must be what
// wait4 reports for its whole life.
func TestProcCPUOfChild(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, err := procCPU(pid)
		if err != nil {
			t.Fatal(err)
		}
		if got > 100*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child's CPU clock says %v after 10 s of a busy loop", got)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if f, _, err := procStat(pid); err == nil && f[0] == "T" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not stop")
		}
	}
	got, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	total := cpuTime(cmd.ProcessState.SysUsage().(*syscall.Rusage))
	// rusage counts in microseconds.
	if d := total - got; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("CPU clock %v once stopped, wait4 %v at exit", got, total)
	}
}
