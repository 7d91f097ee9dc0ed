package auth

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseCIDRList parses LightNVR's CIDR lists: entries separated by newlines,
// commas or spaces; a bare address is a single host (/32 or /128). An empty
// list parses to nil.
func ParseCIDRList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' }) {
		p, err := parseCIDR(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: %w", s, err)
		}
		return netip.PrefixFrom(p.Addr().Unmap(), unmapBits(p)).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q: %w", s, err)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		if b := p.Bits() - 96; b >= 0 {
			return b
		}
		return 0
	}
	return p.Bits()
}

// NormalizeCIDRList canonicalises a list for storage (one CIDR per line, as
// LightNVR stores it). An empty input gives "".
func NormalizeCIDRList(s string) (string, error) {
	ps, err := ParseCIDRList(s)
	if err != nil {
		return "", err
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "\n"), nil
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP decides which address a request comes from. The peer is believed
// unless it is a trusted proxy; then X-Forwarded-For is read from the right,
// skipping trusted proxies, and the first untrusted hop is the client (entries
// to its left are whatever the client chose to send). X-Real-IP is the
// fallback when X-Forwarded-For gives nothing usable.
func ClientIP(peer netip.Addr, trusted []netip.Prefix, xForwardedFor, xRealIP string) netip.Addr {
	peer = peer.Unmap().WithZone("")
	if !peer.IsValid() || !containsAddr(trusted, peer) {
		return peer
	}
	hops := strings.Split(xForwardedFor, ",")
	if len(hops) > 64 {
		hops = hops[len(hops)-64:]
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, err := parseHop(h)
		if err != nil {
			break // a garbled hop: stop believing anything to its left
		}
		if !containsAddr(trusted, a) {
			return a
		}
	}
	if a, err := parseHop(strings.TrimSpace(xRealIP)); err == nil {
		return a
	}
	return peer
}

// parseHop accepts an address as proxies write it: bare, [v6], or with a port.
func parseHop(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), nil
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return a.Unmap().WithZone(""), nil
}
