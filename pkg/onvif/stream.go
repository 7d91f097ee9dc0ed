package onvif

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"lightnvr/pkg/db"
)

// Model is the detection_model that follows the camera's own events.
const Model = "onvif"

// Endpoint is where a stream's camera answers ONVIF, with its credentials.
type Endpoint struct {
	DeviceURL          string
	Username, Password string
}

// StreamEndpoint is the ONVIF device service of stream s's camera: the host
// of its URL on onvif_port (80 when 0, or the URL's own port when the URL
// is the device's http(s)/onvif address), with the stream's ONVIF
// credentials, else those embedded in its URL. False when the URL names no
// host.
func StreamEndpoint(s *db.Stream) (Endpoint, bool) {
	u, err := url.Parse(strings.TrimSpace(s.URL))
	if err != nil || u.Hostname() == "" {
		return Endpoint{}, false
	}
	ep := Endpoint{Username: s.ONVIFUsername, Password: s.ONVIFPassword}
	if ep.Username == "" && u.User != nil {
		ep.Username = u.User.Username()
		ep.Password, _ = u.User.Password()
	}
	scheme, port, path := "http", "80", "/onvif/device_service"
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "onvif":
		if u.Port() != "" {
			port = u.Port()
		}
		if strings.Contains(strings.ToLower(u.Path), "onvif") {
			path = u.Path
		}
		if strings.EqualFold(u.Scheme, "https") {
			scheme = "https"
		}
	}
	if s.ONVIFPort > 0 {
		port = strconv.Itoa(s.ONVIFPort)
	}
	ep.DeviceURL = (&url.URL{Scheme: scheme, Host: net.JoinHostPort(u.Hostname(), port), Path: path}).String()
	return ep, true
}

// EventsFor is the event follower stream s asks for with the "onvif"
// detection model; false for other models or a URL without a host.
func EventsFor(s *db.Stream) (EventOptions, bool) {
	if !strings.EqualFold(strings.TrimSpace(s.DetectionModel), Model) {
		return EventOptions{}, false
	}
	ep, ok := StreamEndpoint(s)
	if !ok {
		return EventOptions{}, false
	}
	return EventOptions{Stream: s.Name, DeviceURL: ep.DeviceURL, Username: ep.Username, Password: ep.Password}, true
}
