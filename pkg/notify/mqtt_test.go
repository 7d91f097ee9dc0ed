package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/config"
	"lightnvr/pkg/event"
	"lightnvr/pkg/testkit"
)

// received is what a real subscriber got, in arrival order.
type received struct {
	mu   sync.Mutex
	msgs []paho.Message
}

func (r *received) add(m paho.Message) { r.mu.Lock(); r.msgs = append(r.msgs, m); r.mu.Unlock() }

// on returns the messages of topic so far.
func (r *received) on(topic string) []paho.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []paho.Message
	for _, m := range r.msgs {
		if m.Topic() == topic {
			out = append(out, m)
		}
	}
	return out
}

func (r *received) wait(t *testing.T, topic string, n int) []paho.Message {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, "messages on "+topic, func() bool { return len(r.on(topic)) >= n })
	return r.on(topic)
}

// subscribe connects a real client with a persistent session (it survives
// a broker restart) and receives everything.
func subscribe(t *testing.T, b *testkit.Mosquitto, id string) *received {
	t.Helper()
	r := &received{}
	opts := paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetOrderMatters(true)
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { r.add(m) })
	opts.SetOnConnectHandler(func(c paho.Client) { c.Subscribe("#", 1, nil) })
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return r
}

func brokerConfig(b *testkit.Mosquitto) config.MQTTConfig {
	c := config.Default().MQTT
	c.Enabled, c.BrokerHost, c.BrokerPort = true, "127.0.0.1", b.Port
	return c
}

func startMQTT(t *testing.T, opts MQTTOptions) *MQTT {
	t.Helper()
	if opts.Bus == nil {
		opts.Bus = event.NewBus()
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	opts.Backoff = backoff.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}
	m := NewMQTT(opts)
	m.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return m
}

func waitState(t *testing.T, m *MQTT, state string) MQTTStatus {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, "broker "+state, func() bool { return m.Status().State == state })
	return m.Status()
}

func jsonOf(t *testing.T, b []byte) (v map[string]any) {
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("payload %q: %v", b, err)
	}
	return v
}

// LightNVR's detection topic and payload, Home Assistant discovery
// (retained) with motion ON then OFF, stream state, disk pressure and
// Frigate's events and counts, all seen by a real subscriber.
func TestTopicsAndPayloads(t *testing.T) {
	b := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	sub := subscribe(t, b, "watcher")
	cfg := brokerConfig(b)
	cfg.HADiscovery, cfg.FrigateCompat = true, true
	bus := event.NewBus()
	m := startMQTT(t, MQTTOptions{Config: cfg, Bus: bus, Quiet: 300 * time.Millisecond, Version: "9.9",
		Streams: func() []StreamState { return []StreamState{{Name: "front door", Online: true, Recording: true}} }})
	waitState(t, m, BrokerConnected)
	sub.wait(t, "homeassistant/sensor/lightnvr/front_door_detection_count/config", 1)

	snap := filepath.Join(t.TempDir(), "1700000000.jpg")
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3}
	if err := os.WriteFile(snap, jpeg, 0o644); err != nil {
		t.Fatal(err)
	}
	bus.Publish(event.Event{Stream: "front door", Time: time.Unix(1700000000, 0), Source: event.SourceDetector, Snapshot: snap,
		Detections: []event.Detection{
			{Label: "person", Confidence: 0.92, X: 0.25, Y: 0.3, Width: 0.15, Height: 0.45, TrackID: -1},
			{Label: "car", Confidence: 0.5, X: 0.5, Y: 0.5, Width: 0.25, Height: 0.25, TrackID: 7, ZoneID: "drive"},
		}})
	// The person again, before the quiet time: Frigate's update.
	bus.Publish(event.Event{Stream: "front door", Time: time.Unix(1700000001, 0), Source: event.SourceDetector,
		Detections: []event.Detection{{Label: "person", Confidence: 0.95, X: 0.3, Y: 0.3, Width: 0.15, Height: 0.45, TrackID: -1}}})
	got := jsonOf(t, sub.wait(t, "lightnvr/detections/front_door", 2)[0].Payload())
	want := jsonOf(t, []byte(`{"stream":"front door","timestamp":1700000000,"count":2,"snapshot_path":"`+snap+`",
		"snapshot_url":"/api/snapshots/front_door/1700000000.jpg","snapshot_topic":"lightnvr/detections/front_door/snapshot",
		"detections":[{"label":"person","confidence":0.92,"x":0.25,"y":0.3,"width":0.15,"height":0.45},
		{"label":"car","confidence":0.5,"x":0.5,"y":0.5,"width":0.25,"height":0.25,"track_id":7,"zone_id":"drive"}]}`))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("detection payload\n got %v\nwant %v", got, want)
	}
	if p := sub.wait(t, "lightnvr/detections/front_door/snapshot", 1)[0].Payload(); string(p) != string(jpeg) {
		t.Errorf("snapshot payload %x", p)
	}
	checkHA(t, sub)
	checkFrigate(t, sub)

	m.Pressure(Pressure{Previous: "normal", Current: "warning", FreePct: 18.2, FreeMB: 182, TotalMB: 1000})
	p := sub.wait(t, "lightnvr/storage/pressure", 1)[0]
	if want := `{"previous":"normal","current":"warning","free_pct":18.2,"free_mb":182,"total_mb":1000}`; string(p.Payload()) != want {
		t.Errorf("pressure %s, want %s", p.Payload(), want)
	}
	for topic, want := range map[string]string{"lightnvr/status": "online", "lightnvr/availability": "online",
		"frigate/available": "online", "lightnvr/cameras/front_door/status": "online", "lightnvr/cameras/front_door/recording": "ON"} {
		if got := string(sub.wait(t, topic, 1)[0].Payload()); got != want {
			t.Errorf("%s = %q, want %q", topic, got, want)
		}
	}

	// A client arriving later gets the discovery configs: they are retained.
	late := subscribe(t, b, "late")
	for _, topic := range []string{"homeassistant/camera/lightnvr/front_door/config",
		"homeassistant/binary_sensor/lightnvr/front_door_motion/config", "homeassistant/sensor/lightnvr/front_door_detection_count/config"} {
		if msg := late.wait(t, topic, 1)[0]; !msg.Retained() {
			t.Errorf("%s not retained", topic)
		}
	}
	motion := jsonOf(t, late.on("homeassistant/binary_sensor/lightnvr/front_door_motion/config")[0].Payload())
	if motion["state_topic"] != "lightnvr/cameras/front_door/motion" || motion["payload_on"] != "ON" ||
		motion["payload_off"] != "OFF" || motion["device_class"] != "motion" {
		t.Errorf("motion discovery %v", motion)
	}
}

func checkHA(t *testing.T, sub *received) {
	t.Helper()
	ms := sub.wait(t, "lightnvr/cameras/front_door/motion", 3)
	if string(ms[0].Payload()) != "ON" || string(ms[1].Payload()) != "ON" || string(ms[2].Payload()) != "OFF" {
		t.Errorf("motion %q, %q, %q; want ON, ON, OFF", ms[0].Payload(), ms[1].Payload(), ms[2].Payload())
	}
	if c := string(sub.wait(t, "lightnvr/cameras/front_door/detection_count", 1)[0].Payload()); c != "2" {
		t.Errorf("detection_count %q", c)
	}
	if c := string(sub.wait(t, "lightnvr/cameras/front_door/person", 1)[0].Payload()); c != "1" {
		t.Errorf("person count %q", c)
	}
	cnt := jsonOf(t, sub.wait(t, "homeassistant/sensor/lightnvr/front_door_detection_count/config", 1)[0].Payload())
	if cnt["state_topic"] != "lightnvr/cameras/front_door/detection_count" || cnt["icon"] != "mdi:motion-sensor" {
		t.Errorf("count discovery %v", cnt)
	}
	cam := jsonOf(t, sub.wait(t, "homeassistant/camera/lightnvr/front_door/config", 1)[0].Payload())
	if cam["topic"] != "lightnvr/cameras/front_door/snapshot" || cam["encoding"] != "" {
		t.Errorf("camera discovery %v", cam)
	}
}

func checkFrigate(t *testing.T, sub *received) {
	t.Helper()
	evs := sub.wait(t, "frigate/events", 5) // new person and car, person update, both end
	types := map[string][]string{}
	for _, e := range evs {
		var fe struct {
			Type          string         `json:"type"`
			Before, After map[string]any `json:"-"`
		}
		v := jsonOf(t, e.Payload())
		fe.Type, _ = v["type"].(string)
		after, _ := v["after"].(map[string]any)
		if _, ok := v["before"].(map[string]any); !ok || after == nil {
			t.Fatalf("frigate event without before/after: %s", e.Payload())
		}
		for _, k := range []string{"id", "camera", "frame_time", "label", "sub_label", "score", "top_score", "false_positive",
			"start_time", "end_time", "box", "area", "ratio", "region", "current_zones", "entered_zones", "has_snapshot",
			"has_clip", "stationary", "active", "motionless_count", "position_changes", "attributes"} {
			if _, ok := after[k]; !ok {
				t.Errorf("frigate event lacks %q: %s", k, e.Payload())
			}
		}
		if after["camera"] != "front_door" {
			t.Errorf("camera %v", after["camera"])
		}
		label := after["label"].(string)
		types[label] = append(types[label], fe.Type)
		if before := v["before"].(map[string]any); fe.Type != "new" && before["id"] != after["id"] {
			t.Errorf("%s changed the id: %s", fe.Type, e.Payload())
		}
		if fe.Type == "end" && after["end_time"] == nil {
			t.Errorf("end without end_time: %s", e.Payload())
		}
	}
	for l, want := range map[string]string{"person": "new,update,end", "car": "new,end"} {
		if got := strings.Join(types[l], ","); got != want {
			t.Errorf("%s events %s, want %s", l, got, want)
		}
	}
	if c := sub.wait(t, "frigate/front_door/person", 3); string(c[0].Payload()) != "1" || string(c[2].Payload()) != "0" {
		t.Errorf("frigate person count %q first, %q last; want 1 and 0", c[0].Payload(), c[2].Payload())
	}
	if c := sub.wait(t, "frigate/front_door/all", 1); string(c[0].Payload()) != "2" {
		t.Errorf("frigate all %q", c[0].Payload())
	}
}
