package go2rtc_test

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"lightnvr/pkg/go2rtc"
)

// injectionPayloads are sources that make go2rtc run ffmpeg with arguments of
// the sender's choosing, read or write files, or reach go2rtc's own API. Each
// names the part the error must mention.
var injectionPayloads = []struct{ name, src, part string }{
	{"virtual query decoded into spaces", "ffmpeg:virtual?video=testsrc%20-y%20/tmp/pwned", "%20"},
	{"virtual plain", "ffmpeg:virtual?video=testsrc", "ffmpeg input"},
	{"device input", "ffmpeg:device?video=0", "ffmpeg input"},
	{"tts input", "ffmpeg:tts?text=hi", "ffmpeg input"},
	{"file input", "ffmpeg:/etc/lightnvr/lightnvr.ini#video=mjpeg", "ffmpeg input"},
	{"stream name input", "ffmpeg:cam1#video=h264", "ffmpeg input"},
	{"stream name with query", "ffmpeg:cam1#video=h264#query=x", "ffmpeg input"},
	{"file scheme input", "ffmpeg:file:///etc/passwd", "ffmpeg input"},
	{"lavfi input", "ffmpeg:lavfi://testsrc", "ffmpeg input"},
	{"raw writes a file", "ffmpeg:rtsp://cam/x#video=copy#raw=-y#raw=/tmp/pwned", "#raw"},
	{"raw template", "ffmpeg:rtsp://cam/x#raw=h264", "#raw"},
	{"input template", "ffmpeg:rtsp://cam/x#input=file", "#input"},
	{"drawtext reads a file", "ffmpeg:rtsp://cam/x#video=mjpeg#drawtext=textfile=/etc/lightnvr/lightnvr.ini", "#drawtext"},
	{"bitrate", "ffmpeg:rtsp://cam/x#video=h264#bitrate=1M", "#bitrate"},
	{"ffmpeg timeout", "ffmpeg:rtsp://cam/x#timeout=5", "#timeout"},
	{"ffmpeg query", "ffmpeg:rtsp://cam/x#query=a", "#query"},
	{"free-text video", "ffmpeg:rtsp://cam/x#video=-y", `#video="-y"`},
	{"video names a template", "ffmpeg:rtsp://cam/x#video=output", `#video="output"`},
	{"video names the binary", "ffmpeg:rtsp://cam/x#video=bin", `#video="bin"`},
	{"bare video", "ffmpeg:rtsp://cam/x#video", "#video"},
	{"free-text audio", "ffmpeg:rtsp://cam/x#audio=-f", `#audio="-f"`},
	{"audio auto", "ffmpeg:rtsp://cam/x#audio=auto", `#audio="auto"`},
	{"hardware free text", "ffmpeg:rtsp://cam/x#video=h264#hardware=-y", `#hardware="-y"`},
	{"width filter injection", "ffmpeg:rtsp://cam/x#video=h264#width=320,drawtext=textfile=/etc/passwd", "#width"},
	{"width not a number", "ffmpeg:rtsp://cam/x#video=h264#width=-1", "#width"},
	{"rotate free text", "ffmpeg:rtsp://cam/x#rotate=45", "#rotate"},
	{"async", "ffmpeg:rtsp://cam/x#async", "#async"},
	{"killsignal", "ffmpeg:rtsp://cam/x#killsignal=9", "#killsignal"},
	{"unknown option with digits", "ffmpeg:rtsp://cam/x#v1deo=h264", "'#' part"},
	{"ffmpeg at go2rtc's API", "ffmpeg:http://127.0.0.1:1984/go2rtc/api/stream.mp4?src=x", "127.0.0.1"},
	{"ffmpeg at localhost", "ffmpeg:https://localhost/x.m3u8", "localhost"},
	{"literal space", "ffmpeg:rtsp://cam/x -y /tmp/pwned", "whitespace"},
	{"tab", "rtsp://cam/x\t-y", "whitespace"},
	{"newline", "rtsp://cam/x\n- exec:sh", "whitespace"},
	{"no-break space", "ffmpeg:rtsp://cam/x\u00a0-y", "whitespace"},
	{"encoded space", "ffmpeg:rtsp://cam/x%20-y", "%20"},
	{"encoded newline", "rtsp://cam/x%0a", "%0a"},
	{"encoded tab", "rtsp://cam/x%09", "%09"},
	{"encoded NUL", "rtsp://cam/x%00", "%00"},
	{"control character", "rtsp://cam/x\x01", "control character"},
	{"DEL", "rtsp://cam/x\x7f", "control character"},
	{"double quote", `ffmpeg:rtsp://cam/x#raw="-y /tmp/pwned"`, "character"},
	{"single quote", "ffmpeg:rtsp://cam/'x'", "character"},
	{"backslash", `rtsp://cam/x\y`, "character"},
	{"output template", "ffmpeg:rtsp://cam/{output}", "character"},
	{"backtick", "rtsp://cam/`id`", "character"},
	{"invalid UTF-8", "rtsp://cam/\xff", "UTF-8"},
	{"exec", "exec:ffmpeg -i x", "whitespace"},
	{"exec without spaces", "exec:/bin/sh", `"exec"`},
	{"echo", "echo:/bin/echo", `"echo"`},
	{"expr", "expr:1", `"expr"`},
	{"onvif", "onvif://admin:pw@cam:80", `"onvif"`},
	{"unknown scheme", "nosuch://cam/x", `"nosuch"`},
	{"file scheme", "file:///etc/passwd", `"file"`},
	{"tcp", "tcp://cam:1234", `"tcp"`},
	{"httpx", "httpx://cam/x", `"httpx"`},
	{"webrtc", "webrtc:http://cam/x", `"webrtc"`},
	{"upper-case scheme", "RTSP://cam/x", `"RTSP"`},
	{"no scheme", "camera.local", "without a scheme"},
	{"empty scheme", "://cam", "without a scheme"},
	{"rtsp websocket transport", "rtsp://cam/x#transport=ws://127.0.0.1:1984/go2rtc/api/ws?src=x", "#transport"},
	{"rtsp transport free text", "rtsp://cam/x#transport=wss", "#transport"},
	{"rtsp timeout free text", "rtsp://cam/x#timeout=5s", "#timeout"},
	{"rtsp ffmpeg option", "rtsp://cam/x#video=h264", "#video"},
	{"http header", "http://cam/x#header=Cookie", "#header"},
	{"http at go2rtc's API", "http://127.0.0.1:1984/go2rtc/api/frame.jpeg?src=ffmpeg:x", "127.0.0.1"},
	{"http at loopback /8", "http://127.8.9.10/x", "127.8.9.10"},
	{"http localhost", "http://localhost:1984/x", "localhost"},
	{"http localhost dot", "http://localhost.:1984/x", "localhost"},
	{"http sub.localhost", "http://go2rtc.localhost:1984/x", "localhost"},
	{"http short IPv4", "http://127.1:1984/x", "127.1"},
	{"http decimal IPv4", "http://2130706433:1984/x", "2130706433"},
	{"http hex IPv4", "http://0x7f000001:1984/x", "0x7f000001"},
	{"http IPv6 loopback", "http://[::1]:1984/x", "::1"},
	{"http mapped loopback", "http://[::ffff:127.0.0.1]:1984/x", "::ffff:127.0.0.1"},
	{"http unspecified", "http://0.0.0.0:1984/x", "0.0.0.0"},
	{"https loopback", "https://127.0.0.1/x", "127.0.0.1"},
	{"rtsp without slashes", "rtsp:cam/x", "without //"},
	{"malformed", "rtsp://u:p%zz@cam/x", "malformed"},
	{"too long", "rtsp://cam/" + strings.Repeat("a", 2048), "longer than 2048"},
	{"empty", "", "empty"},
}

func TestCheckSourceRefusesInjection(t *testing.T) {
	for _, c := range injectionPayloads {
		err := go2rtc.CheckSource(c.src)
		if err == nil {
			t.Errorf("%s: %q accepted", c.name, c.src)
			continue
		}
		var se *go2rtc.SourceError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %v is not a *SourceError", c.name, err)
		}
		if !strings.Contains(err.Error(), c.part) {
			t.Errorf("%s: error %q does not name %q", c.name, err, c.part)
		}
	}
}

// legitimateSources are what cameras need; they must stay accepted.
var legitimateSources = []string{
	"rtsp://cam/x",
	"rtsp://admin:secret@192.0.2.10:554/Streaming/Channels/101",
	"rtsp://admin:p%40ss%23w%2Frd@cam/x",
	"rtsp://admin:pa@ss@cam/x", // go2rtc and url.Parse take the last '@'
	"rtsps://cam:322/x?tcp",
	"rtsp://127.0.0.1:8554/cam1", // go2rtc's own restream
	"rtsp://cam/x#backchannel=0",
	"rtsp://cam/x#transport=udp#timeout=10#media=video",
	"rtmp://cam/live/stream",
	"rtmps://cam/live/stream",
	"http://cam/mjpeg.cgi?user=a&pwd=b",
	"https://cam.example/live/index.m3u8",
	"http://192.0.2.10:8080/video",
	"ffmpeg:rtsp://cam/x#video=h264",
	"ffmpeg:rtsp://admin:secret@cam/x#video=copy#audio=aac",
	"ffmpeg:rtsp://cam/x#video=h264#hardware",
	"ffmpeg:rtsp://cam/x#video=h264#hardware=vaapi#width=1280#height=720#rotate=90",
	"ffmpeg:http://cam/mjpeg#video=h264",
	"ffmpeg:rtmp://cam/live#video=copy#audio=opus",
	"ffmpeg:rtsp://cam/x#video=raw/yuv420p#audio=pcmu/16000",
	"ffmpeg:rtsp://cam/x",
}

func TestCheckSourceAcceptsCameras(t *testing.T) {
	for _, src := range legitimateSources {
		if err := go2rtc.CheckSource(src); err != nil {
			t.Errorf("%q refused: %v", src, err)
		}
	}
}

// Error messages go back to the browser and into logs: no credentials in them.
func TestCheckSourceErrorsCarryNoCredentials(t *testing.T) {
	for _, src := range []string{
		"rtsp://admin:Sup3rS3cret@cam/x#raw=-y",
		"ffmpeg:rtsp://admin:Sup3rS3cret@cam/x#raw=-y",
		"ffmpeg:rtsp://admin:Sup3r#S3cret@cam/x#video=h264",
		"rtsp://admin:Sup3r#video=S3cret@cam/x",
		"rtsp://admin:Sup3r/S3cret@cam/x",
		"rtsp://admin:Sup3r%S3cret@cam/x",
		"http://admin:Sup3rS3cret@127.0.0.1/x",
		"onvif://admin:Sup3rS3cret@cam",
		"nosuch://admin:Sup3rS3cret@cam",
		"ffmpeg:file://admin:Sup3rS3cret@cam",
	} {
		err := go2rtc.CheckSource(src)
		if err == nil {
			t.Errorf("%q accepted", src)
			continue
		}
		for _, secret := range []string{"Sup3r", "S3cret"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error for %q shows the password: %v", src, err)
			}
		}
	}
}

// forbiddenText is what an accepted source must never hold, in any form go2rtc
// might decode.
const forbiddenText = " \t\r\n\v\f\"'`\\{}"

// FuzzCheckSource checks the invariants of every accepted source against an
// independent reading of go2rtc's syntax: an allowed scheme, no argument
// breaks or quotes, and only allowed `#` options with preset values.
func FuzzCheckSource(f *testing.F) {
	for _, c := range injectionPayloads {
		f.Add(c.src)
	}
	for _, s := range legitimateSources {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		err := go2rtc.CheckSource(src)
		if err != nil {
			var se *go2rtc.SourceError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SourceError", err)
			}
			return
		}
		if strings.ContainsAny(src, forbiddenText) {
			t.Fatalf("accepted %q with whitespace, a quote, a backslash or a brace", src)
		}
		if dec, derr := url.PathUnescape(src); derr == nil && strings.ContainsAny(dec, forbiddenText[:6]) {
			t.Fatalf("accepted %q that decodes to whitespace", src)
		}
		scheme, rest, _ := strings.Cut(src, ":")
		base, opts, _ := strings.Cut(src, "#")
		allowed := map[string]bool{}
		switch scheme {
		case "ffmpeg":
			in, _, _ := strings.Cut(rest, "#")
			is, _, ok := strings.Cut(in, "://")
			if !ok || !map[string]bool{"rtsp": true, "rtsps": true, "rtmp": true, "http": true, "https": true}[is] {
				t.Fatalf("accepted ffmpeg input %q", in)
			}
			base = in
			for _, k := range []string{"video", "audio", "hardware", "width", "height", "rotate"} {
				allowed[k] = true
			}
		case "rtsp", "rtsps":
			for _, k := range []string{"backchannel", "timeout", "transport", "media"} {
				allowed[k] = true
			}
		case "rtmp", "rtmps", "http", "https":
		default:
			t.Fatalf("accepted scheme %q in %q", scheme, src)
		}
		if u, perr := url.Parse(base); perr != nil || u.Host == "" {
			t.Fatalf("accepted %q whose URL part does not parse", src)
		} else if strings.HasPrefix(base, "http") && isLoopback(u.Hostname()) {
			t.Fatalf("accepted http source on loopback: %q", src)
		}
		if opts == "" {
			return
		}
		for _, o := range strings.Split(opts, "#") {
			k, v, _ := strings.Cut(o, "=")
			if !allowed[k] {
				t.Fatalf("accepted option %q in %q", k, src)
			}
			if strings.HasPrefix(v, "-") && v != "-90" {
				t.Fatalf("accepted option value %q that reads as an ffmpeg flag in %q", v, src)
			}
			if (k == "video" || k == "audio") && strings.ContainsAny(v, "-=,:;") {
				t.Fatalf("accepted %s=%q in %q", k, v, src)
			}
		}
	})
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && (a.Unmap().IsLoopback() || a.IsUnspecified())
}
