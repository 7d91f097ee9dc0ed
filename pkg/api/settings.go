package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/logx"
)

// liveConfig holds the live configuration. It starts as Deps.Config; POST
// /api/settings publishes a new *config.Config and never modifies a
// published one, so readers need no lock.
type liveConfig struct {
	cur atomic.Pointer[config.Config]
	// mu serialises writers: a POST reads the current config, edits a copy,
	// saves it and publishes it, and two of those must not interleave.
	mu sync.Mutex
}

func newLiveConfig(boot *config.Config) *liveConfig {
	c := &liveConfig{}
	c.cur.Store(boot)
	return c
}

// get is the live configuration (read-only: never modify it).
func (c *liveConfig) get() *config.Config { return c.cur.Load() }

// Config returns the live configuration (read-only: never modify it).
func (s *Server) Config() *config.Config { return s.settings.get() }

// settingsHandler serves reading and saving the settings.
type settingsHandler struct {
	failer
	live *liveConfig
	// configPath is Deps.ConfigPath.
	configPath string
	// root is the daemon's logger, whose level log_level sets.
	root *slog.Logger
	// go2rtc owns go2rtc_config_override; nil when go2rtc is not managed here.
	go2rtc *go2rtc.Supervisor
	// mqtt takes changed mqtt_* settings without a restart; nil: none.
	mqtt MQTTNotifier
}

var settingsRoutes = []endpoint[*settingsHandler]{
	{"GET", "/api/settings", auth.AccessViewer, (*settingsHandler).handleGetSettings},
	{"POST", "/api/settings", auth.AccessAdmin, (*settingsHandler).handlePostSettings},
}

type settingKind int

const (
	kindString settingKind = iota
	kindBool
	kindInt
	kindFloat
)

// pathRule says what a path-valued setting accepts.
type pathRule int

const (
	pathAny         pathRule = iota // free text (relative allowed)
	pathAbsolute                    // absolute, required
	pathAbsOrEmpty                  // absolute, or empty
	pathDataAbs                     // absolute, and not a system directory (recordings are deleted below it)
	pathDataAbsOrNo                 // pathDataAbs, or empty
)

// setting maps one flat key of LightNVR's settings API to its INI key.
type setting struct {
	name  string // API key
	id    string // "section.key" of pkg/config
	kind  settingKind
	scale int64 // API value × scale = INI value (swap_size: MB ↔ bytes)
	// live settings take effect without a restart: they are applied here
	// (log_level) or only read by the browser through GET /api/settings.
	live bool
	// secret values are never returned, only "********" when set.
	secret bool
	// private values are hidden from non-admins (they name accounts or may
	// carry credentials in a URL).
	private bool
	// internal values (absolute paths, go2rtc's loopback ports) describe
	// the box's insides; non-admins get the zero value.
	internal bool
	path     pathRule
}

// settingsTable is LightNVR's GET/POST /api/settings key set (config.md §3).
var settingsTable = []setting{
	{name: "log_level", id: "general.log_level", kind: kindInt, live: true},
	{name: "log_file", id: "general.log_file", path: pathAbsOrEmpty, internal: true},
	{name: "pid_file", id: "general.pid_file", path: pathAbsOrEmpty, internal: true},
	{name: "syslog_enabled", id: "general.syslog_enabled", kind: kindBool},
	{name: "syslog_ident", id: "general.syslog_ident"},
	{name: "syslog_facility", id: "general.syslog_facility"},

	{name: "web_port", id: "web.port", kind: kindInt},
	{name: "web_bind_ip", id: "web.bind_ip"},
	{name: "web_root", id: "web.root", path: pathAbsOrEmpty, internal: true},
	{name: "web_auth_enabled", id: "web.auth_enabled", kind: kindBool},
	{name: "demo_mode", id: "web.demo_mode", kind: kindBool},
	{name: "webrtc_disabled", id: "web.webrtc_disabled", kind: kindBool, live: true},
	{name: "hls_disabled", id: "web.hls_disabled", kind: kindBool, live: true},
	{name: "mse_disabled", id: "web.mse_disabled", kind: kindBool, live: true},
	{name: "web_thread_pool_size", id: "web.web_thread_pool_size", kind: kindInt},
	{name: "auth_timeout_hours", id: "web.auth_timeout_hours", kind: kindInt},
	{name: "auth_absolute_timeout_hours", id: "web.auth_absolute_timeout_hours", kind: kindInt},
	{name: "trusted_device_days", id: "web.trusted_device_days", kind: kindInt},
	{name: "trusted_proxy_cidrs", id: "web.trusted_proxy_cidrs"},
	{name: "force_mfa_on_login", id: "web.force_mfa_on_login", kind: kindBool},
	{name: "login_rate_limit_enabled", id: "web.login_rate_limit_enabled", kind: kindBool},
	{name: "login_rate_limit_max_attempts", id: "web.login_rate_limit_max_attempts", kind: kindInt},
	{name: "login_rate_limit_window_seconds", id: "web.login_rate_limit_window_seconds", kind: kindInt},
	// Our own; the certificate files stay INI-only, so no one turns a typo in
	// a path into a daemon that does not start, from a browser.
	{name: "web_https_enabled", id: "web.https_enabled", kind: kindBool},

	{name: "storage_path", id: "storage.path", path: pathDataAbs, internal: true},
	{name: "storage_path_hls", id: "storage.path_hls", path: pathDataAbsOrNo, internal: true},
	{name: "max_storage_size", id: "storage.max_size", kind: kindInt},
	{name: "retention_days", id: "storage.retention_days", kind: kindInt},
	{name: "auto_delete_oldest", id: "storage.auto_delete_oldest", kind: kindBool},
	{name: "storage_min_free_pct", id: "storage.min_free_pct", kind: kindInt},
	{name: "storage_pressure_warning_pct", id: "storage.pressure_warning_pct", kind: kindFloat},
	{name: "storage_pressure_critical_pct", id: "storage.pressure_critical_pct", kind: kindFloat},
	{name: "storage_pressure_emergency_pct", id: "storage.pressure_emergency_pct", kind: kindFloat},
	{name: "generate_thumbnails", id: "storage.generate_thumbnails", kind: kindBool},
	{name: "thumbnails_per_recording", id: "storage.thumbnails_per_recording", kind: kindInt},
	{name: "mp4_directory_format", id: "storage.mp4_directory_format"},

	{name: "models_path", id: "models.path", path: pathAbsolute, internal: true},
	{name: "max_streams", id: "streams.max_streams", kind: kindInt},

	{name: "db_path", id: "database.path", path: pathAbsolute, internal: true},
	{name: "db_backup_interval_minutes", id: "database.backup_interval_minutes", kind: kindInt},
	{name: "db_backup_retention_count", id: "database.backup_retention_count", kind: kindInt},
	{name: "db_post_backup_script", id: "database.post_backup_script", path: pathAbsOrEmpty, private: true},

	{name: "buffer_size", id: "memory.buffer_size", kind: kindInt},
	{name: "use_swap", id: "memory.use_swap", kind: kindBool},
	{name: "swap_file", id: "memory.swap_file", path: pathDataAbsOrNo, internal: true},
	{name: "swap_size", id: "memory.swap_size", kind: kindInt, scale: 1 << 20},
	{name: "hw_accel_enabled", id: "hardware.hw_accel_enabled", kind: kindBool},
	{name: "hw_accel_device", id: "hardware.hw_accel_device"},

	{name: "api_detection_url", id: "api_detection.url", private: true},
	{name: "api_detection_backend", id: "api_detection.backend"},
	{name: "default_detection_threshold", id: "api_detection.detection_threshold", kind: kindInt},
	{name: "pre_detection_buffer", id: "api_detection.pre_detection_buffer", kind: kindInt},
	{name: "post_detection_buffer", id: "api_detection.post_detection_buffer", kind: kindInt},
	{name: "buffer_strategy", id: "api_detection.buffer_strategy"},
	{name: "detection_grace_period", id: "detection.grace_period", kind: kindInt},
	{name: "detection_engine_enabled", id: "detection_engine.enabled", kind: kindBool},
	{name: "detection_engine_threads", id: "detection_engine.threads", kind: kindInt},
	{name: "detection_engine_delegate", id: "detection_engine.delegate"},

	{name: "go2rtc_enabled", id: "go2rtc.enabled", kind: kindBool},
	{name: "go2rtc_binary_path", id: "go2rtc.binary_path", internal: true},
	{name: "go2rtc_config_dir", id: "go2rtc.config_dir", path: pathAbsOrEmpty, internal: true},
	{name: "go2rtc_api_port", id: "go2rtc.api_port", kind: kindInt, internal: true},
	{name: "go2rtc_rtsp_port", id: "go2rtc.rtsp_port", kind: kindInt, internal: true},
	{name: "go2rtc_webrtc_enabled", id: "go2rtc.webrtc_enabled", kind: kindBool},
	{name: "go2rtc_webrtc_listen_port", id: "go2rtc.webrtc_listen_port", kind: kindInt},
	{name: "go2rtc_stun_enabled", id: "go2rtc.stun_enabled", kind: kindBool},
	{name: "go2rtc_stun_server", id: "go2rtc.stun_server"},
	{name: "go2rtc_external_ip", id: "go2rtc.external_ip"},
	{name: "go2rtc_ice_servers", id: "go2rtc.ice_servers", private: true},
	{name: "go2rtc_force_native_hls", id: "go2rtc.force_native_hls", kind: kindBool},
	{name: "go2rtc_proxy_max_inflight", id: "go2rtc.proxy_max_inflight", kind: kindInt},
	{name: "webrtc_connection_timeout_ms", id: "go2rtc.webrtc_connection_timeout_ms", kind: kindInt, live: true},
	{name: "webrtc_ice_recovery_timeout_ms", id: "go2rtc.webrtc_ice_recovery_timeout_ms", kind: kindInt, live: true},
	{name: "turn_enabled", id: "go2rtc.turn_enabled", kind: kindBool},
	{name: "turn_server_url", id: "go2rtc.turn_server_url", private: true},
	{name: "turn_username", id: "go2rtc.turn_username", private: true},
	{name: "turn_password", id: "go2rtc.turn_password", secret: true},

	{name: "mqtt_enabled", id: "mqtt.enabled", kind: kindBool},
	{name: "mqtt_broker_host", id: "mqtt.broker_host"},
	{name: "mqtt_broker_port", id: "mqtt.broker_port", kind: kindInt},
	{name: "mqtt_username", id: "mqtt.username", private: true},
	{name: "mqtt_password", id: "mqtt.password", secret: true},
	{name: "mqtt_client_id", id: "mqtt.client_id"},
	{name: "mqtt_topic_prefix", id: "mqtt.topic_prefix"},
	{name: "mqtt_tls_enabled", id: "mqtt.tls_enabled", kind: kindBool},
	{name: "mqtt_keepalive", id: "mqtt.keepalive", kind: kindInt},
	{name: "mqtt_qos", id: "mqtt.qos", kind: kindInt},
	{name: "mqtt_retain", id: "mqtt.retain", kind: kindBool},
	{name: "mqtt_ha_discovery", id: "mqtt.ha_discovery", kind: kindBool},
	{name: "mqtt_ha_discovery_prefix", id: "mqtt.ha_discovery_prefix"},
	{name: "mqtt_ha_snapshot_interval", id: "mqtt.ha_snapshot_interval", kind: kindInt},
	{name: "mqtt_tls_ca_file", id: "mqtt.tls_ca_file", path: pathAbsOrEmpty, internal: true},
	{name: "mqtt_tls_cert_file", id: "mqtt.tls_cert_file", path: pathAbsOrEmpty, internal: true},
	{name: "mqtt_tls_key_file", id: "mqtt.tls_key_file", path: pathAbsOrEmpty, internal: true},
	{name: "mqtt_frigate_compat", id: "mqtt.frigate_compat", kind: kindBool},
	{name: "mqtt_outbox_size", id: "mqtt.outbox_size", kind: kindInt},

	{name: "webhooks_enabled", id: "webhooks.enabled", kind: kindBool},
	{name: "webhooks_detection_url", id: "webhooks.detection_url", private: true},
	{name: "webhooks_storage_url", id: "webhooks.storage_url", private: true},
	{name: "webhooks_stream_url", id: "webhooks.stream_url", private: true},
	{name: "webhooks_secret", id: "webhooks.secret", secret: true},
	{name: "webhooks_timeout", id: "webhooks.timeout", kind: kindInt},
	{name: "webhooks_retries", id: "webhooks.retries", kind: kindInt},
	{name: "webhooks_queue_size", id: "webhooks.queue_size", kind: kindInt},

	{name: "onvif_discovery_enabled", id: "onvif.discovery_enabled", kind: kindBool},
	{name: "onvif_discovery_interval", id: "onvif.discovery_interval", kind: kindInt},
	{name: "onvif_discovery_network", id: "onvif.discovery_network"},
}

// maxStreamsCeiling is LightNVR's read-only max_streams_ceiling.
const maxStreamsCeiling = 256

// secretMask stands for a secret that is set. Posting it back keeps the secret.
const secretMask = "********"

// readOnlySettings are returned by GET and refused by POST.
var readOnlySettings = map[string]bool{"max_streams_ceiling": true}

var (
	settingByName = map[string]*setting{}
	settingByID   = map[string]*setting{}
)

func init() {
	for i := range settingsTable {
		st := &settingsTable[i]
		if st.scale == 0 {
			st.scale = 1
		}
		settingByName[st.name] = st
		settingByID[st.id] = st
	}
}

// settingsView renders cfg as LightNVR's flat settings object. Secrets are
// masked for everyone; private values are blanked for non-admins.
func settingsView(cfg *config.Config, admin bool) map[string]any {
	out := make(map[string]any, len(settingsTable)+1)
	for i := range settingsTable {
		st := &settingsTable[i]
		raw, _ := cfg.Get(st.id)
		switch {
		case st.secret:
			if raw != "" {
				raw = secretMask
			}
			out[st.name] = raw
			continue
		case st.private && !admin:
			if raw != "" {
				raw = secretMask
			}
			out[st.name] = raw
			continue
		case st.internal && !admin:
			// Keep the JSON type: 0 for a port, "" for a path.
			out[st.name] = st.apiValue("")
			continue
		}
		out[st.name] = st.apiValue(raw)
	}
	out["max_streams_ceiling"] = maxStreamsCeiling
	return out
}

// apiValue converts the INI text of a value to its JSON value.
func (st *setting) apiValue(raw string) any {
	switch st.kind {
	case kindBool:
		return raw == "true"
	case kindInt:
		n, _ := strconv.ParseInt(raw, 10, 64)
		return n / st.scale
	case kindFloat:
		f, _ := strconv.ParseFloat(raw, 64)
		return f
	}
	return raw
}

func (h *settingsHandler) handleGetSettings(ctx *fasthttp.RequestCtx) {
	p := PrincipalOf(ctx)
	admin := p != nil && p.Role == auth.RoleAdmin
	view := settingsView(h.live.get(), admin)
	overrideView(h.go2rtc, admin, view)
	view["go2rtc_api_port"] = browserGo2RTCPort(ctx)
	writeJSON(ctx, fasthttp.StatusOK, view)
}

// browserGo2RTCPort is the port where this browser reaches go2rtc: ours, as
// go2rtc stays on loopback behind the /go2rtc/ proxy. LightNVR's own UI builds
// its live-video URLs from go2rtc_api_port when served over plain HTTP, so
// GET reports this port and a POST that carries it back leaves go2rtc's port
// as it is.
func browserGo2RTCPort(ctx *fasthttp.RequestCtx) int {
	if _, port, err := net.SplitHostPort(string(ctx.Host())); err == nil {
		if n, err := strconv.Atoi(port); err == nil {
			return n
		}
	}
	if ctx.IsTLS() {
		return 443
	}
	return 80
}

// settingsError is the 400 reply of a refused POST: a summary plus one message
// per offending key, so the UI can show each next to its field.
type settingsError struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}

func writeSettingsError(ctx *fasthttp.RequestCtx, fields map[string]string) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+fields[k])
	}
	writeJSON(ctx, fasthttp.StatusBadRequest, settingsError{
		Error:  "invalid settings: " + strings.Join(parts, "; "),
		Fields: fields,
	})
}

// parseSetting checks one posted value and returns it as INI text. keep is
// true when the value is the secret mask, meaning "leave it as it is".
func (st *setting) parseSetting(raw json.RawMessage) (ini string, keep bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false, fmt.Errorf("is not valid JSON")
	}
	switch st.kind {
	case kindBool:
		b, ok := v.(bool)
		if !ok {
			return "", false, fmt.Errorf("must be true or false")
		}
		return strconv.FormatBool(b), false, nil
	case kindInt:
		n, ok := v.(json.Number)
		if !ok {
			return "", false, fmt.Errorf("must be a number")
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return "", false, fmt.Errorf("must be a whole number")
		}
		if st.scale > 1 && (i > math.MaxInt64/st.scale || i < math.MinInt64/st.scale) {
			return "", false, fmt.Errorf("is too large")
		}
		return strconv.FormatInt(i*st.scale, 10), false, nil
	case kindFloat:
		n, ok := v.(json.Number)
		if !ok {
			return "", false, fmt.Errorf("must be a number")
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", false, fmt.Errorf("must be a finite number")
		}
		return strconv.FormatFloat(f, 'f', -1, 64), false, nil
	}
	str, ok := v.(string)
	if !ok {
		return "", false, fmt.Errorf("must be a string")
	}
	if st.secret && str == secretMask {
		return "", true, nil
	}
	if len(str) > 4096 {
		return "", false, fmt.Errorf("is longer than 4096 bytes")
	}
	if err := checkPath(st.path, str); err != nil {
		return "", false, err
	}
	return str, false, nil
}

// systemDirs may never hold recordings or swap: retention deletes files
// below the storage path.
var systemDirs = []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/sbin", "/sys", "/usr", "/run"}

func checkPath(rule pathRule, p string) error {
	if rule == pathAny {
		return nil
	}
	if p == "" {
		if rule == pathAbsOrEmpty || rule == pathDataAbsOrNo {
			return nil
		}
		return fmt.Errorf("must not be empty")
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("must be an absolute path")
	}
	if filepath.Clean(p) != strings.TrimSuffix(p, "/") && p != "/" {
		return fmt.Errorf("must be a clean path (no //, . or .. parts)")
	}
	if rule == pathDataAbs || rule == pathDataAbsOrNo {
		c := filepath.Clean(p)
		if c == "/" {
			return fmt.Errorf("must not be the root directory")
		}
		for _, d := range systemDirs {
			if c == d || strings.HasPrefix(c, d+"/") {
				return fmt.Errorf("must not be in the system directory %s", d)
			}
		}
	}
	return nil
}

// validateLine picks "[section] key: message" out of one line of a
// config.Validate error (which may be prefixed with file:line).
var validateLine = regexp.MustCompile(`\[([a-z0-9_]+)\] ([a-z0-9_]+): (.*)$`)

// fieldErrors maps a config.Validate error to API keys. Keys the API does not
// expose are reported as "section.key".
func fieldErrors(err error) map[string]string {
	out := map[string]string{}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		m := validateLine.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) != "" {
				out["_config"] = strings.TrimSpace(line)
			}
			continue
		}
		id, msg := m[1]+"."+m[2], m[3]
		name := id
		if st := settingByID[id]; st != nil {
			name = st.name
			if st.scale > 1 {
				msg += fmt.Sprintf(" (bytes; the API value is in units of %d bytes)", st.scale)
			}
		}
		if prev, ok := out[name]; ok {
			msg = prev + "; " + msg
		}
		out[name] = msg
	}
	return out
}

// settingsSaveReply is the answer to a successful POST /api/settings.
type settingsSaveReply struct {
	Success                bool     `json:"success"`
	RestartRequired        bool     `json:"restart_required"`
	RestartRequiredMessage string   `json:"restart_required_message,omitempty"`
	Changed                []string `json:"changed"`
	RestartKeys            []string `json:"restart_keys,omitempty"`
	ConfigPath             string   `json:"config_path,omitempty"`
}

// configSavePath is where settings are written (and a restored
// configuration goes): the loaded file, else Deps.ConfigPath (configPath),
// else lightnvr.ini beside the database.
func configSavePath(cur *config.Config, configPath string) string {
	if p := cur.Path(); p != "" {
		return p
	}
	if configPath != "" {
		return configPath
	}
	return filepath.Join(filepath.Dir(cur.Database.Path), "lightnvr.ini")
}

func (h *settingsHandler) handlePostSettings(ctx *fasthttp.RequestCtx) {
	var body map[string]json.RawMessage
	if !readJSON(ctx, &body) {
		return
	}
	if body == nil {
		writeError(ctx, fasthttp.StatusBadRequest, "request body must be a JSON object of settings")
		return
	}

	h.live.mu.Lock()
	defer h.live.mu.Unlock()
	cur := h.live.get()

	// Everything is checked before anything is written: first each value on
	// its own, then the whole result with the config's own rules.
	next := *cur
	fields := map[string]string{}
	var override *string
	if raw, ok := body[overrideSetting]; ok {
		delete(body, overrideSetting)
		text, ok := readOverride(ctx, raw, overrideSetting)
		if !ok {
			return
		}
		var msg string
		if override, msg = overrideChange(h.go2rtc, text); msg != "" {
			fields[overrideSetting] = msg
		}
	}
	setSettings(ctx, &next, body, fields)
	if len(fields) > 0 {
		writeSettingsError(ctx, fields)
		return
	}
	if err := next.Validate(); err != nil && len(body) > 0 {
		writeSettingsError(ctx, fieldErrors(err))
		return
	}

	if override != nil {
		if err := h.go2rtc.SetOverride(*override); err != nil {
			h.fail(ctx, "apply the go2rtc override", err)
			return
		}
		h.log.Info("go2rtc override applied; go2rtc restarts", "bytes", len(*override))
	}
	var changed, restart []string
	for i := range settingsTable {
		st := &settingsTable[i]
		a, _ := cur.Get(st.id)
		b, _ := next.Get(st.id)
		if a == b {
			continue
		}
		changed = append(changed, st.name)
		if !st.live && !h.appliesLive(st) {
			restart = append(restart, st.name)
		}
	}
	reply := settingsSaveReply{Success: true, Changed: changed}
	if len(changed) == 0 {
		reply.Changed = []string{}
		if override != nil {
			reply.Changed = []string{overrideSetting}
		}
		writeJSON(ctx, fasthttp.StatusOK, reply)
		return
	}

	path := configSavePath(cur, h.configPath)
	if err := next.Save(path); err != nil {
		h.fail(ctx, "save settings", fmt.Errorf("save %s: %w", path, err))
		return
	}
	// Publish what a restart would read: the file as saved, with the
	// environment applied on top (the environment wins over the file).
	published := &next
	if reloaded, err := config.Load(path); err != nil {
		h.log.Warn("reload saved settings", "path", path, "err", err)
	} else {
		published = reloaded
	}
	h.live.cur.Store(published)
	h.applyLiveSettings(cur, published)

	reply.ConfigPath = path
	if len(restart) > 0 {
		reply.RestartRequired = true
		reply.RestartKeys = restart
		reply.RestartRequiredMessage = "Saved. These changes take effect after a restart: " + strings.Join(restart, ", ")
	}
	h.log.Info("settings saved", "path", path, "changed", strings.Join(changed, ","), "restart_required", reply.RestartRequired)
	writeJSON(ctx, fasthttp.StatusOK, reply)
}

// setSettings sets each setting of body on next, each value checked on its
// own; fields gets why for those it could not set.
func setSettings(ctx *fasthttp.RequestCtx, next *config.Config, body map[string]json.RawMessage, fields map[string]string) {
	for name, raw := range body {
		st := settingByName[name]
		if st == nil {
			if readOnlySettings[name] {
				fields[name] = "is read-only"
			} else {
				fields[name] = "is not a known setting"
			}
			continue
		}
		val, keep, err := st.parseSetting(raw)
		if err != nil {
			fields[name] = err.Error()
			continue
		}
		if keep || name == "go2rtc_api_port" && val == strconv.Itoa(browserGo2RTCPort(ctx)) {
			continue
		}
		if err := next.Set(st.id, val); err != nil {
			msg := err.Error()
			if m := validateLine.FindStringSubmatch(msg); m != nil {
				msg = m[3]
			}
			fields[name] = msg
		}
	}
}

// appliesLive reports whether a running part takes st without a restart:
// the MQTT publisher reconnects with new mqtt_* settings.
func (h *settingsHandler) appliesLive(st *setting) bool {
	return h.mqtt != nil && strings.HasPrefix(st.id, "mqtt.")
}

// applyLiveSettings applies the settings that change without a restart.
func (h *settingsHandler) applyLiveSettings(old, cur *config.Config) {
	if old.General.LogLevel != cur.General.LogLevel {
		if lh := logx.HandlerOf(h.root); lh != nil {
			lh.SetLevel(logx.LevelFromLightNVR(cur.General.LogLevel))
		}
	}
	if h.mqtt != nil && old.MQTT != cur.MQTT {
		h.mqtt.Reconfigure(cur.MQTT)
	}
}
