package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// clickButton clicks the first element of selector %q whose text is %q,
// waiting up to 10 s for it to appear.
const clickButton = `new Promise((res, rej) => { const t0 = Date.now(); (function poll() {
	const b = [...document.querySelectorAll(%q)].find(b => b.textContent.trim() === %q);
	if (b) { b.click(); res(true); } else if (Date.now() - t0 > 10000) rej(new Error('no button %s')); else setTimeout(poll, 100); })(); })`

// openSettings starts d and a browser signed in as admin on the settings page.
func openSettings(t *testing.T, d *testkit.Daemon) *ui {
	t.Helper()
	d.Start()
	b := testkit.StartChromium(t, 1280, 800)
	u := newUI(t, d.Base, b)
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")
	u.open("#/settings")
	return u
}

// press clicks the button of selector sel labelled label, as a user would
// once it shows.
func (u *ui) press(sel, label string) {
	u.t.Helper()
	if _, err := testkit.Eval[bool](u.p, 15*time.Second, fmt.Sprintf(clickButton, sel, label, label)); err != nil {
		u.p.Screenshot(u.t, "failed-press-"+label)
		u.t.Fatalf("press %s: %v", label, err)
	}
}

// The settings page's Test button posts a test event to the saved webhook
// URL through the real daemon and shows the receiver's answer.
func TestWebhookTestButton(t *testing.T) {
	rc := testkit.StartHookReceiver(t, nil)
	d := testkit.NewDaemon(t, adminPassword)
	d.Set("webhooks", "detection_url", rc.URL+"/nvr")
	d.Set("webhooks", "secret", "e2e-webhook-secret-123")
	u := openSettings(t, d)
	// As a user would, once the settings have loaded: the Webhooks tab, then
	// Test on its panel.
	u.press(".tabs button", "Webhooks")
	u.press("[data-testid=webhook-test]", "Test")
	want := "Every receiver accepted the test event."
	text := u.waitText(`[data-testid=webhook-test-result]`, want, 15*time.Second)
	u.p.Screenshot(t, "webhook-test")
	if text != want {
		t.Fatalf("test result shows %q", text)
	}
	if got := rc.Requests(); len(got) != 1 || !strings.Contains(string(got[0].Body), `"type":"test"`) {
		t.Fatalf("receiver got %+v", got)
	}
	row, _ := testkit.Eval[string](u.p, 5*time.Second, `document.querySelector('[data-testid=webhook-status-table] tbody tr').textContent`)
	if !strings.Contains(row, "delivered") || !strings.Contains(row, rc.URL) {
		t.Fatalf("deliveries table shows %q", row)
	}
	u.checkClean("settings")
}
