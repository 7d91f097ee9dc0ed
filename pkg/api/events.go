package api

import (
	"bufio"
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/event"
)

// eventFeed serves the bus's events live, as server-sent events.
type eventFeed struct {
	bus *event.Bus
}

var eventFeedRoutes = []endpoint[*eventFeed]{{"GET", "/api/events", auth.AccessViewer, (*eventFeed).handleEvents}}

const (
	// feedBuffer is how many events wait for a slow browser before the
	// bus drops them for it.
	feedBuffer = 64
	// feedKeepAlive is how often an idle feed writes a comment, which also
	// notices a browser that went away.
	feedKeepAlive = 15 * time.Second
)

// feedEvent is an event as the live feed sends it: only what the UI shows.
type feedEvent struct {
	Stream     string            `json:"stream"`
	Time       string            `json:"time"` // RFC 3339, UTC
	Timestamp  int64             `json:"timestamp"`
	Source     event.Source      `json:"source"`
	Detections []event.Detection `json:"detections"`
	// Snapshot is the URL of the event's frame, when one was kept.
	Snapshot string `json:"snapshot,omitempty"`
}

func newFeedEvent(e event.Event) feedEvent {
	f := feedEvent{Stream: e.Stream, Time: e.Time.UTC().Format(time.RFC3339), Timestamp: e.Time.Unix(),
		Source: e.Source, Detections: e.Detections}
	if f.Detections == nil {
		f.Detections = []event.Detection{}
	}
	if e.Snapshot != "" {
		f.Snapshot = "/api/snapshots/" + e.Stream + "/" + filepath.Base(e.Snapshot)
	}
	return f
}

// handleEvents streams the bus's events, of one stream with ?stream=, until
// the browser leaves or the server stops.
func (h *eventFeed) handleEvents(ctx *fasthttp.RequestCtx) {
	only := string(ctx.QueryArgs().Peek("stream"))
	sub := h.bus.Subscribe(feedBuffer)
	stopped := ctx.Done() // closed when the server shuts down
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no") // no proxy buffering
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer sub.Close()
		writeFeed(w, sub, stopped, only)
	})
}

// writeFeed writes events until a write fails or stopped closes. The first
// line is a comment, so a client knows its subscription is in place.
func writeFeed(w *bufio.Writer, sub *event.Subscription, stopped <-chan struct{}, only string) {
	keepAlive := time.NewTicker(feedKeepAlive)
	defer keepAlive.Stop()
	if !sendFeed(w, ": subscribed\nretry: 3000\n\n") {
		return
	}
	for {
		select {
		case e, open := <-sub.C():
			if !open {
				return
			}
			if only != "" && e.Stream != only {
				continue
			}
			b, err := json.Marshal(newFeedEvent(e))
			if err != nil || !sendFeed(w, "event: detection\ndata: "+string(b)+"\n\n") {
				return
			}
		case <-keepAlive.C:
			if !sendFeed(w, ": keep-alive\n\n") {
				return
			}
		case <-stopped:
			return
		}
	}
}

func sendFeed(w *bufio.Writer, s string) bool {
	if _, err := w.WriteString(s); err != nil {
		return false
	}
	return w.Flush() == nil
}
