package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/go2rtc"
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
