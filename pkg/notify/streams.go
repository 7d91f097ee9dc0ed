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

// StreamSink takes each poll's stream names and the changes it found.
type StreamSink func(names []string, changes []StreamChange)

// WatchStreams reads streams every poll until ctx ends and hands each
// poll's result to every sink, so all notifiers tell the same changes from
// one reading. A sink runs on this goroutine and must not wait on the network.
func WatchStreams(ctx context.Context, poll time.Duration, streams func() []StreamState, sinks ...StreamSink) {
	last := map[string]StreamState{}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		now := streams()
		names := make([]string, 0, len(now))
		var changes []StreamChange
		for _, st := range now {
			names = append(names, st.Name)
			prev, seen := last[st.Name]
			if !seen || prev != st {
				changes = append(changes, StreamChange{Previous: prev, Current: st, First: !seen})
			}
			last[st.Name] = st
		}
		for _, sink := range sinks {
			sink(names, changes)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
