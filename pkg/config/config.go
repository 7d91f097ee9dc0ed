// Package config is LightNVR's INI configuration: the same sections and keys
// as the C LightNVR (so an existing lightnvr.ini keeps working), plus a few of
// our own, with strict parsing, validation, environment overrides and a save
// that edits the file in place instead of regenerating it.
//
// Every key is a struct field tagged with its INI name. The tags drive parsing,
// range checks, environment variables, Save and the docs test, so adding a key
// is: add the field with its tags, set its default in Default, document it in
// docs/config.md.
//
// Tags:
//
//	ini:"name"      INI key (Go field names are the Go-cased key)
//	alias:"a,b"     other accepted INI names (read, and updated in place on save)
//	env:"A,B"       LightNVR's historical LIGHTNVR_<A> variables (the generic
//	                LIGHTNVR_<SECTION>_<KEY> form exists for every key anyway)
//	min/max         inclusive numeric range
//	enum:"a|b"      allowed values
//	required:"true" must not be empty
//	secret:"true"   hidden by Redacted/String
package config

import (
	"runtime"
	"time"
)

// Config is the whole configuration. A *Config returned by Load or Default is
// owned by the caller; it holds no lock, so share it read-only or copy it.
type Config struct {
	General         GeneralConfig         `ini:"general"`
	Storage         StorageConfig         `ini:"storage"`
	Models          ModelsConfig          `ini:"models"`
	APIDetection    APIDetectionConfig    `ini:"api_detection"`
	DetectionEngine DetectionEngineConfig `ini:"detection_engine"`
	Detection       DetectionConfig       `ini:"detection"`
	Database        DatabaseConfig        `ini:"database"`
	Web             WebConfig             `ini:"web"`
	Streams         StreamsConfig         `ini:"streams"`
	Memory          MemoryConfig          `ini:"memory"`
	Hardware        HardwareConfig        `ini:"hardware"`
	Go2RTC          Go2RTCConfig          `ini:"go2rtc"`
	ONVIF           ONVIFConfig           `ini:"onvif"`
	MQTT            MQTTConfig            `ini:"mqtt"`
	Webhooks        WebhooksConfig        `ini:"webhooks"`
	OTA             OTAConfig             `ini:"ota"`
	Watchdog        WatchdogConfig        `ini:"watchdog"`

	// path is the file Load read ("" when none was found).
	path string
	// origin records where each non-default value came from, so that
	// Validate can point at the file line or the environment variable.
	origin map[string]origin
	// pinned holds the formatted values applied from the environment; Save
	// leaves those keys alone so a container's variables never leak into the
	// file.
	pinned   map[string]string
	warnings []string
	redacted bool
}

// GeneralConfig is [general].
type GeneralConfig struct {
	PIDFile        string `ini:"pid_file"`
	LogFile        string `ini:"log_file"`
	LogLevel       int    `ini:"log_level" min:"0" max:"3" env:"LOG_LEVEL"`
	SyslogEnabled  bool   `ini:"syslog_enabled"`
	SyslogIdent    string `ini:"syslog_ident"`
	SyslogFacility string `ini:"syslog_facility"`
	LogFormat      string `ini:"log_format" enum:"text|json"`
	LogRingBytes   int    `ini:"log_ring_bytes" min:"0" max:"67108864"`
	// RebootExitCode is the exit status that asks the process supervising
	// lightnvr to reboot the board (POST /api/system/reboot); 0: lightnvr
	// cannot reboot it.
	RebootExitCode int `ini:"reboot_exit_code" min:"0" max:"125"`
}

// Log levels of [general] log_level.
const (
	LogError = 0
	LogWarn  = 1
	LogInfo  = 2
	LogDebug = 3
)

// StorageConfig is [storage].
type StorageConfig struct {
	Path                   string  `ini:"path" required:"true" env:"STORAGE_PATH"`
	PathHLS                string  `ini:"path_hls"`
	MaxSize                int64   `ini:"max_size" min:"0"`
	RetentionDays          int     `ini:"retention_days" min:"0" max:"36500" env:"RETENTION_DAYS"`
	AutoDeleteOldest       bool    `ini:"auto_delete_oldest"`
	MinFreePct             int     `ini:"min_free_pct" min:"0" max:"90"`
	PressureWarningPct     float64 `ini:"pressure_warning_pct" min:"0" max:"100"`
	PressureCriticalPct    float64 `ini:"pressure_critical_pct" min:"0" max:"100"`
	PressureEmergencyPct   float64 `ini:"pressure_emergency_pct" min:"0" max:"100"`
	RecordMP4Directly      bool    `ini:"record_mp4_directly"`
	MP4Path                string  `ini:"mp4_path"`
	MP4DirectoryFormat     string  `ini:"mp4_directory_format" enum:"flat|year_month|year_month_day"`
	MP4SegmentDuration     int     `ini:"mp4_segment_duration" min:"1" max:"86400"`
	MP4RetentionDays       int     `ini:"mp4_retention_days" min:"0" max:"36500"`
	GenerateThumbnails     bool    `ini:"generate_thumbnails"`
	ThumbnailsPerRecording int     `ini:"thumbnails_per_recording" enum:"1|3"`
}

// ModelsConfig is [models].
type ModelsConfig struct {
	Path string `ini:"path" required:"true"`
}

// APIDetectionConfig is [api_detection]: the external detector service.
type APIDetectionConfig struct {
	URL                 string `ini:"url"`
	Backend             string `ini:"backend" enum:"onnx|tflite|opencv"`
	DetectionThreshold  int    `ini:"detection_threshold" min:"0" max:"100"`
	PreDetectionBuffer  int    `ini:"pre_detection_buffer" min:"0" max:"60"`
	PostDetectionBuffer int    `ini:"post_detection_buffer" min:"0" max:"300"`
	BufferStrategy      string `ini:"buffer_strategy" enum:"auto|none|go2rtc|hls_segment|memory_packet|mmap_hybrid"`
	// Timeout bounds each post to the detector, so a hung detector costs
	// one round.
	Timeout int `ini:"timeout" min:"1" max:"300"`
}

// DetectionEngineConfig is [detection_engine] (in-process inference).
type DetectionEngineConfig struct {
	Enabled  bool   `ini:"enabled"`
	Threads  int    `ini:"threads" min:"1" max:"16"`
	Delegate string `ini:"delegate" enum:"xnnpack|gpu|none"`
}

// DetectionConfig is [detection].
type DetectionConfig struct {
	GracePeriod int `ini:"grace_period" min:"0" max:"60"`
	// PrebufferPath holds the pre-event rings of detection-mode streams;
	// empty = <[storage] path>/prebuffer. A tmpfs spares the disk.
	PrebufferPath string `ini:"prebuffer_path"`
	// The rings' caps: each stream's, and all streams' together (a stream
	// that would pass the total gets a smaller ring).
	PrebufferMaxMBPerStream int `ini:"prebuffer_max_mb_per_stream" min:"1" max:"4096"`
	PrebufferMaxMBTotal     int `ini:"prebuffer_max_mb_total" min:"1" max:"65536"`
}

// DatabaseConfig is [database].
type DatabaseConfig struct {
	Path                  string `ini:"path" required:"true" env:"DB_PATH"`
	BackupIntervalMinutes int    `ini:"backup_interval_minutes" min:"0" max:"525600" env:"DB_BACKUP_INTERVAL_MINUTES"`
	BackupRetentionCount  int    `ini:"backup_retention_count" min:"0" max:"10000" env:"DB_BACKUP_RETENTION_COUNT"`
	PostBackupScript      string `ini:"post_backup_script" env:"DB_POST_BACKUP_SCRIPT"`
}

// WebConfig is [web].
type WebConfig struct {
	Port                        int    `ini:"port" min:"1" max:"65535" env:"WEB_PORT"`
	BindIP                      string `ini:"bind_ip" env:"WEB_BIND_IP"`
	Root                        string `ini:"root"`
	AuthEnabled                 bool   `ini:"auth_enabled" env:"WEB_AUTH_ENABLED"`
	Username                    string `ini:"username" env:"WEB_USERNAME"`
	Password                    string `ini:"password" secret:"true"`
	WebRTCDisabled              bool   `ini:"webrtc_disabled"`
	HLSDisabled                 bool   `ini:"hls_disabled"`
	MSEDisabled                 bool   `ini:"mse_disabled"`
	AuthTimeoutHours            int    `ini:"auth_timeout_hours" min:"1" max:"8760"`
	AuthAbsoluteTimeoutHours    int    `ini:"auth_absolute_timeout_hours" min:"1" max:"87600"`
	TrustedDeviceDays           int    `ini:"trusted_device_days" min:"0" max:"3650"`
	TrustedProxyCIDRs           string `ini:"trusted_proxy_cidrs" env:"WEB_TRUSTED_PROXY_CIDRS"`
	AllowedHosts                string `ini:"allowed_hosts" env:"WEB_ALLOWED_HOSTS"`
	DemoMode                    bool   `ini:"demo_mode" env:"DEMO_MODE"`
	ForceMFAOnLogin             bool   `ini:"force_mfa_on_login"`
	LoginRateLimitEnabled       bool   `ini:"login_rate_limit_enabled"`
	LoginRateLimitMaxAttempts   int    `ini:"login_rate_limit_max_attempts" min:"1" max:"1000"`
	LoginRateLimitWindowSeconds int    `ini:"login_rate_limit_window_seconds" min:"10" max:"86400"`
	WebThreadPoolSize           int    `ini:"web_thread_pool_size" min:"2" max:"128"`
	// HTTPSEnabled serves HTTPS on Port (plain HTTP there then redirects).
	HTTPSEnabled bool `ini:"https_enabled"`
	// TLSCertFile and TLSKeyFile are the user's own PEM files; both empty =
	// a self-signed certificate generated in the data directory.
	TLSCertFile string `ini:"tls_cert_file"`
	TLSKeyFile  string `ini:"tls_key_file"`
	// PprofEnabled serves the Go runtime's profiles to administrators.
	PprofEnabled bool `ini:"pprof_enabled"`
}

// StreamsConfig is [streams]. Streams themselves live in the database.
type StreamsConfig struct {
	MaxStreams          int `ini:"max_streams" min:"1" max:"256"`
	StartTimeoutSeconds int `ini:"start_timeout_seconds" min:"1" max:"600"`
	MinAvailableMB      int `ini:"min_available_mb" min:"0" max:"65536"`
}

// MemoryConfig is [memory].
type MemoryConfig struct {
	BufferSize int    `ini:"buffer_size" min:"1" max:"1048576"`
	UseSwap    bool   `ini:"use_swap"`
	SwapFile   string `ini:"swap_file"`
	SwapSize   int64  `ini:"swap_size" min:"0"`
}

// HardwareConfig is [hardware].
type HardwareConfig struct {
	HWAccelEnabled bool   `ini:"hw_accel_enabled"`
	HWAccelDevice  string `ini:"hw_accel_device"`
}

// Go2RTC modes of [go2rtc] mode.
const (
	// Go2RTCManaged: lightnvr starts go2rtc itself and restarts it.
	Go2RTCManaged = "managed"
	// Go2RTCExternal: go2rtc is supervised by someone else (the appliance's
	// init script); lightnvr only talks to its API.
	Go2RTCExternal = "external"
)

// Go2RTCConfig is [go2rtc].
type Go2RTCConfig struct {
	Enabled                    bool   `ini:"enabled" env:"GO2RTC_ENABLED"`
	Mode                       string `ini:"mode" enum:"managed|external"`
	BinaryPath                 string `ini:"binary_path"`
	ConfigDir                  string `ini:"config_dir"`
	APIPort                    int    `ini:"api_port" min:"1" max:"65535"`
	RTSPPort                   int    `ini:"rtsp_port" min:"1" max:"65535"`
	WebRTCListenPort           int    `ini:"webrtc_listen_port" alias:"webrtc_port" min:"1" max:"65535" env:"GO2RTC_WEBRTC_LISTEN_PORT"`
	WebRTCEnabled              bool   `ini:"webrtc_enabled" env:"GO2RTC_WEBRTC_ENABLED"`
	STUNEnabled                bool   `ini:"stun_enabled" env:"GO2RTC_STUN_ENABLED"`
	STUNServer                 string `ini:"stun_server" env:"GO2RTC_STUN_SERVER"`
	ExternalIP                 string `ini:"external_ip" env:"GO2RTC_EXTERNAL_IP"`
	ICEServers                 string `ini:"ice_servers" env:"GO2RTC_ICE_SERVERS"`
	WebRTCConnectionTimeoutMS  int    `ini:"webrtc_connection_timeout_ms" min:"1000" max:"600000" env:"WEBRTC_CONNECTION_TIMEOUT_MS"`
	WebRTCICERecoveryTimeoutMS int    `ini:"webrtc_ice_recovery_timeout_ms" min:"0" max:"600000" env:"WEBRTC_ICE_RECOVERY_TIMEOUT_MS"`
	ForceNativeHLS             bool   `ini:"force_native_hls"`
	ProxyMaxInflight           int    `ini:"proxy_max_inflight" min:"1" max:"128"`
	TURNEnabled                bool   `ini:"turn_enabled" env:"TURN_ENABLED"`
	TURNServerURL              string `ini:"turn_server_url" env:"TURN_SERVER_URL"`
	TURNUsername               string `ini:"turn_username" env:"TURN_USERNAME"`
	TURNPassword               string `ini:"turn_password" secret:"true" env:"TURN_PASSWORD"`
}

// ONVIFConfig is [onvif].
type ONVIFConfig struct {
	DiscoveryEnabled  bool   `ini:"discovery_enabled"`
	DiscoveryInterval int    `ini:"discovery_interval" min:"30" max:"3600"`
	DiscoveryNetwork  string `ini:"discovery_network"`
}

// MQTTConfig is [mqtt].
type MQTTConfig struct {
	Enabled            bool   `ini:"enabled"`
	BrokerHost         string `ini:"broker_host"`
	BrokerPort         int    `ini:"broker_port" min:"1" max:"65535"`
	Username           string `ini:"username"`
	Password           string `ini:"password" secret:"true"`
	ClientID           string `ini:"client_id"`
	TopicPrefix        string `ini:"topic_prefix"`
	TLSEnabled         bool   `ini:"tls_enabled"`
	Keepalive          int    `ini:"keepalive" min:"5" max:"3600"`
	QoS                int    `ini:"qos" min:"0" max:"2"`
	Retain             bool   `ini:"retain"`
	HADiscovery        bool   `ini:"ha_discovery" alias:"ha_discovery_enabled"`
	HADiscoveryPrefix  string `ini:"ha_discovery_prefix"`
	HASnapshotInterval int    `ini:"ha_snapshot_interval" min:"0" max:"300"`
	// Ours: the broker's CA and an optional client certificate for TLS.
	TLSCAFile   string `ini:"tls_ca_file"`
	TLSCertFile string `ini:"tls_cert_file"`
	TLSKeyFile  string `ini:"tls_key_file"`
	// FrigateCompat also speaks Frigate's MQTT contract (frigate/...).
	FrigateCompat bool `ini:"frigate_compat"`
	// OutboxSize bounds the messages kept while the broker is away.
	OutboxSize int `ini:"outbox_size" min:"10" max:"100000"`
}

// WebhooksConfig is [webhooks] (our own): HTTP POSTs of events, one URL per
// event type, signed with Secret.
type WebhooksConfig struct {
	Enabled      bool   `ini:"enabled"`
	DetectionURL string `ini:"detection_url"`
	StorageURL   string `ini:"storage_url"`
	StreamURL    string `ini:"stream_url"`
	Secret       string `ini:"secret" secret:"true"`
	Timeout      int    `ini:"timeout" min:"1" max:"60"`
	Retries      int    `ini:"retries" min:"0" max:"10"`
	QueueSize    int    `ini:"queue_size" min:"1" max:"10000"`
}

// OTAConfig is [ota] (our own): where the A/B slots and the U-Boot
// environment are. OTA is off while EnvConfig is empty.
type OTAConfig struct {
	EnvConfig      string `ini:"env_config"`
	Board          string `ini:"board"`
	SlotA          string `ini:"slot_a"`
	SlotB          string `ini:"slot_b"`
	KeysFile       string `ini:"keys_file"`
	HealthyMinutes int    `ini:"healthy_minutes" min:"1" max:"1440"`
	// HealthyFor, a Go duration, replaces HealthyMinutes when set: the
	// window can then be shorter than a minute (tests, a bench).
	HealthyFor string `ini:"healthy_for"`
	// CmdlineFile is where the booted slot (lightnvr.slot=) is read; empty
	// means /proc/cmdline.
	CmdlineFile string `ini:"cmdline_file"`
}

// HealthyWindow is how long an updated slot must stay healthy before it is
// marked good: healthy_for when set, else healthy_minutes.
func (o OTAConfig) HealthyWindow() time.Duration {
	if d, err := time.ParseDuration(o.HealthyFor); err == nil {
		return d
	}
	return time.Duration(o.HealthyMinutes) * time.Minute
}

// WatchdogConfig is [watchdog] (our own): the hardware watchdog lightnvr
// feeds while healthy. Off while Device is empty.
type WatchdogConfig struct {
	Device  string `ini:"device"`
	Timeout int    `ini:"timeout" min:"3" max:"600"`
}

// WebhookSecretMinLen is the shortest [webhooks] secret accepted: a receiver
// checks signatures with it, so it must not be guessable.
const WebhookSecretMinLen = 16

// Default returns LightNVR's built-in defaults (the values used when the INI
// does not set a key).
func Default() *Config {
	return &Config{
		General: GeneralConfig{
			PIDFile:        "/var/run/lightnvr.pid",
			LogFile:        "/var/log/lightnvr.log",
			LogLevel:       LogInfo,
			SyslogIdent:    "lightnvr",
			SyslogFacility: "LOG_USER",
			LogFormat:      "text",
			LogRingBytes:   262144,
		},
		Storage: StorageConfig{
			Path:                   "/var/lib/lightnvr/recordings",
			RetentionDays:          30,
			AutoDeleteOldest:       true,
			MinFreePct:             10,
			PressureWarningPct:     20,
			PressureCriticalPct:    10,
			PressureEmergencyPct:   5,
			MP4Path:                "/var/lib/lightnvr/recordings/mp4",
			MP4DirectoryFormat:     "year_month_day",
			MP4SegmentDuration:     900,
			MP4RetentionDays:       30,
			GenerateThumbnails:     true,
			ThumbnailsPerRecording: 3,
		},
		Models: ModelsConfig{Path: "/var/lib/lightnvr/models"},
		APIDetection: APIDetectionConfig{
			URL:                 "http://localhost:8000/detect",
			Backend:             "onnx",
			DetectionThreshold:  50,
			PreDetectionBuffer:  5,
			PostDetectionBuffer: 10,
			BufferStrategy:      "auto",
			Timeout:             10,
		},
		DetectionEngine: DetectionEngineConfig{Threads: 1, Delegate: "xnnpack"},
		Detection:       DetectionConfig{GracePeriod: 2, PrebufferMaxMBPerStream: 32, PrebufferMaxMBTotal: 128},
		Database: DatabaseConfig{
			Path:                  "/var/lib/lightnvr/lightnvr.db",
			BackupIntervalMinutes: 60,
			BackupRetentionCount:  24,
		},
		Web: WebConfig{
			Port:                        8080,
			BindIP:                      "0.0.0.0",
			Root:                        "/var/lib/lightnvr/www",
			AuthEnabled:                 true,
			Username:                    "admin",
			AuthTimeoutHours:            24,
			AuthAbsoluteTimeoutHours:    168,
			TrustedDeviceDays:           30,
			LoginRateLimitEnabled:       true,
			LoginRateLimitMaxAttempts:   5,
			LoginRateLimitWindowSeconds: 300,
			WebThreadPoolSize:           defaultThreadPool(),
		},
		Streams: StreamsConfig{MaxStreams: 32, StartTimeoutSeconds: 15, MinAvailableMB: 24},
		Memory: MemoryConfig{
			BufferSize: 1024,
			UseSwap:    false,
			SwapFile:   "", // <[storage] path>/swap
			SwapSize:   134217728,
		},
		Go2RTC: Go2RTCConfig{
			Enabled:                    true,
			Mode:                       Go2RTCManaged,
			BinaryPath:                 "/usr/local/bin/go2rtc",
			ConfigDir:                  "/etc/lightnvr/go2rtc",
			APIPort:                    1984,
			RTSPPort:                   8554,
			WebRTCListenPort:           8555,
			WebRTCEnabled:              true,
			STUNEnabled:                true,
			STUNServer:                 "stun.l.google.com:19302",
			WebRTCConnectionTimeoutMS:  30000,
			WebRTCICERecoveryTimeoutMS: 5000,
			ProxyMaxInflight:           16,
		},
		ONVIF: ONVIFConfig{DiscoveryInterval: 300, DiscoveryNetwork: "auto"},
		MQTT: MQTTConfig{
			BrokerPort:         1883,
			ClientID:           "lightnvr",
			TopicPrefix:        "lightnvr",
			Keepalive:          60,
			QoS:                1,
			HADiscoveryPrefix:  "homeassistant",
			HASnapshotInterval: 30,
			OutboxSize:         1000,
		},
		Webhooks: WebhooksConfig{Timeout: 10, Retries: 3, QueueSize: 100},
		OTA:      OTAConfig{HealthyMinutes: 5},
		Watchdog: WatchdogConfig{Timeout: 30},
	}
}

// defaultThreadPool mirrors LightNVR: two workers per core, within 2..128.
func defaultThreadPool() int {
	return min(max(2*runtime.NumCPU(), 2), 128)
}

// Path is the file the configuration was loaded from, or "" when it came
// from defaults (and the environment) only.
func (c *Config) Path() string { return c.path }

// Warnings lists things Load accepted but that deserve a log line: unknown
// sections and keys (kept on save), LightNVR's ignored [stream.N] sections,
// unknown LIGHTNVR_* variables.
func (c *Config) Warnings() []string { return append([]string(nil), c.warnings...) }
