package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks ranges and the rules between keys. Every problem is
// reported (errors.Join), each prefixed with where the value came from
// (file:line or the environment variable) when known.
func (c *Config) Validate() error {
	v := &validator{c: c}
	for _, f := range fields {
		v.field(f)
	}
	v.rules()
	return errors.Join(v.errs...)
}

type validator struct {
	c    *Config
	errs []error
}

// fail records a problem with the key id ("section.key").
func (v *validator) fail(id, format string, args ...any) {
	f := fieldByID(id)
	msg := fmt.Sprintf("[%s] %s: ", f.section, f.key) + fmt.Sprintf(format, args...)
	if o, ok := v.c.origin[id]; ok && o.String() != "" {
		msg = o.String() + ": " + msg
	} else if v.c.path != "" {
		msg = v.c.path + ": " + msg
	}
	v.errs = append(v.errs, errors.New(msg))
}

func (v *validator) field(f *field) {
	val := f.value(v.c)
	s := formatValue(val)
	if f.kind == reflect.String {
		if f.required && s == "" {
			v.fail(f.id(), "must not be empty")
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }); i >= 0 {
			v.fail(f.id(), "contains a control character (an unclosed quote in the file?)")
		}
	}
	if f.min != nil || f.max != nil {
		n := f.number(v.c)
		if f.min != nil && n < *f.min || f.max != nil && n > *f.max {
			v.fail(f.id(), "%s is out of range %s", s, rangeText(f))
		}
	}
	if f.enum != nil && !slices.Contains(f.enum, s) {
		v.fail(f.id(), "%q is not one of %s", s, strings.Join(f.enum, ", "))
	}
}

func rangeText(f *field) string {
	ft := func(p *float64) string { return strconv.FormatFloat(*p, 'f', -1, 64) }
	switch {
	case f.min != nil && f.max != nil:
		return ft(f.min) + "–" + ft(f.max)
	case f.min != nil:
		return "≥ " + ft(f.min)
	default:
		return "≤ " + ft(f.max)
	}
}

// rules are the checks that involve several keys or a syntax.
func (v *validator) rules() {
	c := v.c
	st := &c.Storage
	if !(st.PressureEmergencyPct < st.PressureCriticalPct && st.PressureCriticalPct < st.PressureWarningPct) {
		v.fail("storage.pressure_critical_pct", "thresholds must satisfy emergency (%g) < critical (%g) < warning (%g)",
			st.PressureEmergencyPct, st.PressureCriticalPct, st.PressureWarningPct)
	}
	// An empty swap_file is swap in [storage] path, on the data disk.
	if c.Memory.UseSwap && c.Memory.SwapSize <= 0 {
		v.fail("memory.swap_size", "must be > 0 when use_swap is on")
	}
	w := &c.Web
	if w.AuthAbsoluteTimeoutHours < w.AuthTimeoutHours {
		v.fail("web.auth_absolute_timeout_hours", "%d must be ≥ auth_timeout_hours (%d)", w.AuthAbsoluteTimeoutHours, w.AuthTimeoutHours)
	}
	if w.AuthEnabled && w.Username == "" {
		v.fail("web.username", "must not be empty when auth_enabled is on")
	}
	if _, err := netip.ParseAddr(w.BindIP); err != nil {
		v.fail("web.bind_ip", "%q is not an IP address", w.BindIP)
	}
	if (w.TLSCertFile == "") != (w.TLSKeyFile == "") {
		v.fail("web.tls_cert_file", "tls_cert_file and tls_key_file go together: set both or neither")
	}
	for _, p := range splitList(w.TrustedProxyCIDRs) {
		if !validCIDROrIP(p) {
			v.fail("web.trusted_proxy_cidrs", "%q is not a CIDR or IP address", p)
		}
	}
	for _, h := range splitList(w.AllowedHosts) {
		if !validHostName(h) {
			v.fail("web.allowed_hosts", "%q is not a host name (letters, digits, '-' and '.', no port)", h)
		}
	}
	if !validFacility(c.General.SyslogFacility) {
		v.fail("general.syslog_facility", "%q is not a syslog facility (LOG_USER, LOG_DAEMON, LOG_LOCAL0..7, … or 0–23)", c.General.SyslogFacility)
	}
	v.httpURL("api_detection.url", c.APIDetection.URL)
	if s := c.Detection.PrebufferPath; s != "" && !filepath.IsAbs(s) {
		v.fail("detection.prebuffer_path", "%q must be an absolute path", s)
	}
	if s := c.Database.PostBackupScript; s != "" && !filepath.IsAbs(s) {
		v.fail("database.post_backup_script", "%q must be an absolute path", s)
	}
	if n := c.ONVIF.DiscoveryNetwork; n != "auto" {
		if _, err := netip.ParsePrefix(n); err != nil {
			v.fail("onvif.discovery_network", "%q is neither auto nor a CIDR", n)
		}
	}
	g := &c.Go2RTC
	if g.Enabled {
		if g.ConfigDir == "" {
			v.fail("go2rtc.config_dir", "must not be empty when go2rtc is enabled")
		}
		if g.Mode == Go2RTCManaged && g.BinaryPath == "" {
			v.fail("go2rtc.binary_path", "must not be empty when go2rtc is managed")
		}
		ports := []struct {
			id   string
			port int
		}{{"web.port", w.Port}, {"go2rtc.api_port", g.APIPort}, {"go2rtc.rtsp_port", g.RTSPPort}}
		if g.WebRTCEnabled {
			ports = append(ports, struct {
				id   string
				port int
			}{"go2rtc.webrtc_listen_port", g.WebRTCListenPort})
		}
		for i := range ports {
			for j := range i {
				if ports[i].port == ports[j].port {
					v.fail(ports[i].id, "port %d is already used by [%s]", ports[i].port, strings.Replace(ports[j].id, ".", "] ", 1))
				}
			}
		}
		if g.TURNEnabled && g.TURNServerURL == "" {
			v.fail("go2rtc.turn_server_url", "must not be empty when turn_enabled is on")
		}
	}
	v.webhooks(&c.Webhooks)
	v.ota(&c.OTA)
	m := &c.MQTT
	if m.Enabled && m.BrokerHost == "" {
		v.fail("mqtt.broker_host", "must not be empty when mqtt is enabled")
	}
	if (m.TLSCertFile == "") != (m.TLSKeyFile == "") {
		v.fail("mqtt.tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
	for _, t := range []struct{ id, val string }{{"mqtt.topic_prefix", m.TopicPrefix}, {"mqtt.ha_discovery_prefix", m.HADiscoveryPrefix}} {
		if t.val == "" && m.Enabled {
			v.fail(t.id, "must not be empty when mqtt is enabled")
		}
		if strings.ContainsAny(t.val, "+#") {
			v.fail(t.id, "%q must not contain MQTT wildcards + or #", t.val)
		}
	}
}

// httpURL refuses a value of id that is set but not an http(s) URL with a host.
func (v *validator) httpURL(id, u string) {
	if u == "" {
		return
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		v.fail(id, "%q is not an http(s) URL", u)
	}
}

func (v *validator) webhooks(w *WebhooksConfig) {
	v.httpURL("webhooks.detection_url", w.DetectionURL)
	v.httpURL("webhooks.storage_url", w.StorageURL)
	v.httpURL("webhooks.stream_url", w.StreamURL)
	if !w.Enabled {
		return
	}
	if w.DetectionURL == "" && w.StorageURL == "" && w.StreamURL == "" {
		v.fail("webhooks.detection_url", "set at least one of detection_url, storage_url and stream_url when webhooks are enabled")
	}
	if len(w.Secret) < WebhookSecretMinLen {
		v.fail("webhooks.secret", "must be at least %d characters when webhooks are enabled (receivers verify the signature with it)", WebhookSecretMinLen)
	}
}

func (v *validator) ota(o *OTAConfig) {
	if o.HealthyFor != "" {
		if d, err := time.ParseDuration(o.HealthyFor); err != nil || d < time.Second || d > 24*time.Hour {
			v.fail("ota.healthy_for", "must be a duration from 1s to 24h, such as 90s or 5m")
		}
	}
	if o.EnvConfig == "" {
		return
	}
	for _, t := range []struct{ id, val string }{{"ota.board", o.Board}, {"ota.slot_a", o.SlotA}, {"ota.slot_b", o.SlotB}} {
		if t.val == "" {
			v.fail(t.id, "must not be empty when env_config is set")
		}
	}
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func validCIDROrIP(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// syslogFacilities are the facility names LightNVR accepts, with their
// numbers (RFC 5424 facility codes).
var syslogFacilities = map[string]int{
	"LOG_KERN": 0, "LOG_USER": 1, "LOG_MAIL": 2, "LOG_DAEMON": 3, "LOG_AUTH": 4, "LOG_SYSLOG": 5,
	"LOG_LPR": 6, "LOG_NEWS": 7, "LOG_UUCP": 8, "LOG_CRON": 9, "LOG_AUTHPRIV": 10, "LOG_FTP": 11,
	"LOG_LOCAL0": 16, "LOG_LOCAL1": 17, "LOG_LOCAL2": 18, "LOG_LOCAL3": 19,
	"LOG_LOCAL4": 20, "LOG_LOCAL5": 21, "LOG_LOCAL6": 22, "LOG_LOCAL7": 23,
}

// SyslogFacilityCode returns the RFC 5424 facility code (0–23) of
// [general] syslog_facility; ok is false when the value is not valid.
func (g GeneralConfig) SyslogFacilityCode() (code int, ok bool) {
	s := strings.ToUpper(strings.TrimSpace(g.SyslogFacility))
	if n, found := syslogFacilities[s]; found {
		return n, true
	}
	if n, found := syslogFacilities["LOG_"+s]; found {
		return n, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 23 {
		return 0, false
	}
	return n, true
}

func validFacility(s string) bool {
	_, ok := GeneralConfig{SyslogFacility: s}.SyslogFacilityCode()
	return ok
}

// validHostName accepts a DNS name as a browser would send it in Host,
// without a port.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
