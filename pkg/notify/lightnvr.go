package notify

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/event"
)

// LightNVR's topics, below [mqtt] topic_prefix (P) with the stream's
// sanitised name (S); see docs/notifications.md.

// sanitize is a stream name as a single topic level: anything but letters,
// digits, '-' and '_' becomes '_', so no name adds levels or wildcards.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
}

func statusTopic(cfg config.MQTTConfig) string       { return cfg.TopicPrefix + "/status" }
func availabilityTopic(cfg config.MQTTConfig) string { return cfg.TopicPrefix + "/availability" }
func cameraTopic(cfg config.MQTTConfig, stream, leaf string) string {
	return cfg.TopicPrefix + "/cameras/" + sanitize(stream) + "/" + leaf
}

// push queues a message with [mqtt] qos; retain is the caller's.
func (m *MQTT) push(cfg config.MQTTConfig, topic string, payload []byte, retain bool) {
	m.out.push(message{topic: topic, payload: payload, qos: byte(cfg.QoS), retain: retain})
}

func (m *MQTT) pushJSON(cfg config.MQTTConfig, topic string, v any, retain bool) {
	b, err := json.Marshal(v)
	if err != nil {
		m.log.Error("mqtt payload", "topic", topic, "err", err)
		return
	}
	m.push(cfg, topic, b, retain)
}

// state messages: online when connected, offline on a clean stop (the
// broker sends the will's offline on an unclean one).
func (m *MQTT) stateMessages(cfg config.MQTTConfig, state string) []message {
	qos := byte(cfg.QoS)
	msgs := []message{{topic: statusTopic(cfg), payload: []byte(state), qos: qos, retain: true}}
	if cfg.HADiscovery {
		msgs = append(msgs, message{topic: availabilityTopic(cfg), payload: []byte(state), qos: qos, retain: true})
	}
	if cfg.FrigateCompat {
		msgs = append(msgs, message{topic: frigatePrefix + "/available", payload: []byte(state), qos: qos, retain: true})
	}
	return msgs
}

func (m *MQTT) onlineMessages(cfg config.MQTTConfig) []message { return m.stateMessages(cfg, "online") }
func (m *MQTT) offlineMessages(cfg config.MQTTConfig) []message {
	return m.stateMessages(cfg, "offline")
}

// detectionJSON is LightNVR's P/detections/S payload.
type detectionJSON struct {
	Stream        string          `json:"stream"`
	Timestamp     int64           `json:"timestamp"`
	Count         int             `json:"count"`
	SnapshotPath  string          `json:"snapshot_path,omitempty"`
	SnapshotURL   string          `json:"snapshot_url,omitempty"`
	SnapshotTopic string          `json:"snapshot_topic,omitempty"`
	Detections    []detectionItem `json:"detections"`
}

// detectionItem is a detection as LightNVR sends it: without track_id
// when the detector does not track (the outer field hides the inner one).
type detectionItem struct {
	event.Detection
	TrackID *int `json:"track_id,omitempty"`
}

// handleEvent turns one bus event into its messages; it only queues.
func (m *MQTT) handleEvent(e event.Event) {
	cfg := m.config()
	if !cfg.Enabled {
		return
	}
	m.publishDetection(cfg, e)
	if cfg.HADiscovery {
		m.publishHACounts(cfg, e)
	}
	if cfg.FrigateCompat {
		m.frig.detected(e, time.Now(), func(topic string, v any) { m.pushFrigate(cfg, topic, v) })
	}
	if cfg.HADiscovery || cfg.FrigateCompat {
		select {
		case m.opened <- struct{}{}:
		default: // the sweep has been told already
		}
	}
}

func (m *MQTT) publishDetection(cfg config.MQTTConfig, e event.Event) {
	s := sanitize(e.Stream)
	topic := cfg.TopicPrefix + "/detections/" + s
	body := detectionJSON{Stream: e.Stream, Timestamp: e.Time.Unix(), Count: len(e.Detections), Detections: []detectionItem{}}
	for _, d := range e.Detections {
		it := detectionItem{Detection: d}
		if d.TrackID >= 0 {
			it.TrackID = &d.TrackID
		}
		body.Detections = append(body.Detections, it)
	}
	// Best effort, as LightNVR: the picture goes first, and the JSON names
	// it only when it could be read.
	if e.Snapshot != "" {
		if jpeg, err := os.ReadFile(e.Snapshot); err == nil {
			m.push(cfg, topic+"/snapshot", jpeg, cfg.Retain)
			body.SnapshotPath = e.Snapshot
			body.SnapshotURL = "/api/snapshots/" + s + "/" + filepath.Base(e.Snapshot)
			body.SnapshotTopic = topic + "/snapshot"
		}
	}
	m.pushJSON(cfg, topic, body, cfg.Retain)
}

// publishHACounts sets motion ON (the sweep turns it OFF after the quiet
// time) and the detection counts, total and per label.
func (m *MQTT) publishHACounts(cfg config.MQTTConfig, e event.Event) {
	m.quiet.seen(e.Stream, time.Now())
	m.push(cfg, cameraTopic(cfg, e.Stream, "motion"), []byte("ON"), cfg.Retain)
	m.push(cfg, cameraTopic(cfg, e.Stream, "detection_count"), []byte(strconv.Itoa(len(e.Detections))), cfg.Retain)
	for _, l := range labelCounts(e.Detections) {
		m.push(cfg, cameraTopic(cfg, e.Stream, sanitize(l.label)), []byte(strconv.Itoa(l.n)), cfg.Retain)
	}
}

type labelCount struct {
	label string
	n     int
}

// labelCounts counts the detections per label, in label order.
func labelCounts(ds []event.Detection) []labelCount {
	var out []labelCount
	for _, d := range ds {
		i := slices.IndexFunc(out, func(l labelCount) bool { return l.label == d.Label })
		if i < 0 {
			out = append(out, labelCount{label: d.Label})
			i = len(out) - 1
		}
		out[i].n++
	}
	slices.SortFunc(out, func(a, b labelCount) int { return strings.Compare(a.label, b.label) })
	return out
}

// sweep ends what has been quiet for opts.Quiet: HA motion OFF, Frigate's
// end events. It sleeps while nothing is open, so an NVR without
// detections does not wake for it; handleEvent tells it when something opens.
func (m *MQTT) sweep(ctx context.Context) {
	every := min(max(m.opts.Quiet/10, 50*time.Millisecond), time.Second)
	tick := time.NewTimer(every)
	defer tick.Stop()
	for {
		if m.quiet.empty() && m.frig.empty() {
			tick.Stop()
			select {
			case <-ctx.Done():
				return
			case <-m.opened:
			}
			tick.Reset(every)
		}
		select {
		case <-ctx.Done():
			return
		case <-m.opened:
			continue // already sweeping
		case now := <-tick.C:
			tick.Reset(every)
			cfg := m.config()
			for _, s := range m.quiet.expired(now, m.opts.Quiet) {
				if cfg.Enabled && cfg.HADiscovery {
					m.push(cfg, cameraTopic(cfg, s, "motion"), []byte("OFF"), cfg.Retain)
				}
			}
			if cfg.Enabled && cfg.FrigateCompat {
				m.frig.expire(now, m.opts.Quiet, func(topic string, v any) { m.pushFrigate(cfg, topic, v) })
			}
		}
	}
}

// Pressure is a change of the disk pressure level.
type Pressure struct {
	Previous string  `json:"previous"`
	Current  string  `json:"current"`
	FreePct  float64 `json:"free_pct"`
	FreeMB   uint64  `json:"free_mb"`
	TotalMB  uint64  `json:"total_mb"`
}

// Pressure publishes a pressure level change (retained); it never blocks.
func (m *MQTT) Pressure(p Pressure) {
	cfg := m.config()
	if cfg.Enabled {
		m.pushJSON(cfg, cfg.TopicPrefix+"/storage/pressure", p, true)
	}
}

// StreamsChanged publishes each stream's online and recording state when it
// changes (retained), and announces new streams to Home Assistant. Once
// publishing is enabled, every stream comes as new, so the broker learns
// the state as it is. It is a StreamSink.
func (m *MQTT) StreamsChanged(names []string, changes []StreamChange) {
	if cfg := m.config(); cfg.Enabled {
		for _, c := range changes {
			m.publishStreamState(cfg, c.Current, c.First)
		}
	}
	m.mu.Lock()
	m.known = names
	m.mu.Unlock()
}

func (m *MQTT) publishStreamState(cfg config.MQTTConfig, st StreamState, first bool) {
	if first && cfg.HADiscovery {
		m.discover(cfg, st.Name)
	}
	m.push(cfg, cameraTopic(cfg, st.Name, "status"), []byte(onOff(st.Online, "online", "offline")), true)
	m.push(cfg, cameraTopic(cfg, st.Name, "recording"), []byte(onOff(st.Recording, "ON", "OFF")), true)
}

func onOff(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}

func (m *MQTT) knownStreams() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.known)
}

// snapshots publishes each stream's picture every ha_snapshot_interval
// (Home Assistant mode), on its own goroutine: a slow go2rtc delays only them.
func (m *MQTT) snapshots(ctx context.Context) {
	if m.opts.Frame == nil {
		return
	}
	for {
		cfg := m.config()
		every := time.Duration(cfg.HASnapshotInterval) * time.Second
		if every <= 0 {
			every = time.Minute // off: look again for a changed setting
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if cfg.Enabled && cfg.HADiscovery && cfg.HASnapshotInterval > 0 {
			m.publishSnapshots(ctx, cfg)
		}
	}
}

func (m *MQTT) publishSnapshots(ctx context.Context, cfg config.MQTTConfig) {
	for _, s := range m.knownStreams() {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		jpeg, err := m.opts.Frame(fctx, s)
		cancel()
		if err != nil {
			m.log.Debug("no snapshot for mqtt", "stream", s, "err", err)
			continue
		}
		m.push(cfg, cameraTopic(cfg, s, "snapshot"), jpeg, cfg.Retain)
	}
}
