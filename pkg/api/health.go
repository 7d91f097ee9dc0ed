package api

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/db"
	"lightnvr/pkg/detect"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/host"
	"lightnvr/pkg/notify"
	"lightnvr/pkg/storage"
	"lightnvr/pkg/streams"
)

const (
	// streamFailGrace is how long an enabled stream may go without video
	// (starting, reconnecting or in error) before the daemon reports itself
	// unhealthy: a camera rebooting is not an outage, one gone for minutes is.
	streamFailGrace = 2 * time.Minute
	// go2rtcDownGrace is how long go2rtc may be starting or restarting
	// before the daemon reports itself unhealthy.
	go2rtcDownGrace = 30 * time.Second
	// recordingGapSeconds is the hole between two continuous recordings of
	// a stream that counts as a gap; segments follow each other within a
	// second.
	recordingGapSeconds = 2
	// historyLen and historyStep size each stream's sparkline history: ten
	// minutes, a sample every ten seconds (1 KiB a stream).
	historyLen  = 60
	historyStep = 10 * time.Second
)

// healthResponse is LightNVR's /api/health shape.
type healthResponse struct {
	Healthy        bool   `json:"healthy"`
	Uptime         int64  `json:"uptime"`
	TotalRequests  uint64 `json:"totalRequests"`
	FailedRequests uint64 `json:"failedRequests"`
	Timestamp      string `json:"timestamp"`
	Status         string `json:"status"`
	// Reason says why healthy is false (ours; signed-in callers only).
	Reason        string               `json:"reason,omitempty"`
	Streams       healthStreamCounts   `json:"streams"`
	Storage       healthStorage        `json:"storage"`
	StreamsDetail []healthStreamDetail `json:"streams_detail"`
	// MQTT is the broker connection and the outbox (ours).
	MQTT *notify.MQTTStatus `json:"mqtt,omitempty"`
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
	// Player is what browsers reported of playing the stream
	// (POST /api/telemetry/player), ours beside LightNVR's keys.
	Player *playerHealth `json:"player,omitempty"`

	// For /api/metrics and the health verdict, not sent.
	since    time.Time
	segments int64
	bytes    int64
	errors   streams.ErrorCounts
}

// publicHealth is what /api/health tells a caller without credentials:
// liveness for monitors and start-up checks, nothing about cameras, errors
// or disks.
type publicHealth struct {
	Healthy   bool   `json:"healthy"`
	Status    string `json:"status"`
	Uptime    int64  `json:"uptime"`
	Timestamp string `json:"timestamp"`
	// MQTT is the broker state and outbox only: the error and the broker's
	// address are for signed-in callers.
	MQTT *publicMQTT `json:"mqtt,omitempty"`
}

type publicMQTT struct {
	State   string `json:"state"`
	Outbox  int    `json:"outbox"`
	Dropped uint64 `json:"dropped"`
}

func (h *systemHandler) handleHealth(ctx *fasthttp.RequestCtx) {
	sparklines, err := queryBool(ctx, "sparklines")
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	signedIn := PrincipalOf(ctx) != nil
	resp := h.health(requestContext(ctx), signedIn, sparklines)
	if !signedIn {
		pub := publicHealth{Healthy: resp.Healthy, Status: resp.Status, Uptime: resp.Uptime, Timestamp: resp.Timestamp}
		if m := resp.MQTT; m != nil {
			pub.MQTT = &publicMQTT{State: m.State, Outbox: m.Outbox, Dropped: m.Dropped}
		}
		writeJSON(ctx, fasthttp.StatusOK, pub)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, resp)
}

// queryBool reads a LightNVR flag of the query: absent, 0/1 or false/true.
func queryBool(ctx *fasthttp.RequestCtx, key string) (bool, error) {
	switch v := string(ctx.QueryArgs().Peek(key)); v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s must be 1 or 0, not %q", key, v)
	}
}

// health is LightNVR's health answer; full adds the figures that cost
// database reads (configured fps, recording gaps), which only signed-in
// callers see.
func (h *systemHandler) health(ctx context.Context, full, sparklines bool) healthResponse {
	resp := healthResponse{
		Healthy:        true, // unless unhealthy says otherwise, below
		Uptime:         int64(time.Since(h.stats.started).Seconds()),
		TotalRequests:  h.stats.total.Load(),
		FailedRequests: h.stats.failed.Load(),
		Timestamp:      time.Now().Format("2006-01-02 15:04:05"),
		Status:         "healthy",
		StreamsDetail:  []healthStreamDetail{},
	}
	if h.mqtt != nil {
		st := h.mqtt.Status()
		resp.MQTT = &st
	}
	if d, err := host.StatDisk(h.boot.Storage.Path); err == nil {
		resp.Storage = healthStorage{UsedBytes: d.Used, AvailableBytes: d.Free}
	}
	detail := h.streamHealth()
	if full {
		h.addRecordingFigures(ctx, detail)
	}
	for _, d := range detail {
		if sparklines {
			d.SparklineFPS, d.SparklineBitrate = h.history.series(d.Name)
		}
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
	why := h.unhealthy(ctx, resp.StreamsDetail)
	if why != "" {
		resp.Healthy, resp.Status, resp.Reason = false, "critical", why
	}
	h.verdict.note(h.log, why)
	return resp
}

// Unhealthy is /api/health's verdict: why the daemon cannot do its job, ""
// when it can. An update on trial is confirmed on it.
func (s *Server) Unhealthy(ctx context.Context) string {
	return s.system.unhealthy(ctx, s.system.streamHealth())
}

// Broken is the part of /api/health's verdict a reset can mend: the
// database cannot be written, or go2rtc stays down or failed. An unplugged
// camera or a full or missing data disk make the daemon unhealthy too, but a
// reboot mends neither, and the board would reset every few minutes for as
// long as they last; so the hardware watchdog is fed on this, not on the
// whole verdict. "" when nothing is broken.
func (s *Server) Broken(ctx context.Context) string { return s.system.broken(ctx) }

func (h *systemHandler) broken(ctx context.Context) string {
	if err := h.dbCheck.writable(ctx, h.db); err != nil {
		return "database: " + err.Error()
	}
	if h.go2rtc != nil {
		return go2rtcUnhealthy(h.go2rtc())
	}
	return ""
}

// unhealthy says why the daemon cannot do its job though it answers HTTP:
// its database cannot be written, its data disk is gone, failing or in
// emergency, go2rtc is down for longer than a restart takes, or a stream
// has delivered no video for longer than streamFailGrace. "" when healthy.
func (h *systemHandler) unhealthy(ctx context.Context, detail []healthStreamDetail) string {
	if why := h.broken(ctx); why != "" {
		return why
	}
	if h.storage != nil {
		st := h.storage.Status()
		if st.Unmounted || st.Err != "" {
			return "storage: " + st.Warning + st.Err
		}
		if st.Level == storage.LevelEmergency {
			return fmt.Sprintf("storage: %.1f%% free, in emergency", st.FreePct)
		}
	}
	for _, d := range detail {
		if d.Status != "up" && !d.since.IsZero() && time.Since(d.since) > h.streamGrace {
			return fmt.Sprintf("stream %s has delivered no video for %s: %s", d.Name, time.Since(d.since).Round(time.Second), d.LastError)
		}
	}
	return ""
}

// verdictLog logs each change of the health verdict once: why it turned
// unhealthy, and when it is healthy again.
type verdictLog struct {
	mu   sync.Mutex
	last string
}

func (v *verdictLog) note(log *slog.Logger, why string) {
	v.mu.Lock()
	was := v.last
	v.last = why
	v.mu.Unlock()
	switch {
	case why == was:
	case why != "":
		log.Warn("health: unhealthy", "reason", why)
	default:
		log.Info("health: healthy again", "was", was)
	}
}

// go2rtcUnhealthy says why go2rtc makes the daemon unhealthy: it failed for
// good, or it has not answered for longer than go2rtcDownGrace. "" when not.
func go2rtcUnhealthy(st go2rtc.Status) string {
	switch {
	case st.State == go2rtc.StateFailed:
		return "go2rtc failed: " + st.LastError
	case st.Ready(), st.State == go2rtc.StateStopped, st.Since.IsZero():
		// Stopped is before the first start or after the last stop.
		return ""
	case time.Since(st.Since) > go2rtcDownGrace:
		return fmt.Sprintf("go2rtc %s for %s: %s", st.State, time.Since(st.Since).Round(time.Second), st.LastError)
	}
	return ""
}

// streamHealth reports each stream's ingest health; empty until a stream
// manager is wired.
func (h *systemHandler) streamHealth() []healthStreamDetail {
	if h.streams == nil {
		return nil
	}
	var out []healthStreamDetail
	for _, st := range h.streams.Statuses() {
		d := healthStreamDetail{
			Name: st.Name, State: string(st.State), LastError: st.Reason, Reconnects: int64(st.Reconnects),
			ConnectionLatency: st.ConnectLatency.Milliseconds(), since: st.Since, errors: st.Errors,
		}
		h.addIngest(&d)
		d.Player = h.players.of(st.Name)
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

// addRecordingFigures fills in what the database knows of each stream:
// its configured fps and what it recorded since lightnvr started.
func (h *systemHandler) addRecordingFigures(ctx context.Context, detail []healthStreamDetail) {
	if h.db == nil || len(detail) == 0 {
		return
	}
	configured := map[string]int{}
	if rows, err := db.ListStreams(ctx, h.db); err == nil {
		for _, r := range rows {
			configured[r.Name] = r.FPS
		}
	} else {
		h.log.Warn("health: list streams", "err", err)
	}
	activity, err := db.RecordingActivitySince(ctx, h.db, h.stats.started.Unix(), recordingGapSeconds)
	if err != nil {
		h.log.Warn("health: recording activity", "err", err)
	}
	for i := range detail {
		d, a := &detail[i], activity[detail[i].Name]
		d.ConfiguredFPS, d.RecordingGaps, d.segments, d.bytes = configured[d.Name], a.Gaps, a.Segments, a.Bytes
	}
}

// dbWritable runs the database write check for one caller at a time:
// health is public and polled, and each probe takes the write lock, so
// callers that arrive during a check share its verdict.
//
// A transaction committed since the previous check began proves the database
// takes writes, and the check then writes nothing: on a recording board the
// recorder commits every second, so the probe would only compete with it for
// the write lock, and, with every warm connection in use, open one, which
// parses the whole schema. On an emulated board under load that open took 11
// to 19 s, well into the watchdog's 30. The first check always probes.
//
// A check that only timed out waiting for the write lock means the database
// is busy, not broken: at start-up, or on a loaded board, one writer can
// hold it for seconds. That counts against health only once the database
// has been busy, with no transaction committed, for longer than the grace;
// an error from SQLite itself (a read-only or failing disk, a closed
// database) counts at once.
type dbWritable struct {
	// wait is how long one check waits for the write lock (2 s), grace how
	// long the database may stay busy before it is unhealthy
	// (dbBusyGrace).
	wait, grace time.Duration

	mu        sync.Mutex
	running   chan struct{} // closed when the check in flight ends
	checked   time.Time     // when the latest check began (the one in flight, if any): a commit after it is proof enough
	err       error
	busySince time.Time // first of the checks that have timed out since the last success
}

// dbBusyGrace is how long the database may stay too busy to take a write
// before the daemon reports itself unhealthy.
const dbBusyGrace = 30 * time.Second

// writable checks d (nil: nothing to check).
func (c *dbWritable) writable(ctx context.Context, d *db.DB) error {
	if d == nil {
		return nil
	}
	wait, grace := cmp.Or(c.wait, 2*time.Second), cmp.Or(c.grace, dbBusyGrace)
	c.mu.Lock()
	if ch := c.running; ch != nil {
		began := c.checked
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			// The check in flight outlasts this caller (the watchdog's
			// tick): busy, as a check of its own would be, until it has
			// been stuck for the grace, far past its own wait.
			if stuck := time.Since(began); stuck >= grace {
				return fmt.Errorf("a write check has not returned for %s", stuck.Round(time.Second))
			}
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.err
	}
	now := time.Now()
	if !c.checked.IsZero() && d.LastCommit().After(c.checked) {
		c.checked, c.busySince, c.err = now, time.Time{}, nil
		c.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	c.running, c.checked = ch, now
	c.mu.Unlock()
	checkCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := d.CheckWritable(checkCtx)
	// Out of time, its own or its caller's, the check proves nothing either
	// way: on a board whose disk is saturated, opening a connection alone
	// can outlast the caller (the watchdog's tick), and that verdict is
	// also the one concurrent callers share.
	busy := err != nil && checkCtx.Err() != nil
	now = time.Now()
	c.mu.Lock()
	switch {
	case err == nil:
		c.busySince = time.Time{}
	case busy:
		// A commit since the busy spell began means the database makes
		// progress, only too slowly for this check (a board whose CPU is
		// saturated): the spell starts again, so only a database that has
		// committed nothing for the whole grace is unhealthy. Restarting
		// the daemon, or the board through the watchdog, would not make
		// an overloaded board faster.
		if c.busySince.IsZero() || d.LastCommit().After(c.busySince) {
			c.busySince = now
		}
		if spell := now.Sub(c.busySince); spell < grace {
			err = nil
		} else {
			err = fmt.Errorf("busy for %s: %w", spell.Round(time.Second), err)
		}
	}
	c.err, c.running = err, nil
	c.mu.Unlock()
	close(ch)
	return err
}

// addIngest fills in what the stream's running pipeline measures.
func (h *systemHandler) addIngest(d *healthStreamDetail) {
	if h.ingest == nil {
		return
	}
	ps, ok := h.ingest.Stats(d.Name)
	if !ok {
		return
	}
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

// streamHistory keeps each stream's recent fps and bitrate, a fixed ring
// of historyLen samples a stream, for ?sparklines=1.
type streamHistory struct {
	mu    sync.Mutex
	rings map[string]*historyRing
}

type historyRing struct {
	fps     [historyLen]float64
	bitrate [historyLen]int64
	n, next int
}

func newStreamHistory() *streamHistory {
	return &streamHistory{rings: map[string]*historyRing{}}
}

// record adds one sample of every stream in now; streams not in it are
// gone and their history with them.
func (s *streamHistory) record(now []healthStreamDetail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(now))
	for _, d := range now {
		seen[d.Name] = true
		r := s.rings[d.Name]
		if r == nil {
			r = &historyRing{}
			s.rings[d.Name] = r
		}
		r.fps[r.next], r.bitrate[r.next] = d.FPS, d.BitrateBPS
		r.next = (r.next + 1) % historyLen
		r.n = min(r.n+1, historyLen)
	}
	for name := range s.rings {
		if !seen[name] {
			delete(s.rings, name)
		}
	}
}

// series is a stream's history, oldest first; nil before its first sample.
func (s *streamHistory) series(name string) ([]float64, []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rings[name]
	if r == nil || r.n == 0 {
		return nil, nil
	}
	fps, bitrate := make([]float64, 0, r.n), make([]int64, 0, r.n)
	for i := range r.n {
		j := (r.next - r.n + i + historyLen) % historyLen
		fps, bitrate = append(fps, r.fps[j]), append(bitrate, r.bitrate[j])
	}
	return fps, bitrate
}

// sampleHistory adds the streams' current fps and bitrate to the history.
func (h *systemHandler) sampleHistory() {
	if h.streams == nil {
		return
	}
	var now []healthStreamDetail
	for _, st := range h.streams.Statuses() {
		d := healthStreamDetail{Name: st.Name}
		h.addIngest(&d)
		now = append(now, d)
	}
	h.history.record(now)
}

// runHistory samples every historyStep until stop closes.
func (h *systemHandler) runHistory(stop <-chan struct{}) {
	t := time.NewTicker(historyStep)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			h.sampleHistory()
		}
	}
}
