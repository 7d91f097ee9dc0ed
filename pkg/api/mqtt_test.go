package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"lightnvr/pkg/testkit"
)

// The settings page's MQTT Test button: the posted settings (on top of the
// saved ones) connect to a real broker and publish to <prefix>/test, which
// a real subscriber receives; the saved wrong password comes back as the
// broker's refusal.
func TestMQTTTestRoute(t *testing.T) {
	b := testkit.StartMosquitto(t, testkit.MosquittoOptions{Users: map[string]string{"nvr": "right"}})
	got := make(chan string, 4)
	opts := paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID("watcher").SetUsername("nvr").SetPassword("right")
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	if tok := c.Subscribe("nvrtest/#", 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	e := newSettingsEnvWith(t, nil)
	check := func(body string) (code int, reply mqttTestReply) {
		t.Helper()
		code, raw := call(e.srv, "admin", "POST", "/api/notify/mqtt/test", body)
		if code == 200 {
			if err := json.Unmarshal(raw, &reply); err != nil {
				t.Fatalf("reply %s: %v", raw, err)
			}
		}
		return code, reply
	}
	if code, _ := check(`{"web_port":80}`); code != 400 {
		t.Fatalf("a setting other than mqtt_*: %d, want 400", code)
	}

	right := `{"mqtt_broker_host":"127.0.0.1","mqtt_broker_port":` + strconv.Itoa(b.Port) +
		`,"mqtt_username":"nvr","mqtt_password":"right","mqtt_topic_prefix":"nvrtest"}`
	if code, r := check(right); code != 200 || !r.Success || !strings.Contains(r.Message, "nvrtest/test") {
		t.Fatalf("right settings: %d %+v", code, r)
	}
	select {
	case topic := <-got:
		if topic != "nvrtest/test" {
			t.Fatalf("subscriber got %s", topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing published to nvrtest/test")
	}

	saved := strings.Replace(right, `"right"`, `"wrong"`, 1)
	if code, body := call(e.srv, "admin", "POST", "/api/settings", saved); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	if code, r := check(""); code != 200 || r.Success || !strings.Contains(r.Message, "not Authorized") {
		t.Fatalf("saved wrong password: %d %+v", code, r)
	}
}
