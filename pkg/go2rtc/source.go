package go2rtc

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Stream sources are an allowlist. go2rtc builds ffmpeg command lines from
// `ffmpeg:` sources by pasting strings together and splitting them on spaces
// (`#raw=`, `#input=`, `#video=<free text>`, file and device inputs, query
// parameters it decodes), opens whatever an ONVIF device answers, dials any
// WebSocket named in `#transport=`, and serves GET endpoints on loopback that
// create streams from a URL. So a source that passes through lightnvr's API may
// only use the syntax below; anything else is the admin's, in go2rtc's
// override file.

// MaxSourceLen bounds one source string.
const MaxSourceLen = 2048

// SourceError names the part of a source that is not allowed and why. Its text
// never carries the source's user name or password.
type SourceError struct {
	Part   string
	Reason string
}

func (e *SourceError) Error() string { return e.Part + " is not allowed: " + e.Reason }

func refuse(part, format string, args ...any) error {
	return &SourceError{Part: part, Reason: fmt.Sprintf(format, args...)}
}

// AcceptedSchemes are the source types CheckSource lets through.
var AcceptedSchemes = []string{"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "ffmpeg"}

// ffmpegInputSchemes are the inputs go2rtc hands to ffmpeg as one URL argument
// (its other inputs are stream names, files and devices).
var ffmpegInputSchemes = map[string]bool{"rtsp": true, "rtsps": true, "rtmp": true, "http": true, "https": true}

// videoPresets and audioPresets are names from go2rtc's ffmpeg presets table.
// go2rtc pastes any other #video=/#audio= value into the command line.
var videoPresets = map[string]bool{
	"copy": true, "h264": true, "h265": true, "mjpeg": true,
	"raw": true, "raw/gray8": true, "raw/yuv420p": true, "raw/yuv422p": true, "raw/yuv444p": true,
}

var audioPresets = map[string]bool{
	"copy": true, "opus": true, "opus/16000": true,
	"pcmu": true, "pcmu/8000": true, "pcmu/16000": true, "pcmu/48000": true,
	"pcma": true, "pcma/8000": true, "pcma/16000": true, "pcma/48000": true,
	"aac": true, "aac/16000": true, "mp3": true,
	"pcm": true, "pcm/8000": true, "pcm/16000": true, "pcm/48000": true,
	"pcml": true, "pcml/8000": true, "pcml/16000": true, "pcml/44100": true,
}

// hardwareEngines are go2rtc's encoder engines; an empty #hardware auto-selects.
var hardwareEngines = map[string]bool{
	"": true, "software": true, "vaapi": true, "v4l2m2m": true, "cuda": true,
	"dxva2": true, "videotoolbox": true, "rkmpp": true,
}

var (
	dimensionRe = regexp.MustCompile(`^[1-9][0-9]{0,3}$`)
	smallIntRe  = regexp.MustCompile(`^[1-9][0-9]{0,2}$`)
	optionKeyRe = regexp.MustCompile(`^[a-z_]{1,32}$`)
	schemeRe    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]{0,31}$`)
)

// optionRule checks the value of one `#key=value` option; has tells whether
// the option had a '='.
type optionRule func(value string, has bool) error

func oneOf(set map[string]bool, what string) optionRule {
	return func(v string, has bool) error {
		if !has || !set[v] {
			return fmt.Errorf("the value must be one of go2rtc's %s names", what)
		}
		return nil
	}
}

func matching(re *regexp.Regexp, what string) optionRule {
	return func(v string, has bool) error {
		if !has || !re.MatchString(v) {
			return fmt.Errorf("the value must be %s", what)
		}
		return nil
	}
}

func literal(values ...string) optionRule {
	return func(v string, has bool) error {
		for _, w := range values {
			if has && v == w {
				return nil
			}
		}
		return fmt.Errorf("the value must be one of %s", strings.Join(values, ", "))
	}
}

var ffmpegOptions = map[string]optionRule{
	"video": oneOf(videoPresets, "video preset"),
	"audio": oneOf(audioPresets, "audio preset"),
	"hardware": func(v string, has bool) error {
		if !hardwareEngines[v] {
			return fmt.Errorf("use #hardware alone or with an engine name (vaapi, v4l2m2m, cuda, rkmpp, …)")
		}
		return nil
	},
	"width":  matching(dimensionRe, "a number of pixels from 1 to 9999"),
	"height": matching(dimensionRe, "a number of pixels from 1 to 9999"),
	"rotate": literal("90", "180", "270", "-90"),
}

// rtspOptions are the options go2rtc's RTSP client reads. #transport takes a
// WebSocket URL too, which would let a source dial anything; only tcp and udp pass.
var rtspOptions = map[string]optionRule{
	"backchannel": literal("0", "1"),
	"timeout":     matching(smallIntRe, "a number of seconds from 1 to 999"),
	"transport":   literal("tcp", "udp"),
	"media":       literal("video", "audio", "video,audio", "audio,video"),
}

// optionReasons explain the options people reach for that are refused.
var optionReasons = map[string]string{
	"raw":      "it adds raw ffmpeg arguments",
	"input":    "it replaces ffmpeg's input arguments",
	"drawtext": "its text is pasted into ffmpeg's filter arguments",
	"query":    "it is pasted into ffmpeg's input URL",
	"bitrate":  "it is pasted into ffmpeg's arguments",
	"timeout":  "it is pasted into ffmpeg's arguments",
	"header":   "it adds request headers",
}

// CheckSource reports whether src is a go2rtc source the streams API may
// register: rtsp(s), rtmp(s) and http(s) URLs, and `ffmpeg:` over one of those
// URLs with preset #video/#audio names, #hardware, #width, #height and #rotate.
// The error is a *SourceError naming the offending part.
func CheckSource(src string) error {
	if src == "" {
		return refuse("an empty source", "give a URL such as rtsp://camera/stream")
	}
	if len(src) > MaxSourceLen {
		return refuse("a source longer than 2048 characters", "shorten it")
	}
	if err := checkChars(src); err != nil {
		return err
	}
	scheme, rest, ok := strings.Cut(src, ":")
	if !ok || scheme == "" {
		return refuse("a source without a scheme", "want e.g. rtsp://camera/stream")
	}
	switch scheme {
	case "ffmpeg":
		return checkFFmpeg(rest)
	case "rtsp", "rtsps":
		return checkURLSource(src, scheme, rtspOptions)
	case "rtmp", "rtmps", "http", "https":
		return checkURLSource(src, scheme, nil)
	case "exec", "echo", "expr":
		return refuse(fmt.Sprintf("the %q source type", scheme), "it runs commands; an admin can add such sources in go2rtc's override file")
	case "onvif":
		return refuse(`the "onvif" source type`, "go2rtc opens whatever source the device answers without checking it; use the camera's rtsp:// URL")
	}
	if !schemeRe.MatchString(scheme) {
		return refuse("a source without a scheme", "want e.g. rtsp://camera/stream")
	}
	return refuse("the source type "+printable(scheme), "accepted are %s", strings.Join(AcceptedSchemes, ", "))
}

// checkChars refuses what go2rtc or ffmpeg could read as an argument break, a
// quote or a template: whitespace (raw or percent-encoded), control
// characters, quotes, backslashes, braces and invalid UTF-8.
func checkChars(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return refuse("a byte that is not UTF-8", "sources are text")
		case unicode.IsSpace(r):
			return refuse("whitespace", "go2rtc splits ffmpeg command lines on it")
		case r < 0x20 || r == 0x7f || unicode.IsControl(r):
			return refuse(fmt.Sprintf("control character U+%04X", r), "sources are printable text")
		case strings.ContainsRune("\"'`\\{}", r):
			return refuse(fmt.Sprintf("the character %q", r), "go2rtc reads quotes, backslashes and braces as command syntax; percent-encode it")
		case r == '%' && i+2 < len(s):
			if b, err := url.PathUnescape(s[i : i+3]); err == nil && len(b) == 1 && (b[0] <= ' ' || b[0] == 0x7f) {
				return refuse(fmt.Sprintf("the encoded character %s", s[i:i+3]), "go2rtc decodes it into whitespace or a control character in some places")
			}
		}
	}
	return nil
}

// checkFFmpeg checks the part after `ffmpeg:`.
func checkFFmpeg(rest string) error {
	input, opts, _ := strings.Cut(rest, "#")
	scheme, _, ok := strings.Cut(input, "://")
	if !ok || !ffmpegInputSchemes[scheme] {
		return refuse("this ffmpeg input", "ffmpeg: needs an rtsp://, rtsps://, rtmp://, http:// or https:// URL (stream names, files, devices and virtual sources are admin-only)")
	}
	if err := checkURL(input, scheme); err != nil {
		return err
	}
	return checkOptions(opts, "ffmpeg", ffmpegOptions)
}

// checkURLSource checks a plain URL source and its go2rtc `#` options.
func checkURLSource(src, scheme string, allowed map[string]optionRule) error {
	base, opts, _ := strings.Cut(src, "#")
	if !strings.HasPrefix(base, scheme+"://") {
		return refuse(fmt.Sprintf("a %s source without //", scheme), "want %s://host/path", scheme)
	}
	if err := checkURL(base, scheme); err != nil {
		return err
	}
	return checkOptions(opts, scheme, allowed)
}

func checkURL(raw, scheme string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return refuse("a malformed "+scheme+" URL",
			"percent-encode '/', '#', '%%', '?' and ':' in the user name and password (e.g. # as %%23)")
	}
	if scheme == "http" || scheme == "https" {
		return checkHTTPHost(u.Hostname())
	}
	return nil
}

// checkHTTPHost keeps http sources off this machine: go2rtc's API listens on
// loopback without a login, and some of its GET endpoints create streams.
func checkHTTPHost(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return refuse("the host "+printable(host), "http sources may not point at this machine")
	}
	if looksNumeric(h) {
		a, err := netip.ParseAddr(h)
		if err != nil {
			// 127.1, 0x7f000001 and 2130706433 all reach loopback through libc.
			return refuse("the host "+printable(host), "write IPv4 addresses as four decimal numbers")
		}
		if a = a.Unmap(); a.IsLoopback() || a.IsUnspecified() {
			return refuse("the host "+printable(host), "http sources may not point at this machine")
		}
	}
	return nil
}

// looksNumeric reports whether inet_aton or an IPv6 parser would take h as an
// address: every dot-separated label starts with a digit, or h holds a colon.
func looksNumeric(h string) bool {
	if strings.Contains(h, ":") {
		return true
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || l[0] < '0' || l[0] > '9' {
			return false
		}
	}
	return true
}

// checkOptions checks go2rtc's `#key=value#key2` options against allowed.
func checkOptions(opts, kind string, allowed map[string]optionRule) error {
	if opts == "" {
		return nil
	}
	if strings.Contains(opts, "@") {
		// A '#' inside a user name or password: what follows it is part of
		// the credentials, so the message names none of it.
		return refuse("a '#' in the URL's user name or password", "write it as %%23")
	}
	for _, opt := range strings.Split(opts, "#") {
		key, value, has := strings.Cut(opt, "=")
		if !optionKeyRe.MatchString(key) {
			// A '#' inside a password lands here; the text may be part of it.
			return refuse("a '#' part that is not an option", "write '#' inside a user name or password as %%23")
		}
		rule, ok := allowed[key]
		if !ok {
			reason := optionReasons[key]
			if reason == "" || (key == "timeout" && kind != "ffmpeg") {
				reason = fmt.Sprintf("%s sources accept %s", kind, optionList(allowed))
			}
			return refuse("#"+key, "%s", reason)
		}
		if err := rule(value, has); err != nil {
			return refuse("#"+key+"="+printable(value), "%s", err.Error())
		}
	}
	return nil
}

func optionList(allowed map[string]optionRule) string {
	if len(allowed) == 0 {
		return "no #options"
	}
	var names []string
	for _, k := range []string{"video", "audio", "hardware", "width", "height", "rotate", "backchannel", "timeout", "transport", "media"} {
		if allowed[k] != nil {
			names = append(names, "#"+k)
		}
	}
	return "only " + strings.Join(names, ", ")
}

// printable shortens a value for an error message.
func printable(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}
