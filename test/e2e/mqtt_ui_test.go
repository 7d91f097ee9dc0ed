package e2e

import (
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
	port := strconv.Itoa(testkit.StartMosquitto(t, testkit.MosquittoOptions{Users: map[string]string{"nvr": "right"}}).Port)
	d := testkit.NewDaemon(t, adminPassword)
	for k, v := range map[string]string{"enabled": "true", "broker_host": "127.0.0.1", "broker_port": port, "username": "nvr", "password": "wrong"} {
		d.Set("mqtt", k, v)
	}
	u := openSettings(t, d)
	text := func(testid string) string {
		return `((document.querySelector('[data-testid=` + testid + `]')||{}).textContent||'')`
	}
	u.press(".tabs button", "MQTT")
	u.press("[data-testid=mqtt-test]", "Test connection")
	u.waitJS("the broker's refusal", text("mqtt-test-result")+`.includes('not Authorized')`, 30*time.Second)
	u.waitJS("the running connection's state", text("mqtt-state")+`.includes('Broker disconnected')`, 30*time.Second)

	u.do("type the right password", 5*time.Second, u.fill("#set-mqtt_password", "right"))
	u.press("[data-testid=mqtt-test]", "Test connection")
	u.waitJS("a connection with the password on screen", text("mqtt-test-result")+`.includes('Connected to 127.0.0.1:`+port+`')`, 30*time.Second)
	u.p.Screenshot(t, "mqtt-test")
	u.checkClean("settings")
}
