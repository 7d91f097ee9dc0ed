package config

import (
	"strings"
	"testing"
)

// loadErr loads text and returns the error text, failing when there is none.
func loadErr(t *testing.T, text string, environ ...string) (string, string) {
	t.Helper()
	p := writeINI(t, text)
	c, err := load(p, nil, environ)
	if err == nil {
		t.Fatalf("no error for:\n%s", text)
	}
	if c != nil {
		t.Fatal("a *Config was returned with an error")
	}
	return err.Error(), p
}

func TestBadValues(t *testing.T) {
	cases := []struct {
		text string
		want string // after "<path>"
	}{
		{"[web]\nport = 80x\n", `:2: [web] port: "80x" is not an integer`},
		{"[web]\n\nport = 70000\n", `:3: [web] port: 70000 is out of range 1–65535`},
		{"[web]\nport = 0\n", `:2: [web] port: 0 is out of range 1–65535`},
		{"[storage]\nmax_size = 99999999999999999999\n", `:2: [storage] max_size: "99999999999999999999" is out of range`},
		{"[web]\nauth_enabled = maybe\n", `:2: [web] auth_enabled: "maybe" is not a boolean`},
		{"[web]\nauth_enabled =\n", `:2: [web] auth_enabled: "" is not a boolean`},
		{"[web]\nauth_enabled = enabled ; LightNVR would read false\n", `:2: [web] auth_enabled: "enabled" is not a boolean`},
		{"[storage]\npressure_warning_pct = lots\n", `:2: [storage] pressure_warning_pct: "lots" is not a number`},
		{"[storage]\npressure_warning_pct = NaN\n", `:2: [storage] pressure_warning_pct: "NaN" is not a number`},
		{"[storage]\nmin_free_pct = 95\n", `:2: [storage] min_free_pct: 95 is out of range 0–90`},
		{"[storage]\npressure_critical_pct = 30\n", `:2: [storage] pressure_critical_pct: thresholds must satisfy emergency (5) < critical (30) < warning (20)`},
		{"[storage]\npath =\n", `:2: [storage] path: must not be empty`},
		{"[models]\npath=\n", `:2: [models] path: must not be empty`},
		{"[database]\npath = \"\"\n", `:2: [database] path: must not be empty`},
		{"[storage]\nmp4_directory_format = daily\n", `:2: [storage] mp4_directory_format: "daily" is not one of flat, year_month, year_month_day`},
		{"[storage]\nthumbnails_per_recording = 2\n", `:2: [storage] thumbnails_per_recording: "2" is not one of 1, 3`},
		{"[memory]\nbuffer_size = 0\n", `:2: [memory] buffer_size: 0 is out of range 1–1048576`},
		{"[memory]\nuse_swap = true\nswap_size = 0\n", `:3: [memory] swap_size: must be > 0 when use_swap is on`},
		{"[web]\nauth_timeout_hours = 48\nauth_absolute_timeout_hours = 24\n", `:3: [web] auth_absolute_timeout_hours: 24 must be ≥ auth_timeout_hours (48)`},
		{"[mqtt]\nkeepalive = 4\n", `:2: [mqtt] keepalive: 4 is out of range 5–3600`},
		{"[mqtt]\nqos = 3\n", `:2: [mqtt] qos: 3 is out of range 0–2`},
		{"[mqtt]\nenabled = true\nbroker_host =\n", `:3: [mqtt] broker_host: must not be empty when mqtt is enabled`},
		{"[mqtt]\ntopic_prefix = cams/#\n", `:2: [mqtt] topic_prefix: "cams/#" must not contain MQTT wildcards`},
		{"[streams]\nmax_streams = 257\n", `:2: [streams] max_streams: 257 is out of range 1–256`},
		{"[ota]\nhealthy_for = 5\n", `:2: [ota] healthy_for: must be a duration from 1s to 24h, such as 90s or 5m`},
		{"[ota]\nhealthy_for = 500ms\n", `:2: [ota] healthy_for: must be a duration from 1s to 24h, such as 90s or 5m`},
		{"[general]\nlog_level = 4\n", `:2: [general] log_level: 4 is out of range 0–3`},
		{"[general]\nlog_format = xml\n", `:2: [general] log_format: "xml" is not one of text, json`},
		{"[general]\nsyslog_facility = LOG_NOPE\n", `:2: [general] syslog_facility: "LOG_NOPE" is not a syslog facility`},
		{"[go2rtc]\nmode = auto\n", `:2: [go2rtc] mode: "auto" is not one of managed, external`},
		{"[go2rtc]\nrtsp_port = 1984\n", `:2: [go2rtc] rtsp_port: port 1984 is already used by [go2rtc] api_port`},
		{"[go2rtc]\nturn_enabled = true\n", `: [go2rtc] turn_server_url: must not be empty when turn_enabled is on`},
		{"[web]\nbind_ip = localhost\n", `:2: [web] bind_ip: "localhost" is not an IP address`},
		{"[web]\ntrusted_proxy_cidrs = 10.0.0.0/8, nope\n", `:2: [web] trusted_proxy_cidrs: "nope" is not a CIDR or IP address`},
		{"[onvif]\ndiscovery_network = lan\n", `:2: [onvif] discovery_network: "lan" is neither auto nor a CIDR`},
		{"[onvif]\ndiscovery_interval = 10\n", `:2: [onvif] discovery_interval: 10 is out of range 30–3600`},
		{"[api_detection]\nurl = localhost:8000/detect\n", `:2: [api_detection] url: "localhost:8000/detect" is not an http(s) URL`},
		{"[webhooks]\ndetection_url = ftp://nas/hook\n", `:2: [webhooks] detection_url: "ftp://nas/hook" is not an http(s) URL`},
		{"[webhooks]\nstorage_url = hooks.lan/x\n", `:2: [webhooks] storage_url: "hooks.lan/x" is not an http(s) URL`},
		{"[webhooks]\nenabled = true\ndetection_url = http://hooks.lan/x\nsecret = short\n", `:4: [webhooks] secret: must be at least 16 characters when webhooks are enabled`},
		{"[webhooks]\nenabled = true\nsecret = 0123456789abcdef\n", `: [webhooks] detection_url: set at least one of detection_url, storage_url and stream_url when webhooks are enabled`},
		{"[webhooks]\nqueue_size = 0\n", `:2: [webhooks] queue_size: 0 is out of range 1–10000`},
		{"[database]\npost_backup_script = backup.sh\n", `:2: [database] post_backup_script: "backup.sh" must be an absolute path`},
		{"[detection]\nprebuffer_path = prebuffer\n", `:2: [detection] prebuffer_path: "prebuffer" must be an absolute path`},
		{"[web]\nusername = \"admin\npassword = x\"\n", `:2: [web] username: contains a control character (an unclosed quote in the file?)`},
		// syntax errors carry their line too
		{"[web]\nport = 1\n[mqtt\n", `:3: unclosed section header`},
		{"[web]\nport 8080\n", `:2: expected key = value`},
		{"[web]\n= 8080\n", `:2: empty key name`},
		{"[web]\npassword = `abc\n", ":2: value quote ` is never closed"},
	}
	for _, tc := range cases {
		msg, p := loadErr(t, tc.text)
		if !strings.Contains(msg, p+tc.want) {
			t.Errorf("for %q\n got: %s\nwant: %s%s", tc.text, msg, p, tc.want)
		}
	}
}

func TestAllErrorsReported(t *testing.T) {
	text := "[general]\nlog_level = 9\n\n[web]\nport = 80x\nauth_enabled = sure\n\n[mqtt]\nqos = -1\nretain = 2\n"
	msg, p := loadErr(t, text)
	for _, want := range []string{
		p + `:5: [web] port: "80x" is not an integer`,
		p + `:6: [web] auth_enabled: "sure" is not a boolean`,
		p + `:10: [mqtt] retain: "2" is not a boolean`,
		p + `:2: [general] log_level: 9 is out of range 0–3`,
		p + `:9: [mqtt] qos: -1 is out of range 0–2`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "\n") + 1; n != 5 {
		t.Errorf("want 5 errors, got %d:\n%s", n, msg)
	}
}

func TestMissingFileIsAnError(t *testing.T) {
	if _, err := load("/nonexistent/lightnvr.ini", nil, nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/lightnvr.ini") {
		t.Fatalf("err = %v", err)
	}
}
