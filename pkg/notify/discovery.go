package notify

import (
	"sync"
	"time"

	"lightnvr/pkg/config"
)

// Home Assistant discovery: per stream a camera (the periodic snapshot), a
// motion binary sensor and a detection count sensor, retained so Home
// Assistant finds them whenever it starts.

type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
}

type haOrigin struct {
	Name       string `json:"name"`
	SWVersion  string `json:"sw_version,omitempty"`
	SupportURL string `json:"support_url,omitempty"`
}

type haAvailability struct {
	Topic string `json:"topic"`
}

type haEntity struct {
	Name         string           `json:"name"`
	UniqueID     string           `json:"unique_id"`
	Topic        string           `json:"topic,omitempty"`
	Encoding     *string          `json:"encoding,omitempty"`
	StateTopic   string           `json:"state_topic,omitempty"`
	PayloadOn    string           `json:"payload_on,omitempty"`
	PayloadOff   string           `json:"payload_off,omitempty"`
	DeviceClass  string           `json:"device_class,omitempty"`
	Icon         string           `json:"icon,omitempty"`
	Availability []haAvailability `json:"availability"`
	Device       haDevice         `json:"device"`
	Origin       haOrigin         `json:"origin"`
}

// discover queues stream's three discovery configs.
func (m *MQTT) discover(cfg config.MQTTConfig, stream string) {
	s := sanitize(stream)
	base := haEntity{
		Availability: []haAvailability{{Topic: availabilityTopic(cfg)}},
		Device:       haDevice{Identifiers: []string{"lightnvr_" + s}, Name: stream, Manufacturer: "LightNVR", Model: "NVR camera"},
		Origin:       haOrigin{Name: "LightNVR", SWVersion: m.opts.Version},
	}
	raw := "" // the snapshot is raw JPEG bytes
	cam := base
	cam.Name, cam.UniqueID, cam.Topic, cam.Encoding = stream, "lightnvr_"+s, cameraTopic(cfg, stream, "snapshot"), &raw
	motion := base
	motion.Name, motion.UniqueID, motion.StateTopic = stream+" Motion", "lightnvr_"+s+"_motion", cameraTopic(cfg, stream, "motion")
	motion.PayloadOn, motion.PayloadOff, motion.DeviceClass = "ON", "OFF", "motion"
	count := base
	count.Name, count.UniqueID, count.StateTopic = stream+" Detection Count", "lightnvr_"+s+"_detection_count", cameraTopic(cfg, stream, "detection_count")
	count.Icon = "mdi:motion-sensor"
	p := cfg.HADiscoveryPrefix
	m.pushJSON(cfg, p+"/camera/lightnvr/"+s+"/config", cam, true)
	m.pushJSON(cfg, p+"/binary_sensor/lightnvr/"+s+"_motion/config", motion, true)
	m.pushJSON(cfg, p+"/sensor/lightnvr/"+s+"_detection_count/config", count, true)
}

// discoverAll queues the configs of every stream known.
func (m *MQTT) discoverAll(cfg config.MQTTConfig) {
	for _, s := range m.knownStreams() {
		m.discover(cfg, s)
	}
}

// quietTracker remembers when each key was last active.
type quietTracker struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newQuietTracker() *quietTracker { return &quietTracker{last: map[string]time.Time{}} }

func (q *quietTracker) seen(key string, at time.Time) {
	q.mu.Lock()
	q.last[key] = at
	q.mu.Unlock()
}

func (q *quietTracker) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.last) == 0
}

// expired removes and returns the keys quiet for at least d at now.
func (q *quietTracker) expired(now time.Time, d time.Duration) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for k, t := range q.last {
		if now.Sub(t) >= d {
			out = append(out, k)
			delete(q.last, k)
		}
	}
	return out
}
