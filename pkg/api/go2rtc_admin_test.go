package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/testkit"
)

// TestGo2RTCOverrideRoutes drives go2rtc's override through the API against a
// real go2rtc: checked, applied with a restart, shown masked, refused by go2rtc
// and quarantined with go2rtc running on the text before, and a reload.
func TestGo2RTCOverrideRoutes(t *testing.T) {
	e := newRolesEnv(t)
	ctx := t.Context()
	restarted := func(gen uint64) uint64 {
		t.Helper()
		testkit.WaitFor(t, 20*time.Second, "go2rtc restarted", func() bool {
			st := e.sup.Status()
			return st.Ready() && st.Generation > gen
		})
		return e.sup.Status().Generation
	}

	// validate: shape, a refusal with its place, bad input.
	r := e.as("admin", "POST", "/api/settings/go2rtc/validate", map[string]any{"override": "ffmpeg:\n  h264: \"-codec:v libx264\"\nfoo: 1\n"})
	var v struct {
		Valid    *bool    `json:"valid"`
		LibYAML  *bool    `json:"libyaml_available"`
		Warnings []string `json:"warnings"`
		Error    *struct {
			Line, Column int
			Message      string
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &v); r.status != 200 || err != nil || v.Valid == nil || !*v.Valid || v.LibYAML == nil || len(v.Warnings) != 1 || v.Error != nil {
		t.Fatalf("validate a good text: %d %s", r.status, r.body)
	}
	r = e.as("admin", "POST", "/api/settings/go2rtc/validate", map[string]any{"override": "streams:\n  a: 1\n  a: 2\n"})
	v.Error = nil
	if err := json.Unmarshal(r.body, &v); r.status != 200 || err != nil || *v.Valid || v.Error == nil || v.Error.Line != 3 || v.Error.Column != 3 {
		t.Fatalf("validate a duplicate key: %d %s", r.status, r.body)
	}
	for _, bad := range []struct {
		body   any
		status int
	}{{map[string]any{}, 400}, {map[string]any{"override": 5}, 400}, {"[1]", 400},
		{map[string]any{"override": strings.Repeat("#", 64<<10+1)}, 413}} {
		if r := e.as("admin", "POST", "/api/settings/go2rtc/validate", bad.body); r.status != bad.status {
			t.Errorf("validate %v: %d %s, want %d", bad.body, r.status, r.body, bad.status)
		}
	}

	// A good override is applied: go2rtc restarts with its stream.
	good := "streams:\n  keep: rtsp://admin:Hidden7@192.0.2.1:554/keep\n"
	gen := e.sup.Status().Generation
	if r := e.as("admin", "POST", "/api/settings", map[string]any{"go2rtc_config_override": good}); r.status != 200 || !strings.Contains(string(r.body), `"changed":["go2rtc_config_override"]`) {
		t.Fatalf("set override: %d %s", r.status, r.body)
	}
	gen = restarted(gen)
	if _, err := e.sup.Client().Stream(ctx, "keep"); err != nil {
		t.Fatalf("go2rtc lacks the override's stream: %v", err)
	}
	settings := func(role string) map[string]any {
		t.Helper()
		r := e.as(role, "GET", "/api/settings", nil)
		return r.json(t)
	}
	if s := settings("admin"); s["go2rtc_config_override"] != good || s["go2rtc_config_override_quarantined"] != false {
		t.Fatalf("admin settings: %v", s)
	}
	if s := settings("viewer"); strings.Contains(s["go2rtc_config_override"].(string), "Hidden7") {
		t.Fatalf("a viewer reads the override's password: %v", s["go2rtc_config_override"])
	}
	if r := e.as("admin", "POST", "/api/settings", map[string]any{"go2rtc_config_override": "- a\n"}); r.status != 400 || !strings.Contains(string(r.body), "mapping") {
		t.Fatalf("set a list override: %d %s", r.status, r.body)
	}

	// go2rtc refuses a text the check lets through: quarantined, the good one back.
	if r := e.as("admin", "POST", "/api/settings", map[string]any{"go2rtc_config_override": "streams:\n  other: *nowhere\n"}); r.status != 200 {
		t.Fatalf("set a refused override: %d %s", r.status, r.body)
	}
	testkit.WaitFor(t, 20*time.Second, "the override quarantined", func() bool { return settings("admin")["go2rtc_config_override_quarantined"] == true })
	gen = restarted(gen)
	if s := settings("admin"); s["go2rtc_config_override"] != good || !strings.Contains(s["go2rtc_config_override_disabled_reason"].(string), "yaml") {
		t.Fatalf("after the refusal: %v", s)
	}
	st := e.as("admin", "GET", "/api/system/go2rtc/override-status", nil).json(t)
	for k, want := range map[string]any{"file_present": true, "file_bytes": float64(len(good)), "quarantine_active": true,
		"quarantined_copy_bytes": float64(len("streams:\n  other: *nowhere\n")), "process_running": true, "content_matches": true} {
		if st[k] != want {
			t.Errorf("override-status %s = %v, want %v (%v)", k, st[k], want, st)
		}
	}
	for _, k := range []string{"expected_file_path", "db_bytes", "file_read_error", "quarantine_reason", "validated_version", "process_pid"} {
		if _, ok := st[k]; !ok {
			t.Errorf("override-status lacks %s", k)
		}
	}
	ec := e.as("admin", "GET", "/api/system/go2rtc/effective-config", nil)
	var eff go2rtc.EffectiveConfig
	if err := json.Unmarshal(ec.body, &eff); err != nil || ec.status != 200 || !eff.Initialized || !eff.OverrideInUse || len(eff.MergedSourceOrder) != 3 ||
		!strings.Contains(eff.Base, "listen") || !strings.Contains(eff.Override, "keep") || strings.Contains(string(ec.body), "Hidden7") ||
		strings.Contains(string(ec.body), e.sup.Credentials().Password) {
		t.Fatalf("effective-config: %d %s", ec.status, ec.body)
	}

	if r := e.as("admin", "POST", "/go2rtc/api/reload", "{}"); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.body)
	}
	restarted(gen)
}
