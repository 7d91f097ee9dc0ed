// Package event carries what the detectors see to whoever acts on it: the
// recorder's event clips, the detections table, notifications and the live
// event feed of the web UI.
//
// Producers (motion, the external detector, ONVIF, the API's motion trigger)
// publish on one Bus; every consumer subscribes. Publishing never blocks: a
// consumer that falls behind loses events and the loss is counted, so a slow
// disk or a stuck browser cannot stall detection or recording.
package event

import (
	"sync"
	"sync/atomic"
	"time"
)

// Source says which detector produced an event.
type Source string

const (
	SourceMotion   Source = "motion"   // compressed-domain or snapshot motion
	SourceDetector Source = "detector" // the external HTTP detector
	SourceONVIF    Source = "onvif"    // the camera's own analytics
	SourceAPI      Source = "api"      // POST /api/motion/trigger
)

// Detection is one thing seen in a frame. The box is in fractions of the
// frame (0..1) from its top-left corner, as LightNVR stores it.
type Detection struct {
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
	X          float64 `json:"x"`
	Y          float64 `json:"y"`
	Width      float64 `json:"width"`
	Height     float64 `json:"height"`
	// TrackID is the detector's track, -1 when it has none.
	TrackID int `json:"track_id"`
	// ZoneID is the zone whose polygon holds the box's centre, "" for none.
	ZoneID string `json:"zone_id,omitempty"`
}

// Event is what one detector saw on one stream at one time.
type Event struct {
	Stream     string      `json:"stream"`
	Time       time.Time   `json:"time"`
	Source     Source      `json:"source"`
	Detections []Detection `json:"detections"`
	// Snapshot is the path of the frame the detections were made on, ""
	// when none was kept.
	Snapshot string `json:"snapshot,omitempty"`
}

// Bus hands every published event to every subscriber.
type Bus struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// NewBus returns a bus without subscribers.
func NewBus() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// Publish hands e to every subscriber that has room for it, and counts a
// loss on every other. It never blocks.
func (b *Bus) Publish(e Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// Subscribe returns a subscription that buffers up to buf events (at least 1).
// Close it when done.
func (b *Bus) Subscribe(buf int) *Subscription {
	s := &Subscription{bus: b, ch: make(chan Event, max(buf, 1))}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Subscription receives the bus's events.
type Subscription struct {
	bus     *Bus
	ch      chan Event
	dropped atomic.Uint64
	once    sync.Once
}

// C delivers the events; it is closed by Close.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped is how many events did not fit the buffer.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops delivery and closes C. It may be called more than once.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		close(s.ch)
	})
}
