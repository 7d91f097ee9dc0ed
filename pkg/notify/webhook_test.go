package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/event"
	"lightnvr/pkg/testkit"
)

const testSecret = "a-secret-of-24-characters"

func start(t *testing.T, bus *event.Bus, opt WebhookOptions) *Webhooks {
	opt.Enabled = true
	opt.Secret = testSecret
	if opt.Backoff == (backoff.Backoff{}) {
		opt.Backoff = backoff.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}
	}
	w := NewWebhooks(opt)
	w.Start(bus)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return w
}

// waitFor polls cond; the deadline only ends a test that would hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A receiver that fails twice and then accepts gets the event three times,
// the same signed body each time, and the status shows one delivery that
// took three attempts.
func TestWebhookRetriedUntilDeliveredAndSigned(t *testing.T) {
	rc := testkit.StartHookReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		}
	})
	bus := event.NewBus()
	w := start(t, bus, WebhookOptions{URLs: map[Kind]string{KindDetection: rc.URL}, Retries: 3})
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bus.Publish(event.Event{Stream: "front", Time: when, Source: event.SourceMotion,
		Detections: []event.Detection{{Label: "person", Confidence: 0.9, TrackID: -1}}})

	waitFor(t, "the delivery", func() bool { st := w.Status(); return st.Delivered+st.Failed > 0 })
	st := w.Status()
	rs := st.Results[rc.URL]
	if st.Delivered != 1 || st.Failed != 0 || len(rs) != 1 || !rs[0].OK || rs[0].Attempts != 3 || rs[0].Status != 200 {
		t.Fatalf("status %+v; want one delivery, ok after 3 attempts", st)
	}
	got := rc.Requests()
	if len(got) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(got))
	}
	for i, r := range got {
		if ok, want := r.SignedWith(testSecret); !ok {
			t.Fatalf("attempt %d: signature %q does not verify (want %q)", i+1, r.Header.Get("X-LightNVR-Signature"), want)
		}
		if string(r.Body) != string(got[0].Body) || r.Header.Get("X-LightNVR-Delivery") != rs[0].ID {
			t.Fatalf("attempt %d is not the same delivery", i+1)
		}
	}
	var b struct {
		ID   string      `json:"id"`
		Type string      `json:"type"`
		Time time.Time   `json:"time"`
		Data event.Event `json:"data"`
	}
	if err := json.Unmarshal(got[0].Body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != "detection" || b.ID != rs[0].ID || !b.Time.Equal(when) || b.Data.Stream != "front" ||
		len(b.Data.Detections) != 1 || b.Data.Detections[0].Label != "person" {
		t.Fatalf("body %s", got[0].Body)
	}
	if got[0].Header.Get("X-LightNVR-Event") != "detection" || got[0].Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", got[0].Header)
	}
}

// A receiver that never answers costs each attempt its timeout; the delivery
// is retried and then recorded as failed.
func TestWebhookHangingReceiverTimesOutAndRetries(t *testing.T) {
	rc := testkit.StartHookReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	w := start(t, nil, WebhookOptions{URLs: map[Kind]string{KindStorage: rc.URL}, Retries: 2, Timeout: 50 * time.Millisecond})
	w.Send(KindStorage, time.Now(), map[string]string{"current": "critical"})

	waitFor(t, "the failed delivery", func() bool { return w.Status().Failed > 0 })
	rs := w.Status().Results[rc.URL]
	if len(rs) != 1 || rs[0].OK || rs[0].Attempts != 3 || !strings.Contains(rs[0].Error, "no reply within 50ms") {
		t.Fatalf("results %+v; want one failure after 3 timed-out attempts", rs)
	}
	if n := len(rc.Requests()); n != 3 {
		t.Fatalf("receiver got %d requests, want 3", n)
	}
}

// While the receiver hangs, events keep flowing off the bus into the queue,
// whose oldest entries are dropped and counted; the bus never loses one.
func TestWebhookQueueBoundDropsOldestNeverTheBus(t *testing.T) {
	release := make(chan struct{})
	rc := testkit.StartHookReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	bus := event.NewBus()
	w := start(t, bus, WebhookOptions{URLs: map[Kind]string{KindDetection: rc.URL}, Queue: 5, Timeout: time.Hour})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before Stop, so a failed test does not hang on the receiver
	bus.Publish(event.Event{Stream: "s0"})
	<-rc.Seen     // the worker now waits on the receiver
	const n = 200 // far more than the subscription's buffer
	for i := 1; i <= n; i++ {
		bus.Publish(event.Event{Stream: fmt.Sprintf("s%d", i)})
		if i%50 == 0 { // within the subscription's buffer: the webhooks must keep taking them
			waitFor(t, "the subscription drained", func() bool { return len(w.sub.C()) == 0 })
		}
	}
	waitFor(t, "every event off the bus", func() bool { st := w.Status(); return st.Dropped+uint64(st.Queued) == n })
	if d := w.sub.Dropped(); d != 0 {
		t.Fatalf("the bus dropped %d events: the webhooks held it up", d)
	}
	if st := w.Status(); st.Queued != 5 || st.Dropped != n-5 {
		t.Fatalf("queued %d, dropped %d; want 5 and %d", st.Queued, st.Dropped, n-5)
	}
	free()
	waitFor(t, "the queue sent", func() bool { return w.Status().Delivered == 6 })
	var streams []string
	for _, r := range rc.Requests() {
		var b struct{ Data event.Event }
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, b.Data.Stream)
	}
	if got := strings.Join(streams, " "); got != "s0 s196 s197 s198 s199 s200" {
		t.Fatalf("delivered %s; want s0 and the 5 newest", got)
	}
}
