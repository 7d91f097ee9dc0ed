package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/onvif"
	"lightnvr/pkg/streams"
)

// onvifHandler serves ONVIF discovery and adding streams from profiles.
type onvifHandler struct {
	failer
	// streams creates the added streams; nil: adding answers 503.
	streams *streamWriter
	cfg     func() *config.Config
	found   *onvifDevices
}

func (h *onvifHandler) handleStatus(ctx *fasthttp.RequestCtx) {
	o := h.cfg().ONVIF
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"enabled": o.DiscoveryEnabled, "network": o.DiscoveryNetwork, "interval": o.DiscoveryInterval})
}

func (h *onvifHandler) handleDevices(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"devices": h.found.list()})
}

func (h *onvifHandler) handleDiscover(ctx *fasthttp.RequestCtx) {
	var req struct {
		Network string `json:"network"`
	}
	if len(ctx.PostBody()) > 0 && !readJSON(ctx, &req) {
		return
	}
	network := strings.TrimSpace(req.Network)
	if network == "" {
		network = h.cfg().ONVIF.DiscoveryNetwork
	}
	found, err := h.found.discover(requestContext(ctx), network, 0)
	if err != nil {
		h.failDevice(ctx, "discover", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"devices": found})
}

// The device routes call a device with credentials the caller supplies, so
// they need a role that may change things; LightNVR left them public.
var onvifDeviceRoutes = []endpoint[*onvifHandler]{
	{"GET", "/api/onvif/device/profiles", auth.AccessWriter, (*onvifHandler).handleProfiles},
	{"POST", "/api/onvif/device/test", auth.AccessWriter, (*onvifHandler).handleTest},
	{"POST", "/api/onvif/device/add", auth.AccessWriter, (*onvifHandler).handleAdd},
}

// failDevice answers an error reaching a device: a refusal the caller chose
// (statusError) as it is, anything else as 500 with the device's words,
// which say what to fix (address, credentials, clock).
func (h *onvifHandler) failDevice(ctx *fasthttp.RequestCtx, what string, err error) {
	var se *statusError
	if errors.As(err, &se) {
		h.fail(ctx, what, err)
		return
	}
	h.log.Info("onvif "+what, "err", err)
	writeErrorf(ctx, fasthttp.StatusInternalServerError, "%s: %v", what, err)
}

// connect reaches the device service with the caller's credentials.
func connectDevice(ctx context.Context, deviceURL, username, password string) (*onvif.Device, error) {
	deviceURL = strings.TrimSpace(deviceURL)
	if deviceURL == "" {
		return nil, &statusError{status: fasthttp.StatusBadRequest, msg: "device URL is required"}
	}
	if u, err := url.Parse(deviceURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &statusError{status: fasthttp.StatusBadRequest, msg: fmt.Sprintf("device URL %q is not an http(s) URL", deviceURL)}
	}
	return onvif.Connect(ctx, deviceURL, username, password)
}

// onvifProfile is a profile with the URIs the device gives for it.
type onvifProfile struct {
	onvif.Profile
	SnapshotURI string `json:"snapshot_uri"`
	StreamURI   string `json:"stream_uri"`
}

// handleProfiles takes the device and credentials in headers, as
// LightNVR's UI sends them, so they stay out of URLs and access logs.
func (h *onvifHandler) handleProfiles(ctx *fasthttp.RequestCtx) {
	c := requestContext(ctx)
	dev, err := connectDevice(c, string(ctx.Request.Header.Peek("X-Device-URL")),
		string(ctx.Request.Header.Peek("X-Username")), string(ctx.Request.Header.Peek("X-Password")))
	if err != nil {
		h.failDevice(ctx, "connect", err)
		return
	}
	profiles, err := dev.Profiles(c)
	if err != nil {
		h.failDevice(ctx, "profiles", err)
		return
	}
	out := make([]onvifProfile, 0, len(profiles))
	for _, p := range profiles {
		op := onvifProfile{Profile: p}
		// A profile whose URIs the device will not give is still listed:
		// the user may know why (e.g. a metadata-only profile).
		if uri, err := dev.StreamURI(c, p.Token); err == nil {
			op.StreamURI = logx.RedactURL(uri)
		}
		if uri, err := dev.SnapshotURI(c, p.Token); err == nil {
			op.SnapshotURI = logx.RedactURL(uri)
		}
		out = append(out, op)
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"profiles": out})
}

func (h *onvifHandler) handleTest(ctx *fasthttp.RequestCtx) {
	var req struct {
		URL      string `json:"url"`
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !readJSON(ctx, &req) {
		return
	}
	c := requestContext(ctx)
	dev, err := connectDevice(c, req.URL, req.Username, req.Password)
	if err == nil {
		// Profiles needs the credentials on every camera that has any,
		// unlike the clock and service calls Connect makes.
		_, err = dev.Profiles(c)
	}
	if err != nil {
		var se *statusError
		if errors.As(err, &se) {
			h.fail(ctx, "test", err)
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": false, "message": "Connection failed: " + err.Error()})
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Successfully connected to ONVIF device"})
}

type onvifAddRequest struct {
	DeviceURL    string `json:"device_url"`
	ProfileToken string `json:"profile_token"`
	StreamName   string `json:"stream_name"`
	Username     string `json:"username"`
	Password     string `json:"password"`
}

// handleAdd creates a stream from a device profile through the stream
// manager, as POST /api/streams does: the RTSP URL without credentials,
// which go into onvif_username/onvif_password (hidden from viewers).
func (h *onvifHandler) handleAdd(ctx *fasthttp.RequestCtx) {
	if h.streams == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "stream manager is not running")
		return
	}
	var req onvifAddRequest
	if !readJSON(ctx, &req) {
		return
	}
	name := strings.TrimSpace(req.StreamName)
	if err := validStreamName(name); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(req.ProfileToken) == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "profile_token is required")
		return
	}
	row, err := h.streamFromProfile(requestContext(ctx), name, req)
	if err != nil {
		h.failDevice(ctx, "add", err)
		return
	}
	if h.streams.create(ctx, row) {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "ONVIF stream added", "stream_name": name})
	}
}

func (h *onvifHandler) streamFromProfile(ctx context.Context, name string, req onvifAddRequest) (*db.Stream, error) {
	dev, err := connectDevice(ctx, req.DeviceURL, req.Username, req.Password)
	if err != nil {
		return nil, err
	}
	profiles, err := dev.Profiles(ctx)
	if err != nil {
		return nil, err
	}
	var profile *onvif.Profile
	for i := range profiles {
		if profiles[i].Token == req.ProfileToken {
			profile = &profiles[i]
		}
	}
	if profile == nil {
		return nil, &statusError{status: fasthttp.StatusNotFound, msg: fmt.Sprintf("device has no profile %q", req.ProfileToken)}
	}
	uri, err := dev.StreamURI(ctx, profile.Token)
	if err != nil {
		return nil, err
	}
	// The device chooses this URL: it must pass the same source allowlist
	// as one a user types, or a hostile device could hand go2rtc a command.
	if err := streams.CheckSource("stream URI from the device", uri, true); err != nil {
		return nil, err
	}
	row := db.NewStream(name, uri)
	row.IsONVIF = true
	row.ONVIFUsername, row.ONVIFPassword, row.ONVIFProfile = req.Username, req.Password, profile.Token
	row.URL = streams.FormURL(row) // credentials the device embedded live in the ONVIF fields
	if u, err := url.Parse(dev.URL); err == nil {
		row.ONVIFPort, _ = strconv.Atoi(u.Port()) // no port: 0, derived from the URL
	}
	if profile.Width > 0 && profile.Height > 0 {
		row.Width, row.Height = profile.Width, profile.Height
	}
	if profile.FPS > 0 {
		row.FPS = profile.FPS
	}
	return row, nil
}
