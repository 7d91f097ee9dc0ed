package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// The real daemon feeds [watchdog] device (a plain file here) and disarms it
// with the magic V when it stops cleanly.
func TestDaemonFeedsWatchdog(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon test")
	}
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testkit.NewDaemon(t, daemonTestPassword)
	d.Set("watchdog", "device", dev)
	d.Set("watchdog", "timeout", "3")
	p := d.Start()
	read := func() []byte {
		b, err := os.ReadFile(dev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	testkit.WaitFor(t, 30*time.Second, "two pings", func() bool { return len(read()) >= 2 })
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, p.Log)
	}
	if b := read(); b[len(b)-1] != 'V' {
		t.Fatalf("device got %q, want it to end with the magic V", b)
	}
}
