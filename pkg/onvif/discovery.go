package onvif

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// WS-Discovery defaults (ONVIF Core §7.3).
const (
	DiscoveryPort   = 3702
	discoveryGroup  = "239.255.255.250"
	maxDatagram     = 64 << 10
	maxRangeHosts   = 4096
	defaultParallel = 64
)

// ErrBadRange is returned for a range Range will not probe.
var ErrBadRange = errors.New("onvif: unusable probe range")

// Found is one device that answered a probe.
type Found struct {
	Endpoint string   // the endpoint reference address (urn:uuid:…)
	XAddrs   []string // device service URLs
	Scopes   []string
	Name     string // from the onvif://www.onvif.org/name/ scope
	Hardware string // from the onvif://www.onvif.org/hardware/ scope
	From     netip.Addr
}

// Prober sends WS-Discovery probes. The zero value probes port 3702 for
// three seconds with 64 unicast probes in flight.
type Prober struct {
	Port     int           // destination port; 0 means 3702
	Timeout  time.Duration // how long to wait for answers; 0 means 3 s
	Parallel int           // unicast probes sent per pause; 0 means 64
}

func (p Prober) port() int {
	if p.Port == 0 {
		return DiscoveryPort
	}
	return p.Port
}

func (p Prober) timeout() time.Duration {
	if p.Timeout <= 0 {
		return 3 * time.Second
	}
	return p.Timeout
}

// Multicast probes the ONVIF multicast group on every up, multicast-capable
// IPv4 interface and gathers the answers until the timeout.
func (p Prober) Multicast(ctx context.Context) ([]Found, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("onvif: list interfaces: %w", err)
	}
	var (
		mu    sync.Mutex
		all   []Found
		errs  []error
		wg    sync.WaitGroup
		group = netip.AddrPortFrom(netip.MustParseAddr(discoveryGroup), uint16(p.port()))
	)
	for _, ifc := range ifaces {
		src, ok := multicastSource(ifc)
		if !ok {
			continue
		}
		wg.Go(func() {
			found, err := p.exchange(ctx, src, func(send func(netip.AddrPort) error) error { return send(group) })
			mu.Lock()
			defer mu.Unlock()
			all = append(all, found...)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ifc.Name, err))
			}
		})
	}
	wg.Wait()
	found := dedupe(all)
	if len(found) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return found, nil
}

// multicastSource is the interface's first IPv4 address when it can carry
// multicast.
func multicastSource(ifc net.Interface) (netip.Addr, bool) {
	if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagMulticast == 0 {
		return netip.Addr{}, false
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Is4() {
			return pfx.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// Range sends a unicast probe to every address of an IPv4 prefix (at most
// 4096 hosts), a few dozen at a time, and gathers answers until the timeout
// after the last probe. Networks that drop multicast (routed VLANs, some
// Wi-Fi) still answer unicast.
func (p Prober) Range(ctx context.Context, prefix netip.Prefix) ([]Found, error) {
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() {
		return nil, fmt.Errorf("%w: %s is not an IPv4 range", ErrBadRange, prefix)
	}
	if bits := 32 - prefix.Bits(); bits > 12 {
		return nil, fmt.Errorf("%w: %s has more than %d addresses", ErrBadRange, prefix, maxRangeHosts)
	}
	parallel := p.Parallel
	if parallel <= 0 {
		parallel = defaultParallel
	}
	port := uint16(p.port())
	found, err := p.exchange(ctx, netip.IPv4Unspecified(), func(send func(netip.AddrPort) error) error {
		n := 0
		for a := prefix.Addr(); prefix.Contains(a); a = a.Next() {
			if prefix.Bits() < 31 && (a == prefix.Addr() || !prefix.Contains(a.Next())) {
				continue // network and broadcast addresses
			}
			if err := send(netip.AddrPortFrom(a, port)); err != nil && !isUnreachable(err) {
				return err
			}
			if n++; n%parallel == 0 {
				// A pause per batch keeps a /20 from overrunning the
				// socket buffer and the switch; answers are read meanwhile.
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		return nil
	})
	return dedupe(found), err
}

func isUnreachable(err error) bool {
	return errors.Is(err, unix.EHOSTUNREACH) || errors.Is(err, unix.ENETUNREACH) || errors.Is(err, unix.EPERM)
}

// exchange opens one socket on src, runs sendAll with a function that sends
// a probe, and reads answers until the timeout after sendAll returns.
func (p Prober) exchange(ctx context.Context, src netip.Addr, sendAll func(func(netip.AddrPort) error) error) ([]Found, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
	if err != nil {
		return nil, fmt.Errorf("onvif: discovery socket: %w", err)
	}
	defer conn.Close()
	if !src.IsUnspecified() {
		if err := setMulticastIF(conn, src); err != nil {
			return nil, err
		}
	}
	msgID := newUUID()
	probe := probeMessage(msgID)
	results := make(chan []Found, 1)
	go func() { results <- readMatches(conn, msgID) }()

	sendErr := sendAll(func(to netip.AddrPort) error {
		_, err := conn.WriteToUDPAddrPort(probe, to)
		return err
	})
	wait := time.NewTimer(p.timeout())
	select {
	case <-wait.C:
	case <-ctx.Done():
		wait.Stop()
	}
	conn.Close() // ends readMatches
	found := <-results
	if sendErr != nil {
		return found, fmt.Errorf("onvif: send probe: %w", sendErr)
	}
	return found, nil
}

// setMulticastIF makes the group probe leave through src's interface
// rather than whichever one the routing table prefers.
func setMulticastIF(conn *net.UDPConn, src netip.Addr) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("onvif: multicast socket: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInet4Addr(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, src.As4())
	}); err != nil {
		return fmt.Errorf("onvif: multicast socket: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("onvif: set multicast interface %s: %w", src, serr)
	}
	return nil
}

func readMatches(conn *net.UDPConn, msgID string) []Found {
	var out []Found
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return out
		}
		found, err := ParseProbeMatches(buf[:n], msgID)
		if err != nil {
			continue // not ours or not ONVIF: a shared port hears all sorts
		}
		for i := range found {
			found[i].From = from.Addr().Unmap()
		}
		out = append(out, found...)
	}
}

func dedupe(in []Found) []Found {
	seen := map[string]bool{}
	out := in[:0]
	for _, f := range in {
		key := f.Endpoint
		if key == "" {
			key = strings.Join(f.XAddrs, " ")
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	return out
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// probeMessage is a WS-Discovery Probe for ONVIF video transmitters.
func probeMessage(msgID string) []byte {
	return []byte(xml.Header + `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"` +
		` xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"` +
		` xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"` +
		` xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
		`<e:Header><w:MessageID>` + msgID + `</w:MessageID>` +
		`<w:To e:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>` +
		`<w:Action e:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>` +
		`<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body></e:Envelope>`)
}

type probeMatchEnvelope struct {
	XMLName xml.Name `xml:"Envelope"`
	Header  struct {
		RelatesTo string `xml:"RelatesTo"`
	} `xml:"Header"`
	Body struct {
		ProbeMatches struct {
			ProbeMatch []struct {
				Address string `xml:"EndpointReference>Address"`
				Types   string `xml:"Types"`
				Scopes  string `xml:"Scopes"`
				XAddrs  string `xml:"XAddrs"`
			} `xml:"ProbeMatch"`
		} `xml:"ProbeMatches"`
	} `xml:"Body"`
}

const (
	scopeName     = "onvif://www.onvif.org/name/"
	scopeHardware = "onvif://www.onvif.org/hardware/"
)

// ParseProbeMatches reads a ProbeMatches datagram. With msgID set, an
// answer that relates to another probe is refused. XAddrs that are not
// http(s) URLs are dropped; a match left without any is skipped.
func ParseProbeMatches(data []byte, msgID string) ([]Found, error) {
	if len(data) > maxDatagram {
		return nil, errors.New("onvif: datagram too large")
	}
	if err := checkDepth(data); err != nil {
		return nil, err
	}
	var env probeMatchEnvelope
	if err := xml.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("onvif: probe match: %w", err)
	}
	if env.XMLName.Space != NSSoap {
		return nil, fmt.Errorf("onvif: probe match is not SOAP 1.2 (namespace %q)", env.XMLName.Space)
	}
	if msgID != "" && strings.TrimSpace(env.Header.RelatesTo) != msgID {
		return nil, errors.New("onvif: probe match relates to another probe")
	}
	var out []Found
	for _, m := range env.Body.ProbeMatches.ProbeMatch {
		f := Found{Endpoint: strings.TrimSpace(m.Address), Scopes: strings.Fields(m.Scopes)}
		for _, x := range strings.Fields(m.XAddrs) {
			if u, err := url.Parse(x); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
				f.XAddrs = append(f.XAddrs, x)
			}
		}
		if len(f.XAddrs) == 0 {
			continue
		}
		for _, s := range f.Scopes {
			f.Name = scopeValue(f.Name, s, scopeName)
			f.Hardware = scopeValue(f.Hardware, s, scopeHardware)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, errors.New("onvif: no usable probe match")
	}
	return out, nil
}

func scopeValue(cur, scope, prefix string) string {
	if cur != "" || !strings.HasPrefix(scope, prefix) {
		return cur
	}
	v, err := url.PathUnescape(strings.TrimPrefix(scope, prefix))
	if err != nil {
		return cur
	}
	return v
}

// ServeProbes answers every WS-Discovery Probe read from conn with a
// ProbeMatch for one device, until conn is closed. It stands in for the
// responder of a device that has none (go2rtc's ONVIF server).
func ServeProbes(conn net.PacketConn, endpoint string, xaddrs, scopes []string) error {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("onvif: read probe: %w", err)
		}
		var probe struct {
			XMLName   xml.Name  `xml:"Envelope"`
			MessageID string    `xml:"Header>MessageID"`
			Probe     *struct{} `xml:"Body>Probe"`
		}
		if checkDepth(buf[:n]) != nil || xml.Unmarshal(buf[:n], &probe) != nil || probe.Probe == nil {
			continue
		}
		answer := probeMatchMessage(strings.TrimSpace(probe.MessageID), endpoint, xaddrs, scopes)
		if _, err := conn.WriteTo(answer, from); err != nil {
			return fmt.Errorf("onvif: answer probe: %w", err)
		}
	}
}

// probeMatchMessage builds a ProbeMatches answer as a device sends it.
func probeMatchMessage(relatesTo, endpoint string, xaddrs, scopes []string) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header + `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"` +
		` xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"` +
		` xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"` +
		` xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><e:Header>` +
		`<w:MessageID>` + newUUID() + `</w:MessageID><w:RelatesTo>`)
	_ = xml.EscapeText(&b, []byte(relatesTo))
	b.WriteString(`</w:RelatesTo><w:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</w:To>` +
		`<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</w:Action></e:Header>` +
		`<e:Body><d:ProbeMatches><d:ProbeMatch><w:EndpointReference><w:Address>`)
	_ = xml.EscapeText(&b, []byte(endpoint))
	b.WriteString(`</w:Address></w:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>`)
	_ = xml.EscapeText(&b, []byte(strings.Join(scopes, " ")))
	b.WriteString(`</d:Scopes><d:XAddrs>`)
	_ = xml.EscapeText(&b, []byte(strings.Join(xaddrs, " ")))
	b.WriteString(`</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>`)
	return b.Bytes()
}
