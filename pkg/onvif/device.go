package onvif

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Namespaces of the services a device may list.
const (
	NSPTZ     = "http://www.onvif.org/ver20/ptz/wsdl"
	NSImaging = "http://www.onvif.org/ver20/imaging/wsdl"
	NSEvents  = "http://www.onvif.org/ver10/events/wsdl"
)

// Services are the service endpoints of one device; empty when the device
// does not offer the service.
type Services struct {
	Device  string
	Media   string
	PTZ     string
	Imaging string
	Events  string
}

// Device is one ONVIF device reached through its device service URL.
type Device struct {
	*Client
	URL      string
	Services Services
}

// DeviceInfo is GetDeviceInformation's answer.
type DeviceInfo struct {
	Manufacturer    string `xml:"Manufacturer"`
	Model           string `xml:"Model"`
	FirmwareVersion string `xml:"FirmwareVersion"`
	SerialNumber    string `xml:"SerialNumber"`
	HardwareID      string `xml:"HardwareId"`
}

// Connect learns the device's clock offset (so digests are accepted by
// cameras whose clock is off) and its service endpoints. deviceURL is the
// device service, e.g. http://cam/onvif/device_service.
func Connect(ctx context.Context, deviceURL, username, password string) (*Device, error) {
	u, err := url.Parse(deviceURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("onvif: device URL %q is not an http(s) URL", deviceURL)
	}
	d := &Device{Client: NewClient(username, password), URL: deviceURL}
	// A device that refuses even GetSystemDateAndTime is unreachable or not
	// ONVIF; there is no point asking it anything else.
	if _, err := d.SyncClock(ctx, deviceURL); err != nil {
		return nil, err
	}
	if err := d.discoverServices(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

type getServices struct {
	XMLName           xml.Name `xml:"tds:GetServices"`
	NS                string   `xml:"xmlns:tds,attr"`
	IncludeCapability bool     `xml:"tds:IncludeCapability"`
}

type getServicesResponse struct {
	Service []struct {
		Namespace string `xml:"Namespace"`
		XAddr     string `xml:"XAddr"`
	} `xml:"Service"`
}

type getCapabilities struct {
	XMLName  xml.Name `xml:"tds:GetCapabilities"`
	NS       string   `xml:"xmlns:tds,attr"`
	Category string   `xml:"tds:Category"`
}

type getCapabilitiesResponse struct {
	Capabilities struct {
		Media   xaddr `xml:"Media"`
		PTZ     xaddr `xml:"PTZ"`
		Imaging xaddr `xml:"Imaging"`
		Events  xaddr `xml:"Events"`
	} `xml:"Capabilities"`
}

type xaddr struct {
	XAddr string `xml:"XAddr"`
}

// discoverServices asks GetServices (ONVIF 2.x) and falls back to
// GetCapabilities, which older firmwares answer instead.
func (d *Device) discoverServices(ctx context.Context) error {
	d.Services = Services{Device: d.URL}
	var svc getServicesResponse
	err := d.Call(ctx, d.URL, getServices{NS: NSDevice}, &svc)
	if err == nil {
		for _, s := range svc.Service {
			d.setService(strings.TrimSpace(s.Namespace), strings.TrimSpace(s.XAddr))
		}
		if d.Services.Media != "" {
			return nil
		}
	}
	var caps getCapabilitiesResponse
	if cerr := d.Call(ctx, d.URL, getCapabilities{NS: NSDevice, Category: "All"}, &caps); cerr != nil {
		return errors.Join(fmt.Errorf("get services: %w", err), fmt.Errorf("get capabilities: %w", cerr))
	}
	c := caps.Capabilities
	d.setService(NSMedia, strings.TrimSpace(c.Media.XAddr))
	d.setService(NSPTZ, strings.TrimSpace(c.PTZ.XAddr))
	d.setService(NSImaging, strings.TrimSpace(c.Imaging.XAddr))
	d.setService(NSEvents, strings.TrimSpace(c.Events.XAddr))
	return nil
}

func (d *Device) setService(ns, addr string) {
	if addr == "" {
		return
	}
	addr = d.sameHost(addr)
	switch ns {
	case NSMedia:
		d.Services.Media = addr
	case NSPTZ:
		d.Services.PTZ = addr
	case NSImaging:
		d.Services.Imaging = addr
	case NSEvents:
		d.Services.Events = addr
	}
}

// sameHost keeps a service URL's path but points it at the host the device
// was reached on: cameras behind NAT or with a stale address report XAddrs
// that are unreachable, and following a foreign host would send the
// credentials elsewhere.
func (d *Device) sameHost(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return ""
	}
	base, _ := url.Parse(d.URL)
	u.Scheme, u.Host, u.User = base.Scheme, base.Host, nil
	return u.String()
}

type getDeviceInformation struct {
	XMLName xml.Name `xml:"tds:GetDeviceInformation"`
	NS      string   `xml:"xmlns:tds,attr"`
}

// Information returns the device's manufacturer, model and versions.
func (d *Device) Information(ctx context.Context) (DeviceInfo, error) {
	var info DeviceInfo
	if err := d.Call(ctx, d.URL, getDeviceInformation{NS: NSDevice}, &info); err != nil {
		return DeviceInfo{}, fmt.Errorf("get device information: %w", err)
	}
	return info, nil
}
