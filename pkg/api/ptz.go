package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/onvif"
)

// ptzHandler serves a stream camera's PTZ head, picture settings and
// day/night switch over ONVIF. Reading needs a viewer; anything that moves
// the camera or changes it needs a writer, since it changes what is
// recorded (LightNVR left all of these public).
type ptzHandler struct {
	*streamsHandler

	mu sync.Mutex
	// devices are the cameras reached so far, by address and credentials,
	// so that a held-down PTZ button does not redo the clock and service
	// handshake on every request; a camera that fails is dropped.
	devices map[onvif.Endpoint]*onvif.Device
}

// maxPTZDevices bounds the device cache; edited streams leave old entries.
const maxPTZDevices = 64

// maxPresetText bounds preset names and tokens.
const maxPresetText = 64

var ptzRoutes = []endpoint[*ptzHandler]{
	{"GET", "/api/streams/{name}/ptz/capabilities", auth.AccessViewer, (*ptzHandler).handleCapabilities},
	{"GET", "/api/streams/{name}/ptz/presets", auth.AccessViewer, (*ptzHandler).handlePresets},
	{"POST", "/api/streams/{name}/ptz/move", auth.AccessWriter, (*ptzHandler).handleMove},
	{"POST", "/api/streams/{name}/ptz/stop", auth.AccessWriter, (*ptzHandler).handleStop},
	{"POST", "/api/streams/{name}/ptz/absolute", auth.AccessWriter, (*ptzHandler).handleAbsolute},
	{"POST", "/api/streams/{name}/ptz/relative", auth.AccessWriter, (*ptzHandler).handleRelative},
	{"POST", "/api/streams/{name}/ptz/home", auth.AccessWriter, (*ptzHandler).handleHome},
	{"POST", "/api/streams/{name}/ptz/set-home", auth.AccessWriter, (*ptzHandler).handleSetHome},
	{"POST", "/api/streams/{name}/ptz/goto-preset", auth.AccessWriter, (*ptzHandler).handleGotoPreset},
	{"PUT", "/api/streams/{name}/ptz/preset", auth.AccessWriter, (*ptzHandler).handleSetPreset},
	{"GET", "/api/streams/{name}/imaging/settings", auth.AccessViewer, (*ptzHandler).handleGetImaging},
	{"PUT", "/api/streams/{name}/imaging/settings", auth.AccessWriter, (*ptzHandler).handleSetImaging},
	{"GET", "/api/streams/{name}/imaging/options", auth.AccessViewer, (*ptzHandler).handleImagingOptions},
	{"GET", "/api/streams/{name}/daynight", auth.AccessViewer, (*ptzHandler).handleGetDayNight},
	{"PUT", "/api/streams/{name}/daynight", auth.AccessWriter, (*ptzHandler).handleSetDayNight},
}

func newPTZHandler(f failer, d *db.DB) *ptzHandler {
	return &ptzHandler{streamsHandler: &streamsHandler{failer: f, db: d}, devices: map[onvif.Endpoint]*onvif.Device{}}
}

// camera is one request's view of a stream's ONVIF device.
type camera struct {
	stream *db.Stream
	ep     onvif.Endpoint
	dev    *onvif.Device
}

// connect reaches the stream's camera, reusing a device reached before.
func (h *ptzHandler) connect(ctx *fasthttp.RequestCtx, s *db.Stream) (*camera, bool) {
	ep, ok := onvif.StreamEndpoint(s)
	if !ok {
		writeError(ctx, fasthttp.StatusBadRequest, "stream URL names no camera host for ONVIF")
		return nil, false
	}
	h.mu.Lock()
	d := h.devices[ep]
	h.mu.Unlock()
	if d == nil {
		var err error
		if d, err = onvif.Connect(requestContext(ctx), ep.DeviceURL, ep.Username, ep.Password); err != nil {
			h.cameraFail(ctx, "connect", err)
			return nil, false
		}
		h.mu.Lock()
		if len(h.devices) >= maxPTZDevices {
			clear(h.devices)
		}
		h.devices[ep] = d
		h.mu.Unlock()
	}
	return &camera{stream: s, ep: ep, dev: d}, true
}

// failed answers a camera's error and forgets the device, so the next
// request reconnects (the camera may have rebooted or moved).
func (h *ptzHandler) failed(ctx *fasthttp.RequestCtx, c *camera, what string, err error) {
	h.mu.Lock()
	delete(h.devices, c.ep)
	h.mu.Unlock()
	h.cameraFail(ctx, what, err)
}

// cameraFail maps an ONVIF error to a reply: 504 when the camera did not
// answer in time, 400 when it refused a value as invalid, 502 for any other
// refusal or an unreachable camera. Never 500: the fault is the camera's.
func (h *ptzHandler) cameraFail(ctx *fasthttp.RequestCtx, what string, err error) {
	h.log.Warn("onvif camera request failed", "op", what, "err", err)
	h.fail(ctx, what, cameraError(err))
}

func cameraError(err error) *statusError {
	var ne net.Error
	var fault *onvif.Fault
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &statusError{fasthttp.StatusGatewayTimeout, "camera did not answer in time"}
	case onvif.IsAuthFault(err):
		return &statusError{fasthttp.StatusBadGateway, "camera refused the ONVIF credentials"}
	case errors.As(err, &fault) && strings.Contains(fault.Subcode, "InvalidArgVal"):
		return &statusError{fasthttp.StatusBadRequest, "camera refused the value: " + clip(fault.Reason)}
	case errors.As(err, &fault):
		return &statusError{fasthttp.StatusBadGateway, "camera refused the request: " + clip(strings.TrimSpace(fault.Subcode+" "+fault.Reason))}
	}
	return &statusError{fasthttp.StatusBadGateway, "camera is not reachable over ONVIF"}
}

// clip keeps a camera's text short in a reply.
func clip(s string) string {
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}

// ptzCamera loads the stream and its camera's PTZ head; a stream without
// ptz_enabled answers 400 as LightNVR does.
func (h *ptzHandler) ptzCamera(ctx *fasthttp.RequestCtx, s *db.Stream) (*camera, *onvif.PTZ, bool) {
	if !s.PTZEnabled {
		writeError(ctx, fasthttp.StatusBadRequest, "PTZ not enabled for this stream")
		return nil, nil, false
	}
	c, ok := h.connect(ctx, s)
	if !ok {
		return nil, nil, false
	}
	if c.dev.Services.PTZ == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "camera offers no PTZ service")
		return nil, nil, false
	}
	p, err := c.dev.PTZ(requestContext(ctx), s.ONVIFProfile)
	if err != nil {
		h.failed(ctx, c, "ptz profile", err)
		return nil, nil, false
	}
	return c, p, true
}

// onPTZ runs do on the stream's PTZ head, answering a camera failure; it
// returns the camera, nil once the reply is written.
func (h *ptzHandler) onPTZ(ctx *fasthttp.RequestCtx, s *db.Stream, what string, do func(*onvif.PTZ, context.Context) error) *camera {
	c, p, ok := h.ptzCamera(ctx, s)
	if !ok {
		return nil
	}
	if err := do(p, requestContext(ctx)); err != nil {
		h.failed(ctx, c, what, err)
		return nil
	}
	return c
}

// ptzAction runs one PTZ command on the stream's camera and answers
// LightNVR's {success, message}; body, when not nil, is read first.
func (h *ptzHandler) ptzAction(ctx *fasthttp.RequestCtx, body func() bool, what, done string, act func(*onvif.PTZ, context.Context) error) {
	s, ok := h.loadStream(ctx)
	if !ok || (body != nil && !body()) {
		return
	}
	if h.onPTZ(ctx, s, what, act) != nil {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": done})
	}
}

// readVector reads {pan?, tilt?, zoom?}, each in -1..1, at least one given.
func readVector(ctx *fasthttp.RequestCtx, v *onvif.Vector) bool {
	var body struct {
		Pan  *float64 `json:"pan"`
		Tilt *float64 `json:"tilt"`
		Zoom *float64 `json:"zoom"`
	}
	if !readJSON(ctx, &body) {
		return false
	}
	if body.Pan == nil && body.Tilt == nil && body.Zoom == nil {
		writeError(ctx, fasthttp.StatusBadRequest, "pan, tilt or zoom is required")
		return false
	}
	for name, a := range map[string]*float64{"pan": body.Pan, "tilt": body.Tilt, "zoom": body.Zoom} {
		if a != nil && (*a < -1 || *a > 1) {
			writeErrorf(ctx, fasthttp.StatusBadRequest, "%s must be between -1 and 1", name)
			return false
		}
	}
	*v = onvif.Vector{Pan: body.Pan, Tilt: body.Tilt, Zoom: body.Zoom}
	return true
}

// move serves the three moves, which differ only in the call.
func (h *ptzHandler) move(ctx *fasthttp.RequestCtx, what string, call func(*onvif.PTZ, context.Context, onvif.Vector) error) {
	var v onvif.Vector
	h.ptzAction(ctx, func() bool { return readVector(ctx, &v) }, "ptz "+what, "PTZ "+what+" command sent",
		func(p *onvif.PTZ, c context.Context) error { return call(p, c, v) })
}

func (h *ptzHandler) handleMove(ctx *fasthttp.RequestCtx) {
	h.move(ctx, "move", (*onvif.PTZ).ContinuousMove)
}

func (h *ptzHandler) handleAbsolute(ctx *fasthttp.RequestCtx) {
	h.move(ctx, "absolute move", (*onvif.PTZ).AbsoluteMove)
}

func (h *ptzHandler) handleRelative(ctx *fasthttp.RequestCtx) {
	h.move(ctx, "relative move", (*onvif.PTZ).RelativeMove)
}

func (h *ptzHandler) handleStop(ctx *fasthttp.RequestCtx) {
	h.ptzAction(ctx, nil, "ptz stop", "PTZ stopped", (*onvif.PTZ).Stop)
}

func (h *ptzHandler) handleHome(ctx *fasthttp.RequestCtx) {
	h.ptzAction(ctx, nil, "ptz home", "Moving to home position", (*onvif.PTZ).GotoHome)
}

func (h *ptzHandler) handleSetHome(ctx *fasthttp.RequestCtx) {
	h.ptzAction(ctx, nil, "ptz set home", "Home position set", (*onvif.PTZ).SetHome)
}

// readPresetField reads the one required text field of a preset request.
func readPresetField(ctx *fasthttp.RequestCtx, key string, out *string) bool {
	var body map[string]string
	if !readJSON(ctx, &body) {
		return false
	}
	for k := range body {
		if k != key {
			writeErrorf(ctx, fasthttp.StatusBadRequest, "unknown field %q", k)
			return false
		}
	}
	v := strings.TrimSpace(body[key])
	if v == "" || len(v) > maxPresetText {
		writeErrorf(ctx, fasthttp.StatusBadRequest, "%s is required (at most %d characters)", key, maxPresetText)
		return false
	}
	*out = v
	return true
}

func (h *ptzHandler) handleGotoPreset(ctx *fasthttp.RequestCtx) {
	var token string
	h.ptzAction(ctx, func() bool { return readPresetField(ctx, "token", &token) }, "ptz goto preset", "Moving to preset",
		func(p *onvif.PTZ, c context.Context) error { return p.GotoPreset(c, token) })
}

func (h *ptzHandler) handleSetPreset(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	var name, token string
	if !ok || !readPresetField(ctx, "name", &name) {
		return
	}
	if h.onPTZ(ctx, s, "ptz set preset", func(p *onvif.PTZ, c context.Context) (err error) {
		token, err = p.SetPreset(c, name)
		return err
	}) != nil {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Preset saved", "token": token})
	}
}

func (h *ptzHandler) handlePresets(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	var presets []onvif.Preset
	if h.onPTZ(ctx, s, "ptz presets", func(p *onvif.PTZ, c context.Context) (err error) {
		presets, err = p.Presets(c)
		return err
	}) != nil {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"presets": presets, "count": len(presets)})
	}
}

// ptzCapabilities is LightNVR's capabilities answer: the stream's PTZ
// fields and, when its camera was queried (serviceURL set), what its PTZ
// node reports: the axes' ranges, the moves, presets and home.
func ptzCapabilities(s *db.Stream, serviceURL string, n onvif.PTZNode) map[string]any {
	none := onvif.Range{}
	r := func(v *onvif.Range) onvif.Range { return *cmp.Or(v, &none) }
	return map[string]any{"ptz_enabled": s.PTZEnabled, "onvif_queried": serviceURL != "", "ptz_service_url": serviceURL,
		"max_presets": n.MaxPresets, "max_x": s.PTZMaxX, "max_y": s.PTZMaxY, "max_z": s.PTZMaxZ, "has_home": s.PTZHasHome,
		"pan_range": r(n.Pan), "tilt_range": r(n.Tilt), "zoom_range": r(n.Zoom),
		"has_pan_tilt": n.Pan != nil || n.Tilt != nil, "has_zoom": n.Zoom != nil,
		"has_continuous_move": n.Continuous, "has_absolute_move": n.Absolute, "has_relative_move": n.Relative,
		"has_home_position": n.HomeSupported, "has_presets": n.MaxPresets > 0}
}

// handleCapabilities asks the camera only when the stream has PTZ enabled.
func (h *ptzHandler) handleCapabilities(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	if !s.PTZEnabled {
		writeJSON(ctx, fasthttp.StatusOK, ptzCapabilities(s, "", onvif.PTZNode{}))
		return
	}
	var node onvif.PTZNode
	if c := h.onPTZ(ctx, s, "ptz capabilities", func(p *onvif.PTZ, c context.Context) (err error) {
		node, err = p.Node(c)
		return err
	}); c != nil {
		writeJSON(ctx, fasthttp.StatusOK, ptzCapabilities(s, c.dev.Services.PTZ, node))
	}
}

// imagingCamera loads the stream, its camera and the video source its
// profile (onvif_profile, else the first) shows.
func (h *ptzHandler) imagingCamera(ctx *fasthttp.RequestCtx, s *db.Stream) (*camera, string, bool) {
	if !s.IsONVIF && !s.PTZEnabled {
		writeError(ctx, fasthttp.StatusBadRequest, "stream is not an ONVIF camera")
		return nil, "", false
	}
	c, ok := h.connect(ctx, s)
	if !ok {
		return nil, "", false
	}
	if c.dev.Services.Imaging == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "camera offers no imaging service")
		return nil, "", false
	}
	profiles, err := c.dev.Profiles(requestContext(ctx))
	if err != nil {
		h.failed(ctx, c, "imaging profiles", err)
		return nil, "", false
	}
	for _, p := range profiles {
		if s.ONVIFProfile == "" || p.Token == s.ONVIFProfile || p.Name == s.ONVIFProfile {
			return c, p.VideoSourceToken, true
		}
	}
	h.fail(ctx, "imaging profiles", &statusError{fasthttp.StatusBadGateway, "camera lists no profile " + s.ONVIFProfile})
	return nil, "", false
}

// readImaging reads the stream's camera's current settings.
func (h *ptzHandler) readImaging(ctx *fasthttp.RequestCtx) (*camera, string, onvif.ImagingSettings, bool) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return nil, "", onvif.ImagingSettings{}, false
	}
	c, source, ok := h.imagingCamera(ctx, s)
	if !ok {
		return nil, "", onvif.ImagingSettings{}, false
	}
	set, err := c.dev.Imaging(requestContext(ctx), source)
	if err != nil {
		h.failed(ctx, c, "imaging settings", err)
		return nil, "", onvif.ImagingSettings{}, false
	}
	return c, source, set, true
}

func (h *ptzHandler) handleGetImaging(ctx *fasthttp.RequestCtx) {
	if _, source, set, ok := h.readImaging(ctx); ok {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "video_source_token": source, "settings": set})
	}
}

// handleImagingOptions answers the ranges the camera accepts, LightNVR's
// {success, options: {<setting>: {min, max}, ir_cut_filter_modes,
// video_source_token}}.
func (h *ptzHandler) handleImagingOptions(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	c, source, ok := h.imagingCamera(ctx, s)
	if !ok {
		return
	}
	opts, err := c.dev.ImagingOptionsOf(requestContext(ctx), source)
	if err != nil {
		h.failed(ctx, c, "imaging options", err)
		return
	}
	options := map[string]any{"ir_cut_filter_modes": opts.IrCutFilterModes, "video_source_token": source}
	for name, r := range opts.Ranges {
		options[name] = r
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "options": options})
}

// writeImaging loads the stream and its camera, then writes set.
func (h *ptzHandler) writeImaging(ctx *fasthttp.RequestCtx, s *db.Stream, set onvif.ImagingSettings, persist bool) bool {
	c, source, ok := h.imagingCamera(ctx, s)
	if !ok {
		return false
	}
	if err := c.dev.SetImaging(requestContext(ctx), source, set, persist); err != nil {
		h.failed(ctx, c, "set imaging settings", err)
		return false
	}
	return true
}

func (h *ptzHandler) handleSetImaging(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	var body map[string]json.RawMessage
	if !readJSON(ctx, &body) {
		return
	}
	set, persist, err := imagingFromJSON(body)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if h.writeImaging(ctx, s, set, persist) {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Imaging settings updated"})
	}
}

// imagingKeys are the settings a PUT may carry, LightNVR's aliases with
// them, each with how it fills the settings.
var imagingKeys = map[string]func(json.RawMessage, *onvif.ImagingSettings) error{
	"brightness":             numberInto(func(s *onvif.ImagingSettings) **float64 { return &s.Brightness }),
	"contrast":               numberInto(func(s *onvif.ImagingSettings) **float64 { return &s.Contrast }),
	"color_saturation":       numberInto(func(s *onvif.ImagingSettings) **float64 { return &s.ColorSaturation }),
	"saturation":             numberInto(func(s *onvif.ImagingSettings) **float64 { return &s.ColorSaturation }),
	"sharpness":              numberInto(func(s *onvif.ImagingSettings) **float64 { return &s.Sharpness }),
	"ir_cut_filter":          irCutInto,
	"backlight_compensation": modeLevelInto(func(s *onvif.ImagingSettings) **onvif.ModeLevel { return &s.Backlight }),
	"backlight":              modeLevelInto(func(s *onvif.ImagingSettings) **onvif.ModeLevel { return &s.Backlight }),
	"wide_dynamic_range":     modeLevelInto(func(s *onvif.ImagingSettings) **onvif.ModeLevel { return &s.WDR }),
	"wdr":                    modeLevelInto(func(s *onvif.ImagingSettings) **onvif.ModeLevel { return &s.WDR }),
}

// imagingFromJSON turns a PUT body into the settings to write.
func imagingFromJSON(body map[string]json.RawMessage) (onvif.ImagingSettings, bool, error) {
	var set onvif.ImagingSettings
	persist, n := false, 0
	for k, raw := range body {
		if k == "force_persistence" {
			if err := json.Unmarshal(raw, &persist); err != nil {
				return set, false, errors.New("force_persistence must be true or false")
			}
			continue
		}
		fill, ok := imagingKeys[k]
		if !ok {
			return set, false, fmt.Errorf("unknown or unsupported setting %q", k)
		}
		if err := fill(raw, &set); err != nil {
			return set, false, fmt.Errorf("%s: %w", k, err)
		}
		n++
	}
	if n == 0 {
		return set, false, errors.New("no imaging setting given")
	}
	return set, persist, nil
}

func numberInto(field func(*onvif.ImagingSettings) **float64) func(json.RawMessage, *onvif.ImagingSettings) error {
	return func(raw json.RawMessage, s *onvif.ImagingSettings) error {
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil {
			return errors.New("must be a number")
		}
		*field(s) = &v
		return nil
	}
}

// irCutFilter is an IR cut filter mode as ONVIF names it.
func irCutFilter(v string) (string, bool) {
	switch m := strings.ToUpper(strings.TrimSpace(v)); m {
	case "ON", "OFF", "AUTO":
		return m, true
	}
	return "", false
}

func irCutInto(raw json.RawMessage, s *onvif.ImagingSettings) error {
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return errors.New("must be ON, OFF or AUTO")
	}
	m, ok := irCutFilter(v)
	if !ok {
		return errors.New("must be ON, OFF or AUTO")
	}
	s.IrCutFilter = &m
	return nil
}

// modeLevelInto reads {mode, level?} or a bare mode.
func modeLevelInto(field func(*onvif.ImagingSettings) **onvif.ModeLevel) func(json.RawMessage, *onvif.ImagingSettings) error {
	return func(raw json.RawMessage, s *onvif.ImagingSettings) error {
		var ml onvif.ModeLevel
		if err := json.Unmarshal(raw, &ml.Mode); err != nil {
			if err := json.Unmarshal(raw, &ml); err != nil {
				return errors.New(`must be a mode or {"mode", "level"}`)
			}
		}
		ml.Mode = strings.ToUpper(strings.TrimSpace(ml.Mode))
		if ml.Mode != "ON" && ml.Mode != "OFF" {
			return errors.New("mode must be ON or OFF")
		}
		*field(s) = &ml
		return nil
	}
}

// dayNightOf is the day/night mode an IR cut filter mode means.
func dayNightOf(ir string) string {
	switch ir {
	case "ON":
		return "day"
	case "OFF":
		return "night"
	}
	return "auto"
}

// dayNightSource names where the day/night mode comes from.
const dayNightSource = "onvif_imaging"

func (h *ptzHandler) handleGetDayNight(ctx *fasthttp.RequestCtx) {
	_, source, set, ok := h.readImaging(ctx)
	if !ok {
		return
	}
	if set.IrCutFilter == nil {
		h.fail(ctx, "day/night", &statusError{fasthttp.StatusBadGateway, "camera reports no IR cut filter"})
		return
	}
	ir := strings.ToUpper(*set.IrCutFilter)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "source": dayNightSource, "video_source_token": source,
		"mode": dayNightOf(ir), "ir_cut_filter": ir, "supported_modes": []string{"auto", "day", "night"}, "options_available": false})
}

func (h *ptzHandler) handleSetDayNight(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	var body struct {
		Mode        string `json:"mode"`
		DayNight    string `json:"daynight"`
		IrCutFilter string `json:"ir_cut_filter"`
		IrCut       string `json:"ircut"`
		Persist     bool   `json:"force_persistence"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	ir, ok := dayNightRequest(cmp.Or(body.Mode, body.DayNight), cmp.Or(body.IrCutFilter, body.IrCut))
	if !ok {
		writeError(ctx, fasthttp.StatusBadRequest, `mode must be "auto", "day" or "night" (or ir_cut_filter ON, OFF or AUTO)`)
		return
	}
	if h.writeImaging(ctx, s, onvif.ImagingSettings{IrCutFilter: &ir}, body.Persist) {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "source": dayNightSource, "mode": dayNightOf(ir), "ir_cut_filter": ir})
	}
}

// dayNightRequest is the IR cut filter mode a request asks for: by mode
// when given, else by filter mode.
func dayNightRequest(mode, filter string) (string, bool) {
	if strings.TrimSpace(mode) != "" {
		return onvif.IrCutFor(mode)
	}
	return irCutFilter(filter)
}
