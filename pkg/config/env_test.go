package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvOverrides(t *testing.T) {
	p := writeINI(t, "[web]\nport = 8080\nusername = fileuser\n[database]\npath = /file/db\n[go2rtc]\napi_port = 1985\n")
	c := loadFile(t, p,
		"LIGHTNVR_WEB_PORT=9090",                 // LightNVR's name and the generic one
		"LIGHTNVR_WEB_USERNAME=envuser",          // wins over the file
		"LIGHTNVR_DB_PATH=/env/db",               // LightNVR-only name
		"LIGHTNVR_GO2RTC_API_PORT=2984",          // generic form
		"LIGHTNVR_STORAGE_PATH=/env/rec",         // not in the file at all
		"LIGHTNVR_MQTT_HA_DISCOVERY_ENABLED=yes", // generic form of an alias
		"LIGHTNVR_TURN_PASSWORD=tp",              // LightNVR's name for [go2rtc] turn_password
		"LIGHTNVR_WEBRTC_ICE_RECOVERY_TIMEOUT_MS=7000",
		"LIGHTNVR_LOG_LEVEL=3",
		"LIGHTNVR_RETENTION_DAYS=", // empty counts as unset
		"PATH=/usr/bin",
		"lightnvr_web_port=1", // names are case-sensitive
	)
	if c.Web.Port != 9090 || c.Web.Username != "envuser" || c.Database.Path != "/env/db" || c.Go2RTC.APIPort != 2984 ||
		c.Storage.Path != "/env/rec" || !c.MQTT.HADiscovery || c.Go2RTC.TURNPassword != "tp" ||
		c.Go2RTC.WebRTCICERecoveryTimeoutMS != 7000 || c.General.LogLevel != 3 || c.Storage.RetentionDays != 30 {
		t.Fatalf("env not applied: %+v %+v %+v", c.Web, c.Database, c.Go2RTC)
	}
}

func TestEnvWithoutFile(t *testing.T) {
	c, err := load("", []string{filepath.Join(t.TempDir(), "none.ini")}, []string{"LIGHTNVR_WEB_BIND_IP=127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Web.BindIP != "127.0.0.1" || c.Path() != "" {
		t.Fatalf("bind_ip %q path %q", c.Web.BindIP, c.Path())
	}
}

func TestEnvErrors(t *testing.T) {
	p := writeINI(t, "[web]\nport = 8080\n")
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"LIGHTNVR_WEB_PORT=eighty"}, `LIGHTNVR_WEB_PORT: [web] port: "eighty" is not an integer`},
		{[]string{"LIGHTNVR_WEB_PORT=70000"}, `LIGHTNVR_WEB_PORT: [web] port: 70000 is out of range 1–65535`},
		{[]string{"LIGHTNVR_GO2RTC_ENABLED=maybe"}, `LIGHTNVR_GO2RTC_ENABLED: [go2rtc] enabled: "maybe" is not a boolean`},
		{[]string{"LIGHTNVR_DB_PATH=/a", "LIGHTNVR_DATABASE_PATH=/b"}, `LIGHTNVR_DATABASE_PATH, LIGHTNVR_DB_PATH: [database] path: conflicting values`},
	}
	for _, tc := range cases {
		_, err := load(p, nil, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %q: err = %v, want %q", tc.env, err, tc.want)
		}
	}
	// The same value under both names is no conflict.
	if c := loadFile(t, p, "LIGHTNVR_DB_PATH=/a", "LIGHTNVR_DATABASE_PATH=/a"); c.Database.Path != "/a" {
		t.Fatalf("path %q", c.Database.Path)
	}
}

func TestEveryKeyHasGenericEnv(t *testing.T) {
	for _, f := range fields {
		name := "LIGHTNVR_" + strings.ToUpper(f.section+"_"+f.key)
		if envNames[strings.TrimPrefix(name, EnvPrefix)] != f {
			t.Errorf("%s does not map to [%s] %s", name, f.section, f.key)
		}
	}
	// LightNVR's list (reference config.md §1) must all be understood.
	for _, n := range strings.Fields(`TURN_ENABLED TURN_SERVER_URL TURN_USERNAME TURN_PASSWORD GO2RTC_ENABLED GO2RTC_WEBRTC_ENABLED
		GO2RTC_STUN_ENABLED GO2RTC_STUN_SERVER GO2RTC_EXTERNAL_IP GO2RTC_ICE_SERVERS GO2RTC_WEBRTC_LISTEN_PORT
		WEBRTC_CONNECTION_TIMEOUT_MS WEBRTC_ICE_RECOVERY_TIMEOUT_MS WEB_PORT WEB_BIND_IP WEB_AUTH_ENABLED WEB_USERNAME
		WEB_TRUSTED_PROXY_CIDRS DEMO_MODE LOG_LEVEL STORAGE_PATH RETENTION_DAYS DB_PATH DB_BACKUP_INTERVAL_MINUTES
		DB_BACKUP_RETENTION_COUNT DB_POST_BACKUP_SCRIPT`) {
		if envNames[n] == nil {
			t.Errorf("LIGHTNVR_%s is not understood", n)
		}
	}
}

func TestSearchOrder(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a", "lightnvr.ini") // missing
	b := filepath.Join(dir, "b", "lightnvr.ini") // a directory: not readable as a file
	c := filepath.Join(dir, "c", "lightnvr.ini")
	d := filepath.Join(dir, "d", "lightnvr.ini")
	for i, p := range []string{c, d} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("[web]\nport = "+[]string{"8001", "8002"}[i]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(b, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := load("", []string{a, b, c, d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path() != c || cfg.Web.Port != 8001 {
		t.Fatalf("loaded %q (port %d), want %q", cfg.Path(), cfg.Web.Port, c)
	}
	cfg, err = load("", []string{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path() != "" || cfg.Web.Port != 8080 {
		t.Fatalf("no file: path %q port %d", cfg.Path(), cfg.Web.Port)
	}
	// An explicit path skips the search.
	cfg, err = load(d, []string{c}, nil)
	if err != nil || cfg.Path() != d || cfg.Web.Port != 8002 {
		t.Fatalf("explicit: %v %q", err, cfg.Path())
	}
	if SearchPaths[0] != "./lightnvr.ini" || SearchPaths[1] != "/etc/lightnvr/lightnvr.ini" || SearchPaths[2] != "./config/lightnvr.ini" {
		t.Fatalf("SearchPaths = %q", SearchPaths)
	}
}
