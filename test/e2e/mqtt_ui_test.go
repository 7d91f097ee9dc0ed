package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// The settings page's MQTT Test button tries the settings on screen against
// a real broker through the real daemon: the saved wrong password shows the
// broker's refusal, the right one typed in (not saved) connects; the
// running connection's state shows below.
func TestMQTTTestButton(t *testing.T) {
	b := testkit.StartMosquitto(t, testkit.MosquittoOptions{Users: map[string]string{"nvr": "right"}})
	d := testkit.NewDaemon(t, adminPassword)
	d.Set("mqtt", "enabled", "true")
	d.Set("mqtt", "broker_host", "127.0.0.1")
	d.Set("mqtt", "broker_port", strconv.Itoa(b.Port))
	d.Set("mqtt", "username", "nvr")
	d.Set("mqtt", "password", "wrong")
	d.Start()
	br := testkit.StartChromium(t, 1280, 800)
	u := &ui{t: t, base: d.Base, p: br.NewPage(t)}
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")

	u.open("#/settings")
	press := func(sel, label string) {
		t.Helper()
		if _, err := testkit.Eval[bool](u.p, 15*time.Second, fmt.Sprintf(clickButton, sel, label, label)); err != nil {
			u.p.Screenshot(t, "failed-mqtt-"+label)
			t.Fatalf("press %s: %v", label, err)
		}
	}
	result := `((document.querySelector('[data-testid=mqtt-test-result]')||{}).textContent||'')`
	press(".tabs button", "MQTT")
	press("[data-testid=mqtt-test]", "Test connection")
	u.waitJS("the broker's refusal", result+`.includes('not Authorized')`, 30*time.Second)
	u.waitJS("the running connection's state", `((document.querySelector('[data-testid=mqtt-state]')||{}).textContent||'').includes('Broker disconnected')`, 30*time.Second)

	u.do("type the right password", 5*time.Second, u.fill("#set-mqtt_password", "right"))
	press("[data-testid=mqtt-test]", "Test connection")
	u.waitJS("a connection with the password on screen", result+`.includes('Connected to 127.0.0.1:`+strconv.Itoa(b.Port)+`')`, 30*time.Second)
	u.p.Screenshot(t, "mqtt-test")
	u.checkClean("settings")
}
