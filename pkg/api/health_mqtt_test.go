package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/event"
	"lightnvr/pkg/notify"
	"lightnvr/pkg/testkit"
)

// A broker that refuses the password shows in /api/health: the reason for
// signed-in callers, the state and outbox for everyone; the daemon answers on.
func TestHealthShowsMQTTBroker(t *testing.T) {
	b := testkit.StartMosquitto(t, testkit.MosquittoOptions{Users: map[string]string{"nvr": "right"}})
	cfg := config.Default().MQTT
	cfg.Enabled, cfg.BrokerHost, cfg.BrokerPort, cfg.Username, cfg.Password = true, "127.0.0.1", b.Port, "nvr", "wrong"
	m := notify.NewMQTT(notify.MQTTOptions{Config: cfg, Bus: event.NewBus(), Logger: quietLog})
	m.Start(context.Background())
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	e := newAuthEnv(t, envOpts{deps: func(d *Deps) { d.MQTT = m }})
	e.addUser("ann", "ann-password", auth.RoleViewer)

	var full struct{ MQTT notify.MQTTStatus }
	testkit.WaitFor(t, 20*time.Second, "the broker's refusal in /api/health", func() bool {
		r := e.do(req{method: "GET", path: "/api/health", basic: [2]string{"ann", "ann-password"}})
		expectStatus(t, r, 200, "GET /api/health")
		if err := json.Unmarshal(r.body, &full); err != nil {
			t.Fatal(err)
		}
		return full.MQTT.State == notify.BrokerDisconnected
	})
	if !strings.Contains(full.MQTT.Error, "not Authorized") || full.MQTT.Broker == "" {
		t.Errorf("signed-in mqtt block %+v: want the refusal and the broker", full.MQTT)
	}
	r := e.do(req{method: "GET", path: "/api/health"})
	var pub struct{ MQTT map[string]any }
	if err := json.Unmarshal(r.body, &pub); err != nil {
		t.Fatal(err)
	}
	if pub.MQTT["state"] != notify.BrokerDisconnected || pub.MQTT["error"] != nil || pub.MQTT["outbox"] == nil {
		t.Errorf("public mqtt block %v: want state and outbox, no error", pub.MQTT)
	}
}
