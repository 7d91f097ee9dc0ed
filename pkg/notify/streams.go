package notify

import (
	"context"
	"time"
)

// StreamState is what the daemon reports of one stream.
type StreamState struct {
	Name      string
	Online    bool
	Recording bool
}

// StreamChange is one stream whose state a poll found changed.
type StreamChange struct {
	Previous, Current StreamState
	// First: the stream was not seen before (Previous is zero).
	First bool
}

// StreamSink is a notifier of the streams' state.
type StreamSink interface {
	// WantsStreams says whether the sink has anyone to tell now.
	WantsStreams() bool
	// StreamsChanged takes each poll's stream names and the changes it
	// found. It runs on the watch's goroutine and must not wait on the
	// network.
	StreamsChanged(names []string, changes []StreamChange)
}

// WatchStreams reads streams every poll until ctx ends and hands each
// poll's result to every sink that wants it, so all notifiers tell the
// same changes from one reading. While no sink wants the streams (the
// default: MQTT and the stream webhook off) it does not poll, so an
// appliance that notifies nobody is not woken for it; it sleeps until
// wake says a sink's wish may have changed. A sink that starts wanting
// hears every stream as new (First), as at start, so it can tell the
// state as it is, not only what changes after.
func WatchStreams(ctx context.Context, poll time.Duration, wake <-chan struct{}, streams func() []StreamState, sinks ...StreamSink) {
	var last map[string]StreamState  // nil while no sink wants
	told := make([]bool, len(sinks)) // the sink has had every stream since it began to want
	wants := make([]bool, len(sinks))
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		someone, fresh := false, false
		for i, sink := range sinks {
			wants[i] = sink.WantsStreams()
			told[i] = told[i] && wants[i]
			someone = someone || wants[i]
			fresh = fresh || wants[i] && !told[i]
		}
		if !someone {
			last = nil
			tick.Stop()
			select {
			case <-ctx.Done():
				return
			case <-wake:
			}
			continue
		}
		if last == nil {
			last = map[string]StreamState{}
			tick.Reset(poll)
		}
		now := streams()
		names := make([]string, 0, len(now))
		var changes, all []StreamChange
		for _, st := range now {
			names = append(names, st.Name)
			prev, seen := last[st.Name]
			if !seen || prev != st {
				changes = append(changes, StreamChange{Previous: prev, Current: st, First: !seen})
			}
			if fresh {
				all = append(all, StreamChange{Current: st, First: true})
			}
			last[st.Name] = st
		}
		for i, sink := range sinks {
			switch {
			case !wants[i]:
			case told[i]:
				sink.StreamsChanged(names, changes)
			default:
				told[i] = true
				sink.StreamsChanged(names, all)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
	}
}
