package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/httpclient"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/ota"
)

func (s *Server) otaRoutes(deps *Deps) {
	routes := []endpoint[*otaHandler]{
		{"POST", "/api/system/ota", auth.AccessAdmin, (*otaHandler).handleUpload},
		{"POST", "/api/system/ota/url", auth.AccessAdmin, (*otaHandler).handleURL},
		{"GET", "/api/system/ota/status", auth.AccessAdmin, (*otaHandler).handleStatus},
	}
	mount(&s.router, routes, deps.OTA != nil, unavailable("OTA is not configured ([ota] env_config is empty)"),
		func() *otaHandler {
			// A bundle is streamed to flash as it arrives, so the download has
			// no overall deadline, only a bound on the server falling silent.
			hc := httpclient.New(httpclient.Options{Silence: 30 * time.Second})
			return &otaHandler{failer: s.failer, sys: deps.OTA, client: hc}
		})
}

// otaHandler takes firmware uploads and downloads, one at a time, and
// reports progress.
type otaHandler struct {
	failer
	sys    *ota.System
	client *httpclient.Client

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
	h.install(ctx, func() (io.ReadCloser, error) { return io.NopCloser(requestBody(ctx)), nil })
}

// handleURL downloads a bundle from the admin's URL and installs it as it
// arrives, like an upload; it answers once the install ended.
func (h *otaHandler) handleURL(ctx *fasthttp.RequestCtx) {
	var in struct {
		URL string `json:"url"`
	}
	if !readJSON(ctx, &in) {
		return
	}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "url must be an http:// or https:// address")
		return
	}
	h.install(ctx, func() (io.ReadCloser, error) { return h.download(u.String()) })
}

// install streams the bundle that open gives into the inactive slot, one at
// a time, records the outcome for the status route and answers it.
func (h *otaHandler) install(ctx *fasthttp.RequestCtx, open func() (io.ReadCloser, error)) {
	if !h.begin() {
		writeError(ctx, fasthttp.StatusConflict, "an update is already being installed")
		return
	}
	var m *ota.Manifest
	body, err := open()
	if err == nil {
		sys := *h.sys
		sys.Progress = func(w, total int64) { h.update(func(u *otaUpload) { u.Written, u.Total = w, total }) }
		m, err = sys.Install(body)
		body.Close()
	}
	var se *statusError
	h.update(func(u *otaUpload) {
		u.Finished = time.Now()
		switch {
		case err == nil:
			u.State, u.Version = "installed", m.Version
		case isRefusal(err):
			u.State, u.Error = "refused", err.Error()
			err = &statusError{status: fasthttp.StatusUnprocessableEntity, msg: err.Error()}
		case errors.As(err, &se):
			u.State, u.Error = "failed", se.msg
		default:
			u.State, u.Error = "failed", "install failed; see the log"
		}
	})
	if err != nil {
		h.fail(ctx, "install update", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"success": true, "version": m.Version,
		"message": "version " + m.Version + " installed; reboot to start it",
	})
}

// download opens the bundle at target as a stream; failures to reach it are
// answered with 502 and say why.
func (h *otaHandler) download(target string) (io.ReadCloser, error) {
	fail := func(format string, args ...any) error {
		return &statusError{status: fasthttp.StatusBadGateway, msg: "download " + logx.RedactURL(target) + ": " + fmt.Sprintf(format, args...)}
	}
	req, resp := new(fasthttp.Request), new(fasthttp.Response)
	req.SetRequestURI(target)
	resp.StreamBody = true
	if err := h.client.Do(context.Background(), req, resp); err != nil {
		return nil, fail("%v", err)
	}
	if code := resp.StatusCode(); code != fasthttp.StatusOK {
		resp.CloseBodyStream()
		return nil, fail("the server answered %d %s", code, fasthttp.StatusMessage(code))
	}
	return &downloadBody{resp: resp, fail: fail}, nil
}

// downloadBody is a bundle on its way from the server; a connection that
// breaks mid-way fails the install with that reason.
type downloadBody struct {
	resp *fasthttp.Response
	fail func(string, ...any) error
}

func (b *downloadBody) Read(p []byte) (int, error) {
	n, err := b.resp.BodyStream().Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.fail("interrupted: %v", err)
	}
	return n, err
}

func (b *downloadBody) Close() error { return b.resp.CloseBodyStream() }

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
