package streams

import "lightnvr/pkg/db"

// Mode is what a stream records, from its record and
// detection_based_recording flags, as in LightNVR:
//
//	record  detection  mode
//	off     off        off: nothing is written
//	on      off        continuous: segments, trigger_type 'scheduled'
//	off     on         detection: clips around events, trigger_type 'detection'
//	on      on         annotation: continuous segments; detections are linked
//	                   to them, no separate clip
type Mode string

// Recording modes.
const (
	ModeOff        Mode = "off"
	ModeContinuous Mode = "continuous"
	ModeDetection  Mode = "detection"
	ModeAnnotation Mode = "annotation"
)

// ModeOf returns the recording mode of s.
func ModeOf(s *db.Stream) Mode {
	switch {
	case s.Record && s.DetectionBasedRecording:
		return ModeAnnotation
	case s.Record:
		return ModeContinuous
	case s.DetectionBasedRecording:
		return ModeDetection
	}
	return ModeOff
}

// continuous reports whether the mode writes continuous segments.
func (m Mode) continuous() bool { return m == ModeContinuous || m == ModeAnnotation }

// clips reports whether the mode writes event clips from the pre-event ring.
func (m Mode) clips() bool { return m == ModeDetection }

// detects reports whether the mode runs the stream's detectors: detection
// clips need their events, annotation links them to the segments.
func (m Mode) detects() bool { return m == ModeDetection || m == ModeAnnotation }
