package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"lightnvr/pkg/testkit"
)

type ui struct {
	t    *testing.T
	base string
	p    *testkit.Page
}

// newUI opens a tab on our UI at base. A thumbnail still being made answers
// 503 with Retry-After (LightNVR's contract) and the recordings page asks
// again; the browser logs that answer, which is not an error of the page.
// Nor is the 503 of the OTA status on a daemon without [ota]: the System
// page shows its reason.
func newUI(t *testing.T, base string, b *testkit.Browser) *ui {
	u := &ui{t: t, base: base, p: b.NewPage(t)}
	u.p.IgnoreErrors(`status of 503 .*/api/recordings/thumbnail/`)
	u.p.IgnoreErrors(`status of 503 .*/api/system/ota/status`)
	return u
}

func (u *ui) do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	if err := u.p.Do(timeout, actions...); err != nil {
		u.p.Screenshot(u.t, "failed-"+strings.NewReplacer(" ", "-", "/", "-").Replace(what))
		u.t.Fatalf("%s: %v", what, err)
	}
}

func (u *ui) open(route string) {
	u.t.Helper()
	u.do("open "+route, 15*time.Second, chromedp.Navigate(u.base+"/"+route), chromedp.WaitVisible("main"))
}

// fetchStatus asks the page for the HTTP status of an API path, with the page's cookie.
func (u *ui) fetchStatus(path string) int {
	u.t.Helper()
	st, err := testkit.Eval[int](u.p, 10*time.Second, fmt.Sprintf(`fetch(%q, {credentials:'same-origin'}).then(r => r.status)`, path))
	if err != nil {
		u.t.Fatalf("fetch %s: %v", path, err)
	}
	return st
}

// checkClean fails the test for console errors and requests that left loopback.
func (u *ui) checkClean(page string) {
	u.t.Helper()
	for _, e := range u.p.Errors() {
		u.t.Errorf("%s page: browser error: %s", page, e)
	}
	for _, r := range u.p.ForeignRequests() {
		u.t.Errorf("%s page: request left 127.0.0.1: %s", page, r)
	}
}

// waitText waits until the element's text is want and returns the last text
// seen, so a failure says what the page showed instead.
func (u *ui) waitText(sel, want string, timeout time.Duration) string {
	u.t.Helper()
	var got string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got, _ = testkit.Eval[string](u.p, 5*time.Second, fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||''`, sel))
		if got == want {
			break
		}
	}
	return got
}

func (u *ui) login(user, password string) {
	u.t.Helper()
	u.do("open login", 15*time.Second, chromedp.Navigate(u.base+"/login.html"), chromedp.WaitVisible("#username"))
	u.do("log in as "+user, 15*time.Second,
		chromedp.SendKeys("#username", user),
		chromedp.SendKeys("#password", password),
		chromedp.Click(`button[type="submit"]`))
}

func (u *ui) waitLoggedIn(user string) {
	u.t.Helper()
	u.do("wait for the app as "+user, 15*time.Second, chromedp.WaitVisible(`header.top .userbox`))
	name, err := testkit.Eval[string](u.p, 5*time.Second, `document.querySelector('header.top .userbox a').textContent`)
	if err != nil || name != user {
		u.t.Fatalf("logged in as %q (%v), want %q", name, err, user)
	}
}

func (u *ui) logout() {
	u.t.Helper()
	u.do("log out", 15*time.Second, chromedp.Click(`header.top .userbox button:last-child`), chromedp.WaitVisible("#username"))
	// A page's first loads may still be in flight when the session ends;
	// their 401s belong to the user who left. Anything else is an error.
	for _, e := range u.p.Errors() {
		if !strings.Contains(e, "status of 401") {
			u.t.Errorf("log out: browser error: %s", e)
		}
	}
}

func TestWebUI(t *testing.T) {
	cam := testkit.StartCamera(t)
	base := startLightNVR(t)
	b := testkit.StartChromium(t, 1280, 800)
	u := newUI(t, base, b)

	// Not logged in: the app sends us to the login page.
	u.do("open /", 15*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#username"))
	loc, _ := testkit.Eval[string](u.p, 5*time.Second, `location.pathname + location.search`)
	if !strings.HasPrefix(loc, "/login.html?auth_required=true") {
		t.Errorf("unauthenticated / went to %q, want /login.html?auth_required=true", loc)
	}
	// The 401 of the session check is expected here and only here.
	for _, e := range u.p.Errors() {
		if !strings.Contains(e, "401") {
			t.Errorf("login redirect: browser error: %s", e)
		}
	}
	u.p.Screenshot(t, "01-login")

	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")
	u.checkClean("login")

	t.Run("add a stream", func(t *testing.T) {
		u.t = t
		u.open("#/streams")
		u.do("open add-stream dialog", 10*time.Second, chromedp.Click(`[data-testid=stream-add]`), chromedp.WaitVisible("#stream-name"))
		u.do("fill the form", 10*time.Second,
			chromedp.SendKeys("#stream-name", "cam1"),
			chromedp.SendKeys("#stream-url", cam.URL()),
			// Short segments, so a finished recording is there to play within seconds.
			chromedp.SetValue("#stream-segment", ""),
			chromedp.SendKeys("#stream-segment", "5"))
		u.p.Screenshot(t, "03-stream-form")
		u.do("save", 10*time.Second, chromedp.Click(`[data-testid=stream-save]`))
		err := u.p.Do(15*time.Second, chromedp.WaitVisible(`tr[data-stream="cam1"]`))
		u.p.Screenshot(t, "03-streams")
		if err != nil {
			msg, _ := testkit.Eval[string](u.p, 5*time.Second, `(document.querySelector('.modal .banner.error, .modal .err')||{}).textContent||''`)
			u.p.Errors() // the failed POST's console line is reported by the Fatal below
			t.Fatalf("new stream not listed: %v (form says %q)", err, msg)
		}
		u.checkClean("streams")
	})

	// The UI's player against go2rtc through lightnvr's proxy, for each transport
	// on its own (the live view's automatic choice may hide a broken one); hls
	// is lightnvr's own live HLS, fed to a MediaSource.
	for _, mode := range []string{"mse", "webrtc", "hls"} {
		t.Run("player over "+mode, func(t *testing.T) {
			u.t = t
			u.open("#/account")
			js := `(async () => {
				const { LivePlayer } = await import('/js/player.js');
				const v = document.createElement('video'); v.muted = true; v.style.width = '320px'; document.body.appendChild(v);
				const states = [];
				const p = new LivePlayer(v, 'cam1', { mode: '` + mode + `', webrtcTimeoutMs: 15000, onState: (s, d) => states.push(s + (d ? ':' + d : '')) });
				p.start();
				const t0 = Date.now();
				while (Date.now() - t0 < 25000 && v.currentTime < 1.5 && !states.some(s => s.startsWith('error'))) await new Promise(r => setTimeout(r, 200));
				const out = { t: v.currentTime, states };
				p.stop(); v.remove();
				return out;
			})()`
			type result struct {
				T      float64  `json:"t"`
				States []string `json:"states"`
			}
			r, err := testkit.Eval[result](u.p, 40*time.Second, js)
			if err != nil {
				t.Fatalf("player: %v", err)
			}
			if r.T < 1.5 {
				t.Fatalf("%s player did not play: currentTime %.2f, states %v", mode, r.T, r.States)
			}
			t.Logf("%s: currentTime %.2f, states %v", mode, r.T, r.States)
			u.checkClean("player " + mode)
		})
	}

	t.Run("live view plays", func(t *testing.T) {
		u.t = t
		u.open("#/live")
		if st := u.fetchStatus("/api/streams"); st != http.StatusOK {
			u.p.Screenshot(t, "02-live")
			t.Fatalf("live view has no cameras: GET /api/streams answered %d (the streams API is not there yet)", st)
		}
		if err := u.p.Do(15*time.Second, chromedp.WaitVisible(`.cell video`)); err != nil {
			u.p.Screenshot(t, "02-live")
			t.Fatalf("no live cell shown: %v", err)
		}
		advancing := `new Promise(res => { const v = document.querySelector('.cell video'); if (!v) return res(-1);
			const a = v.currentTime; setTimeout(() => res(v.currentTime - a), 1500); })`
		deadline := time.Now().Add(40 * time.Second)
		var delta float64
		for time.Now().Before(deadline) {
			d, err := testkit.Eval[float64](u.p, 10*time.Second, advancing)
			if err == nil && d > 0.3 {
				delta = d
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		u.p.Screenshot(t, "02-live")
		if delta <= 0.3 {
			badge, _ := testkit.Eval[string](u.p, 5*time.Second, `(document.querySelector('[data-testid=live-badge]')||{}).textContent||'no cell'`)
			t.Fatalf("live video is not playing (currentTime did not advance); badge %q", badge)
		}
		badge, _ := testkit.Eval[string](u.p, 5*time.Second, `document.querySelector('[data-testid=live-badge]').textContent`)
		t.Logf("live cell playing: currentTime +%.2fs in 1.5s, %s", delta, badge)
		u.checkClean("live")
	})

	t.Run("recording plays and seeks", func(t *testing.T) {
		u.t = t
		u.open("#/recordings")
		if st := u.fetchStatus("/api/recordings"); st != http.StatusOK {
			u.p.Screenshot(t, "04-recordings")
			u.p.Errors()
			t.Fatalf("GET /api/recordings answered %d: the recordings API is not there yet, so no recording can be opened", st)
		}
		// A finished segment (5 s long) plays from a file that no longer grows.
		// The page lists what exists when it loads: reload until one is there.
		finished := `tr[data-recording][data-complete="true"] button.primary`
		deadline := time.Now().Add(60 * time.Second)
		for {
			n, err := testkit.Eval[int](u.p, 5*time.Second, `document.querySelectorAll('`+finished+`').length`)
			if err == nil && n > 0 {
				break
			}
			if time.Now().After(deadline) {
				u.p.Screenshot(t, "04-recordings")
				t.Fatalf("no finished recording listed within 60 s (%v)", err)
			}
			time.Sleep(time.Second)
			u.do("reload recordings", 15*time.Second, chromedp.Reload(), chromedp.WaitVisible(`[data-testid=recordings-table]`))
		}
		u.p.Screenshot(t, "04-recordings")
		u.do("play", 10*time.Second, chromedp.Click(finished), chromedp.WaitVisible(`[data-testid=recording-video]`))
		ready := `new Promise(res => { const v = document.querySelector('[data-testid=recording-video]');
			const t0 = Date.now(); (function w() { if (v.readyState >= 1 && v.duration > 0) return res(v.duration);
			if (v.error || Date.now() - t0 > 15000) return res(-1); setTimeout(w, 100); })(); })`
		dur, err := testkit.Eval[float64](u.p, 20*time.Second, ready)
		if err != nil || dur <= 0 {
			t.Fatalf("recording did not load (duration %v, %v)", dur, err)
		}
		seek := `new Promise(res => { const v = document.querySelector('[data-testid=recording-video]');
			v.addEventListener('seeked', () => res(v.error ? -1 : v.currentTime), {once: true}); v.currentTime = v.duration / 2; })`
		pos, err := testkit.Eval[float64](u.p, 20*time.Second, seek)
		if err != nil || pos < dur/2-1 {
			t.Fatalf("seek to %.1fs landed at %.1fs (%v)", dur/2, pos, err)
		}
		u.p.Screenshot(t, "04-recording-player")
		u.checkClean("recordings")
	})

	t.Run("timeline draws and plays", func(t *testing.T) {
		u.t = t
		u.open("#/timeline")
		u.do("segments drawn", 20*time.Second, chromedp.WaitVisible(`[data-testid=timeline-segment]`))
		// A click in the middle of the first recording plays it from there.
		clicked, err := testkit.Eval[bool](u.p, 5*time.Second, `(() => {
			const s = document.querySelector('[data-testid=timeline-segment]'); const r = s.getBoundingClientRect();
			s.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2}));
			return true })()`)
		if err != nil || !clicked {
			t.Fatalf("click on the timeline: %v", err)
		}
		plays := `new Promise(res => { const t0 = Date.now(); (function w() {
			const v = document.querySelector('[data-testid=timeline-video]');
			if (v && v.readyState >= 2 && v.videoWidth > 0) return res(true);
			if ((v && v.error) || Date.now() - t0 > 15000) return res(false); setTimeout(w, 100); })(); })`
		if ok, err := testkit.Eval[bool](u.p, 20*time.Second, plays); err != nil || !ok {
			u.p.Screenshot(t, "04-timeline")
			state, _ := testkit.Eval[string](u.p, 5*time.Second, `(() => { const v = document.querySelector('[data-testid=timeline-video]');
				return v ? JSON.stringify({src: v.currentSrc, ready: v.readyState, err: v.error && v.error.message}) : document.querySelector('main').innerText })()`)
			t.Fatalf("the timeline's recording did not play (%v): %s; browser errors %v", err, state, u.p.Errors())
		}
		u.p.Screenshot(t, "04-timeline")
		u.checkClean("timeline")
	})

	t.Run("settings and system pages", func(t *testing.T) {
		u.t = t
		u.open("#/settings")
		err := u.p.Do(10*time.Second, chromedp.WaitVisible(`.tabs`))
		u.p.Screenshot(t, "05-settings")
		if err != nil {
			t.Errorf("settings page shows no settings: %v", err)
		}
		u.checkClean("settings")
		u.open("#/system")
		err = u.p.Do(10*time.Second, chromedp.WaitVisible(`[data-testid=health-table] tr td`), chromedp.WaitVisible(`[data-testid=logs] .l-info`))
		u.p.Screenshot(t, "06-system")
		if err != nil {
			t.Errorf("system page shows no stream health or no log lines: %v", err)
		}
		if banner, _ := testkit.Eval[string](u.p, 5*time.Second, `[...document.querySelectorAll('main .banner.error')].map(b => b.textContent).join('; ')`); banner != "" {
			t.Errorf("system page shows an error: %s", banner)
		}
		// The recording camera's fps and bitrate as /api/health measures them, not "–".
		figures := `['fps-cam1', 'bitrate-cam1'].map(id => (document.querySelector('[data-testid="' + id + '"]') || {}).textContent || '').join(' | ')`
		measured := regexp.MustCompile(`^\d+\.\d \| \d`)
		testkit.WaitFor(t, 25*time.Second, "cam1's fps and bitrate on the system page", func() bool {
			got, _ := testkit.Eval[string](u.p, 5*time.Second, figures)
			return measured.MatchString(got)
		})
		u.checkClean("system")
	})

	var totpSecret string
	t.Run("create users and enable TOTP", func(t *testing.T) {
		u.t = t
		u.open("#/users")
		for _, nu := range []struct{ name, role string }{{"viewer1", "2"}, {"totpuser", "1"}} {
			u.do("open add-user dialog", 10*time.Second, chromedp.Click(`[data-testid=user-add]`), chromedp.WaitVisible("#user-name"))
			u.do("fill user "+nu.name, 10*time.Second,
				chromedp.SendKeys("#user-name", nu.name),
				chromedp.SendKeys("#user-password", nu.name+"-password"),
				chromedp.SetValue("#user-role", nu.role))
			// SetValue does not fire change; select the option the way a keyboard user would.
			u.do("choose role", 5*time.Second, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#user-role'); s.value = '`+nu.role+`'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`))
			u.do("save user", 10*time.Second, chromedp.Click(`[data-testid=user-save]`), chromedp.WaitVisible(`tr[data-user="`+nu.name+`"]`))
		}
		u.p.Screenshot(t, "07-users")
		u.do("open 2FA of totpuser", 10*time.Second, chromedp.Click(`tr[data-user="totpuser"] button[aria-label^="Two-factor"]`), chromedp.WaitVisible(`[data-testid=totp-begin]`))
		u.do("begin TOTP setup", 10*time.Second, chromedp.Click(`[data-testid=totp-begin]`), chromedp.WaitVisible(`[data-testid=totp-secret]`))
		secret, err := testkit.Eval[string](u.p, 5*time.Second, `document.querySelector('[data-testid=totp-secret]').textContent`)
		if err != nil || secret == "" {
			t.Fatalf("no TOTP secret shown: %v", err)
		}
		if n, _ := testkit.Eval[int](u.p, 5*time.Second, `document.querySelectorAll('.qr svg path').length`); n != 1 {
			t.Errorf("no QR code drawn")
		}
		u.p.Screenshot(t, "08-totp-setup")
		code, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		u.do("verify code", 10*time.Second, chromedp.SendKeys("#totp-verify-code", code), chromedp.Click(`[data-testid=totp-verify]`))
		// The status line is on screen before the verify request returns.
		if st := u.waitText(`[data-testid=totp-status]`, "enabled", 10*time.Second); st != "enabled" {
			t.Fatalf("TOTP status after verify: %q", st)
		}
		totpSecret = secret
		u.do("close dialog", 5*time.Second, chromedp.KeyEvent("\x1b"))
		u.checkClean("users")
	})

	t.Run("log in with TOTP", func(t *testing.T) {
		u.t = t
		if totpSecret == "" {
			t.Fatal("TOTP was not enabled")
		}
		u.logout()
		u.login("totpuser", "totpuser-password")
		u.do("code step", 10*time.Second, chromedp.WaitVisible("#totp-code"))
		u.p.Screenshot(t, "09-login-totp")
		// The code that enabled TOTP may not be used again (replay protection):
		// take the next period's code, which the ±1 step window accepts.
		code, err := totp.GenerateCode(totpSecret, time.Now().Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		u.do("enter code", 10*time.Second, chromedp.SendKeys("#totp-code", code), chromedp.Click(`button[type="submit"]`))
		u.waitLoggedIn("totpuser")
		u.checkClean("totp login")
	})

	t.Run("viewer cannot see admin pages", func(t *testing.T) {
		u.t = t
		u.logout()
		u.login("viewer1", "viewer1-password")
		u.waitLoggedIn("viewer1")
		links, _ := testkit.Eval[string](u.p, 5*time.Second, `[...document.querySelectorAll('nav.main a')].map(a => a.textContent).join(',')`)
		for _, admin := range []string{"Users", "Settings", "System", "Streams"} {
			if strings.Contains(links, admin) {
				t.Errorf("viewer's menu offers %s: %s", admin, links)
			}
		}
		for _, page := range []string{"users", "settings", "system"} {
			u.open("#/" + page)
			u.do("forbidden banner on "+page, 10*time.Second, chromedp.WaitVisible(`[data-testid=forbidden]`))
			if page == "users" {
				u.p.Screenshot(t, "10-viewer-users")
			}
		}
		u.p.IgnoreErrors(`status of 403 .*/api/auth/users$`) // the probe below
		if st := u.fetchStatus("/api/auth/users"); st != http.StatusForbidden {
			t.Errorf("viewer GET /api/auth/users: %d, want 403", st)
		}
		u.checkClean("viewer")
	})

	t.Run("phone layout", func(t *testing.T) {
		u.t = t
		u.do("phone viewport", 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		u.open("#/recordings")
		u.do("recordings table on a phone", 10*time.Second, chromedp.WaitVisible(`[data-testid=recordings-table]`))
		u.p.Screenshot(t, "11-phone-recordings")
		width, _ := testkit.Eval[int](u.p, 5*time.Second, `document.documentElement.scrollWidth`)
		if width > 400 {
			t.Errorf("page is %dpx wide on a 390px phone: it scrolls sideways", width)
		}
		u.checkClean("phone recordings")
		// Dark theme, as the header's theme button stores it.
		u.do("dark theme", 5*time.Second, chromedp.Evaluate[chromedp.Void](`localStorage.setItem('lightnvr.theme', 'dark')`))
		u.open("#/live")
		u.do("reload", 10*time.Second, chromedp.Reload(), chromedp.WaitVisible("main"))
		u.do("live grid on a phone", 10*time.Second, chromedp.WaitVisible(`.cell video, .card`))
		dark, _ := testkit.Eval[string](u.p, 5*time.Second, `getComputedStyle(document.body).backgroundColor`)
		if dark != "rgb(13, 17, 23)" {
			t.Errorf("dark theme background is %q", dark)
		}
		u.p.Screenshot(t, "12-phone-live-dark")
		u.checkClean("phone live")
	})
	t.Logf("screenshots in %s", testkit.ArtifactDir(t))
}
