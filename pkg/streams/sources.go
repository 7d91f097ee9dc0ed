package streams

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strings"

	"lightnvr/pkg/db"
	"lightnvr/pkg/go2rtc"
)

// SubStreamSuffix names a stream's sub-stream in go2rtc, as LightNVR does.
const SubStreamSuffix = "_sub"

// Registered reports whether a stream belongs in go2rtc: enabled and not in privacy mode.
func Registered(s *db.Stream) bool { return s.Enabled && !s.PrivacyMode }

// SourcesFor returns the go2rtc sources of a stream: its go2rtc_source_override
// when set (one URL, or a YAML list of them), else its URL with the ONVIF
// credentials put in when the URL has none.
func SourcesFor(s *db.Stream) []string {
	if o := strings.TrimSpace(s.Go2RTCSourceOverride); o != "" {
		return parseOverride(o)
	}
	return []string{withCredentials(s.URL, s.ONVIFUsername, s.ONVIFPassword)}
}

// parseOverride reads a single source or a YAML block list ("- a\n- b").
func parseOverride(o string) []string {
	lines := strings.Split(o, "\n")
	if len(lines) == 1 {
		return []string{unquote(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(o), "- ")))}
	}
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		l = strings.TrimSpace(strings.TrimPrefix(l, "-"))
		if l != "" {
			out = append(out, unquote(l))
		}
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

func withCredentials(raw, user, pass string) string {
	if user == "" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") {
		return raw
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// Desired lists the go2rtc streams the database asks for: every registered
// stream, and its sub-stream when it has one.
func Desired(list []*db.Stream) []go2rtc.Stream {
	var out []go2rtc.Stream
	for _, s := range list {
		if !Registered(s) {
			continue
		}
		out = append(out, go2rtc.Stream{Name: s.Name, Sources: SourcesFor(s)})
		if sub := strings.TrimSpace(s.SubStreamURL); sub != "" {
			out = append(out, go2rtc.Stream{Name: s.Name + SubStreamSuffix,
				Sources: []string{withCredentials(sub, s.ONVIFUsername, s.ONVIFPassword)}})
		}
	}
	return out
}

// DemoName is the stream EnsureDemo adds.
const DemoName = "demo"

// DemoSource is the demo stream's go2rtc source: ffmpeg's test pattern as H.264.
const DemoSource = "exec:ffmpeg -hide_banner -re -f lavfi -i testsrc2=size=1280x720:rate=25 " +
	"-c:v libx264 -preset ultrafast -tune zerolatency -g 50 -f rtsp {output}"

// EnsureDemo adds the demo stream when the database has no stream at all and
// ffmpeg is installed, so a first `make run` shows a picture at once. It
// reports whether it added the stream. Call it before the manager starts.
func EnsureDemo(ctx context.Context, d *db.DB) (bool, error) {
	n, err := db.CountStreams(ctx, d)
	if err != nil || n > 0 {
		return false, err
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return false, nil
	}
	s := NewStreamDefaults(DemoName, DemoSource)
	s.Record = false
	s.RecordAudio = false
	s.Width, s.Height, s.FPS = 1280, 720, 25
	if err := db.InsertStream(ctx, d, s); err != nil {
		return false, fmt.Errorf("add demo stream: %w", err)
	}
	return true, nil
}

// NewStreamDefaults is a new stream with LightNVR's API defaults for creation.
func NewStreamDefaults(name, u string) *db.Stream {
	return &db.Stream{
		Name: name, URL: u, Enabled: true, StreamingEnabled: true,
		Width: 1280, Height: 720, FPS: 30, Codec: "h264",
		Priority: 5, Record: true, SegmentDuration: 30,
		DetectionThreshold: 0.5, DetectionInterval: 10, PreDetectionBuffer: 5, PostDetectionBuffer: 5,
		RecordAudio: true, RetentionDays: -1, DetectionRetentionDays: -1,
		BufferStrategy: "auto", DetectionObjectFilter: "none",
		TierCriticalMultiplier: 3.0, TierImportantMultiplier: 2.0, TierEphemeralMultiplier: 0.25,
		StoragePriority: 5,
	}
}
