package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lightnvr/pkg/testkit"
)

// The settings page's Test button posts a test event to the saved webhook
// URL through the real daemon and shows the receiver's answer.
func TestWebhookTestButton(t *testing.T) {
	rc := testkit.StartHookReceiver(t, nil)
	d := testkit.NewDaemon(t, adminPassword)
	d.Set("webhooks", "detection_url", rc.URL+"/nvr")
	d.Set("webhooks", "secret", "e2e-webhook-secret-123")
	d.Start()
	b := testkit.StartChromium(t, 1280, 800)
	u := &ui{t: t, base: d.Base, p: b.NewPage(t)}
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")

	u.open("#/settings")
	u.do("settings tabs", 10*time.Second, chromedp.WaitVisible(`.tabs`))
	if ok, err := testkit.Eval[bool](u.p, 5*time.Second, `(() => { const b = [...document.querySelectorAll('.tabs button')]
		.find(b => b.textContent.trim() === 'Webhooks'); if (b) b.click(); return !!b; })()`); err != nil || !ok {
		t.Fatalf("no Webhooks tab (%v)", err)
	}
	u.do("press Test", 10*time.Second, chromedp.WaitVisible(`[data-testid=webhook-test]`), chromedp.Click(`[data-testid=webhook-test]`),
		chromedp.WaitVisible(`[data-testid=webhook-test-table] tbody tr`))
	u.p.Screenshot(t, "webhook-test")
	want := "Every receiver accepted the test event."
	if text := u.waitText(`[data-testid=webhook-test-result]`, want, 10*time.Second); strings.TrimSpace(text) != want {
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
