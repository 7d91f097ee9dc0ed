// Package streams is the stream manager: the database says which streams
// should run, the manager registers them in go2rtc, starts them one at a time
// and keeps a state machine per stream:
//
//	inactive → starting → active ⇄ reconnecting
//	              ↘ reconnecting      any → error (go2rtc gone, bad source)
//	any → stopping → (removed)
//
// The recording work plugs in through Pipeline: a factory set on the manager
// builds one pipeline (ingest + recorder) per stream. Without a factory the
// manager registers streams and tracks their state with a keyframe probe.
package streams

import (
	"context"
	"time"

	"lightnvr/pkg/db"
)

// State of one stream.
type State string

// Stream states.
const (
	StateInactive     State = "inactive"
	StateStarting     State = "starting"
	StateActive       State = "active"
	StateReconnecting State = "reconnecting"
	StateError        State = "error"
	StateStopping     State = "stopping"
)

// LightNVRStatus maps a state to the status string of LightNVR's API.
func (s State) LightNVRStatus() string {
	switch s {
	case StateInactive:
		return "Stopped"
	case StateStarting:
		return "Starting"
	case StateActive:
		return "Running"
	case StateReconnecting:
		return "Reconnecting"
	case StateError:
		return "Error"
	case StateStopping:
		return "Stopping"
	}
	return "Unknown"
}

// Status is a snapshot of one stream.
type Status struct {
	Name     string
	Priority int
	State    State
	// Reason explains the state: why the last start failed, or what the stream waits for.
	Reason string
	Since  time.Time
	// QueuedAt, StartedAt and ActiveAt are the times of the last staggered-start
	// queueing, the start the manager launched, and reaching active.
	QueuedAt   time.Time
	StartedAt  time.Time
	ActiveAt   time.Time
	Reconnects int
	Codec      string
}

// StreamConfig is what a pipeline is started with.
type StreamConfig struct {
	Stream db.Stream
	// RTSPURL is go2rtc's loopback restream of the stream: pipelines read it,
	// never the camera, so one camera connection serves everything.
	RTSPURL string
}

// Pipeline is a stream's ingest and recording, supplied by the recording work.
type Pipeline interface {
	// Start connects and returns once media flows (first keyframe), or with
	// the reason it could not; ctx bounds the attempt and the pipeline's life.
	Start(ctx context.Context, cfg StreamConfig) error
	// Stop ends the pipeline, flushing what it wrote, within ctx.
	Stop(ctx context.Context) error
	// Health reports whether media still flows; err says why not.
	Health() (ok bool, err error)
}

// PipelineFactory builds a stream's pipeline; one is built per start attempt.
type PipelineFactory func(name string) Pipeline
