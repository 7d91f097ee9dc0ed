package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/config"
	"lightnvr/pkg/logx"
)

// settingsINI is a config file as a user keeps it: comments, odd spacing and
// a key we do not know, all of which must survive a save.
const settingsINI = `; LightNVR configuration of the test box
; keep this comment

[general]
log_level = 2   ; info
log_file =

[web]
# the port the UI listens on
port = 8080
bind_ip = 127.0.0.1

[storage]
path = %s
retention_days = 30

[database]
path = %s

[memory]
use_swap = true
swap_size = 134217728

[mqtt]
enabled = false
username = cam-user
password = s3cret
some_future_key = kept
`

type settingsEnv struct {
	srv  *Server
	path string
	log  *slog.Logger
	ring *logx.Ring
}

func newSettingsEnv(t *testing.T) *settingsEnv { t.Helper(); return newSettingsEnvWith(t, nil) }

// newSettingsEnvWith is newSettingsEnv with more parts added to the server's Deps.
func newSettingsEnvWith(t *testing.T, more func(*Deps)) *settingsEnv {
	t.Helper()
	dir := t.TempDir()
	storage := filepath.Join(dir, "recordings")
	path := filepath.Join(dir, "lightnvr.ini")
	ini := fmt.Sprintf(settingsINI, storage, filepath.Join(dir, "lightnvr.db"))
	if err := os.WriteFile(path, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logger, ring, err := logx.New(logx.Options{Level: slog.LevelInfo, Output: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Config: cfg, Logger: logger, Auth: streamTestAuth{}}
	if more != nil {
		more(&deps)
	}
	srv, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	return &settingsEnv{srv: srv, path: path, log: logger, ring: ring}
}

// call sends one request straight into the server's handler; role is the
// X-Test-Role of streamTestAuth ("" = no credentials).
func call(srv *Server, role, method, uri, body string) (int, []byte) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	if role != "" {
		ctx.Request.Header.Set("X-Test-Role", role)
	}
	if body != "" {
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.SetBodyString(body)
	}
	srv.Handle(&ctx)
	return ctx.Response.StatusCode(), append([]byte(nil), ctx.Response.Body()...)
}

func decodeObj(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}

func (e *settingsEnv) get(t *testing.T, role string) map[string]any {
	t.Helper()
	code, body := call(e.srv, role, "GET", "/api/settings", "")
	if code != 200 {
		t.Fatalf("GET /api/settings as %q: %d %s", role, code, body)
	}
	return decodeObj(t, body)
}

func TestSettingsTableMatchesConfig(t *testing.T) {
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k] = true
	}
	names := map[string]bool{}
	for _, st := range settingsTable {
		if !known[st.id] {
			t.Errorf("setting %s maps to unknown config key %s", st.name, st.id)
		}
		if names[st.name] {
			t.Errorf("setting %s listed twice", st.name)
		}
		names[st.name] = true
	}
}

func TestSettingsGet(t *testing.T) {
	e := newSettingsEnv(t)
	admin := e.get(t, "admin")
	for _, st := range settingsTable {
		if _, ok := admin[st.name]; !ok {
			t.Errorf("GET lacks %s", st.name)
		}
	}
	if admin["web_port"] != float64(8080) || admin["web_bind_ip"] != "127.0.0.1" {
		t.Errorf("web_port/web_bind_ip = %v/%v", admin["web_port"], admin["web_bind_ip"])
	}
	if admin["swap_size"] != float64(128) {
		t.Errorf("swap_size = %v, want 128 (MB)", admin["swap_size"])
	}
	if admin["use_swap"] != true || admin["mqtt_enabled"] != false {
		t.Errorf("booleans: use_swap=%v mqtt_enabled=%v", admin["use_swap"], admin["mqtt_enabled"])
	}
	if admin["max_streams_ceiling"] != float64(256) {
		t.Errorf("max_streams_ceiling = %v", admin["max_streams_ceiling"])
	}
	if admin["mqtt_password"] != secretMask {
		t.Errorf("mqtt_password = %v, want the mask", admin["mqtt_password"])
	}
	if admin["turn_password"] != "" {
		t.Errorf("unset turn_password = %v, want empty", admin["turn_password"])
	}
	if admin["mqtt_username"] != "cam-user" {
		t.Errorf("admin sees mqtt_username %v", admin["mqtt_username"])
	}
	viewer := e.get(t, "viewer")
	if viewer["mqtt_username"] != secretMask || viewer["mqtt_password"] != secretMask {
		t.Errorf("viewer sees mqtt_username=%v mqtt_password=%v", viewer["mqtt_username"], viewer["mqtt_password"])
	}
	for _, b := range [][]byte{mustJSON(t, admin), mustJSON(t, viewer)} {
		if bytes.Contains(b, []byte("s3cret")) {
			t.Fatalf("a password leaked: %s", b)
		}
	}
	if code, _ := call(e.srv, "", "GET", "/api/settings", ""); code != 401 {
		t.Errorf("anonymous GET: %d, want 401", code)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSettingsSaveRoundTrip(t *testing.T) {
	e := newSettingsEnv(t)
	code, body := call(e.srv, "admin", "POST", "/api/settings",
		`{"web_port": 9090, "swap_size": 256, "log_level": 3, "mqtt_enabled": true, "mqtt_broker_host": "broker.lan",
		  "mqtt_password": "********", "storage_pressure_warning_pct": 25.5}`)
	if code != 200 {
		t.Fatalf("POST: %d %s", code, body)
	}
	r := decodeObj(t, body)
	if r["success"] != true || r["restart_required"] != true || r["config_path"] != e.path {
		t.Fatalf("reply %s", body)
	}
	if !strings.Contains(fmt.Sprint(r["restart_keys"]), "web_port") || strings.Contains(fmt.Sprint(r["restart_keys"]), "log_level") {
		t.Errorf("restart_keys = %v", r["restart_keys"])
	}

	file, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"; LightNVR configuration of the test box\n; keep this comment\n",
		"# the port the UI listens on\nport = 9090\n",
		"swap_size = 268435456\n",
		"password = s3cret\n", // the mask kept the secret
		"some_future_key = kept\n",
		"broker_host = broker.lan\n",
	} {
		if !strings.Contains(string(file), want) {
			t.Errorf("saved file lacks %q:\n%s", want, file)
		}
	}
	back, err := config.Load(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Web.Port != 9090 || back.Memory.SwapSize != 256<<20 || back.General.LogLevel != 3 || !back.MQTT.Enabled ||
		back.Storage.PressureWarningPct != 25.5 || back.MQTT.Password != "s3cret" {
		t.Errorf("reloaded config: %+v %+v %+v", back.Web.Port, back.Memory, back.MQTT)
	}

	got := e.get(t, "admin")
	if got["web_port"] != float64(9090) || got["swap_size"] != float64(256) || got["mqtt_broker_host"] != "broker.lan" {
		t.Errorf("GET after save: web_port=%v swap_size=%v host=%v", got["web_port"], got["swap_size"], got["mqtt_broker_host"])
	}
	if lvl := logx.HandlerOf(e.log).Level(); lvl != slog.LevelDebug {
		t.Errorf("log level after save = %v, want debug (applied at once)", lvl)
	}
	if e.srv.Config().Web.Port != 9090 {
		t.Errorf("live config port = %d", e.srv.Config().Web.Port)
	}
}

func TestSettingsLiveOnlyNeedsNoRestart(t *testing.T) {
	e := newSettingsEnv(t)
	code, body := call(e.srv, "admin", "POST", "/api/settings", `{"log_level": 0, "webrtc_connection_timeout_ms": 5000}`)
	if code != 200 {
		t.Fatalf("POST: %d %s", code, body)
	}
	if r := decodeObj(t, body); r["restart_required"] != false {
		t.Errorf("restart_required for live keys: %s", body)
	}
	if lvl := logx.HandlerOf(e.log).Level(); lvl != slog.LevelError {
		t.Errorf("log level = %v, want error", lvl)
	}
}

func TestSettingsNoChangeWritesNothing(t *testing.T) {
	e := newSettingsEnv(t)
	before, _ := os.ReadFile(e.path)
	st, _ := os.Stat(e.path)
	code, body := call(e.srv, "admin", "POST", "/api/settings", `{"web_port": 8080, "mqtt_password": "********"}`)
	if code != 200 {
		t.Fatalf("POST: %d %s", code, body)
	}
	if r := decodeObj(t, body); r["restart_required"] != false || fmt.Sprint(r["changed"]) != "[]" {
		t.Errorf("reply %s", body)
	}
	after, _ := os.ReadFile(e.path)
	st2, _ := os.Stat(e.path)
	if !bytes.Equal(before, after) || !st.ModTime().Equal(st2.ModTime()) {
		t.Error("an unchanged POST rewrote the file")
	}
}

func TestSettingsRejected(t *testing.T) {
	cases := []struct {
		name, body, field string
	}{
		{"port out of range", `{"web_port": 70000}`, "web_port"},
		{"port as string", `{"web_port": "8081"}`, "web_port"},
		{"port fraction", `{"web_port": 80.5}`, "web_port"},
		{"bool as number", `{"mqtt_enabled": 1}`, "mqtt_enabled"},
		{"unknown key", `{"no_such_setting": 1}`, "no_such_setting"},
		{"read-only key", `{"max_streams_ceiling": 300}`, "max_streams_ceiling"},
		{"relative storage", `{"storage_path": "recordings"}`, "storage_path"},
		{"storage in /etc", `{"storage_path": "/etc/lightnvr"}`, "storage_path"},
		{"storage at root", `{"storage_path": "/"}`, "storage_path"},
		{"enum", `{"mp4_directory_format": "weekly"}`, "mp4_directory_format"},
		{"pressure order", `{"storage_pressure_critical_pct": 30}`, "storage_pressure_critical_pct"},
		{"bad cidr", `{"trusted_proxy_cidrs": "10.0.0.0/8, nonsense"}`, "trusted_proxy_cidrs"},
		{"port clash", `{"go2rtc_api_port": 8080}`, "go2rtc_api_port"},
		{"swap zero with swap on", `{"swap_size": 0}`, "swap_size"},
		{"valid plus invalid", `{"retention_days": 7, "web_port": 0}`, "web_port"},
	}
	e := newSettingsEnv(t)
	before, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	getBefore := e.get(t, "admin")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(e.srv, "admin", "POST", "/api/settings", c.body)
			if code != 400 {
				t.Fatalf("status %d, want 400: %s", code, body)
			}
			var r settingsError
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("reply: %v %s", err, body)
			}
			if r.Fields[c.field] == "" || !strings.Contains(r.Error, c.field) {
				t.Fatalf("field %s not named: %s", c.field, body)
			}
			after, err := os.ReadFile(e.path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Fatalf("file changed after a rejected POST:\n%s", after)
			}
		})
	}
	if got := e.get(t, "admin"); !bytes.Equal(mustJSON(t, got), mustJSON(t, getBefore)) {
		t.Error("live settings changed after rejected POSTs")
	}

	for _, body := range []string{``, `[]`, `{"web_port": 8081} {}`, `{"web_port": }`, `null`} {
		if code, b := call(e.srv, "admin", "POST", "/api/settings", body); code != 400 {
			t.Errorf("body %q: %d %s", body, code, b)
		}
	}
	if code, _ := call(e.srv, "viewer", "POST", "/api/settings", `{"web_port": 8081}`); code != 403 {
		t.Errorf("viewer POST: %d, want 403", code)
	}
	if code, _ := call(e.srv, "", "POST", "/api/settings", `{"web_port": 8081}`); code != 401 {
		t.Errorf("anonymous POST: %d, want 401", code)
	}
	after, _ := os.ReadFile(e.path)
	if !bytes.Equal(before, after) {
		t.Error("file changed")
	}
}

func TestSettingsSaveWithoutFile(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Database.Path = filepath.Join(dir, "data", "lightnvr.db")
	cfg.Storage.Path = filepath.Join(dir, "recordings")
	if err := os.MkdirAll(filepath.Dir(cfg.Database.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Deps{Config: cfg, Logger: quietLog, Auth: streamTestAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	code, body := call(srv, "admin", "POST", "/api/settings", `{"retention_days": 9}`)
	if code != 200 {
		t.Fatalf("POST: %d %s", code, body)
	}
	want := filepath.Join(dir, "data", "lightnvr.ini")
	if r := decodeObj(t, body); r["config_path"] != want {
		t.Fatalf("config_path = %v, want %s", r["config_path"], want)
	}
	back, err := config.Load(want)
	if err != nil {
		t.Fatal(err)
	}
	if back.Storage.RetentionDays != 9 || srv.Config().Path() != want {
		t.Errorf("saved retention %d, live path %q", back.Storage.RetentionDays, srv.Config().Path())
	}
}

// TestSettingsConcurrent reads while writing; -race checks the swap.
func TestSettingsConcurrent(t *testing.T) {
	e := newSettingsEnv(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 5 {
				if i%2 == 0 {
					body := fmt.Sprintf(`{"retention_days": %d}`, 10+i*10+j)
					if code, b := call(e.srv, "admin", "POST", "/api/settings", body); code != 200 {
						t.Errorf("POST: %d %s", code, b)
					}
				} else if code, b := call(e.srv, "viewer", "GET", "/api/settings", ""); code != 200 {
					t.Errorf("GET: %d %s", code, b)
				}
			}
		})
	}
	wg.Wait()
	back, err := config.Load(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, "admin")["retention_days"]; got != float64(back.Storage.RetentionDays) {
		t.Errorf("live retention_days %v, file %d", got, back.Storage.RetentionDays)
	}
}

// LightNVR's UI opens live video at http://<host>:<go2rtc_api_port>/go2rtc
// when served over HTTP. go2rtc is private on loopback and reached through
// our /go2rtc/ proxy, so every caller is told the port it reached us on, and
// the settings page posting that value back does not move go2rtc.
func TestSettingsGo2RTCPortIsTheBrowsersPort(t *testing.T) {
	e := newSettingsEnv(t)
	at := func(role, method, body string) (int, []byte) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI("/api/settings")
		ctx.Request.Header.SetHost("127.0.0.1:8123")
		ctx.Request.Header.Set("X-Test-Role", role)
		if body != "" {
			ctx.Request.Header.SetContentType("application/json")
			ctx.Request.SetBodyString(body)
		}
		e.srv.Handle(&ctx)
		return ctx.Response.StatusCode(), append([]byte(nil), ctx.Response.Body()...)
	}
	for _, role := range []string{"viewer", "admin"} {
		_, body := at(role, "GET", "")
		if got := decodeObj(t, body)["go2rtc_api_port"]; got != float64(8123) {
			t.Errorf("%s: go2rtc_api_port = %v, want 8123 (the port the browser used)", role, got)
		}
	}
	code, body := at("admin", "POST", `{"go2rtc_api_port": 8123}`)
	if code != 200 || fmt.Sprint(decodeObj(t, body)["changed"]) != "[]" {
		t.Fatalf("posting the reported port back: %d %s", code, body)
	}
	if p := e.srv.Config().Go2RTC.APIPort; p != 1984 {
		t.Errorf("go2rtc api_port = %d after posting the reported port back, want 1984", p)
	}
	if code, body := at("admin", "POST", `{"go2rtc_api_port": 11984}`); code != 200 {
		t.Fatalf("moving go2rtc: %d %s", code, body)
	}
	if p := e.srv.Config().Go2RTC.APIPort; p != 11984 {
		t.Errorf("go2rtc api_port = %d, want 11984", p)
	}
}
