package api

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// maxTelemetryBody bounds a player report: eight small fields fit in a
// few hundred bytes.
const maxTelemetryBody = 4 << 10

// telemetrySessions is how many recent player sessions a stream remembers
// to count distinct viewers.
const telemetrySessions = 32

// playerReport is LightNVR's POST /api/telemetry/player body.
type playerReport struct {
	StreamName         string  `json:"stream_name"`
	SessionID          string  `json:"session_id"`
	Transport          string  `json:"transport"`
	TTFFMS             float64 `json:"ttff_ms"`
	RebufferCount      int64   `json:"rebuffer_count"`
	RebufferDurationMS float64 `json:"rebuffer_duration_ms"`
	ResolutionSwitches int64   `json:"resolution_switches"`
	WebRTCRTTMS        float64 `json:"webrtc_rtt_ms"`
}

// playerTransports are the live-view players of LightNVR's UI and ours.
var playerTransports = []string{"webrtc", "mse", "hls", "mjpeg", "mp4"}

func (r *playerReport) check() error {
	switch {
	case r.StreamName == "":
		return fmt.Errorf("stream_name is required")
	case r.SessionID == "" || len(r.SessionID) > 64:
		return fmt.Errorf("session_id is required, at most 64 characters")
	case !slices.Contains(playerTransports, r.Transport):
		return fmt.Errorf("transport must be one of %v, not %q", playerTransports, r.Transport)
	case r.TTFFMS < 0 || r.RebufferCount < 0 || r.RebufferDurationMS < 0 || r.ResolutionSwitches < 0 || r.WebRTCRTTMS < 0:
		return fmt.Errorf("figures must not be negative")
	}
	return nil
}

// playerHealth is what browsers reported of playing a stream, beside
// LightNVR's keys in /api/health's streams_detail.
type playerHealth struct {
	Reports int64 `json:"reports"`
	// Sessions counts distinct players among the last telemetrySessions reports' sessions.
	Sessions           int     `json:"sessions"`
	Transport          string  `json:"transport"` // of the last report
	TTFFMS             float64 `json:"ttff_ms"`   // time to first frame, mean of the reports that had one
	RebufferCount      int64   `json:"rebuffer_count"`
	RebufferDurationMS float64 `json:"rebuffer_duration_ms"`
	ResolutionSwitches int64   `json:"resolution_switches"`
	WebRTCRTTMS        float64 `json:"webrtc_rtt_ms"` // of the last report that had one
	LastReport         int64   `json:"last_report"`   // Unix seconds
}

// playerTelemetry keeps one playerHealth per running stream: its state is
// bounded by the streams the manager runs and telemetrySessions each.
type playerTelemetry struct {
	mu      sync.Mutex
	streams map[string]*playerState
}

type playerState struct {
	playerHealth
	ttffN    int64
	sessions []string // the newest last
}

func newPlayerTelemetry() *playerTelemetry {
	return &playerTelemetry{streams: map[string]*playerState{}}
}

// add folds r in; running are the streams that may keep state.
func (p *playerTelemetry) add(r *playerReport, running map[string]bool, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name := range p.streams {
		if !running[name] {
			delete(p.streams, name)
		}
	}
	st := p.streams[r.StreamName]
	if st == nil {
		st = &playerState{}
		p.streams[r.StreamName] = st
	}
	st.Reports++
	st.Transport = r.Transport
	if r.TTFFMS > 0 {
		st.ttffN++
		st.TTFFMS += (r.TTFFMS - st.TTFFMS) / float64(st.ttffN)
	}
	st.RebufferCount += r.RebufferCount
	st.RebufferDurationMS += r.RebufferDurationMS
	st.ResolutionSwitches += r.ResolutionSwitches
	if r.WebRTCRTTMS > 0 {
		st.WebRTCRTTMS = r.WebRTCRTTMS
	}
	st.LastReport = now.Unix()
	if i := slices.Index(st.sessions, r.SessionID); i >= 0 {
		st.sessions = slices.Delete(st.sessions, i, i+1)
	}
	st.sessions = append(st.sessions, r.SessionID)
	if len(st.sessions) > telemetrySessions {
		st.sessions = slices.Delete(st.sessions, 0, len(st.sessions)-telemetrySessions)
	}
	st.Sessions = len(st.sessions)
}

// of is what players reported of stream name; nil before any report.
func (p *playerTelemetry) of(name string) *playerHealth {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[name]
	if st == nil {
		return nil
	}
	h := st.playerHealth
	return &h
}

func (h *systemHandler) handlePlayerTelemetry(ctx *fasthttp.RequestCtx) {
	if n := len(ctx.PostBody()); n > maxTelemetryBody {
		writeErrorf(ctx, fasthttp.StatusRequestEntityTooLarge, "request body is %d bytes; the limit is %d", n, maxTelemetryBody)
		return
	}
	var r playerReport
	if !readJSON(ctx, &r) {
		return
	}
	if err := r.check(); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if h.streams == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "stream manager is not running")
		return
	}
	running := map[string]bool{}
	for _, st := range h.streams.Statuses() {
		running[st.Name] = true
	}
	if !running[r.StreamName] {
		writeErrorf(ctx, fasthttp.StatusNotFound, "stream %q is not running", r.StreamName)
		return
	}
	h.players.add(&r, running, time.Now())
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// hlsHealth is LightNVR's /api/health/hls shape.
type hlsHealth struct {
	Healthy bool   `json:"healthy"`
	Status  string `json:"status"`
	// WatchdogRestartCount is go2rtc's restarts by lightnvr: go2rtc makes
	// the live streams HLS would be cut from.
	WatchdogRestartCount int    `json:"watchdogRestartCount"`
	Timestamp            string `json:"timestamp"`
	// Served is ours: whether lightnvr serves live HLS (/hls/).
	Served bool `json:"served"`
}

func (h *systemHandler) handleHLSHealth(ctx *fasthttp.RequestCtx) {
	r := hlsHealth{Status: "unavailable", Served: h.liveHLS, Timestamp: time.Now().Format("2006-01-02 15:04:05")}
	ready := false
	if h.go2rtc != nil {
		st := h.go2rtc()
		ready, r.WatchdogRestartCount = st.Ready(), st.Restarts
	}
	if r.Served && ready {
		r.Healthy, r.Status = true, "ok"
	}
	writeJSON(ctx, fasthttp.StatusOK, r)
}
