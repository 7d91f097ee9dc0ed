package notify

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/event"
	"lightnvr/pkg/testkit"
	"lightnvr/pkg/tlscert"
)

// The broker is down for 20 s while events happen: the bus never waits, the
// health shows the outage, and once the broker is back the newest events
// within the outbox bound arrive in order, the older ones counted as dropped.
func TestBrokerOutage(t *testing.T) {
	b := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	sub := subscribe(t, b, "watcher")
	cfg := brokerConfig(b)
	cfg.OutboxSize = 20
	bus := event.NewBus()
	m := startMQTT(t, MQTTOptions{Config: cfg, Bus: bus})
	waitState(t, m, BrokerConnected)
	ev := func(i int) event.Event {
		return event.Event{Stream: "cam", Time: time.Unix(int64(1700000000+i), 0), Detections: []event.Detection{{Label: "person", TrackID: -1}}}
	}
	bus.Publish(ev(0))
	sub.wait(t, "lightnvr/detections/cam", 1)

	b.Stop()
	st := waitState(t, m, BrokerDisconnected)
	if st.Error == "" {
		t.Error("no error while the broker is away")
	}
	const during = 25
	deadline := time.Now().Add(20 * time.Second)
	for i := 1; i <= during; i++ {
		bus.Publish(ev(i)) // never blocks: the bus hands over or counts a loss
		time.Sleep(time.Until(deadline) / time.Duration(during-i+1))
	}
	testkit.WaitFor(t, 5*time.Second, "the outbox holding the bound", func() bool { return m.Status().Outbox == cfg.OutboxSize })
	b.Start(t)
	waitState(t, m, BrokerConnected)

	msgs := sub.wait(t, "lightnvr/detections/cam", 1+cfg.OutboxSize)
	var got []string
	for _, msg := range msgs[1:] {
		var d struct{ Timestamp int64 }
		if err := json.Unmarshal(msg.Payload(), &d); err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(d.Timestamp - 1700000000); len(got) == 0 || got[len(got)-1] != s { // at-least-once: a resend repeats
			got = append(got, s)
		}
	}
	var want []string
	for i := during - cfg.OutboxSize + 1; i <= during; i++ {
		want = append(want, fmt.Sprint(i))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after the outage got events %v, want %v", got, want)
	}
	if st := m.Status(); st.Dropped != during-uint64(cfg.OutboxSize) || st.Outbox != 0 {
		t.Errorf("status %+v: want %d dropped, outbox empty", st, during-cfg.OutboxSize)
	}
}

// Wrong password, nobody listening and a CA that did not sign the broker's
// certificate each leave a clear error in the status, and no crash; the right
// CA connects.
func TestBrokerErrors(t *testing.T) {
	auth := testkit.StartMosquitto(t, testkit.MosquittoOptions{Users: map[string]string{"nvr": "right"}})
	good, other := t.TempDir(), t.TempDir()
	cert, err := tlscert.LoadOrGenerate(good, tlscert.LocalNames(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := tlscert.LoadOrGenerate(other, tlscert.LocalNames(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tlsBroker := testkit.StartMosquitto(t, testkit.MosquittoOptions{CertFile: cert.CertFile, KeyFile: cert.KeyFile})

	cases := []struct {
		name, want string
		edit       func(c *MQTTOptions)
	}{
		{"wrong password", "not Authorized", func(o *MQTTOptions) {
			o.Config = brokerConfig(auth)
			o.Config.Username, o.Config.Password = "nvr", "wrong"
		}},
		{"unreachable", "connection refused", func(o *MQTTOptions) {
			o.Config = brokerConfig(auth)
			o.Config.BrokerPort = testkit.FreePort(t)
		}},
		{"bad CA", "certificate", func(o *MQTTOptions) {
			o.Config = brokerConfig(tlsBroker)
			o.Config.TLSEnabled, o.Config.TLSCAFile = true, wrong.CertFile
		}},
		{"missing CA file", "tls_ca_file", func(o *MQTTOptions) {
			o.Config = brokerConfig(tlsBroker)
			o.Config.TLSEnabled, o.Config.TLSCAFile = true, filepath.Join(other, "none.pem")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o MQTTOptions
			c.edit(&o)
			m := startMQTT(t, o)
			st := waitState(t, m, BrokerDisconnected)
			if !strings.Contains(st.Error, c.want) {
				t.Errorf("error %q, want it to say %q", st.Error, c.want)
			}
		})
	}
	t.Run("right CA and password", func(t *testing.T) {
		o := MQTTOptions{Config: brokerConfig(tlsBroker)}
		o.Config.TLSEnabled, o.Config.TLSCAFile = true, cert.CertFile
		waitState(t, startMQTT(t, o), BrokerConnected)
	})
	// New settings (POST /api/settings) reconnect without a restart.
	t.Run("password fixed in the settings", func(t *testing.T) {
		o := MQTTOptions{Config: brokerConfig(auth)}
		o.Config.Username, o.Config.Password = "nvr", "wrong"
		m := startMQTT(t, o)
		waitState(t, m, BrokerDisconnected)
		o.Config.Password = "right"
		m.Reconfigure(o.Config)
		waitState(t, m, BrokerConnected)
		o.Config.Enabled = false
		m.Reconfigure(o.Config)
		waitState(t, m, BrokerDisabled)
	})
}
