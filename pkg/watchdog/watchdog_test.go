package watchdog

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// blockedCheck is a health check that waits, past its own deadline, for
// release: a check stuck where its context does not reach.
func blockedCheck(ctx context.Context, release <-chan struct{}) string {
	<-release
	return ""
}

func TestHungCheckIsLoggedWithItsStack(t *testing.T) {
	p := device(t)
	logs := &testkit.SyncBuffer{}
	release := make(chan struct{})
	var calls atomic.Int32
	d, err := Start(p, 3*time.Second, 0, func(ctx context.Context) string {
		if calls.Add(1) == 2 {
			return blockedCheck(ctx, release)
		}
		return ""
	}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop(context.Background())
	testkit.WaitFor(t, 20*time.Second, "the overrun logged", func() bool {
		return strings.Contains(logs.String(), "has not answered past its deadline")
	})
	line := logs.String()
	if !strings.Contains(line, "watchdog.blockedCheck") {
		t.Fatalf("the overrun's log does not say where the check waits:\n%s", line)
	}
	held := size(t, p)
	time.Sleep(1500 * time.Millisecond) // more than a tick: a feeder that went on would ping
	if got := size(t, p); got != held || held != 1 {
		t.Fatalf("pings: %d when the check hung, %d a tick later; want 1 and no more", held, got)
	}
	close(release)
	testkit.WaitFor(t, 20*time.Second, "feeding again", func() bool { return size(t, p) > held })
	if !strings.Contains(logs.String(), "the health check answered late") {
		t.Fatalf("the late answer is not logged:\n%s", logs.String())
	}
}
