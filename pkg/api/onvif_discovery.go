package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/onvif"
)

// onvifDeviceTimeout bounds the SOAP calls made for one discovered device
// while filling in its details.
const onvifDeviceTimeout = 4 * time.Second

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

// Scanning probes the network and the device list shows cameras not added
// yet, so both need a role that may change things (LightNVR left them
// public); the status is part of the settings.
var onvifDiscoveryRoutes = []endpoint[*onvifHandler]{
	{"GET", "/api/onvif/discovery/status", auth.AccessViewer, (*onvifHandler).handleStatus},
	{"POST", "/api/onvif/discovery/discover", auth.AccessWriter, (*onvifHandler).handleDiscover},
	{"GET", "/api/onvif/devices", auth.AccessWriter, (*onvifHandler).handleDevices},
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
