package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

// peerWalk drives one tab of LightNVR's own UI against our daemon.
type peerWalk struct {
	t    *testing.T
	base string
	p    *testkit.Page
}

func (w *peerWalk) fatal(what string, err error) {
	w.t.Helper()
	w.p.Screenshot(w.t, "failed-"+strings.NewReplacer(" ", "-", "/", "-").Replace(what))
	body, _ := testkit.Eval[string](w.p, 5*time.Second, `document.body ? document.body.innerText : ''`)
	w.t.Fatalf("%s: %v\npage text:\n%s\nbrowser errors: %v\nfailed requests: %v", what, err, body, w.p.Errors(), w.p.FailedRequests())
}

func (w *peerWalk) do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	if err := w.p.Do(timeout, actions...); err != nil {
		w.fatal(what, err)
	}
}

// js evaluates expr until it yields true.
func (w *peerWalk) until(what, expr string, timeout time.Duration) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := testkit.Eval[bool](w.p, 5*time.Second, expr)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			w.fatal(what, fmt.Errorf("not true within %s: %s (%v)", timeout, expr, err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// see waits until the page shows text.
func (w *peerWalk) see(text string, timeout time.Duration) {
	w.t.Helper()
	w.until("see "+text, fmt.Sprintf(`document.body.innerText.includes(%q)`, text), timeout)
}

// open loads a page of the UI and waits for its header.
func (w *peerWalk) open(page string) {
	w.t.Helper()
	w.do("open "+page, 20*time.Second, chromedp.Navigate(w.base+"/"+page), chromedp.WaitVisible(`a[href*="streams.html"]`))
}

// click clicks the first visible button or link whose text is label.
func (w *peerWalk) click(label string) {
	w.t.Helper()
	w.until("click "+label, fmt.Sprintf(`(() => {
		const all = [...document.querySelectorAll('button, a, [role=button], [role=tab]')]
			.filter(e => e.offsetParent !== null && !e.disabled);
		// Else the innermost element showing the text: its click bubbles to the handler.
		const leaf = () => [...document.querySelectorAll('body *')].reverse()
			.find(e => e.offsetParent !== null && e.textContent.trim() === %[1]q);
		const el = all.find(e => e.textContent.trim() === %[1]q) || all.find(e => e.textContent.trim().startsWith(%[1]q)) || leaf();
		if (!el) return false;
		el.click();
		return true;
	})()`, label), 10*time.Second)
}

// fill types value into the input matched by sel, as a user would,
// replacing what it held.
func (w *peerWalk) fill(sel, value string) {
	w.t.Helper()
	w.do("find "+sel, 10*time.Second, chromedp.WaitVisible(sel))
	w.until("select "+sel, fmt.Sprintf(`(() => { document.querySelector(%q).select(); return true })()`, sel), 5*time.Second)
	w.do("fill "+sel, 10*time.Second, chromedp.SendKeys(sel, value))
}

// choose picks value in the select matched by sel, as a user would.
func (w *peerWalk) choose(sel, value string) {
	w.t.Helper()
	w.until("choose "+value+" in "+sel, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		if (!s || ![...s.options].some(o => o.value === %q)) return false;
		s.value = %[2]q;
		s.dispatchEvent(new Event('input', {bubbles: true}));
		s.dispatchEvent(new Event('change', {bubbles: true}));
		return true;
	})()`, sel, value), 10*time.Second)
}

// clickOn clicks the button titled title on the card or row of stream (the
// closest ancestor of the button that names the stream).
func (w *peerWalk) clickOn(stream, title string) {
	w.t.Helper()
	w.until(title+" on "+stream, fmt.Sprintf(`(() => {
		for (const b of document.querySelectorAll('button[title=%q]')) {
			for (let el = b.parentElement; el; el = el.parentElement) {
				if (el.querySelectorAll('button[title=%q]').length > 1) break;
				if ([...el.querySelectorAll('*')].some(e => e.childElementCount === 0 && e.textContent.trim() === %q)) { b.click(); return true; }
			}
		}
		return false;
	})()`, title, title, stream), 10*time.Second)
}

// clean fails the test for each request LightNVR's UI made that we did not
// answer (every route it uses is served now) and for anything the page
// policy blocked.
func (w *peerWalk) clean(page string) {
	w.t.Helper()
	for _, f := range w.p.FailedRequests() {
		status, method, rawURL := splitFailed(f)
		path := strings.TrimPrefix(rawURL, w.base)
		if status == "503" && strings.HasPrefix(path, "/api/recordings/thumbnail/") {
			continue // still being made: LightNVR's contract, the page asks again
		}
		w.t.Errorf("%s: request failed: %s %s %s", page, status, method, path)
	}
	for _, e := range w.p.Errors() {
		if strings.Contains(e, "Content Security Policy") {
			w.t.Errorf("%s: blocked by the page policy: %s", page, e)
		}
	}
}

func splitFailed(f string) (status, method, url string) {
	parts := strings.SplitN(f, " ", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

// peerAPI calls our API as the admin, for set-up the walk does not cover.
type peerAPI struct {
	t    *testing.T
	base string
}

func (a peerAPI) call(method, path string, body any, out any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", adminPassword)
	client := http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			a.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// LightNVR 0.37's own web UI, served from [web] root, walked page by page
// against our daemon with a real camera: every page renders its content and
// every request it makes is answered, except the known gaps above.
func TestPeerUIWalk(t *testing.T) {
	cam := testkit.StartCamera(t)
	d := testkit.NewDaemon(t, adminPassword)
	d.Set("web", "root", testkit.PeerUI(t))
	d.Start()
	api := peerAPI{t: t, base: d.Base}
	api.call("POST", "/api/streams", map[string]any{"name": "cam1", "url": cam.URL(), "enabled": true, "record": true, "segment_duration": 2}, nil)
	var totpSecret string
	{
		var u struct {
			ID int64 `json:"id"`
		}
		api.call("POST", "/api/auth/users", map[string]any{"username": "totpuser", "password": "totpuser-password", "role": 1}, &u)
		var setup struct {
			Secret string `json:"secret"`
		}
		api.call("POST", fmt.Sprintf("/api/auth/users/%d/totp/setup", u.ID), nil, &setup)
		api.call("POST", fmt.Sprintf("/api/auth/users/%d/totp/verify", u.ID), map[string]string{"code": testkit.TOTPCode(t, setup.Secret, time.Now())}, nil)
		totpSecret = setup.Secret
	}

	b := testkit.StartChromium(t, 1280, 900)
	w := &peerWalk{t: t, base: d.Base, p: b.NewPage(t)}
	run := func(name string, f func()) {
		t.Run(name, func(st *testing.T) {
			w.t = st
			f()
			w.clean(name)
		})
		w.t = t
	}

	run("login with TOTP", func() {
		w.do("open login", 20*time.Second, chromedp.Navigate(d.Base+"/login.html"), chromedp.WaitVisible("#username"))
		w.fill("#username", "totpuser")
		w.fill("#password", "totpuser-password")
		w.do("submit password", 10*time.Second, chromedp.Click(`#login-form button[type="submit"]`), chromedp.WaitVisible("#totp-code"))
		// The code that enabled TOTP may not be used again: take the next one.
		w.fill("#totp-code", testkit.TOTPCode(t, totpSecret, time.Now().Add(30*time.Second)))
		w.do("submit code", 10*time.Second, chromedp.Click(`#totp-form button[type="submit"], form:has(#totp-code) button[type="submit"]`), chromedp.WaitVisible(`a[href*="streams.html"]`))
		w.see("totpuser", 10*time.Second)
		w.p.Screenshot(w.t, "login-totp")
		// Out again, and in as the admin for the rest of the walk.
		w.do("log out", 20*time.Second, chromedp.Navigate(d.Base+"/logout"), chromedp.WaitVisible("#username"))
		w.p.FailedRequests() // the session check after logging out answers 401, as it should
		w.p.Errors()
		w.fill("#username", "admin")
		w.fill("#password", adminPassword)
		w.do("log in as admin", 10*time.Second, chromedp.Click(`#login-form button[type="submit"]`), chromedp.WaitVisible(`a[href*="streams.html"]`))
	})

	run("live", func() {
		w.open("index.html")
		// Generous deadlines: under a loaded CI machine go2rtc needs a while
		// for the first keyframe of a new consumer; these are liveness checks.
		w.until("WebRTC video plays", videoPlays, 60*time.Second)
		w.p.Screenshot(w.t, "live-webrtc")
		w.click("MSE")
		w.until("MSE video plays", videoPlays, 60*time.Second)
	})

	run("hls view", func() {
		// LightNVR's HLS page plays go2rtc's HLS through our /go2rtc/ proxy.
		w.open("hls.html")
		w.until("HLS video plays", videoPlays, 60*time.Second)
		w.p.Screenshot(w.t, "live-hls")
	})

	run("streams", func() {
		w.open("streams.html")
		w.see("cam1", 10*time.Second)
		w.click("Add Stream")
		w.fill("#stream-name", "cam2")
		w.fill("#stream-url", cam.URL())
		w.do("save the new stream", 10*time.Second, chromedp.Click("#stream-save-btn"))
		w.see("Stream added successfully", 15*time.Second)
		var s2 map[string]any
		api.call("GET", "/api/streams/cam2", nil, &s2)
		if s2["url"] != cam.URL() {
			w.t.Errorf("added stream: %v", s2)
		}

		w.clickOn("cam2", "Edit")
		w.click("Advanced Settings")
		w.choose("#stream-priority", "10")
		w.do("save the edit", 10*time.Second, chromedp.Click("#stream-save-btn"))
		w.see("Stream updated successfully", 15*time.Second)
		api.call("GET", "/api/streams/cam2", nil, &s2)
		if fmt.Sprint(s2["priority"]) != "10" {
			w.t.Errorf("edited stream: priority %v, want 10", s2["priority"])
		}

		w.clickOn("cam2", "Delete")
		w.see("Delete Stream (Permanent)", 5*time.Second)
		w.click("Delete")
		w.click("Yes, Delete Permanently")
		w.see("Stream successfully deleted.", 15*time.Second)
		w.p.Screenshot(w.t, "streams")
	})

	run("recordings", func() {
		waitRecordings(t, api, 3)
		w.open("recordings.html")
		w.see("Continuous", 15*time.Second)
		w.choose("#date-range-select", "last7days")
		w.click("Apply")
		w.see("Continuous", 15*time.Second)
		w.clickOn("cam1", "Play")
		w.until("recording plays", videoPlays, 20*time.Second)
		w.do("close the player", 5*time.Second, chromedp.KeyEvent("\x1b"))
		w.clickOn("cam1", "Download")
		w.clickOn("cam1", "Protect recording")
		w.until("protected", `document.querySelector('button[title="Unprotect recording"]') !== null`, 10*time.Second)
		if n := countRecordings(t, api, "protected=1"); n != 1 {
			w.t.Errorf("%d recordings protected, want 1", n)
		}
		before := countRecordings(t, api, "")
		w.do("select all", 5*time.Second, chromedp.Click(`input[aria-label^="Select all"]`))
		w.click("Manage Tags")
		w.fill(`input[placeholder="Add new tag..."]`, "walked\r")
		w.see(`Tag "walked" added to`, 10*time.Second)
		w.do("close the tags", 5*time.Second, chromedp.KeyEvent("\x1b"))
		if n := countRecordings(t, api, "tag=walked"); n == 0 {
			w.t.Error("no recording tagged through the page")
		}
		w.click("Delete Selected")
		w.until("confirm", `(() => {
			const b = [...document.querySelectorAll('#batch-delete-modal button')].find(b => b.textContent.trim().startsWith('Delete'));
			if (b) b.click();
			return !!b;
		})()`, 10*time.Second)
		w.until("batch delete done", fmt.Sprintf(`fetch('/api/recordings?limit=1000').then(r => r.json()).then(j => (j.recordings || []).length < %d)`, before), 20*time.Second)
		if n := countRecordings(t, api, "protected=1"); n != 1 {
			w.t.Errorf("batch delete left %d protected recordings, want 1", n)
		}
		w.p.Screenshot(w.t, "recordings")
	})

	run("timeline", func() {
		waitRecordings(t, api, 3)
		w.open("timeline.html")
		w.choose("#stream-selector", "cam1")
		w.until("segments drawn", `document.querySelectorAll('.timeline-segments .timeline-segment').length > 0`, 20*time.Second)
		if ok, _ := testkit.Eval[bool](w.p, 5*time.Second, `document.body.innerText.includes('No recordings found')`); ok {
			w.t.Error("the timeline says no recordings were found")
		}
		w.do("play", 5*time.Second, chromedp.Click("#play-button"))
		w.until("the timeline plays a segment", `(() => { const v = document.querySelector('#video-player video, video#video-player, video');
			return !!v && v.readyState >= 2 && v.videoWidth > 0 && v.currentSrc.includes('/api/recordings/play/') })()`, 20*time.Second)
		w.p.Screenshot(w.t, "timeline")
	})

	run("settings", func() {
		w.open("settings.html")
		w.do("settings form", 15*time.Second, chromedp.WaitVisible("#setting-log-level"))
		w.choose("#setting-log-level", "3")
		w.do("save", 10*time.Second, chromedp.Click("#save-settings-btn"))
		w.see("Settings saved successfully", 15*time.Second)
		var got map[string]any
		api.call("GET", "/api/settings", nil, &got)
		if got["log_level"] != float64(3) {
			w.t.Errorf("log_level after saving = %v, want 3", got["log_level"])
		}
		w.p.Screenshot(w.t, "settings")
	})

	run("users", func() {
		w.open("users.html")
		w.see("totpuser", 15*time.Second)
		w.click("Add User")
		w.fill("#username", "walker")
		w.fill("#email", "walker@example.com")
		w.fill("#password", "walker-password")
		w.do("submit", 10*time.Second, chromedp.Click(`form:has(#username) button[type="submit"]`))
		w.see("User added successfully", 15*time.Second)
		w.clickOn("walker", "Edit User")
		w.fill("#email", "walker@example.org")
		w.click("Update User")
		w.see("User updated successfully", 15*time.Second)
		w.see("walker@example.org", 10*time.Second)
		w.p.Screenshot(w.t, "users")
	})

	run("system", func() {
		w.open("system.html")
		w.see("System Logs", 15*time.Second)
		w.see("go2rtc running", 15*time.Second)
		w.see("Restart LightNVR", 5*time.Second)
		w.p.Screenshot(w.t, "system")
	})
}

// videoPlays is true once a video element of the page shows frames.
const videoPlays = `[...document.querySelectorAll('video')].some(v => v.readyState >= 2 && v.videoWidth > 0)`

// countRecordings is how many recordings GET /api/recordings lists.
func countRecordings(t *testing.T, api peerAPI, query string) int {
	t.Helper()
	var r struct {
		Recordings []json.RawMessage `json:"recordings"`
	}
	api.call("GET", "/api/recordings?limit=1000&"+query, nil, &r)
	return len(r.Recordings)
}

// waitRecordings waits until at least n recordings are listed.
func waitRecordings(t *testing.T, api peerAPI, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); countRecordings(t, api, "") < n; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d recordings after 30 s", n)
		}
	}
}
