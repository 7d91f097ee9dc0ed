package streams

import (
	"context"
	"errors"
	"time"

	"lightnvr/pkg/media"
	"lightnvr/pkg/record"
)

// defaultManualMax bounds a manual recording nobody stops (a closed tab
// must not record until the disk is full).
const defaultManualMax = time.Hour

// Manual recording errors, for the API to map to 409.
var (
	ErrNotRecordingStream  = errors.New("stream is not running")
	ErrRecordsContinuously = errors.New("stream records continuously: a manual recording would add nothing")
)

// Recording states of a stream, as LightNVR's live page shows them.
const (
	RecIdle      = "idle"
	RecStarting  = "starting"  // a manual recording waits for its first keyframe
	RecRecording = "recording" // a file is being written
)

// RecordingState is what a stream is writing now.
type RecordingState struct {
	State string
	// CaptureMethod is the open file's: "continuous", "detection" or
	// "manual"; "" while idle.
	CaptureMethod string
	RecordingID   int64 // the open file's row, 0 while none is on disk
	// Continuous is true when the stream records continuously: manual
	// control has no use there.
	Continuous bool
}

// manualClip is a manual recording: an event clip whose end is the start
// plus the maximum duration, cut short by a stop. It is written straight
// from the hub (no pre-event buffer: the user asks from now on).
type manualClip struct {
	clip
	wake chan struct{}
}

// stop closes the clip now; the writer notices at once.
func (m *manualClip) stop() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	poke(m.wake)
}

func (r *Recording) pipeline(name string) *recordingPipeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[name]
}

// StartManual starts a manual recording (trigger_type 'manual') of stream
// name, or moves the end of the running one to the maximum duration from
// now. It fails with ErrNotRecordingStream when the stream does not run
// and ErrRecordsContinuously when it records continuously.
func (r *Recording) StartManual(name string) error {
	p := r.pipeline(name)
	if p == nil {
		return ErrNotRecordingStream
	}
	return p.startManual()
}

// StopManual ends stream name's manual recording, if one runs.
func (r *Recording) StopManual(name string) {
	if p := r.pipeline(name); p != nil {
		p.mu.Lock()
		m := p.manual
		p.mu.Unlock()
		if m != nil {
			m.stop()
		}
	}
}

// RecordingState reports what stream name writes now.
func (r *Recording) RecordingState(name string) RecordingState {
	p := r.pipeline(name)
	if p == nil {
		return RecordingState{State: RecIdle}
	}
	p.mu.Lock()
	rec, clips, m, mode := p.rec, p.clips, p.manual, p.mode
	p.mu.Unlock()
	st := RecordingState{State: RecIdle, Continuous: mode.continuous()}
	switch {
	case m != nil && m.extend(time.Time{}):
		st.State, st.CaptureMethod, st.RecordingID = RecStarting, record.TriggerManual, m.rec.Status().RecordingID
	case rec != nil:
		st.CaptureMethod, st.RecordingID = "continuous", rec.Status().RecordingID
	case clips != nil:
		st.CaptureMethod, st.RecordingID = record.TriggerDetection, clips.recordingID()
	}
	if st.RecordingID != 0 {
		st.State = RecRecording
	} else if st.State == RecIdle {
		st.CaptureMethod = ""
	}
	return st
}

func (p *recordingPipeline) startManual() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.stopped || p.ctx == nil:
		return ErrNotRecordingStream
	case p.mode.continuous():
		return ErrRecordsContinuously
	}
	limit := p.owner.opts.ManualMax
	if limit <= 0 {
		limit = defaultManualMax
	}
	end := time.Now().Add(limit)
	if p.manual != nil && p.manual.extend(end) {
		return nil
	}
	log := p.owner.log.With("stream", p.name)
	rec, err := p.newRecorder(p.cfg, record.TriggerManual, false, log)
	if err != nil {
		return err
	}
	m := &manualClip{clip: clip{rec: rec, end: end}, wake: make(chan struct{}, 1)}
	p.manual = m
	// Subscribed and spawned under p.mu: Stop sets stopped under it first,
	// so no goroutine starts after Stop began waiting.
	sub := p.hub.Subscribe("manual", 512)
	ctx := p.ctx
	p.run.spawn(func() { p.writeManual(ctx, m, sub) })
	log.Info("manual recording started", "max", limit)
	return nil
}

// writeManual copies the hub's units into the manual clip until it is
// stopped, reaches its end, or ctx ends.
func (p *recordingPipeline) writeManual(ctx context.Context, m *manualClip, sub *media.Subscription) {
	log := p.owner.log.With("stream", p.name)
	defer func() {
		sub.Unsubscribe()
		if err := m.rec.Close(); err != nil {
			log.Error("manual recording", "err", err)
		}
		p.mu.Lock()
		if p.manual == m {
			p.manual = nil
		}
		p.mu.Unlock()
		log.Info("manual recording stopped")
	}()
	// The end is checked on a timer too: a silent camera must not hold it open.
	timer := time.NewTimer(time.Until(m.until()))
	defer timer.Stop()
	for {
		select {
		case u, ok := <-sub.C():
			if !ok {
				return
			}
			if !m.admit(u.Wall) {
				u.Release()
				return
			}
			m.rec.Write(u)
			continue
		case <-timer.C:
			timer.Reset(time.Until(m.until()) + time.Second)
		case <-m.wake:
		case <-ctx.Done():
			return
		}
		if !m.admit(time.Now()) {
			return
		}
	}
}
