package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lightnvr/pkg/testkit"
)

// LightNVR's own built web UI, served from [web] root, must run under our
// Content-Security-Policy: its pages carry inline scripts (theme set-up and
// Vite's module checks) that the strict policy of our own UI would block.
func TestPeerUIRunsUnderItsPagePolicy(t *testing.T) {
	d := testkit.NewDaemon(t, adminPassword)
	d.Set("web", "root", testkit.PeerUI(t))
	d.Start()
	b := testkit.StartChromium(t, 1280, 900)
	p := b.NewPage(t)
	if err := p.Do(20*time.Second, chromedp.Navigate(d.Base+"/login.html"), chromedp.WaitVisible("#login-form #username")); err != nil {
		p.Screenshot(t, "peer-login")
		t.Fatalf("LightNVR's login page did not render: %v; browser errors %v", err, p.Errors())
	}
	err := p.Do(20*time.Second,
		chromedp.SendKeys("#username", "admin"), chromedp.SendKeys("#password", adminPassword),
		chromedp.Click(`#login-form button[type="submit"]`),
		chromedp.WaitVisible("#main-content nav, #header-container a[href*='streams']"))
	if err != nil {
		p.Screenshot(t, "peer-after-login")
		t.Fatalf("LightNVR's live page did not render after login: %v; browser errors %v", err, p.Errors())
	}
	// The theme script ran: it marks the window once it has applied.
	if ok, err := testkit.Eval[bool](p, 5*time.Second, `window.__LIGHTNVR_THEME_APPLIED__ === true`); err != nil || !ok {
		t.Errorf("the page's inline theme script did not run (%v)", err)
	}
	for _, e := range p.Errors() {
		if strings.Contains(e, "Content Security Policy") && strings.Contains(e, "script-src") {
			t.Errorf("script blocked by the page policy: %s", e)
		}
	}
}
