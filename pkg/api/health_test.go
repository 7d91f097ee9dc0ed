package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/db"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/testkit"
)

// publicHealthOf is what a monitor without credentials reads.
func publicHealthOf(t *testing.T, e *authEnv) (bool, string) {
	t.Helper()
	r := e.do(req{method: "GET", path: "/api/health"})
	expectStatus(t, r, 200, "GET /api/health")
	var h struct {
		Healthy *bool  `json:"healthy"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal(r.body, &h); err != nil || h.Healthy == nil {
		t.Fatalf("health answer %s: %v", r.body, err)
	}
	return *h.Healthy, h.Status
}

// healthy is computed, not a constant: a daemon whose database stops
// answering says so even though its web server still does.
func TestHealthFalseWhenDatabaseGone(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	if ok, st := publicHealthOf(t, e); !ok || st != "healthy" {
		t.Fatalf("fresh daemon: healthy=%v status=%q", ok, st)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, st := publicHealthOf(t, e); ok || st != "critical" {
		t.Fatalf("database closed: healthy=%v status=%q, want false and critical", ok, st)
	}
}

// A go2rtc that lightnvr gave up restarting makes the daemon unhealthy.
func TestHealthFalseWhenGo2RTCFailed(t *testing.T) {
	sup, err := go2rtc.NewSupervisor(go2rtc.SupervisorOptions{
		Settings: go2rtc.Settings{Mode: go2rtc.ModeManaged, BinaryPath: "/bin/false", ConfigDir: t.TempDir(), APIPort: 1, RTSPPort: 2},
		Logger:   quietLog, Backoff: backoff.Backoff{Min: time.Millisecond, Max: time.Millisecond}, RestartBudget: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnv(t, envOpts{deps: func(d *Deps) { d.Go2RTCStatus = sup.Status }})
	if ok, _ := publicHealthOf(t, e); !ok {
		t.Fatal("unhealthy before go2rtc was started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Stop(context.Background()) })
	if err := sup.WaitReady(ctx); err == nil {
		t.Fatal("/bin/false came up as go2rtc")
	}
	if st := sup.Status(); st.State != go2rtc.StateFailed {
		t.Fatalf("supervisor state %s, want failed", st.State)
	}
	if ok, st := publicHealthOf(t, e); ok || st != "critical" {
		t.Fatalf("go2rtc failed: healthy=%v status=%q, want false and critical", ok, st)
	}
}

// A database too busy to take the health check's write within its wait is
// busy, not broken: healthy until it has been busy for longer than the
// grace, then unhealthy saying so, and healthy again once the writer is
// done. A start-up writer on a loaded board must not fail an OTA trial or
// starve the watchdog.
func TestHealthDatabaseBusyHasGrace(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	ctx := context.Background()
	check := &dbWritable{wait: 50 * time.Millisecond, grace: 400 * time.Millisecond}
	if err := check.writable(ctx, e.db); err != nil {
		t.Fatalf("idle database: %v", err)
	}
	tx, err := e.db.Begin(ctx) // holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	if err := check.writable(ctx, e.db); err != nil {
		t.Fatalf("database busy for a moment: %v, want healthy within the grace", err)
	}
	time.Sleep(450 * time.Millisecond)
	err = check.writable(ctx, e.db)
	if err == nil || !strings.Contains(err.Error(), "busy for") {
		t.Fatalf("database busy past the grace: %v, want an error saying it is busy", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := check.writable(ctx, e.db); err != nil {
		t.Fatalf("writer done: %v, want healthy again", err)
	}
	// The grace starts again after a success.
	if tx, err = e.db.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := check.writable(ctx, e.db); err != nil {
		t.Fatalf("busy again after a success: %v, want healthy within a new grace", err)
	}
}

// A database whose checks keep timing out while transactions still commit
// between them is slow, not stuck (a board whose CPU is saturated): it
// stays healthy, so the watchdog does not reset a board that is merely
// overloaded. With no commit for the whole grace it is unhealthy.
func TestHealthDatabaseBusyButCommittingIsHealthy(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	ctx := context.Background()
	check := &dbWritable{wait: 50 * time.Millisecond, grace: 400 * time.Millisecond}
	hold := func() *db.Tx {
		t.Helper()
		tx, err := e.db.Begin(ctx) // holds the write lock
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	tx := hold()
	if err := check.writable(ctx, e.db); err != nil {
		t.Fatalf("database busy for a moment: %v, want healthy within the grace", err)
	}
	for range 3 {
		time.Sleep(250 * time.Millisecond)
		// Another writer's transaction commits between two checks.
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if err := db.WriteRecordings(ctx, e.db, &db.RecordingWrites{}); err != nil {
			t.Fatal(err)
		}
		tx = hold()
		if err := check.writable(ctx, e.db); err != nil {
			t.Fatalf("busy past the grace but committing: %v, want healthy", err)
		}
	}
	// No commit since the last check: it probes again, and the spell
	// begins; with no commit for the whole grace it is unhealthy.
	if err := check.writable(ctx, e.db); err != nil {
		t.Fatalf("busy, no commit since the last check: %v, want healthy within the grace", err)
	}
	time.Sleep(450 * time.Millisecond)
	err := check.writable(ctx, e.db)
	_ = tx.Rollback()
	if err == nil || !strings.Contains(err.Error(), "busy for") {
		t.Fatalf("no commit for the whole grace: %v, want an error saying it is busy", err)
	}
}

// A transaction committed since the previous check proves the database
// writable: the check then takes no write lock and opens no connection. It
// would only compete with the recorder, whose commits every second are the
// proof. Without a new commit, it probes again.
func TestHealthDatabaseCommitSinceTheLastCheckIsProof(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	ctx := context.Background()
	check := &dbWritable{wait: time.Hour, grace: time.Hour}
	if err := check.writable(ctx, e.db); err != nil {
		t.Fatalf("idle database: %v", err)
	}
	if err := db.WriteRecordings(ctx, e.db, &db.RecordingWrites{}); err != nil {
		t.Fatal(err)
	}
	tx, err := e.db.Begin(ctx) // holds the write lock: a probe cannot succeed
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	probe := func() (bool, error) {
		t.Helper()
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		err := check.writable(short, e.db)
		check.mu.Lock()
		defer check.mu.Unlock()
		return !check.busySince.IsZero(), err
	}
	if probed, err := probe(); err != nil || probed {
		t.Fatalf("a commit since the last check: %v, probed %v; want healthy without a probe", err, probed)
	}
	if probed, err := probe(); err != nil || !probed {
		t.Fatalf("no commit since the last check: %v, probed %v; want a probe that finds it busy, healthy within the grace", err, probed)
	}
}

// A check whose caller runs out of time before the check's own wait (the
// watchdog's tick on a saturated board) is as inconclusive as one that ran
// out of its own: busy, judged by the grace, not broken at once.
func TestHealthDatabaseCallerOutOfTimeIsBusy(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	check := &dbWritable{wait: time.Second, grace: time.Hour}
	tx, err := e.db.Begin(context.Background()) // holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := check.writable(ctx, e.db); err != nil {
		t.Fatalf("caller out of time while the database is busy: %v, want healthy within the grace", err)
	}
}

// A database that cannot be written for a reason other than a busy writer
// is unhealthy at once, grace or not.
func TestHealthDatabaseErrorHasNoGrace(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	check := &dbWritable{grace: time.Hour}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := check.writable(context.Background(), e.db); err == nil {
		t.Fatal("closed database: healthy, want an error at once")
	}
}

// A caller that arrives while another's check is in flight shares its
// verdict, but only for as long as its own context lasts: the watchdog's
// feeder must not wait on a check stuck where its context does not reach.
// Past the grace, such a stuck check is unhealthy.
func TestHealthDatabaseSharedCheckIsBoundByTheCaller(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	for _, tc := range []struct {
		grace time.Duration
		want  string // "" for healthy
	}{{time.Hour, ""}, {100 * time.Millisecond, "has not returned"}} {
		check := &dbWritable{wait: 3 * time.Second, grace: tc.grace}
		tx, err := e.db.Begin(context.Background()) // holds the write lock
		if err != nil {
			t.Fatal(err)
		}
		first := make(chan struct{})
		go func() {
			defer close(first)
			_ = check.writable(context.Background(), e.db)
		}()
		testkit.WaitFor(t, 10*time.Second, "the first check in flight", func() bool {
			check.mu.Lock()
			defer check.mu.Unlock()
			return check.running != nil
		})
		time.Sleep(150 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err = check.writable(ctx, e.db)
		cancel()
		select {
		case <-first:
			t.Fatal("the second caller returned only after the first check ended")
		default:
		}
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Fatalf("grace %s: second caller got %v, want %q", tc.grace, err, tc.want)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		<-first
	}
}
