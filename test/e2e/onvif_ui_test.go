package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"lightnvr/pkg/onvif/onviftest"
	"lightnvr/pkg/testkit"
)

// cameraCall is the part of a PTZ or imaging request the checks below read.
type cameraCall struct {
	Velocity struct {
		PanTilt *struct {
			X float64 `xml:"x,attr"`
			Y float64 `xml:"y,attr"`
		} `xml:"PanTilt"`
	} `xml:"Velocity"`
	PresetName  string `xml:"PresetName"`
	PresetToken string `xml:"PresetToken"`
	Settings    struct {
		Brightness *float64 `xml:"Brightness"`
	} `xml:"ImagingSettings"`
	body string // the call as sent, for messages
}

// waitCall waits until the camera has received n calls of action and
// returns the newest, decoded.
func waitCall(t *testing.T, cam *testkit.ONVIFCamera, action string, n int) cameraCall {
	t.Helper()
	testkit.WaitFor(t, 15*time.Second, fmt.Sprintf("%d %s call(s) at the camera", n, action), func() bool {
		return len(cam.CallsOf(action)) >= n
	})
	calls := cam.CallsOf(action)
	c := cameraCall{body: calls[len(calls)-1].Body}
	if err := calls[len(calls)-1].Decode(&c); err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return c
}

// mouse presses or releases the left button on the middle of sel.
func (u *ui) mouse(sel string, kind input.DispatchMouseEventType) {
	u.t.Helper()
	type point struct{ X, Y float64 }
	p, err := testkit.Eval[point](u.p, 5*time.Second, fmt.Sprintf(`(() => { const e = document.querySelector(%q);
		e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();
		return {X: r.left + r.width / 2, Y: r.top + r.height / 2}; })()`, sel))
	if err != nil {
		u.t.Fatalf("find %s: %v", sel, err)
	}
	u.do(fmt.Sprintf("mouse %s on %s", kind, sel), 5*time.Second,
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, p.X, p.Y),
		chromedp.MouseEvent(kind, p.X, p.Y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
}

// The ONVIF pages against the real daemon: go2rtc's own ONVIF server (a
// device no one here wrote) is found by a scan and added from its profile;
// the stream editor points the stream's controls at the ONVIF test camera,
// which records what the live view's pad, home, presets, picture sliders
// and day/night selector send it.
func TestONVIFUI(t *testing.T) {
	cam := testkit.StartCamera(t)
	device := fmt.Sprintf("http://127.0.0.1:%d/onvif/device_service", cam.APIPort)
	// go2rtc answers no probes: a responder points the scan at it.
	ip := onviftest.AnswerProbes(t, "urn:uuid:0e7d3c52-8f4a-4b8e-9d21-5a6c7b8e9f01", device, "onvif://www.onvif.org/name/porchcam")
	ptz := testkit.StartONVIFCamera(t, testkit.ONVIFCameraOptions{User: "onvif", Password: "secret", Skew: time.Hour})
	d := testkit.NewDaemon(t, adminPassword)
	d.Start()
	b := testkit.StartChromium(t, 1280, 900)
	u := newUI(t, d.Base, b)
	// Without the imaging options route the panel takes the ONVIF defaults.
	u.p.IgnoreErrors(`status of 404 .*/imaging/options`)
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")

	t.Run("discovery adds a stream", func(t *testing.T) {
		u.t = t
		u.open("#/onvif")
		u.do("scan", 30*time.Second, chromedp.WaitVisible("#onvif-network"), u.fill("#onvif-network", ip+"/32"),
			chromedp.Click(`[data-testid=onvif-scan]`), chromedp.WaitVisible(`tr[data-device="`+device+`"]`))
		if got := u.waitText(`[data-testid=onvif-scan-status]`, "Found 1 device in this scan", 10*time.Second); got != "Found 1 device in this scan" {
			t.Fatalf("scan status shows %q", got)
		}
		u.do("pick the device", 10*time.Second, chromedp.Click(`tr[data-device="`+device+`"] button`),
			u.fill("#onvif-user", "admin"), u.fill("#onvif-pass", "s3cret"), chromedp.Click(`[data-testid=onvif-load]`),
			chromedp.WaitReady(`#onvif-profile option[value="pattern"]`))
		u.do("add the profile", 10*time.Second, u.choose("#onvif-profile", "pattern"), u.fill("#onvif-name", "porch"),
			chromedp.Click(`[data-testid=onvif-add]`))
		if got := u.waitText(`[data-testid=onvif-done]`, "Stream porch added. Streams · Live view", 20*time.Second); got != "Stream porch added. Streams · Live view" {
			t.Fatalf("after Add the page shows %q", got)
		}
		u.p.Screenshot(t, "onvif-added")
		var s map[string]any
		u.apiJSON("GET", "/api/streams/porch", nil, &s)
		if s["isOnvif"] != true || s["onvif_profile"] != "pattern" || s["url"] != cam.URL() || s["onvif_port"] != float64(cam.APIPort) {
			t.Fatalf("stored stream %v", s)
		}
		// A refusal shows beside the form: the name is taken now.
		u.p.IgnoreErrors(`status of 409 .*/api/onvif/device/add`)
		u.do("add again", 10*time.Second, chromedp.Click(`[data-testid=onvif-add]`), chromedp.WaitVisible(`[data-testid=onvif-error]`))
		if msg, _ := testkit.Eval[string](u.p, 5*time.Second, `document.querySelector('[data-testid=onvif-error]').textContent`); !strings.Contains(msg, "exists") {
			t.Fatalf("second Add shows %q", msg)
		}
		u.open("#/streams")
		u.do("the stream is listed", 15*time.Second, chromedp.WaitVisible(`tr[data-stream="porch"]`))
		u.checkClean("onvif")
	})

	t.Run("stream editor enables PTZ", func(t *testing.T) {
		u.t = t
		u.open("#/streams")
		u.do("open the editor", 15*time.Second, chromedp.Click(`tr[data-stream="porch"] button[aria-label="Edit porch"]`), chromedp.WaitVisible("#stream-ptz"))
		u.do("point PTZ at the camera", 10*time.Second, chromedp.Click("#stream-ptz"),
			u.fill("#stream-onvif-port", strconv.Itoa(ptz.Port)), u.fill("#stream-onvif-user", "onvif"),
			u.fill("#stream-onvif-pass", "secret"), u.fill("#stream-onvif-profile", testkit.ONVIFProfileToken),
			chromedp.Click(`[data-testid=stream-save]`))
		u.waitJS("the editor to close", `!document.querySelector('.modal')`, 15*time.Second)
		var s map[string]any
		u.apiJSON("GET", "/api/streams/porch", nil, &s)
		if s["ptz_enabled"] != true || s["onvif_port"] != float64(ptz.Port) || s["onvif_username"] != "onvif" || s["onvif_profile"] != testkit.ONVIFProfileToken {
			t.Fatalf("stored stream %v", s)
		}
		u.checkClean("stream editor")
	})

	// openControls loads the live view afresh (a panel left open would
	// close at the click) and opens porch's camera controls.
	openControls := func() {
		u.open("#/live")
		u.do("open the camera controls", 20*time.Second, chromedp.Reload(), chromedp.WaitVisible("main"),
			chromedp.Click(`.cell[data-stream="porch"] [data-testid=live-controls]`), chromedp.WaitVisible(`[data-testid=camera-panel]`))
	}

	t.Run("pad moves while held", func(t *testing.T) {
		u.t = t
		openControls()
		u.do("the pad", 10*time.Second, chromedp.WaitVisible(`[data-testid=ptz]`))
		right := `[data-ptz="Pan right"]`
		u.mouse(right, input.DispatchMouseEventTypeMousePressed)
		move := waitCall(t, ptz, "ContinuousMove", 1)
		if move.Velocity.PanTilt == nil || move.Velocity.PanTilt.X <= 0 {
			t.Fatalf("ContinuousMove velocity %+v, want a positive pan", move.Velocity.PanTilt)
		}
		if n := len(ptz.CallsOf("Stop")); n != 0 {
			t.Fatalf("the camera got %d Stop while the button was held", n)
		}
		u.mouse(right, input.DispatchMouseEventTypeMouseReleased)
		waitCall(t, ptz, "Stop", 1)
		var order []string
		for _, c := range ptz.Calls() {
			if c.Action == "ContinuousMove" || c.Action == "Stop" {
				order = append(order, c.Action)
			}
		}
		if strings.Join(order, ",") != "ContinuousMove,Stop" {
			t.Fatalf("the camera got %v", order)
		}
		u.checkClean("live")
	})

	t.Run("home", func(t *testing.T) {
		u.t = t
		u.do("home", 10*time.Second, chromedp.Click(`[data-testid=ptz-home]`))
		waitCall(t, ptz, "GotoHomePosition", 1)
		u.checkClean("live")
	})

	t.Run("presets", func(t *testing.T) {
		u.t = t
		u.do("save a preset", 10*time.Second, u.fill("#ptz-preset-name", "gate"), chromedp.Click(`[data-testid=ptz-save-preset]`))
		if c := waitCall(t, ptz, "SetPreset", 1); c.PresetName != "gate" {
			t.Fatalf("SetPreset name %q", c.PresetName)
		}
		u.waitJS("the preset in the list", `[...document.querySelectorAll('#ptz-preset option')].some(o => o.textContent === 'gate' && o.selected)`, 10*time.Second)
		u.do("go to it", 10*time.Second, chromedp.Click(`[data-testid=ptz-goto]`))
		if c := waitCall(t, ptz, "GotoPreset", 1); c.PresetToken != "1" {
			t.Fatalf("GotoPreset token %q, want the saved preset's 1", c.PresetToken)
		}
		u.checkClean("live")
	})

	t.Run("picture settings", func(t *testing.T) {
		u.t = t
		// The sliders span what the camera's imaging options report.
		u.do("the sliders", 10*time.Second, chromedp.WaitVisible("#cam-brightness"))
		r := testkit.ONVIFImagingRanges
		want := fmt.Sprintf("%g..%g %g..%g", r.Brightness[0], r.Brightness[1], r.Contrast[0], r.Contrast[1])
		if got, _ := testkit.Eval[string](u.p, 5*time.Second, `['#cam-brightness', '#cam-contrast'].map(s => document.querySelector(s)).map(e => e.min + '..' + e.max).join(' ')`); got != want {
			t.Fatalf("slider ranges %q, want the camera's %q", got, want)
		}
		u.do("move the brightness slider", 10*time.Second, u.fill("#cam-brightness", "73"),
			chromedp.Click(`[data-testid=imaging-save]`))
		if c := waitCall(t, ptz, "SetImagingSettings", 1); c.Settings.Brightness == nil || *c.Settings.Brightness != 73 {
			t.Fatalf("the camera got %s, want brightness 73", c.body)
		}
		if got := u.waitText(`[data-testid=imaging-saved]`, "Saved", 10*time.Second); got != "Saved" {
			t.Fatalf("after saving the panel shows %q", got)
		}
		u.do("night", 10*time.Second, u.choose("#cam-daynight", "night"))
		testkit.WaitFor(t, 15*time.Second, "the IR cut filter out (night)", func() bool { return ptz.ONVIFIrCutFilter() == "OFF" })
		u.p.Screenshot(t, "camera-controls")
		u.checkClean("live")
	})

	t.Run("hidden without PTZ or a writer", func(t *testing.T) {
		u.t = t
		u.apiJSON("PUT", "/api/streams/porch", map[string]any{"ptz_enabled": false}, nil)
		openControls()
		u.waitJS("the picture settings", `!!document.querySelector('#cam-brightness')`, 10*time.Second)
		if n, _ := testkit.Eval[int](u.p, 5*time.Second, `document.querySelectorAll('[data-testid=ptz]').length`); n != 0 {
			t.Fatalf("a stream without PTZ shows %d pads", n)
		}
		u.apiJSON("POST", "/api/auth/users", map[string]any{"username": "watcher", "password": "watcher-password", "role": 2}, nil)
		u.logout()
		u.login("watcher", "watcher-password")
		u.waitLoggedIn("watcher")
		u.open("#/live")
		u.do("the cell shows", 20*time.Second, chromedp.WaitVisible(`.cell[data-stream="porch"] [data-testid=live-record]`))
		if n, _ := testkit.Eval[int](u.p, 5*time.Second, `document.querySelectorAll('[data-testid=live-controls]').length`); n != 0 {
			t.Fatalf("a viewer sees %d camera control buttons", n)
		}
		u.checkClean("live as viewer")
	})
}
