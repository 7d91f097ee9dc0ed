package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/db"
	"lightnvr/pkg/host"
	"lightnvr/pkg/version"
)

// promWriter writes the Prometheus text exposition format (version 0.0.4).
type promWriter struct {
	b    strings.Builder
	seen map[string]bool
}

// family writes the HELP and TYPE lines of a metric once.
func (w *promWriter) family(name, typ, help string) {
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	if w.seen[name] {
		return
	}
	w.seen[name] = true
	fmt.Fprintf(&w.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one line; labels alternate name, value.
func (w *promWriter) sample(name string, value float64, labels ...string) {
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteString(labels[i])
			w.b.WriteString(`="`)
			w.b.WriteString(escapeLabel(labels[i+1]))
			w.b.WriteByte('"')
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
	w.b.WriteByte('\n')
}

func (w *promWriter) gauge(name, help string, value float64, labels ...string) {
	w.family(name, "gauge", help)
	w.sample(name, value, labels...)
}

func (w *promWriter) counter(name, help string, value float64, labels ...string) {
	w.family(name, "counter", help)
	w.sample(name, value, labels...)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(v string) string { return labelEscaper.Replace(v) }

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// streamFamily is one per-stream metric of LightNVR's, labelled {stream}.
type streamFamily struct {
	name, typ, help string
	value           func(d *healthStreamDetail) float64
}

// streamFamilies are the per-stream metrics, from the figures /api/health
// reports.
var streamFamilies = []streamFamily{
	{"lightnvr_stream_up", "gauge", "1 when the stream delivers video.", func(d *healthStreamDetail) float64 { return boolGauge(d.Status == "up") }},
	{"lightnvr_stream_fps", "gauge", "Frames per second the stream delivered over the last second.", func(d *healthStreamDetail) float64 { return d.FPS }},
	{"lightnvr_stream_bitrate_bps", "gauge", "Bits per second the stream delivered over the last second.", func(d *healthStreamDetail) float64 { return float64(d.BitrateBPS) }},
	{"lightnvr_stream_frames_total", "counter", "Video frames the stream delivered since its pipeline started.", func(d *healthStreamDetail) float64 { return float64(d.FramesTotal) }},
	{"lightnvr_stream_frames_dropped", "counter", "Frames lost or skipped since the stream's pipeline started.", func(d *healthStreamDetail) float64 { return float64(d.FramesDropped) }},
	{"lightnvr_stream_reconnects_total", "counter", "Reconnections of the stream since lightnvr started.", func(d *healthStreamDetail) float64 { return float64(d.Reconnects) }},
	{"lightnvr_stream_uptime_seconds", "gauge", "Seconds since the stream last became active (0 when not active).", func(d *healthStreamDetail) float64 { return float64(d.UptimeSeconds) }},
	{"lightnvr_stream_last_frame_ts", "gauge", "Unix time of the stream's last frame (0 before one).", func(d *healthStreamDetail) float64 { return float64(d.LastFrameTS) }},
	{"lightnvr_stream_connection_latency_ms", "gauge", "Milliseconds the stream's last start took from launch to the first frame.", func(d *healthStreamDetail) float64 { return float64(d.ConnectionLatency) }},
	{"lightnvr_recording_active", "gauge", "1 while the stream's recorder writes a segment.", func(d *healthStreamDetail) float64 { return boolGauge(d.RecordingActive) }},
	{"lightnvr_recording_bytes_written", "counter", "Bytes of the stream's recordings started since lightnvr started.", func(d *healthStreamDetail) float64 { return float64(d.bytes) }},
	{"lightnvr_recording_segments_total", "counter", "Recordings of the stream started since lightnvr started.", func(d *healthStreamDetail) float64 { return float64(d.segments) }},
	{"lightnvr_recording_gaps_total", "counter", "Holes of more than 2 s between the stream's continuous recordings since lightnvr started.", func(d *healthStreamDetail) float64 { return float64(d.RecordingGaps) }},
}

// writeStreamMetrics writes the per-stream families, each family's samples
// together as the text format requires.
func writeStreamMetrics(w *promWriter, health []healthStreamDetail) {
	if len(health) == 0 {
		return
	}
	for _, f := range streamFamilies {
		w.family(f.name, f.typ, f.help)
		for i := range health {
			w.sample(f.name, f.value(&health[i]), "stream", health[i].Name)
		}
	}
	w.family("lightnvr_stream_error_total", "counter", "Ingest failures of the stream since lightnvr started (a session lost or an attempt that never played), by type.")
	for _, d := range health {
		e := d.errors
		for _, c := range []struct {
			typ string
			n   int
		}{{"decode", e.Decode}, {"timeout", e.Timeout}, {"protocol", e.Protocol}, {"io", e.IO}} {
			w.sample("lightnvr_stream_error_total", float64(c.n), "stream", d.Name, "type", c.typ)
		}
	}
}

func (h *systemHandler) handleMetrics(ctx *fasthttp.RequestCtx) {
	var w promWriter
	cfg := h.cfg()

	w.gauge("lightnvr_build_info", "Build of lightnvr (always 1).", 1, "version", version.Version, "commit", version.Commit)
	w.gauge("lightnvr_instance_uptime_seconds", "Seconds since lightnvr started.", time.Since(h.stats.started).Seconds())
	if ps, err := host.ReadProcess("/proc/self/status"); err == nil {
		w.gauge("lightnvr_instance_memory_rss_bytes", "Resident set size of lightnvr.", float64(ps.RSS))
		w.gauge("lightnvr_instance_threads", "OS threads of lightnvr.", float64(ps.Threads))
	}
	gm := goMemory()
	w.gauge("lightnvr_instance_go_heap_bytes", "Bytes of live and unswept Go heap objects.", float64(gm.heap))
	w.gauge("lightnvr_instance_go_memory_bytes", "All memory mapped by the Go runtime.", float64(gm.total))
	w.gauge("lightnvr_instance_goroutines", "Goroutines of lightnvr.", float64(gm.goroutines))
	w.counter("lightnvr_http_requests_total", "HTTP requests served.", float64(h.stats.total.Load()))
	w.counter("lightnvr_http_requests_failed_total", "HTTP requests answered with status 400 or more.", float64(h.stats.failed.Load()))

	if d, err := host.StatDisk(cfg.Storage.Path); err == nil {
		w.gauge("lightnvr_storage_used_bytes", "Used bytes of the file system holding recordings.", float64(d.Used))
		w.gauge("lightnvr_storage_available_bytes", "Bytes available to lightnvr on the file system holding recordings.", float64(d.Free))
	}
	if h.storage != nil {
		w.counter("lightnvr_storage_reported_bytes_total", "Bytes recorders reported writing to the storage controller, which guards the free-space floor with them.",
			float64(h.storage.Status().Reported))
	}
	if h.db != nil {
		qctx := requestContext(ctx)
		if n, err := db.CountStreams(qctx, h.db); err == nil {
			w.gauge("lightnvr_instance_streams_configured", "Streams in the database, enabled or not.", float64(n))
		}
		if u, err := db.StreamUsage(qctx, h.db, ""); err == nil {
			w.gauge("lightnvr_recordings", "Recordings in the database.", float64(u.Count))
			w.gauge("lightnvr_recordings_bytes", "Bytes of the recordings in the database.", float64(u.Bytes))
		}
	}

	if u, err := h.cpu.read(); err == nil {
		w.gauge("lightnvr_instance_cpu_percent", "Share of the machine's CPU time lightnvr used since the previous reading, in percent.", u.process)
	}
	health := h.streamHealth()
	h.addRecordingFigures(requestContext(ctx), health)
	if h.streams != nil {
		up := 0
		for _, d := range health {
			if d.Status == "up" {
				up++
			}
		}
		w.gauge("lightnvr_instance_streams_up", "Streams delivering video.", float64(up))
	}
	writeStreamMetrics(&w, health)

	if h.go2rtc != nil {
		st := h.go2rtc()
		w.gauge("lightnvr_go2rtc_up", "1 when go2rtc answers its API.", boolGauge(st.Ready()))
		w.counter("lightnvr_go2rtc_restarts_total", "Restarts of go2rtc by lightnvr.", float64(st.Restarts))
	}

	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	ctx.SetBodyString(w.b.String())
}
