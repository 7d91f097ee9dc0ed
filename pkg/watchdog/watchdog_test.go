package watchdog

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// device is a plain file standing in for /dev/watchdog: the timeout ioctl
// fails with ENOTTY and every ping lands in it as one byte.
func device(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func size(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func start(t *testing.T, p string, healthy Health) *Dog {
	t.Helper()
	d, err := Start(p, 3*time.Second, 0, healthy, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestHealthyKeepsPinging(t *testing.T) {
	p := device(t)
	d := start(t, p, func(context.Context) string { return "" })
	testkit.WaitFor(t, 20*time.Second, "three pings", func() bool { return size(t, p) >= 3 })
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Once health fails, no ping follows: the size when the first unhealthy
// verdict is asked for is the size two verdicts later.
func TestUnhealthyStopsPinging(t *testing.T) {
	p := device(t)
	var calls atomic.Int32
	var atFirst, atThird int64
	third := make(chan struct{})
	d := start(t, p, func(context.Context) string {
		switch calls.Add(1) {
		case 1:
			return ""
		case 2:
			atFirst = size(t, p)
		case 4:
			atThird = size(t, p)
			close(third)
		}
		return "database: disk I/O error"
	})
	<-third
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if atFirst != 1 || atThird != atFirst {
		t.Fatalf("pings: %d when health failed, %d two checks later; want 1 and no more", atFirst, atThird)
	}
}

func TestStopWritesMagicClose(t *testing.T) {
	for _, why := range []string{"", "go2rtc failed"} {
		p := device(t)
		var checked atomic.Bool
		d := start(t, p, func(context.Context) string { checked.Store(true); return why })
		testkit.WaitFor(t, 20*time.Second, "a health check", checked.Load)
		if err := d.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || b[len(b)-1] != 'V' {
			t.Fatalf("health %q: device got %q, want it to end with the magic V", why, b)
		}
	}
}
