package api

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

// ptzEnv is the real server over a real database with one account per role
// and an ONVIF test camera whose clock runs an hour ahead, so a request
// only reaches it signed with a clock-corrected digest.
type ptzEnv struct {
	*rolesEnv
	cam *testkit.ONVIFCamera
}

func newPTZEnv(t *testing.T) *ptzEnv {
	t.Helper()
	cam := testkit.StartONVIFCamera(t, testkit.ONVIFCameraOptions{User: "onvif", Password: "secret", Skew: time.Hour})
	ae := newAuthEnv(t, envOpts{})
	e := &ptzEnv{rolesEnv: &rolesEnv{authEnv: ae, creds: map[string]req{}}, cam: cam}
	e.loginRoles()
	e.addStream("cam", cam.Port, func(s *db.Stream) { s.PTZEnabled, s.IsONVIF = true, true })
	return e
}

// addStream adds a stream whose camera answers ONVIF on port.
func (e *ptzEnv) addStream(name string, port int, set func(*db.Stream)) {
	e.t.Helper()
	s := db.NewStream(name, "rtsp://127.0.0.1:8554/"+name)
	s.ONVIFPort, s.ONVIFUsername, s.ONVIFPassword = port, "onvif", "secret"
	if set != nil {
		set(s)
	}
	if err := db.InsertStream(context.Background(), e.db, s); err != nil {
		e.t.Fatal(err)
	}
}

// call sends a request as role; a bodiless POST or PUT carries an empty
// JSON object, as the browser's fetch sends it (the CSRF check wants the type).
func (e *ptzEnv) call(role, method, path string, body any) *resp {
	e.t.Helper()
	if body == nil && method != "GET" {
		body = "{}"
	}
	return e.as(role, method, path, body)
}

// ok sends a request as user and expects 200 with a JSON object.
func (e *ptzEnv) ok(method, path string, body any) map[string]any {
	e.t.Helper()
	r := e.call("user", method, path, body)
	expectStatus(e.t, r, 200, method+" "+path)
	return r.json(e.t)
}

// ptzPoint is an x/y pair as ONVIF sends it in attributes (zoom uses x).
type ptzPoint struct {
	X float64 `xml:"x,attr"`
	Y float64 `xml:"y,attr"`
}

// ptzWire is a PTZ request as it arrives at the camera: the move's vector
// (Velocity, Translation or Position) is whichever other element it holds.
type ptzWire struct {
	Profile string `xml:"ProfileToken"`
	Vectors struct {
		PanTilt, Zoom *ptzPoint
	} `xml:",any"`
	PanTilt     string `xml:"PanTilt"`
	PresetName  string `xml:"PresetName"`
	PresetToken string `xml:"PresetToken"`
}

// lastCall decodes the newest call of action the camera received.
func (e *ptzEnv) lastCall(action string) ptzWire {
	e.t.Helper()
	calls := e.cam.CallsOf(action)
	if len(calls) == 0 {
		e.t.Fatalf("the camera received no %s", action)
	}
	var w ptzWire
	if err := calls[len(calls)-1].Decode(&w); err != nil {
		e.t.Fatalf("%s: %v", action, err)
	}
	return w
}

// Every PTZ route reaches the camera with the stream's profile and the
// values asked, and answers LightNVR's shapes.
func TestPTZRoutesReachTheCamera(t *testing.T) {
	e := newPTZEnv(t)
	vec := func(w ptzWire) (x, y, z float64) {
		if w.Vectors.PanTilt != nil {
			x, y = w.Vectors.PanTilt.X, w.Vectors.PanTilt.Y
		}
		if w.Vectors.Zoom != nil {
			z = w.Vectors.Zoom.X
		}
		return
	}
	moves := []struct {
		path, action string
		body         map[string]float64
	}{
		{"move", "ContinuousMove", map[string]float64{"pan": 0.5, "tilt": -0.25, "zoom": 0.1}},
		{"absolute", "AbsoluteMove", map[string]float64{"pan": 0.3, "tilt": 0.2, "zoom": 0.5}},
		{"relative", "RelativeMove", map[string]float64{"pan": -0.1, "tilt": 0.1, "zoom": 0.25}},
	}
	for _, m := range moves {
		got := e.ok("POST", "/api/streams/cam/ptz/"+m.path, m.body)
		if got["success"] != true || got["message"] == "" {
			t.Errorf("%s: answer %v", m.path, got)
		}
		w := e.lastCall(m.action)
		if x, y, z := vec(w); x != m.body["pan"] || y != m.body["tilt"] || z != m.body["zoom"] || w.Profile != testkit.ONVIFProfileToken {
			t.Errorf("%s reached the camera as profile %q pan %g tilt %g zoom %g, want %v", m.action, w.Profile, x, y, z, m.body)
		}
	}
	e.ok("POST", "/api/streams/cam/ptz/stop", nil)
	if w := e.lastCall("Stop"); w.PanTilt != "true" {
		t.Errorf("Stop did not stop pan/tilt: %+v", w)
	}
	e.ok("POST", "/api/streams/cam/ptz/set-home", nil)
	e.lastCall("SetHomePosition")
	e.ok("POST", "/api/streams/cam/ptz/home", nil)
	e.lastCall("GotoHomePosition")

	saved := e.ok("PUT", "/api/streams/cam/ptz/preset", map[string]string{"name": "gate"})
	token, _ := saved["token"].(string)
	if saved["success"] != true || token == "" || e.lastCall("SetPreset").PresetName != "gate" {
		t.Fatalf("set preset: %v", saved)
	}
	list := e.ok("GET", "/api/streams/cam/ptz/presets", nil)
	presets, _ := list["presets"].([]any)
	if list["count"] != float64(1) || len(presets) != 1 || presets[0].(map[string]any)["name"] != "gate" || presets[0].(map[string]any)["token"] != token {
		t.Errorf("presets: %v", list)
	}
	e.ok("POST", "/api/streams/cam/ptz/goto-preset", map[string]string{"token": token})
	if got := e.lastCall("GotoPreset").PresetToken; got != token {
		t.Errorf("GotoPreset reached the camera with token %q, want %q", got, token)
	}

	// The camera was reached once; later requests reuse it.
	if n := len(e.cam.CallsOf("GetSystemDateAndTime")); n != 1 {
		t.Errorf("the camera's clock was asked %d times, want once", n)
	}
}

// The capabilities are what the camera's PTZ node reports (GetNodes): its
// generic position ranges, which the test camera narrows, its preset limit
// and its home position.
func TestPTZCapabilitiesComeFromTheCamera(t *testing.T) {
	e := newPTZEnv(t)
	caps := e.ok("GET", "/api/streams/cam/ptz/capabilities", nil)
	n := testkit.ONVIFPTZNode
	for key, want := range map[string][2]float64{"pan_range": n.Pan, "tilt_range": n.Tilt, "zoom_range": n.Zoom} {
		r, _ := caps[key].(map[string]any)
		if r["min"] != want[0] || r["max"] != want[1] {
			t.Errorf("%s: %v, want the camera's %v", key, caps[key], want)
		}
	}
	if caps["max_presets"] != float64(n.MaxPresets) || caps["has_home_position"] != true || caps["has_presets"] != true {
		t.Errorf("presets and home: %v", caps)
	}
	for _, k := range []string{"ptz_enabled", "onvif_queried", "has_pan_tilt", "has_zoom", "has_continuous_move", "has_absolute_move", "has_relative_move"} {
		if caps[k] != true {
			t.Errorf("%s is %v", k, caps[k])
		}
	}
	if url, _ := caps["ptz_service_url"].(string); !strings.HasSuffix(url, "/onvif/ptz_service") {
		t.Errorf("ptz_service_url %q", url)
	}
	if len(e.cam.CallsOf("GetNodes")) != 1 {
		t.Errorf("GetNodes reached the camera %d times", len(e.cam.CallsOf("GetNodes")))
	}
}

func TestImagingSettingsRoundTrip(t *testing.T) {
	e := newPTZEnv(t)
	before := e.ok("GET", "/api/streams/cam/imaging/settings", nil)
	set, _ := before["settings"].(map[string]any)
	if before["success"] != true || set["brightness"] != float64(50) || set["ir_cut_filter"] != "AUTO" ||
		before["video_source_token"] != testkit.ONVIFVideoSourceToken {
		t.Fatalf("settings before: %v", before)
	}
	e.ok("PUT", "/api/streams/cam/imaging/settings", map[string]any{"brightness": 70, "saturation": 30,
		"wdr": map[string]any{"mode": "on", "level": 80}, "force_persistence": true})
	var wire struct {
		Persist bool `xml:"ForcePersistence"`
	}
	calls := e.cam.CallsOf("SetImagingSettings")
	if len(calls) != 1 || calls[0].Decode(&wire) != nil || !wire.Persist {
		t.Errorf("SetImagingSettings calls %d, persistence %v", len(calls), wire.Persist)
	}
	after := e.ok("GET", "/api/streams/cam/imaging/settings", nil)
	set, _ = after["settings"].(map[string]any)
	wdr, _ := set["wide_dynamic_range"].(map[string]any)
	if set["brightness"] != float64(70) || set["color_saturation"] != float64(30) || set["contrast"] != float64(50) ||
		wdr["mode"] != "ON" || wdr["level"] != float64(80) {
		t.Errorf("settings after: %v", after)
	}
}

// The options are the camera's own ranges (no two alike on the test
// camera), from its GetOptions answer for the profile's video source.
func TestImagingOptionsComeFromTheCamera(t *testing.T) {
	e := newPTZEnv(t)
	got := e.ok("GET", "/api/streams/cam/imaging/options", nil)
	opts, _ := got["options"].(map[string]any)
	rg := testkit.ONVIFImagingRanges
	for key, want := range map[string][2]float64{"brightness": rg.Brightness, "color_saturation": rg.ColorSaturation,
		"contrast": rg.Contrast, "sharpness": rg.Sharpness, "backlight_compensation": rg.BacklightLevel, "wide_dynamic_range": rg.WDRLevel} {
		r, _ := opts[key].(map[string]any)
		if r["min"] != want[0] || r["max"] != want[1] {
			t.Errorf("%s: %v, want the camera's %v", key, opts[key], want)
		}
	}
	modes, _ := opts["ir_cut_filter_modes"].([]any)
	if got["success"] != true || opts["video_source_token"] != testkit.ONVIFVideoSourceToken || len(modes) != 3 || modes[2] != "AUTO" {
		t.Errorf("options: %v", got)
	}
	var wire struct {
		Source string `xml:"VideoSourceToken"`
	}
	if calls := e.cam.CallsOf("GetOptions"); len(calls) != 1 || calls[0].Decode(&wire) != nil || wire.Source != testkit.ONVIFVideoSourceToken {
		t.Errorf("GetOptions reached the camera %d times (source %q)", len(calls), wire.Source)
	}
	e.addStream("plain", e.cam.Port, nil)
	e.addStream("down", testkit.FreePort(t), func(s *db.Stream) { s.IsONVIF = true })
	expectCameraError(t, e.call("user", "GET", "/api/streams/plain/imaging/options", nil), 400, "plain stream", "not an ONVIF camera")
	expectCameraError(t, e.call("user", "GET", "/api/streams/nosuch/imaging/options", nil), 404, "unknown stream", "not found")
	expectCameraError(t, e.call("user", "GET", "/api/streams/down/imaging/options", nil), 502, "camera down", "not reachable")
	expectStatus(t, e.call("viewer", "GET", "/api/streams/cam/imaging/options", nil), 200, "viewer reads the options")
	expectStatus(t, e.do(req{method: "GET", path: "/api/streams/cam/imaging/options"}), 401, "nobody reads the options")
}

func TestDayNightSwitchSetsIrCutFilter(t *testing.T) {
	e := newPTZEnv(t)
	got := e.ok("GET", "/api/streams/cam/daynight", nil)
	if got["mode"] != "auto" || got["ir_cut_filter"] != "AUTO" || got["success"] != true {
		t.Fatalf("day/night before: %v", got)
	}
	for _, c := range []struct {
		body     map[string]any
		mode, ir string
	}{
		{map[string]any{"mode": "night"}, "night", "OFF"},
		{map[string]any{"daynight": "color"}, "day", "ON"},
		{map[string]any{"ircut": "auto"}, "auto", "AUTO"},
		{map[string]any{"mode": "bw", "force_persistence": true}, "night", "OFF"},
	} {
		got := e.ok("PUT", "/api/streams/cam/daynight", c.body)
		if got["mode"] != c.mode || got["ir_cut_filter"] != c.ir || e.cam.ONVIFIrCutFilter() != c.ir {
			t.Errorf("%v: answer %v, camera's IR cut filter %s; want %s/%s", c.body, got, e.cam.ONVIFIrCutFilter(), c.mode, c.ir)
		}
	}
	if got := e.ok("GET", "/api/streams/cam/daynight", nil); got["mode"] != "night" || got["ir_cut_filter"] != "OFF" {
		t.Errorf("day/night after: %v", got)
	}
}

// expectCameraError checks a clear error reply of status.
func expectCameraError(t *testing.T, r *resp, status int, what, wantText string) {
	t.Helper()
	expectStatus(t, r, status, what)
	expectErrorBody(t, r)
	if msg, _ := r.json(t)["error"].(string); !strings.Contains(msg, wantText) {
		t.Errorf("%s: error %q does not say %q", what, msg, wantText)
	}
}

// A camera that is down, refuses the credentials or never answers gives
// 502 or 504 with a message, never 500.
func TestPTZCameraFailures(t *testing.T) {
	e := newPTZEnv(t)
	e.addStream("down", testkit.FreePort(t), func(s *db.Stream) { s.PTZEnabled, s.IsONVIF = true, true })
	e.addStream("badpw", e.cam.Port, func(s *db.Stream) { s.PTZEnabled, s.ONVIFPassword = true, "wrong" })
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/streams/down/ptz/move"}, {"GET", "/api/streams/down/ptz/presets"},
		{"GET", "/api/streams/down/imaging/settings"}, {"PUT", "/api/streams/down/daynight"},
	} {
		body := map[string]any{"pan": 0.5, "mode": "day"}
		if c.path == "/api/streams/down/ptz/move" {
			body = map[string]any{"pan": 0.5}
		} else if c.path == "/api/streams/down/daynight" {
			body = map[string]any{"mode": "day"}
		}
		expectCameraError(t, e.call("user", c.method, c.path, body), 502, c.method+" "+c.path, "not reachable")
	}
	expectCameraError(t, e.call("user", "POST", "/api/streams/badpw/ptz/stop", nil), 502, "wrong password", "credentials")

	// A camera that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	e.addStream("hung", ln.Addr().(*net.TCPAddr).Port, func(s *db.Stream) { s.PTZEnabled = true })
	expectCameraError(t, e.call("user", "POST", "/api/streams/hung/ptz/home", nil), 504, "silent camera", "in time")
}

// Bad input answers 400 and nothing reaches the camera; a stream without
// PTZ or ONVIF answers LightNVR's 400, an unknown one 404.
func TestPTZBadInput(t *testing.T) {
	e := newPTZEnv(t)
	e.addStream("plain", e.cam.Port, nil)
	for _, c := range []struct {
		method, path string
		body         any
		want         int
		text         string
	}{
		{"POST", "/api/streams/cam/ptz/move", `{"pan":`, 400, ""},
		{"POST", "/api/streams/cam/ptz/move", `{}`, 400, "required"},
		{"POST", "/api/streams/cam/ptz/move", map[string]any{"pan": 2}, 400, "between -1 and 1"},
		{"POST", "/api/streams/cam/ptz/absolute", map[string]any{"speed": 1}, 400, ""},
		{"POST", "/api/streams/cam/ptz/relative", " ", 400, ""},
		{"POST", "/api/streams/cam/ptz/goto-preset", map[string]any{}, 400, "token"},
		{"POST", "/api/streams/cam/ptz/goto-preset", map[string]any{"token": 5}, 400, ""},
		{"PUT", "/api/streams/cam/ptz/preset", map[string]any{"name": " "}, 400, "name"},
		{"PUT", "/api/streams/cam/imaging/settings", map[string]any{}, 400, "no imaging setting"},
		{"PUT", "/api/streams/cam/imaging/settings", map[string]any{"defog": 1}, 400, "defog"},
		{"PUT", "/api/streams/cam/imaging/settings", map[string]any{"brightness": "high"}, 400, "brightness"},
		{"PUT", "/api/streams/cam/imaging/settings", map[string]any{"ir_cut_filter": "SOMETIMES"}, 400, "ir_cut_filter"},
		{"PUT", "/api/streams/cam/daynight", map[string]any{"mode": "purple"}, 400, "mode"},
		{"PUT", "/api/streams/cam/daynight", map[string]any{}, 400, "mode"},
		{"POST", "/api/streams/plain/ptz/move", map[string]any{"pan": 0.5}, 400, "PTZ not enabled"},
		{"GET", "/api/streams/plain/ptz/presets", nil, 400, "PTZ not enabled"},
		{"GET", "/api/streams/plain/imaging/settings", nil, 400, "not an ONVIF camera"},
		{"GET", "/api/streams/nosuch/ptz/capabilities", nil, 404, "not found"},
	} {
		what := c.method + " " + c.path
		if b, err := json.Marshal(c.body); err == nil {
			what += " " + string(b)
		}
		expectCameraError(t, e.call("user", c.method, c.path, c.body), c.want, what, c.text)
	}
	if calls := e.cam.Calls(); len(calls) != 0 {
		t.Errorf("bad requests reached the camera: %d calls, first %s", len(calls), calls[0].Action)
	}
	caps := e.ok("GET", "/api/streams/plain/ptz/capabilities", nil)
	if caps["ptz_enabled"] != false || caps["onvif_queried"] != false || caps["has_pan_tilt"] != false {
		t.Errorf("capabilities without PTZ: %v", caps)
	}
}

// A viewer may read but not move the camera; nobody gets 401; the refused
// requests never reach the camera.
func TestPTZRoles(t *testing.T) {
	e := newPTZEnv(t)
	expectStatus(t, e.call("viewer", "GET", "/api/streams/cam/ptz/capabilities", nil), 200, "viewer reads capabilities")
	expectStatus(t, e.call("viewer", "GET", "/api/streams/cam/daynight", nil), 200, "viewer reads day/night")
	before := len(e.cam.Calls())
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/streams/cam/ptz/move"}, {"POST", "/api/streams/cam/ptz/home"},
		{"PUT", "/api/streams/cam/ptz/preset"}, {"PUT", "/api/streams/cam/imaging/settings"}, {"PUT", "/api/streams/cam/daynight"},
	} {
		body := `{"pan":0.5,"name":"x","brightness":1,"mode":"night"}`
		expectStatus(t, e.call("viewer", c.method, c.path, body), 403, "viewer "+c.method+" "+c.path)
		expectStatus(t, e.do(req{method: c.method, path: c.path, body: body}), 401, "nobody "+c.method+" "+c.path)
	}
	expectStatus(t, e.do(req{method: "GET", path: "/api/streams/cam/ptz/presets"}), 401, "nobody reads presets")
	if after := len(e.cam.Calls()); after != before {
		t.Errorf("refused requests reached the camera: %d calls", after-before)
	}
	if e.cam.ONVIFIrCutFilter() != "AUTO" {
		t.Errorf("a refused request switched the IR cut filter to %s", e.cam.ONVIFIrCutFilter())
	}
	expectStatus(t, e.call("api", "POST", "/api/streams/cam/ptz/stop", nil), 200, "api key stops the camera")
}
