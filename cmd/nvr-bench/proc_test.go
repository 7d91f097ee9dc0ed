package main

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
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

// A window's CPU comes from /proc/PID/stat: it must agree with what the
// kernel reports for the same process through getrusage.
func TestProcCPUAgreesWithRusage(t *testing.T) {
	pid := os.Getpid()
	c0, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	ru0 := selfRusage()
	for { // burn half a second of CPU
		if ru := selfRusage(); cpuTime(&ru)-cpuTime(&ru0) > 500*time.Millisecond {
			break
		}
	}
	c1, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	ru1 := selfRusage()
	got, want := c1-c0, cpuTime(&ru1)-cpuTime(&ru0)
	tick := time.Second / time.Duration(clockTicks())
	if d := got - want; d < -3*tick || d > 3*tick {
		t.Errorf("/proc stat says %v of CPU, getrusage %v (tick %v)", got, want, tick)
	}
}
