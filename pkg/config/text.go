package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
)

// redactedMark replaces a non-empty secret in Redacted and String.
const redactedMark = "********"

// Redacted returns a copy safe to log or show in diagnostics: passwords are
// replaced by a mark (empty ones stay empty, so "not set" stays visible).
// The copy cannot be saved.
func (c *Config) Redacted() *Config {
	r := *c
	r.redacted = true
	r.warnings = append([]string(nil), c.warnings...)
	for _, f := range fields {
		if f.secret && f.value(&r).String() != "" {
			f.value(&r).SetString(redactedMark)
		}
	}
	return &r
}

// String renders the effective configuration as INI text with secrets
// redacted, for logs and `lightnvr diag`.
func (c *Config) String() string {
	r := c.Redacted()
	var b strings.Builder
	sec := ""
	for _, f := range fields {
		if f.section != sec {
			if sec != "" {
				b.WriteByte('\n')
			}
			sec = f.section
			fmt.Fprintf(&b, "[%s]\n", sec)
		}
		fmt.Fprintf(&b, "%s = %s\n", f.key, encodeValue(formatValue(f.value(r))))
	}
	return b.String()
}

// DevINI returns a commented lightnvr.ini for development (`make run`):
// everything under dataDir, the embedded web UI, go2rtc from bin/go2rtc,
// logs on stderr.
func DevINI(dataDir string) string {
	p := func(name string) string { return encodeValue(filepath.Join(dataDir, name)) }
	return fmt.Sprintf(`# LightNVR development configuration (generated; edit freely).
# Every key is described in docs/config.md.

[general]
; empty log_file = log to stderr
log_file =
log_level = 3
log_format = text
pid_file = %s

[storage]
path = %s
retention_days = 7

[models]
path = %s

[database]
path = %s
backup_interval_minutes = 0

[web]
port = 8080
bind_ip = 127.0.0.1
; empty root = the web UI built into the binary
root =
auth_enabled = true
username = admin

[memory]
; no swap file on a development machine
use_swap = false
swap_file = %s

[go2rtc]
enabled = true
mode = managed
; relative to the directory lightnvr runs in
binary_path = bin/go2rtc
config_dir = %s
api_port = 1984
rtsp_port = 8554
webrtc_listen_port = 8555

[mqtt]
enabled = false
`, p("lightnvr.pid"), p("recordings"), p("models"), p("lightnvr.db"), p("swap"), p("go2rtc"))
}

// Keys lists every known key as "section.key", in file order. Settings
// code and docs tests use it to stay in step with the struct.
func Keys() []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.id()
	}
	return out
}

// Get returns the value of "section.key" formatted as in the INI file, and
// whether the key exists. Secrets are returned as they are.
func (c *Config) Get(id string) (string, bool) {
	f := fieldByID(id)
	if f == nil {
		return "", false
	}
	return f.format(c), true
}

// Set parses value for "section.key" as the INI reader would (same syntax
// rules; ranges are checked by Validate).
func (c *Config) Set(id, value string) error {
	f := fieldByID(id)
	if f == nil {
		return fmt.Errorf("unknown config key %q", id)
	}
	if err := f.set(c, value); err != nil {
		return fmt.Errorf("[%s] %s: %w", f.section, f.key, err)
	}
	if _, ok := c.origin[id]; ok {
		// copies of a Config share the map
		c.origin = maps.Clone(c.origin)
		delete(c.origin, id)
	}
	return nil
}
