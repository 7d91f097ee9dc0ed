package api

import (
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/ota"
)

func (s *Server) otaRoutes(deps *Deps) {
	routes := []endpoint[*otaHandler]{
		{"POST", "/api/system/ota", auth.AccessAdmin, (*otaHandler).handleUpload},
		{"GET", "/api/system/ota/status", auth.AccessAdmin, (*otaHandler).handleStatus},
	}
	mount(&s.router, routes, deps.OTA != nil, unavailable("OTA is not configured ([ota] env_config is empty)"),
		func() *otaHandler { return &otaHandler{failer: s.failer, sys: deps.OTA} })
}

// otaHandler takes firmware uploads, one at a time, and reports progress.
type otaHandler struct {
	failer
	sys *ota.System

	mu   sync.Mutex
	last otaUpload
}

// otaUpload is the running or last upload, as the status route shows it.
type otaUpload struct {
	// State is "" (none yet), installing, installed, refused or failed.
	State   string `json:"state"`
	Version string `json:"version,omitempty"`
	// Error is the refusal, or that the install failed (details in the log).
	Error string `json:"error,omitempty"`
	otaProgress
}

// otaProgress is how far an upload got: Written of Total image bytes are in
// the inactive slot; Finished is zero while it runs.
type otaProgress struct {
	Written  int64     `json:"written"`
	Total    int64     `json:"total"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
}

func (h *otaHandler) begin() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last.State == "installing" {
		return false
	}
	h.last = otaUpload{State: "installing", otaProgress: otaProgress{Started: time.Now()}}
	return true
}

func (h *otaHandler) update(f func(*otaUpload)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.last)
}

// handleUpload installs the request body, a bundle, while it arrives: it is
// never held in memory, and the admin follows the progress on the status route.
func (h *otaHandler) handleUpload(ctx *fasthttp.RequestCtx) {
	body := requestBody(ctx)
	if !h.begin() {
		writeError(ctx, fasthttp.StatusConflict, "an update is already being installed")
		return
	}
	sys := *h.sys
	sys.Progress = func(w, total int64) { h.update(func(u *otaUpload) { u.Written, u.Total = w, total }) }
	m, err := sys.Install(body)
	h.update(func(u *otaUpload) {
		u.Finished = time.Now()
		switch {
		case err == nil:
			u.State, u.Version = "installed", m.Version
		case isRefusal(err):
			u.State, u.Error = "refused", err.Error()
		default:
			u.State, u.Error = "failed", "install failed; see the log"
		}
	})
	if err != nil {
		if isRefusal(err) {
			err = &statusError{status: fasthttp.StatusUnprocessableEntity, msg: err.Error()}
		}
		h.fail(ctx, "install update", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"success": true, "version": m.Version,
		"message": "version " + m.Version + " installed; reboot to start it",
	})
}

func isRefusal(err error) bool {
	var r *ota.Refusal
	return errors.As(err, &r)
}

func (h *otaHandler) handleStatus(ctx *fasthttp.RequestCtx) {
	st, err := h.sys.Status()
	if err != nil {
		h.fail(ctx, "read the U-Boot environment", err)
		return
	}
	h.mu.Lock()
	last := h.last
	h.mu.Unlock()
	writeJSON(ctx, fasthttp.StatusOK, struct {
		*ota.Status
		Upload otaUpload `json:"upload"`
	}{st, last})
}
