package api

import (
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// The parser refuses what a Prometheus server refuses.
func TestParsePromRefusesBrokenText(t *testing.T) {
	for _, c := range []struct{ why, body string }{
		{"no newline", "# TYPE a gauge\na 1"},
		{"split family", "# TYPE a gauge\na{s=\"x\"} 1\n# TYPE b gauge\nb 1\na{s=\"y\"} 1\n"},
		{"repeated", "# TYPE a gauge\na 1\na 2\n"},
		{"type late", "a 1\n# TYPE a gauge\n"},
		{"bad escape", "# TYPE a gauge\na{s=\"\\t\"} 1\n"},
		{"negative count", "# TYPE a counter\na -1\n"},
		{"bad value", "# TYPE a gauge\na one\n"},
		{"bad label", "# TYPE a gauge\na{1s=\"x\"} 1\n"},
		{"two spaces", "# TYPE a gauge\na  1\n"},
	} {
		if _, err := parseProm(c.body); err == nil {
			t.Errorf("%s: parsed %q", c.why, c.body)
		}
	}
}

// /api/metrics has LightNVR's families with its names and labels, per stream
// measured from the running pipelines, and parses as the text format.
func TestMetricsStreamFamilies(t *testing.T) {
	e := newRecordingEnv(t)
	for _, s := range []struct{ name, url string }{{"yard", e.cam.URL()}, {"gone", testkit.RefusingURL(t)}} {
		if code, body := call(e.srv, "admin", "POST", "/api/streams", `{"name":"`+s.name+`","url":"`+s.url+`"}`); code != 201 {
			t.Fatalf("create %s: %d %s", s.name, code, body)
		}
	}
	var fams map[string]*promFamily
	scrape := func() {
		t.Helper()
		code, body := call(e.srv, "viewer", "GET", "/api/metrics", "")
		if code != 200 {
			t.Fatalf("metrics: %d %s", code, body)
		}
		var err error
		if fams, err = parseProm(string(body)); err != nil {
			t.Fatalf("metrics do not parse: %v\n%s", err, body)
		}
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no family %s", name)
		}
		v, ok := f.sample(labels...)
		if !ok {
			t.Fatalf("%s has no sample %v: %+v", name, labels, f.samples)
		}
		return v
	}
	errorsOf := func(stream string) (sum float64) {
		for _, typ := range []string{"decode", "timeout", "protocol", "io"} {
			sum += value("lightnvr_stream_error_total", "stream", stream, "type", typ)
		}
		return sum
	}
	testkit.WaitFor(t, 30*time.Second, "yard recording and gone failing", func() bool {
		scrape()
		return value("lightnvr_stream_up", "stream", "yard") == 1 && value("lightnvr_recording_active", "stream", "yard") == 1 &&
			value("lightnvr_stream_fps", "stream", "yard") > 0 && errorsOf("gone") >= 1
	})
	types := map[string]string{
		"lightnvr_stream_up": "gauge", "lightnvr_stream_fps": "gauge", "lightnvr_stream_bitrate_bps": "gauge",
		"lightnvr_stream_frames_total": "counter", "lightnvr_stream_frames_dropped": "counter",
		"lightnvr_stream_reconnects_total": "counter", "lightnvr_stream_uptime_seconds": "gauge",
		"lightnvr_stream_last_frame_ts": "gauge", "lightnvr_stream_connection_latency_ms": "gauge",
		"lightnvr_recording_active": "gauge", "lightnvr_recording_bytes_written": "counter",
		"lightnvr_recording_segments_total": "counter", "lightnvr_recording_gaps_total": "counter",
	}
	for name, typ := range types {
		if f := fams[name]; f == nil || f.typ != typ || f.help == "" {
			t.Errorf("%s: %+v, want a %s with HELP", name, f, typ)
			continue
		}
		for _, s := range []string{"yard", "gone"} {
			value(name, "stream", s)
		}
	}
	if f := fams["lightnvr_stream_error_total"]; f == nil || f.typ != "counter" || len(f.samples) != 8 {
		t.Errorf("lightnvr_stream_error_total: %+v, want a counter of 4 types for 2 streams", f)
	}
	for _, name := range []string{"lightnvr_storage_used_bytes", "lightnvr_storage_available_bytes", "lightnvr_instance_streams_configured",
		"lightnvr_instance_streams_up", "lightnvr_instance_cpu_percent", "lightnvr_instance_memory_rss_bytes", "lightnvr_go2rtc_up"} {
		if f := fams[name]; f == nil || f.typ != "gauge" || len(f.samples) != 1 {
			t.Errorf("%s: %+v, want one gauge sample", name, f)
		}
	}
	if v := value("lightnvr_stream_bitrate_bps", "stream", "yard"); v <= 0 {
		t.Errorf("yard bitrate %v", v)
	}
	if v := value("lightnvr_stream_frames_total", "stream", "yard"); v <= 0 {
		t.Errorf("yard frames %v", v)
	}
	if v := value("lightnvr_stream_last_frame_ts", "stream", "yard"); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("yard last frame at %v", v)
	}
	if v := value("lightnvr_stream_connection_latency_ms", "stream", "yard"); v <= 0 {
		t.Errorf("yard connection latency %v", v)
	}
	if v := value("lightnvr_instance_streams_up"); v != 1 {
		t.Errorf("streams up %v, want 1", v)
	}
	if v := value("lightnvr_instance_cpu_percent"); v < 0 || v > 100 {
		t.Errorf("cpu %v%%", v)
	}
	if value("lightnvr_stream_up", "stream", "gone") != 0 || value("lightnvr_stream_fps", "stream", "gone") != 0 {
		t.Error("the refused stream reads as up")
	}
	if code, body := call(e.srv, "viewer", "POST", "/api/metrics", "{}"); code != 405 || !strings.Contains(string(body), "not allowed") {
		t.Errorf("POST /api/metrics: %d %s", code, body)
	}
}
