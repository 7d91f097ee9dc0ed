package api

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/detect"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/host"
	"lightnvr/pkg/streams"
)

// healthResponse is LightNVR's /api/health shape.
type healthResponse struct {
	Healthy        bool                 `json:"healthy"`
	Uptime         int64                `json:"uptime"`
	TotalRequests  uint64               `json:"totalRequests"`
	FailedRequests uint64               `json:"failedRequests"`
	Timestamp      string               `json:"timestamp"`
	Status         string               `json:"status"`
	Streams        healthStreamCounts   `json:"streams"`
	Storage        healthStorage        `json:"storage"`
	StreamsDetail  []healthStreamDetail `json:"streams_detail"`
}

type healthStreamCounts struct {
	Total    int `json:"total"`
	Up       int `json:"up"`
	Degraded int `json:"degraded"`
	Down     int `json:"down"`
}

type healthStorage struct {
	UsedBytes      uint64 `json:"used_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
}

type healthStreamDetail struct {
	Name              string    `json:"name"`
	Status            string    `json:"status"`
	FPS               float64   `json:"fps"`
	ConfiguredFPS     int       `json:"configured_fps"`
	BitrateBPS        int64     `json:"bitrate_bps"`
	UptimeSeconds     int64     `json:"uptime_seconds"`
	Reconnects        int64     `json:"reconnects"`
	LastFrameTS       int64     `json:"last_frame_ts"`
	FramesTotal       int64     `json:"frames_total"`
	FramesDropped     int64     `json:"frames_dropped"`
	ConnectionLatency int64     `json:"connection_latency_ms"`
	RecordingActive   bool      `json:"recording_active"`
	RecordingGaps     int64     `json:"recording_gaps"`
	State             string    `json:"state,omitempty"`
	LastError         string    `json:"last_error,omitempty"`
	SparklineFPS      []float64 `json:"sparkline_fps,omitempty"`
	SparklineBitrate  []int64   `json:"sparkline_bitrate,omitempty"`
	// Detector is the stream's external detector: ok or failing, with its
	// last error (ours, beside LightNVR's keys).
	Detector *detect.ExternalStatus `json:"detector,omitempty"`
}

// publicHealth is what /api/health tells a caller without credentials:
// liveness for monitors and start-up checks, nothing about cameras, errors
// or disks.
type publicHealth struct {
	Healthy   bool   `json:"healthy"`
	Status    string `json:"status"`
	Uptime    int64  `json:"uptime"`
	Timestamp string `json:"timestamp"`
}

func (h *systemHandler) handleHealth(ctx *fasthttp.RequestCtx) {
	resp := h.health()
	if PrincipalOf(ctx) == nil {
		writeJSON(ctx, fasthttp.StatusOK, publicHealth{Healthy: resp.Healthy, Status: resp.Status, Uptime: resp.Uptime, Timestamp: resp.Timestamp})
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, resp)
}

// health is LightNVR's full health answer, for signed-in callers.
func (h *systemHandler) health() healthResponse {
	resp := healthResponse{
		Healthy:        true, // unless unhealthy says otherwise, below
		Uptime:         int64(time.Since(h.stats.started).Seconds()),
		TotalRequests:  h.stats.total.Load(),
		FailedRequests: h.stats.failed.Load(),
		Timestamp:      time.Now().Format("2006-01-02 15:04:05"),
		Status:         "healthy",
		StreamsDetail:  []healthStreamDetail{},
	}
	if d, err := host.StatDisk(h.boot.Storage.Path); err == nil {
		resp.Storage = healthStorage{UsedBytes: d.Used, AvailableBytes: d.Free}
	}
	for _, d := range h.streamHealth() {
		resp.StreamsDetail = append(resp.StreamsDetail, d)
		resp.Streams.Total++
		switch d.Status {
		case "up":
			resp.Streams.Up++
		case "degraded":
			resp.Streams.Degraded++
		default:
			resp.Streams.Down++
		}
	}
	if resp.Streams.Down > 0 || resp.Streams.Degraded > 0 {
		resp.Status = "degraded"
	}
	if resp.Streams.Total > 0 && resp.Streams.Up == 0 {
		resp.Status = "critical"
	}
	if why := h.unhealthy(); why != "" {
		resp.Healthy, resp.Status = false, "critical"
		h.log.Debug("health check failed", "reason", why)
	}
	return resp
}

// unhealthy says why the daemon cannot do its job though it answers HTTP:
// its database does not answer, its data disk is gone or failing, or the
// go2rtc it runs failed for good. Cameras being offline is not the daemon's ill health;
// the stream counts and status tell of those. "" when healthy.
func (h *systemHandler) unhealthy() string {
	if h.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := h.db.Ping(ctx); err != nil {
			return "database: " + err.Error()
		}
	}
	if h.storage != nil {
		if st := h.storage.Status(); st.Unmounted || st.Err != "" {
			return "storage: " + st.Warning + st.Err
		}
	}
	// Only a go2rtc that lightnvr itself gave up restarting: an external one
	// that is down is its own supervisor's to restart, and a supervisor that
	// restarted lightnvr for it would not help.
	if h.go2rtc != nil {
		if st := h.go2rtc(); st.State == go2rtc.StateFailed {
			return "go2rtc failed: " + st.LastError
		}
	}
	return ""
}

// streamHealth reports each stream's ingest health; empty until a stream manager is wired.
func (h *systemHandler) streamHealth() []healthStreamDetail {
	if h.streams == nil {
		return nil
	}
	var out []healthStreamDetail
	for _, st := range h.streams.Statuses() {
		d := healthStreamDetail{
			Name: st.Name, State: string(st.State), LastError: st.Reason, Reconnects: int64(st.Reconnects),
		}
		if h.ingest != nil {
			if ps, ok := h.ingest.Stats(st.Name); ok {
				d.FPS = ps.FPS
				d.BitrateBPS = int64(ps.Bitrate)
				d.FramesTotal = int64(ps.Frames)
				d.FramesDropped = int64(ps.Drops + ps.SubscriberLoss)
				if !ps.LastFrame.IsZero() {
					d.LastFrameTS = ps.LastFrame.Unix()
				}
				d.RecordingActive = ps.RecorderState == "recording"
				d.Detector = ps.Detector
			}
		}
		switch st.State {
		case streams.StateActive:
			d.Status = "up"
			d.UptimeSeconds = int64(time.Since(st.ActiveAt).Seconds())
		case streams.StateStarting, streams.StateReconnecting:
			d.Status = "degraded"
		default:
			d.Status = "down"
		}
		out = append(out, d)
	}
	return out
}
