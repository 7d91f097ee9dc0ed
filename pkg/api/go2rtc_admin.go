package api

import (
	"encoding/json"
	"fmt"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/go2rtc"
)

// overrideSetting is the settings key of go2rtc's override text (LightNVR's
// go2rtc_config_override), kept in go2rtc's override file.
const overrideSetting = "go2rtc_config_override"

// go2rtcAdminHandler serves go2rtc's override file, what go2rtc loads and a
// restart of go2rtc, for admins.
type go2rtcAdminHandler struct {
	failer
	sup *go2rtc.Supervisor
}

// validateRoutes need no running go2rtc.
var validateRoutes = []endpoint[*go2rtcAdminHandler]{
	{"POST", "/api/settings/go2rtc/validate", auth.AccessAdmin, (*go2rtcAdminHandler).handleValidate},
}

var go2rtcAdminRoutes = []endpoint[*go2rtcAdminHandler]{
	{"GET", "/api/system/go2rtc/effective-config", auth.AccessAdmin, (*go2rtcAdminHandler).handleEffectiveConfig},
	{"GET", "/api/system/go2rtc/override-status", auth.AccessAdmin, (*go2rtcAdminHandler).handleOverrideStatus},
	// Ahead of the proxy's POST /go2rtc/{path...}: go2rtc has no reload of
	// its own, and a restart is the admin's.
	{"POST", "/go2rtc/api/reload", auth.AccessAdmin, (*go2rtcAdminHandler).handleReload},
}

// validateReply is LightNVR's answer; the YAML check is always available here.
type validateReply struct {
	go2rtc.OverrideCheck
	LibYAMLAvailable bool `json:"libyaml_available"`
}

// readOverride reads the override text of a body key; it answers 413 or 400
// itself and reports false then.
func readOverride(ctx *fasthttp.RequestCtx, raw json.RawMessage, key string) (string, bool) {
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, key+" must be a string of YAML")
		return "", false
	}
	if len(text) > go2rtc.MaxOverrideBytes {
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("%s is larger than %d bytes", key, go2rtc.MaxOverrideBytes))
		return "", false
	}
	return text, true
}

func (h *go2rtcAdminHandler) handleValidate(ctx *fasthttp.RequestCtx) {
	var body map[string]json.RawMessage
	if !readJSON(ctx, &body) {
		return
	}
	raw, ok := body["override"]
	if !ok {
		writeError(ctx, fasthttp.StatusBadRequest, `the body needs "override": the YAML text to check`)
		return
	}
	text, ok := readOverride(ctx, raw, "override")
	if !ok {
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, validateReply{OverrideCheck: go2rtc.CheckOverride(text), LibYAMLAvailable: true})
}

func (h *go2rtcAdminHandler) handleEffectiveConfig(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, h.sup.EffectiveConfig())
}

// overrideStatusReply adds LightNVR's fields about its database copy: the
// override file is the only copy here, so they describe the file.
type overrideStatusReply struct {
	go2rtc.OverrideStatus
	DBBytes          int    `json:"db_bytes"`
	ContentMatches   bool   `json:"content_matches"`
	ValidatedVersion string `json:"validated_version"`
}

func (h *go2rtcAdminHandler) handleOverrideStatus(ctx *fasthttp.RequestCtx) {
	st := h.sup.OverrideStatus()
	writeJSON(ctx, fasthttp.StatusOK, overrideStatusReply{OverrideStatus: st, DBBytes: st.FileBytes,
		ContentMatches: st.FileReadError == "", ValidatedVersion: h.sup.Status().Version})
}

func (h *go2rtcAdminHandler) handleReload(ctx *fasthttp.RequestCtx) {
	if h.sup.Status().Mode == go2rtc.ModeExternal {
		writeError(ctx, fasthttp.StatusConflict, go2rtc.ErrExternal.Error())
		return
	}
	h.sup.Restart()
	h.log.Info("go2rtc restart requested over the API")
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "go2rtc is restarting with its configuration files read anew"})
}

// overrideView is the override's part of GET /api/settings. Admins get the
// text to edit; others get it with its secrets masked.
func overrideView(sup *go2rtc.Supervisor, admin bool, out map[string]any) {
	text, reason := "", ""
	if sup != nil {
		text, _ = sup.Override()
		reason = sup.OverrideStatus().QuarantineReason
	}
	if !admin {
		text = go2rtc.MaskSecrets(text)
	}
	out[overrideSetting] = text
	out[overrideSetting+"_disabled_reason"] = reason
	out[overrideSetting+"_quarantined"] = reason != ""
}

// overrideChange checks the override text a settings POST sets; it returns
// the text to apply (nil: unchanged) or a field error.
func overrideChange(sup *go2rtc.Supervisor, text string) (*string, string) {
	switch {
	case sup == nil:
		return nil, "go2rtc is not managed by this server"
	case sup.Status().Mode == go2rtc.ModeExternal:
		return nil, go2rtc.ErrExternal.Error()
	}
	if c := go2rtc.CheckOverride(text); !c.Valid {
		return nil, c.Error.String()
	}
	if cur, err := sup.Override(); err == nil && cur == text {
		return nil, ""
	}
	return &text, ""
}

// go2rtcAdminRoutes mounts the go2rtc admin routes; they come before the
// go2rtc proxy's, whose POST /go2rtc/{path...} would take the reload.
func (s *Server) go2rtcAdminRoutes(deps *Deps) {
	h := func() *go2rtcAdminHandler { return &go2rtcAdminHandler{failer: s.failer, sup: deps.Go2RTC} }
	mount(&s.router, validateRoutes, true, nil, h)
	mount(&s.router, iceRoutes, true, nil, func() *iceHandler { return &iceHandler{cfg: s.settings.get} })
	mount(&s.router, go2rtcAdminRoutes, deps.Go2RTC != nil, unavailable("go2rtc is not managed by this server"), h)
}
