// Package streams is the stream manager: the database says which streams
// should run, the manager registers them in go2rtc, starts them one at a time
// and keeps a state machine per stream:
//
//	inactive → starting → active ⇄ reconnecting
//	              ↘ reconnecting      any → error (go2rtc gone, bad source)
//	any → stopping → (removed)
//
// The recording work plugs in through Pipeline: a factory set on the manager
// builds one pipeline (ingest + recorder) per stream. Without a factory each
// stream gets a pipeline that only probes it for a keyframe now and then.
// Either way the pipeline owns reconnecting; the manager restarts one only
// when the stream's settings change or it is registered in go2rtc again.
package streams

import (
	"context"
	"fmt"
	"sync"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
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

	// ConnectLatency is how long the last start took from launch to the
	// first frame (LightNVR's connection_latency_ms); 0 before one.
	ConnectLatency time.Duration
	// Errors counts the ingest's failures by type since lightnvr started.
	Errors ErrorCounts
}

// StreamConfig is what a pipeline is started with.
type StreamConfig struct {
	Stream db.Stream
	// RTSPURL is go2rtc's loopback restream of the stream: pipelines read it,
	// never the camera, so one camera connection serves everything.
	RTSPURL string
	// Report is told every change of the pipeline's ingest; it must not block.
	Report func(Ingest)
}

// Ingest is a pipeline's report of its source: the manager derives the
// stream's state from it and never restarts a pipeline for it.
type Ingest struct {
	State media.SourceState
	Err   error  // why the source left playing, or why an attempt failed
	Codec string // of the video track ("H264", "H265"), "" when unknown
}

// Pipeline is a stream's ingest (and recording). It owns reconnecting its
// source: once started it runs until stopped, whatever the camera does.
type Pipeline interface {
	// Start launches the pipeline on ctx and returns; an error means nothing runs.
	Start(ctx context.Context, cfg StreamConfig) error
	// Stop ends the pipeline, flushing what it wrote, within ctx.
	Stop(ctx context.Context) error
	// Wake makes a source waiting between attempts try again now: go2rtc is back.
	Wake()
}

// PipelineFactory builds a stream's pipeline; one is built per start of the
// stream (at boot and after each change of its settings).
type PipelineFactory func(name string) Pipeline

// waitGroup waits for wg until ctx ends; what names the work in the error.
func waitGroup(ctx context.Context, wg *sync.WaitGroup, what string) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", what, ctx.Err())
	}
}

// runner owns a pipeline's goroutines: they run on its context until stop.
type runner struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// launch derives the goroutines' context from ctx; false when it ran already.
func (r *runner) launch(ctx context.Context) (context.Context, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return nil, false
	}
	ctx, r.cancel = context.WithCancel(ctx)
	return ctx, true
}

func (r *runner) spawn(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// stop cancels the goroutines and waits for them until ctx ends; launched
// is false when there was nothing to stop.
func (r *runner) stop(ctx context.Context, what string) (launched bool, err error) {
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	if cancel == nil {
		return false, nil
	}
	cancel()
	return true, waitGroup(ctx, &r.wg, what)
}

// poke wakes ch's reader unless a wake is pending already.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
