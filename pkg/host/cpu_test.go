package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The percentage comes from the deltas of two readings: 300 of 400 ticks
// busy is 75 %, whatever the counters were before.
func TestCPUBusyPctFromDeltas(t *testing.T) {
	a, err := ReadCPUTimes(writeTemp(t, "stat", "cpu  1000 0 500 8000 500 0 0 0 0 0\ncpu0 1 2 3 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Total != 10000 || a.Idle != 8500 {
		t.Fatalf("first reading %+v", a)
	}
	b, err := ReadCPUTimes(writeTemp(t, "stat", "cpu  1200 50 550 8090 510 0 0 0 7 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.BusyPct(a); got != 75 {
		t.Errorf("busy %v%%, want 75", got)
	}
	if got := a.BusyPct(a); got != 0 {
		t.Errorf("no time passed: %v%%", got)
	}
	if _, err := ReadCPUTimes(writeTemp(t, "stat", "intr 1 2 3\n")); err == nil {
		t.Error("a stat file without a cpu line was read")
	}
}

func TestReadProcessTicks(t *testing.T) {
	p := writeTemp(t, "stat", "42 (a ) b) S 1 42 42 0 -1 4194304 100 0 0 0 30 12 0 0 20 0 1 0 17 3133440 408\n")
	n, err := ReadProcessTicks(p)
	if err != nil || n != 42 {
		t.Fatalf("ticks %d, %v; want 42", n, err)
	}
	if _, err := ReadProcessTicks(SelfStatPath); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadProcessTicks(writeTemp(t, "stat", "42 (x) S 1\n")); err == nil {
		t.Error("a short stat file was read")
	}
}

func TestOSName(t *testing.T) {
	for body, want := range map[string]string{
		"NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n": "Debian GNU/Linux 12 (bookworm)",
		"NAME=Buildroot\nVERSION_ID=2024.02\n":                                        "Buildroot 2024.02",
	} {
		if got, err := OSName(writeTemp(t, "os-release", body)); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", body, got, err, want)
		}
	}
	if _, err := OSName(writeTemp(t, "os-release", "ID=x\n")); err == nil || !strings.Contains(err.Error(), "names no system") {
		t.Errorf("os-release without a name: %v", err)
	}
	if k, err := KernelRelease(KernelPath); err != nil || k == "" {
		t.Errorf("kernel release %q, %v", k, err)
	}
}
