package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeINI puts text in a fresh lightnvr.ini and returns its path.
func writeINI(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lightnvr.ini")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadFile loads path with no environment and no search list.
func loadFile(t *testing.T, path string, environ ...string) *Config {
	t.Helper()
	c, err := load(path, nil, environ)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return c
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestEveryKeyParses(t *testing.T) {
	data, err := os.ReadFile("testdata/all_keys.ini")
	if err != nil {
		t.Fatal(err)
	}
	c := loadFile(t, writeINI(t, string(data)))
	want := Config{
		General: GeneralConfig{
			PIDFile: "/run/nvr.pid", LogFile: "/data/log/nvr.log", LogLevel: 3, SyslogEnabled: true,
			SyslogIdent: "nvr", SyslogFacility: "LOG_LOCAL3", LogFormat: "json", LogRingBytes: 65536, RebootExitCode: 75,
		},
		Storage: StorageConfig{
			Path: "/mnt/disk/rec", PathHLS: "/tmp/hls", MaxSize: 500000000000, RetentionDays: 14,
			AutoDeleteOldest: false, MinFreePct: 15, PressureWarningPct: 25.5, PressureCriticalPct: 12.5,
			PressureEmergencyPct: 2.5, RecordMP4Directly: true, MP4Path: "/mnt/disk/mp4", MP4DirectoryFormat: "flat",
			MP4SegmentDuration: 60, MP4RetentionDays: 7, GenerateThumbnails: false, ThumbnailsPerRecording: 1,
		},
		Models: ModelsConfig{Path: "/mnt/disk/models"},
		APIDetection: APIDetectionConfig{
			URL: "http://10.0.0.2:9001/api/v1/detect", Backend: "tflite", DetectionThreshold: 70,
			PreDetectionBuffer: 10, PostDetectionBuffer: 20, BufferStrategy: "mmap_hybrid", Timeout: 25,
		},
		DetectionEngine: DetectionEngineConfig{Enabled: true, Threads: 4, Delegate: "none"},
		Detection: DetectionConfig{GracePeriod: 5, PrebufferPath: "/dev/shm/lightnvr-prebuffer",
			PrebufferMaxMBPerStream: 16, PrebufferMaxMBTotal: 64},
		Database: DatabaseConfig{
			Path: "/mnt/disk/nvr.db", BackupIntervalMinutes: 0, BackupRetentionCount: 3,
			PostBackupScript: "/usr/local/bin/after-backup.sh",
		},
		Web: WebConfig{
			Port: 8443, BindIP: "::", Root: "/srv/www", AuthEnabled: false, Username: "root", Password: "s3cret",
			WebRTCDisabled: true, HLSDisabled: true, MSEDisabled: true, AuthTimeoutHours: 12, AuthAbsoluteTimeoutHours: 48,
			TrustedDeviceDays: 0, TrustedProxyCIDRs: "10.0.0.0/8, 192.168.1.1", AllowedHosts: "nvr.example.com, cams.lan", DemoMode: true, ForceMFAOnLogin: true,
			LoginRateLimitEnabled: false, LoginRateLimitMaxAttempts: 10, LoginRateLimitWindowSeconds: 60,
			WebThreadPoolSize: 127, HTTPSEnabled: true, TLSCertFile: "/etc/lightnvr/cert.pem", TLSKeyFile: "/etc/lightnvr/key.pem",
			PprofEnabled: true,
		},
		Streams:  StreamsConfig{MaxStreams: 8, StartTimeoutSeconds: 30, MinAvailableMB: 48},
		Memory:   MemoryConfig{BufferSize: 512, UseSwap: true, SwapFile: "/mnt/disk/swap", SwapSize: 1048576},
		Hardware: HardwareConfig{HWAccelEnabled: true, HWAccelDevice: "/dev/dri/renderD128"},
		Go2RTC: Go2RTCConfig{
			Enabled: false, Mode: Go2RTCExternal, BinaryPath: "/usr/bin/go2rtc", ConfigDir: "/etc/go2rtc",
			APIPort: 11984, RTSPPort: 18554, WebRTCListenPort: 18555, WebRTCEnabled: false, STUNEnabled: false,
			STUNServer: "stun.example.org:3478", ExternalIP: "203.0.113.5",
			ICEServers:                "stun:stun.example.org:3478,turn:turn.example.org:3478",
			WebRTCConnectionTimeoutMS: 15000, WebRTCICERecoveryTimeoutMS: 0, ForceNativeHLS: true,
			ProxyMaxInflight: 64, TURNEnabled: true, TURNServerURL: "turn:turn.example.org:3478",
			TURNUsername: "nvr", TURNPassword: "tp;ss#word",
		},
		ONVIF: ONVIFConfig{DiscoveryEnabled: true, DiscoveryInterval: 600, DiscoveryNetwork: "192.168.1.0/24"},
		MQTT: MQTTConfig{
			Enabled: true, BrokerHost: "broker.lan", BrokerPort: 8883, Username: "nvr", Password: "pa ss ; word",
			ClientID: "nvr-1", TopicPrefix: "cams", TLSEnabled: true, Keepalive: 30, QoS: 2, Retain: true,
			HADiscovery: true, HADiscoveryPrefix: "ha", HASnapshotInterval: 0,
			TLSCAFile: "/etc/ssl/broker-ca.pem", TLSCertFile: "/etc/ssl/nvr.pem", TLSKeyFile: "/etc/ssl/nvr.key",
			FrigateCompat: true, OutboxSize: 500,
		},
		Webhooks: WebhooksConfig{
			Enabled: true, DetectionURL: "https://hooks.example.com/lightnvr/detection",
			StorageURL: "http://192.168.1.20:8123/api/webhook/nvr-storage",
			StreamURL:  "http://192.168.1.20:8123/api/webhook/nvr-stream", Secret: "0123456789abcdef-secret",
			Timeout: 5, Retries: 2, QueueSize: 500,
		},
		OTA: OTAConfig{
			EnvConfig: "/etc/fw_env.config", Board: "ingenic-a1-nor", KeysFile: "/data/ota-keys", HealthyMinutes: 10, HealthyFor: "90s", CmdlineFile: "/run/cmdline",
			SlotA: "kernel=/dev/mtd3,rootfs=/dev/mtd4", SlotB: "kernel=/dev/mtd5,rootfs=/dev/mtd6",
		},
		Watchdog: WatchdogConfig{Device: "/dev/watchdog0", Timeout: 45},
	}
	got := reflect.ValueOf(c).Elem()
	w := reflect.ValueOf(&want).Elem()
	for i := range w.NumField() {
		if !w.Type().Field(i).IsExported() {
			continue
		}
		if g, e := got.Field(i).Interface(), w.Field(i).Interface(); !reflect.DeepEqual(g, e) {
			t.Errorf("%s:\n got %+v\nwant %+v", w.Type().Field(i).Name, g, e)
		}
	}
	// The file must exercise every key: a new key needs a line there.
	def := Default()
	for _, f := range fields {
		if f.format(c) == f.format(def) {
			t.Errorf("testdata/all_keys.ini leaves [%s] %s at its default", f.section, f.key)
		}
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("unexpected warnings: %q", c.Warnings())
	}
}

func TestPrimaryNamesAndAliases(t *testing.T) {
	c := loadFile(t, writeINI(t, "[go2rtc]\nwebrtc_listen_port = 9555\n[mqtt]\nha_discovery = on\n"))
	if c.Go2RTC.WebRTCListenPort != 9555 || !c.MQTT.HADiscovery {
		t.Fatalf("primary names not read: %d %v", c.Go2RTC.WebRTCListenPort, c.MQTT.HADiscovery)
	}
	// Given under both names, the later line wins (as in LightNVR).
	c = loadFile(t, writeINI(t, "[go2rtc]\nwebrtc_port = 9001\nwebrtc_listen_port = 9002\n[mqtt]\nha_discovery = true\nha_discovery_enabled = false\n"))
	if c.Go2RTC.WebRTCListenPort != 9002 || c.MQTT.HADiscovery {
		t.Fatalf("later line should win: %d %v", c.Go2RTC.WebRTCListenPort, c.MQTT.HADiscovery)
	}
	c = loadFile(t, writeINI(t, "[go2rtc]\nwebrtc_listen_port = 9002\nwebrtc_port = 9001\n[web]\nport=1\nport=2\n"))
	if c.Go2RTC.WebRTCListenPort != 9001 || c.Web.Port != 2 {
		t.Fatalf("later line should win: %d %d", c.Go2RTC.WebRTCListenPort, c.Web.Port)
	}
}

func TestSyntaxCompat(t *testing.T) {
	c := loadFile(t, writeINI(t, "\xef\xbb\xbf; comment\r\n# other comment\r\n[web]\r\n  port : 8081   ; inline\r\nusername=a;b\r\nbind_ip = \"127.0.0.1\" # quoted\r\nroot = C:\\www\\\r\n[storage]\r\npath = '/data/rec'\r\n"))
	if c.Web.Port != 8081 || c.Web.Username != "a;b" || c.Web.BindIP != "127.0.0.1" || c.Web.Root != `C:\www\` || c.Storage.Path != "/data/rec" {
		t.Fatalf("got %+v %+v", c.Web, c.Storage.Path)
	}
}

func TestWarnings(t *testing.T) {
	c := loadFile(t, writeINI(t, "orphan = 1\n[web]\nprot = 80\nroot = ; meant as a comment\n[stream.1]\nname = cam\n[vendor]\nx = y\n"),
		"LIGHTNVR_WEB_PROT=1")
	want := []string{"orphan: key outside any section", "[web] prot: unknown key", "[web] root: value", "[stream.1]: ignored",
		"[vendor]: unknown section", "LIGHTNVR_WEB_PROT: unknown"}
	all := strings.Join(c.Warnings(), "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("warnings lack %q:\n%s", w, all)
		}
	}
	if !strings.Contains(all, "lightnvr.ini:3: [web] prot") {
		t.Errorf("unknown key warning lacks its line:\n%s", all)
	}
}

func TestDevINI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir")
	c, err := Parse("dev.ini", []byte(DevINI(dir)))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"storage":  {c.Storage.Path, filepath.Join(dir, "recordings")},
		"db":       {c.Database.Path, filepath.Join(dir, "lightnvr.db")},
		"models":   {c.Models.Path, filepath.Join(dir, "models")},
		"go2rtc":   {c.Go2RTC.ConfigDir, filepath.Join(dir, "go2rtc")},
		"pid":      {c.General.PIDFile, filepath.Join(dir, "lightnvr.pid")},
		"binary":   {c.Go2RTC.BinaryPath, "bin/go2rtc"},
		"log_file": {c.General.LogFile, ""},
		"web_root": {c.Web.Root, ""},
	}
	for name, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", name, v[0], v[1])
		}
	}
	if c.Web.Port != 8080 || c.Memory.UseSwap || c.Go2RTC.Mode != Go2RTCManaged {
		t.Errorf("web port %d, use_swap %v, go2rtc mode %q", c.Web.Port, c.Memory.UseSwap, c.Go2RTC.Mode)
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("dev ini has warnings: %q", c.Warnings())
	}
}

func TestRedacted(t *testing.T) {
	c := Default()
	c.Web.Password = "webpw-1"
	c.MQTT.Password = "mqttpw-2"
	c.Go2RTC.TURNPassword = "turnpw-3"
	s := c.String()
	for _, secret := range []string{"webpw-1", "mqttpw-2", "turnpw-3"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() leaks %q", secret)
		}
	}
	if strings.Count(s, redactedMark) != 3 || !strings.Contains(s, "port = 8080") {
		t.Errorf("String() = %s", s)
	}
	r := c.Redacted()
	if r.MQTT.Password != redactedMark || c.MQTT.Password != "mqttpw-2" {
		t.Errorf("Redacted changed the original or did not redact: %q %q", r.MQTT.Password, c.MQTT.Password)
	}
	if Default().Redacted().MQTT.Password != "" {
		t.Error("an empty password should stay empty")
	}
	if err := r.Save(filepath.Join(t.TempDir(), "x.ini")); err == nil {
		t.Error("saving a redacted copy must fail")
	}
}

func TestSyslogFacilityCode(t *testing.T) {
	for in, want := range map[string]int{"LOG_USER": 1, "log_daemon": 3, "LOCAL7": 23, "16": 16} {
		if got, ok := (GeneralConfig{SyslogFacility: in}).SyslogFacilityCode(); !ok || got != want {
			t.Errorf("%q → %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"LOG_NOPE", "24", "-1", ""} {
		if _, ok := (GeneralConfig{SyslogFacility: in}).SyslogFacilityCode(); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestGetSet(t *testing.T) {
	c := Default()
	if err := c.Set("web.port", "9000"); err != nil || c.Web.Port != 9000 {
		t.Fatalf("Set: %v %d", err, c.Web.Port)
	}
	if v, ok := c.Get("go2rtc.webrtc_listen_port"); !ok || v != "8555" {
		t.Fatalf("Get = %q %v", v, ok)
	}
	if err := c.Set("web.auth_enabled", "perhaps"); err == nil {
		t.Fatal("bad bool accepted by Set")
	}
	if err := c.Set("web.nope", "1"); err == nil {
		t.Fatal("unknown key accepted by Set")
	}
	if len(Keys()) != len(fields) || Keys()[0] != "general.pid_file" {
		t.Fatalf("Keys() = %v", Keys()[:3])
	}
}
