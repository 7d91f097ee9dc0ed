package streams_test

import (
	"context"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

// A detection-only stream with the "onvif" model follows its camera's
// events: the subscription is renewed before it expires, a motion event
// (stamped on the camera's clock, which runs 90 minutes ahead) reaches the
// bus at its real time and opens a clip whose first frame is at least the
// pre-buffer before it. The camera then reboots: the follower subscribes
// again and a person event opens a second clip.
func TestONVIFEventsRecordClips(t *testing.T) {
	testkit.Need(t, "ffprobe")
	cam := testkit.StartCamera(t)
	dev := testkit.StartONVIFCamera(t, testkit.ONVIFCameraOptions{User: "admin", Password: "s3cret",
		Skew: 90 * time.Minute, MaxTermination: 6 * time.Second})
	s := stream("yard", cam.URL(), 5)
	s.Record, s.DetectionBasedRecording, s.DetectionModel = false, true, "onvif"
	s.ONVIFUsername, s.ONVIFPassword, s.ONVIFPort = "admin", "s3cret", dev.Port
	s.PreDetectionBuffer, s.PostDetectionBuffer = 3, 2
	rb := newRigBus(t, s)
	testkit.WaitFor(t, 30*time.Second, "8 s of video and a renewed subscription", func() bool {
		ps, _ := rb.r.recording.Stats("yard")
		return ps.Frames > 80 && len(dev.CallsOf("Renew")) > 0 && dev.Subscriptions() == 1
	})
	if n := len(dev.CallsOf("CreatePullPointSubscription")); n != 1 {
		t.Fatalf("%d subscriptions made, want one kept alive by renewals", n)
	}

	motion := testkit.ONVIFEvent{Topic: "tns1:RuleEngine/CellMotionDetector/Motion",
		Source: map[string]string{"VideoSourceConfigurationToken": "vsc_1", "Rule": "MyMotionDetectorRule"},
		Data:   map[string]string{"IsMotion": "true"}}
	at := onvifEvent(t, rb, dev, motion, "motion")
	recs := waitClipClosed(t, rb.r, "yard")
	if len(recs) != 1 || recs[0].TriggerType != record.TriggerDetection {
		t.Fatalf("%d recordings, want one detection clip", len(recs))
	}
	start, _ := clipSpan(t, rb.r.db, recs[0])
	pr := testkit.FFprobe(t, recs[0].FilePath)
	t.Logf("clip starts %s before the camera's event (pre-buffer 3 s), %.1f s long", at.Sub(start).Round(time.Millisecond), pr.Duration())
	if pr.Errors != "" || at.Sub(start) < 3*time.Second || at.Sub(start) > 3*time.Second+3*time.Second {
		t.Fatalf("clip %s starts %s before the event (want the 3 s pre-buffer to a GOP more); ffprobe: %s", recs[0].FilePath, at.Sub(start), pr.Errors)
	}
	if pr.Duration() < 3+2+2-1 {
		t.Fatalf("clip is %.1f s long, want pre-buffer + grace + post-buffer (7 s)", pr.Duration())
	}

	dev.Reboot(t, 2*time.Second)
	testkit.WaitFor(t, 30*time.Second, "a new subscription after the reboot", func() bool { return dev.Subscriptions() == 1 })
	person := testkit.ONVIFEvent{Topic: "tns1:RuleEngine/PeopleDetector/People", Data: map[string]string{"IsPeople": "true"}}
	onvifEvent(t, rb, dev, person, "person")
	testkit.WaitFor(t, 30*time.Second, "a second clip", func() bool {
		recs, err := db.StreamRecordings(context.Background(), rb.r.db, "yard")
		return err == nil && len(recs) == 2
	})
	waitClipClosed(t, rb.r, "yard")
}

// onvifEvent emits ev on the device and returns its time once the bus
// carries it for stream yard with label.
func onvifEvent(t *testing.T, rb rigBus, dev *testkit.ONVIFCamera, ev testkit.ONVIFEvent, label string) time.Time {
	t.Helper()
	ev.Time = time.Now()
	if n := dev.Emit(ev); n != 1 {
		t.Fatalf("event reached %d subscriptions", n)
	}
	for {
		select {
		case e := <-rb.events.C():
			if e.Source != event.SourceONVIF {
				continue
			}
			if e.Stream != "yard" || len(e.Detections) != 1 || e.Detections[0].Label != label {
				t.Fatalf("event %+v: want %s on yard", e, label)
			}
			if d := e.Time.Sub(ev.Time); d > time.Second || d < -time.Second {
				t.Fatalf("event at %s, %s from the camera's event time", e.Time.Format(time.StampMilli), d)
			}
			return e.Time
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s event on the bus", label)
		}
	}
}
