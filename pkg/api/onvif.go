package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/onvif"
)

// Every ONVIF route makes the appliance talk to devices on the network with
// credentials the caller supplies, so all but the status need a role that
// may change things; LightNVR left them all public.
var onvifRoutes = []endpoint[*onvifHandler]{
	{"GET", "/api/onvif/discovery/status", auth.AccessViewer, (*onvifHandler).handleStatus},
	{"POST", "/api/onvif/discovery/discover", auth.AccessWriter, (*onvifHandler).handleDiscover},
	{"GET", "/api/onvif/devices", auth.AccessWriter, (*onvifHandler).handleDevices},
	{"GET", "/api/onvif/device/profiles", auth.AccessWriter, (*onvifHandler).handleProfiles},
	{"POST", "/api/onvif/device/test", auth.AccessWriter, (*onvifHandler).handleTest},
	{"POST", "/api/onvif/device/add", auth.AccessWriter, (*onvifHandler).handleAdd},
}

// onvifDeviceTimeout bounds the SOAP calls made for one discovered device
// while filling in its details.
const onvifDeviceTimeout = 4 * time.Second

// onvifHandler serves ONVIF discovery and adding streams from profiles.
type onvifHandler struct {
	failer
	// streams creates the added streams; nil: adding answers 503.
	streams *streamWriter
	cfg     func() *config.Config
	found   *onvifDevices
}

// onvifDevice is one discovered device in LightNVR's shape.
type onvifDevice struct {
	Endpoint        string `json:"endpoint"`
	DeviceService   string `json:"device_service"`
	MediaService    string `json:"media_service"`
	PTZService      string `json:"ptz_service"`
	ImagingService  string `json:"imaging_service"`
	Manufacturer    string `json:"manufacturer"`
	Model           string `json:"model"`
	FirmwareVersion string `json:"firmware_version"`
	SerialNumber    string `json:"serial_number"`
	HardwareID      string `json:"hardware_id"`
	IPAddress       string `json:"ip_address"`
	MACAddress      string `json:"mac_address"`
	DiscoveryTime   int64  `json:"discovery_time"`
	Online          bool   `json:"online"`
	Name            string `json:"name"`
}

// onvifDevices is what discovery found so far, by device service URL. A
// device missing from a later scan stays listed, offline.
type onvifDevices struct {
	mu      sync.Mutex
	devices map[string]onvifDevice
	// scan serialises scans: two at once would double the probes and the
	// answers would race into the map.
	scan sync.Mutex
}

func newONVIFDevices() *onvifDevices { return &onvifDevices{devices: map[string]onvifDevice{}} }

func (d *onvifDevices) list() []onvifDevice {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]onvifDevice, 0, len(d.devices))
	for _, v := range d.devices {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeviceService < out[j].DeviceService })
	return out
}

// record marks every known device offline, then stores the ones just seen.
func (d *onvifDevices) record(seen []onvifDevice) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range d.devices {
		v.Online = false
		d.devices[k] = v
	}
	for _, v := range seen {
		d.devices[v.DeviceService] = v
	}
}

// discover probes network ("auto" or "": multicast on every interface; a
// CIDR: unicast to each address) and fills in each answer's details with
// anonymous SOAP calls, which most cameras allow for these.
func (d *onvifDevices) discover(ctx context.Context, network string, port int) ([]onvifDevice, error) {
	d.scan.Lock()
	defer d.scan.Unlock()
	p := onvif.Prober{Port: port}
	var (
		found []onvif.Found
		err   error
	)
	if network == "" || network == "auto" {
		found, err = p.Multicast(ctx)
	} else {
		pfx, perr := netip.ParsePrefix(network)
		if perr != nil {
			return nil, &statusError{status: fasthttp.StatusBadRequest, msg: fmt.Sprintf("network %q is not a CIDR range", network)}
		}
		found, err = p.Range(ctx, pfx)
	}
	if errors.Is(err, onvif.ErrBadRange) {
		return nil, &statusError{status: fasthttp.StatusBadRequest, msg: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	out := make([]onvifDevice, len(found))
	var wg sync.WaitGroup
	for i, f := range found {
		wg.Go(func() { out[i] = describeDevice(ctx, f) })
	}
	wg.Wait()
	d.record(out)
	return out, nil
}

func describeDevice(ctx context.Context, f onvif.Found) onvifDevice {
	dev := onvifDevice{Endpoint: f.Endpoint, DeviceService: f.XAddrs[0], HardwareID: f.Hardware, Name: f.Name,
		IPAddress: f.From.String(), DiscoveryTime: time.Now().Unix(), Online: true}
	if u, err := url.Parse(dev.DeviceService); err == nil {
		dev.IPAddress = u.Hostname()
	}
	ctx, cancel := context.WithTimeout(ctx, onvifDeviceTimeout)
	defer cancel()
	c, err := onvif.Connect(ctx, dev.DeviceService, "", "")
	if err != nil {
		return dev // listed all the same: it answered the probe
	}
	dev.MediaService, dev.PTZService, dev.ImagingService = c.Services.Media, c.Services.PTZ, c.Services.Imaging
	if info, err := c.Information(ctx); err == nil {
		dev.Manufacturer, dev.Model, dev.FirmwareVersion, dev.SerialNumber = info.Manufacturer, info.Model, info.FirmwareVersion, info.SerialNumber
		if dev.HardwareID == "" {
			dev.HardwareID = info.HardwareID
		}
	}
	return dev
}

// runDiscovery scans in the background while [onvif] discovery_enabled is
// on, every discovery_interval seconds, reading the live settings before
// each wait so that a change applies without a restart; it returns when
// stop closes.
func (d *onvifDevices) runDiscovery(stop <-chan struct{}, cfg func() *config.Config, log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	for {
		o := cfg().ONVIF
		wait := time.Duration(o.DiscoveryInterval) * time.Second
		if wait <= 0 {
			wait = 5 * time.Minute
		}
		if o.DiscoveryEnabled {
			found, err := d.discover(ctx, o.DiscoveryNetwork, 0)
			if err != nil && ctx.Err() == nil {
				log.Warn("onvif discovery", "network", o.DiscoveryNetwork, "err", err)
			} else if err == nil {
				log.Debug("onvif discovery", "network", o.DiscoveryNetwork, "found", len(found))
			}
		} else {
			wait = 30 * time.Second // check again soon whether it was turned on
		}
		select {
		case <-stop:
			return
		case <-time.After(wait):
		}
	}
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

type onvifProfile struct {
	Token            string `json:"token"`
	Name             string `json:"name"`
	VideoSourceToken string `json:"video_source_token"`
	SnapshotURI      string `json:"snapshot_uri"`
	StreamURI        string `json:"stream_uri"`
	Width            int    `json:"width"`
	Height           int    `json:"height"`
	Encoding         string `json:"encoding"`
	FPS              int    `json:"fps"`
	Bitrate          int    `json:"bitrate"`
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
		op := onvifProfile{Token: p.Token, Name: p.Name, VideoSourceToken: p.VideoSourceToken, Width: p.Width,
			Height: p.Height, Encoding: p.Encoding, FPS: p.FPS, Bitrate: p.Bitrate}
		// A profile whose URIs the device will not give is still listed:
		// the user may know why (e.g. a metadata-only profile).
		if uri, err := dev.StreamURI(c, p.Token); err == nil {
			op.StreamURI = withoutUserinfo(uri)
		}
		if uri, err := dev.SnapshotURI(c, p.Token); err == nil {
			op.SnapshotURI = withoutUserinfo(uri)
		}
		out = append(out, op)
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"profiles": out})
}

// withoutUserinfo drops credentials some cameras embed in the URIs they
// report; they are kept in onvif_username/onvif_password instead.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
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
	row := db.NewStream(name, withoutUserinfo(uri))
	row.IsONVIF = true
	row.ONVIFUsername, row.ONVIFPassword, row.ONVIFProfile = req.Username, req.Password, profile.Token
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
