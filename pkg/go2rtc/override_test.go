package go2rtc_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/testkit"
)

// TestOverrideQuarantine: an override go2rtc reads is applied with a restart;
// one it refuses (an alias YAML cannot resolve) is quarantined with go2rtc's
// reason, and go2rtc runs on with the override it had before.
func TestOverrideQuarantine(t *testing.T) {
	log, _ := testLogger(t)
	set := settings(t)
	sup := startReady(t, go2rtc.SupervisorOptions{Settings: set, Logger: log, HealthInterval: 100 * time.Millisecond}, 15*time.Second)
	applied := func(gen uint64) uint64 {
		t.Helper()
		testkit.WaitFor(t, 15*time.Second, "go2rtc restarted and ready", func() bool {
			st := sup.Status()
			return st.Ready() && st.Generation > gen
		})
		return sup.Status().Generation
	}
	ctx := context.Background()

	good := "streams:\n  keep: rtsp://192.0.2.1:554/keep\n"
	gen := sup.Status().Generation
	if err := sup.SetOverride(good); err != nil {
		t.Fatal(err)
	}
	gen = applied(gen)
	if _, err := sup.Client().Stream(ctx, "keep"); err != nil {
		t.Fatalf("the applied override's stream: %v", err)
	}
	if st := sup.OverrideStatus(); !st.FilePresent || st.FileBytes != len(good) || st.QuarantineActive {
		t.Fatalf("status after a good override: %+v", st)
	}

	bad := "streams:\n  other: *nowhere\n"
	if err := sup.SetOverride(bad); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, "the refused override quarantined", func() bool { return sup.OverrideStatus().QuarantineActive })
	applied(gen)
	st := sup.OverrideStatus()
	if !strings.Contains(st.QuarantineReason, "yaml") || st.QuarantinedCopyBytes != len(bad) || st.FileBytes != len(good) || !st.ProcessRunning {
		t.Fatalf("status after a refused override: %+v", st)
	}
	if b, err := os.ReadFile(filepath.Join(set.ConfigDir, go2rtc.QuarantineFile)); err != nil || string(b) != bad {
		t.Fatalf("quarantined copy: %q %v", b, err)
	}
	if _, err := sup.Client().Stream(ctx, "keep"); err != nil {
		t.Fatalf("go2rtc lost the last good override: %v", err)
	}
	if err := sup.SetOverride("streams:\n  - x\n  a: [\n"); err == nil {
		t.Fatal("an override with a syntax error was applied")
	}
}
