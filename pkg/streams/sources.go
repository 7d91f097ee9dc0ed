package streams

import (
	"context"
	"errors"
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

// FormURL is the url a writer edits: without its user info when the stream
// keeps its credentials in the ONVIF fields (SourcesFor puts them back), so
// that a form shows them once and saving it does not store them twice. A URL
// that does not parse is left to the writer.
func FormURL(s *db.Stream) string {
	if s.ONVIFUsername == "" {
		return s.URL
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.User == nil {
		return s.URL
	}
	u.User = nil
	return u.String()
}

// CheckSource checks a stream source a request sets. go2rtc turns some source
// syntax into process arguments, so the API takes only what go2rtc.CheckSource
// allows, for every role: custom pipelines belong in go2rtc's override file.
func CheckSource(field, v string, required bool) error {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return fmt.Errorf("%s is required", field)
		}
		return nil
	}
	if err := go2rtc.CheckSource(v); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// CheckChange checks what a change of a stream's settings must keep true
// across fields: the sources it changed (stored ones it leaves alone, such
// as LightNVR imports or the demo stream's exec source, may be outside the
// allowlist and must not block edits of other fields), and a motion trigger
// that is another stream.
func CheckChange(before, after *db.Stream) []error {
	errs := []error{}
	if after.URL != before.URL || after.URL == "" {
		errs = append(errs, CheckSource("url", after.URL, true))
	}
	if after.SubStreamURL != before.SubStreamURL {
		errs = append(errs, CheckSource("sub_stream_url", after.SubStreamURL, false))
	}
	if o := after.Go2RTCSourceOverride; o != "" && o != before.Go2RTCSourceOverride {
		for _, src := range SourcesFor(after) {
			errs = append(errs, CheckSource("go2rtc_source_override", src, true))
		}
	}
	if after.MotionTriggerSource == after.Name && after.Name != "" {
		errs = append(errs, errors.New("motion_trigger_source cannot be the stream itself"))
	}
	return errs
}

// Desired lists the go2rtc streams the database asks for: every registered
// stream, and its sub-stream when it has one. A URL that is go2rtc's restream
// of the stream's own name is not registered (go2rtc keeps its own source,
// see Go2RTCOwned); one that names another go2rtc stream is registered as an
// alias reading that stream through go2rtc.
func Desired(list []*db.Stream, g go2rtc.Settings) []go2rtc.Stream {
	var out []go2rtc.Stream
	for _, s := range list {
		if !Registered(s) {
			continue
		}
		for _, st := range go2rtcStreams(s) {
			if r, ok := restream(st, g); ok {
				if r.Name == st.Name {
					continue
				}
				st.Sources = []string{g.Source(r)}
			}
			out = append(out, st)
		}
	}
	return out
}

// Go2RTCOwned lists the go2rtc streams s reads as go2rtc defines them (its
// URL is go2rtc's restream of the same name): lightnvr never registers,
// replaces nor deletes those, whether s is enabled or not.
func Go2RTCOwned(s *db.Stream, g go2rtc.Settings) []string {
	var own []string
	for _, st := range go2rtcStreams(s) {
		if r, ok := restream(st, g); ok && r.Name == st.Name {
			own = append(own, st.Name)
		}
	}
	return own
}

// restream reports whether st's one source is a restream of this go2rtc.
func restream(st go2rtc.Stream, g go2rtc.Settings) (go2rtc.Restream, bool) {
	if len(st.Sources) != 1 {
		return go2rtc.Restream{}, false
	}
	return g.RestreamOf(st.Sources[0])
}

// go2rtcStreams are the go2rtc streams of s with their sources as stored.
func go2rtcStreams(s *db.Stream) []go2rtc.Stream {
	out := []go2rtc.Stream{{Name: s.Name, Sources: SourcesFor(s)}}
	if sub := strings.TrimSpace(s.SubStreamURL); sub != "" {
		out = append(out, go2rtc.Stream{Name: s.Name + SubStreamSuffix,
			Sources: []string{withCredentials(sub, s.ONVIFUsername, s.ONVIFPassword)}})
	}
	return out
}

// DemoName is the stream EnsureDemo adds.
const DemoName = "demo"

// DemoSource is the demo stream's go2rtc source: ffmpeg's test pattern as H.264.
const DemoSource = "exec:ffmpeg -hide_banner -re -f lavfi -i testsrc2=size=1280x720:rate=25 " +
	"-c:v libx264 -preset ultrafast -tune zerolatency -g 50 -f rtsp {output}"

// Demo is the demo's go2rtc stream, a built-in one (go2rtc.Settings.Builtin):
// go2rtc takes exec sources only from its config file.
var Demo = go2rtc.Stream{Name: DemoName, Sources: []string{DemoSource}}

// EnsureDemo adds the demo stream when the database has no stream at all and
// ffmpeg is installed, so a first `make run` shows a picture and a recording
// within a minute. Its URL is go2rtc's restream of the built-in Demo stream,
// so the stream's fields hold an ordinary URL and stay editable. It records in
// short segments, kept a day and at most DemoQuotaMB. It reports whether it
// added the stream. Call it before the manager starts.
func EnsureDemo(ctx context.Context, d *db.DB, g go2rtc.Settings) (bool, error) {
	n, err := db.CountStreams(ctx, d)
	if err != nil || n > 0 {
		return false, err
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return false, nil
	}
	s := db.NewStream(DemoName, fmt.Sprintf("rtsp://localhost:%d/%s", g.RTSPPort, DemoName))
	s.Record = true
	s.SegmentDuration = 15
	s.RetentionDays = 1
	s.MaxStorageMB = DemoQuotaMB
	s.RecordAudio = false
	s.Width, s.Height, s.FPS = 1280, 720, 25
	if err := db.InsertStream(ctx, d, s); err != nil {
		return false, fmt.Errorf("add demo stream: %w", err)
	}
	return true, nil
}

// DemoQuotaMB bounds the demo stream's recordings.
const DemoQuotaMB = 200
