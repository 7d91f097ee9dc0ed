package api

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/event"
	"lightnvr/pkg/onvif"
	"lightnvr/pkg/testkit"
)

// notifyEnv is the real server on a real port taking camera notifications,
// and a camera event follower for stream yard whose camera only pushes.
type notifyEnv struct {
	cam    *testkit.ONVIFCamera
	events *event.Subscription
	stop   context.CancelFunc
	done   chan struct{}
}

func newNotifyEnv(t *testing.T, cam testkit.ONVIFCameraOptions) *notifyEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	consumers := onvif.NewConsumers("http", ln.Addr().(*net.TCPAddr).Port)
	srv, err := New(Deps{Config: config.Default(), Logger: quietLog, ONVIFNotify: consumers})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	cam.User, cam.Password, cam.Skew, cam.BasicNotification = "admin", "pw", time.Hour, true
	e := &notifyEnv{cam: testkit.StartONVIFCamera(t, cam), done: make(chan struct{})}
	bus := event.NewBus()
	e.events = bus.Subscribe(16)
	t.Cleanup(e.events.Close)
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go func() {
		defer close(e.done)
		_ = onvif.RunEvents(ctx, onvif.EventOptions{Stream: "yard", DeviceURL: e.cam.URL(), Username: "admin", Password: "pw",
			Bus: bus, Logger: quietLog, Consumers: consumers})
	}()
	t.Cleanup(func() { cancel(); <-e.done })
	return e
}

// next is the next camera event on the bus.
func (e *notifyEnv) next(t *testing.T) event.Event {
	t.Helper()
	for {
		select {
		case ev := <-e.events.C():
			if ev.Source == event.SourceONVIF {
				return ev
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no camera event on the bus")
		}
	}
}

// emit has the camera push ev and expects the bus to carry label for yard.
func (e *notifyEnv) emit(t *testing.T, ev testkit.ONVIFEvent, label string) {
	t.Helper()
	if n := e.cam.Emit(ev); n != 1 {
		t.Fatalf("the camera's event reached %d consumers, want 1", n)
	}
	if got := e.next(t); got.Stream != "yard" || len(got.Detections) != 1 || got.Detections[0].Label != label {
		t.Fatalf("event %+v, want %s on yard", got, label)
	}
}

var (
	pushedMotion  = testkit.ONVIFEvent{Topic: "tns1:RuleEngine/CellMotionDetector/Motion", Data: map[string]string{"IsMotion": "true"}}
	pushedPerson  = testkit.ONVIFEvent{Topic: "tns1:RuleEngine/PeopleDetector/People", Data: map[string]string{"IsPeople": "true"}}
	pushedVehicle = testkit.ONVIFEvent{Topic: "tns1:RuleEngine/ObjectDetector/Vehicle", Data: map[string]string{"IsVehicle": "true"}}
)

func postNotify(t *testing.T, url string, body []byte) int {
	t.Helper()
	res, err := http.Post(url, "application/soap+xml; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// A camera without a PullPoint pushes its events to our HTTP port: the
// subscription's consumer address is on the address we reach the camera
// from, it is renewed, a pushed motion event reaches the bus, a forged or
// malformed Notify makes no event, and after the camera reboots the
// follower subscribes again; stopping unsubscribes.
func TestPushedCameraEventsReachTheBus(t *testing.T) {
	e := newNotifyEnv(t, testkit.ONVIFCameraOptions{MaxTermination: 4 * time.Second})
	testkit.WaitFor(t, 20*time.Second, "a renewed pushed subscription", func() bool {
		return len(e.cam.Consumers()) == 1 && len(e.cam.CallsOf("Renew")) > 0
	})
	consumer := e.cam.Consumers()[0]
	token := consumer[strings.LastIndex(consumer, "/")+1:]
	if !strings.HasPrefix(consumer, "http://127.0.0.1:") || len(token) != 32 {
		t.Fatalf("consumer address %q: want our loopback address and a 128-bit token", consumer)
	}
	if n := len(e.cam.CallsOf("CreatePullPointSubscription")); n != 0 {
		t.Errorf("a PullPoint was asked of a camera that says it has none (%d times)", n)
	}

	forged := strings.TrimSuffix(consumer, token) + strings.Repeat("0", 32)
	if code := postNotify(t, forged, e.cam.NotifyBody("1", forged, pushedVehicle)); code != http.StatusNotFound {
		t.Errorf("a Notify with a wrong token answered %d, want 404", code)
	}
	if code := postNotify(t, consumer, []byte(`<x/>`)); code != http.StatusBadRequest {
		t.Errorf("a body that is no Notify answered %d, want 400", code)
	}
	huge := append(e.cam.NotifyBody("1", consumer, pushedVehicle), bytes.Repeat([]byte(" "), onvif.MaxNotifyBytes)...)
	if code := postNotify(t, consumer, huge); code != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized Notify answered %d, want 413", code)
	}
	// The first camera event on the bus is the real one: none of the
	// refused ones made an event.
	e.emit(t, pushedMotion, "motion")

	e.cam.Reboot(t, time.Second)
	testkit.WaitFor(t, 30*time.Second, "a new subscription after the reboot", func() bool { return len(e.cam.Consumers()) == 1 })
	if again := e.cam.Consumers()[0]; again == consumer {
		t.Errorf("the new subscription reuses the old token")
	} else if code := postNotify(t, consumer, e.cam.NotifyBody("1", consumer, pushedVehicle)); code != http.StatusNotFound {
		t.Errorf("the old subscription's token still answers %d", code)
	}
	e.emit(t, pushedPerson, "person")

	e.stop()
	<-e.done
	if len(e.cam.CallsOf("Unsubscribe")) == 0 || len(e.cam.Consumers()) != 0 {
		t.Errorf("stopping left the subscription on the camera")
	}
}

// A camera that does not tell its event capabilities and refuses
// CreatePullPointSubscription with a fault is asked to push instead.
func TestPullPointRefusalFallsBackToPush(t *testing.T) {
	e := newNotifyEnv(t, testkit.ONVIFCameraOptions{HideEventCapabilities: true})
	testkit.WaitFor(t, 20*time.Second, "a pushed subscription", func() bool { return len(e.cam.Consumers()) == 1 })
	if n := len(e.cam.CallsOf("CreatePullPointSubscription")); n != 1 {
		t.Errorf("CreatePullPointSubscription asked %d times, want once before the fallback", n)
	}
	e.emit(t, pushedMotion, "motion")
}
