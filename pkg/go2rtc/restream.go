package go2rtc

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// A camera is often defined in go2rtc itself and the recorder pointed at
// go2rtc's restream of it, rtsp://localhost:8554/<name>. Registering that URL
// as the source of go2rtc's stream <name> would replace the camera with a
// loop, so such URLs are recognised here: a stream whose URL is go2rtc's
// restream of the same name keeps go2rtc's own source, and one that names
// another go2rtc stream reads it through go2rtc (an alias).

// Restream is a URL that points at a stream of this go2rtc.
type Restream struct {
	// Name is the go2rtc stream the URL reads.
	Name string
	// Query is the URL's query ("video&audio=aac"), which go2rtc's RTSP
	// server reads as a track selection; "" when it has none.
	Query string
}

// RestreamOf reports whether raw is an RTSP URL served by this go2rtc: a
// loopback name or address, this host's own name or one of its addresses,
// with go2rtc's RTSP port, with or without credentials, query or `#` options.
func (s Settings) RestreamOf(raw string) (Restream, bool) {
	base, _, _ := strings.Cut(strings.TrimSpace(raw), "#")
	u, err := url.Parse(base)
	if err != nil || !strings.EqualFold(u.Scheme, "rtsp") || u.Opaque != "" {
		return Restream{}, false
	}
	port := u.Port()
	if port == "" {
		port = "554"
	}
	if port != strconv.Itoa(s.RTSPPort) || !isThisHost(u.Hostname()) {
		return Restream{}, false
	}
	name := strings.Trim(u.Path, "/")
	if name == "" {
		return Restream{}, false
	}
	return Restream{Name: name, Query: u.RawQuery}, true
}

// Source is the go2rtc source that reads r from go2rtc's own RTSP server
// with the credentials it demands: an alias that cannot loop as long as r
// names another stream.
func (s Settings) Source(r Restream) string {
	src := s.RTSPURL(r.Name)
	if r.Query != "" {
		src += "?" + r.Query
	}
	return src
}

// isThisHost reports whether host names this machine: a loopback or
// unspecified address, "localhost", the host name, or an address of one of
// its interfaces.
func isThisHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		a = a.Unmap()
		return a.IsLoopback() || a.IsUnspecified() || ownAddress(a)
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		name = strings.ToLower(name)
		short, _, _ := strings.Cut(name, ".")
		return h == name || h == short || h == short+".local"
	}
	return false
}

// ownAddress reports whether a is assigned to one of this host's interfaces.
func ownAddress(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}
