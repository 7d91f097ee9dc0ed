package api

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/config"
)

// hostAllowlist guards against DNS rebinding: a page on an attacker's name
// that later resolves to this box would otherwise reach the API as a
// same-origin page. Its requests carry the attacker's name in Host, so a
// Host that is not one of ours is refused.
//
// Every IP literal is accepted: rebinding always goes through a name, a
// browser that sends an IP literal as Host has that address as its origin,
// and the box's own addresses change with DHCP and port forwards (a
// forwarded 127.0.0.1:port reaches the qemu appliance, for example).
type hostAllowlist struct {
	cur atomic.Pointer[hostNames]
}

// hostNames is the allowlist built from one configuration.
type hostNames struct {
	cfg   *config.Config
	names map[string]bool
}

func newHostNames(cfg *config.Config) *hostNames {
	n := &hostNames{cfg: cfg, names: map[string]bool{"localhost": true}}
	if h, err := os.Hostname(); err == nil && h != "" {
		h = strings.ToLower(h)
		n.names[h] = true
		n.names[h+".local"] = true
		if short, _, ok := strings.Cut(h, "."); ok {
			n.names[short] = true
			n.names[short+".local"] = true
		}
	}
	for _, h := range strings.Split(cfg.Web.AllowedHosts, ",") {
		if h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), ".")); h != "" {
			n.names[h] = true
		}
	}
	return n
}

// names returns the allowlist for cfg, rebuilt when settings replace it.
func (a *hostAllowlist) names(cfg *config.Config) map[string]bool {
	if n := a.cur.Load(); n != nil && n.cfg == cfg {
		return n.names
	}
	n := newHostNames(cfg)
	a.cur.Store(n)
	return n.names
}

// hostOf strips the port from a Host header value (and the brackets of an
// IPv6 literal).
func hostOf(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// allowed reports whether Host value h names this box.
func (a *hostAllowlist) allowed(cfg *config.Config, h string) bool {
	host := hostOf(h)
	if host == "" {
		return true // HTTP/1.0 without Host: no name, nothing to rebind
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return a.names(cfg)[host] || strings.HasSuffix(host, ".localhost")
}

// checkHost answers 421 and returns false for a Host that is not ours.
func (s *Server) checkHost(ctx *fasthttp.RequestCtx) bool {
	h := string(ctx.Host())
	if s.hosts.allowed(s.settings.get(), h) {
		return true
	}
	writeErrorf(ctx, fasthttp.StatusMisdirectedRequest,
		"host %q is not served here: add it to [web] allowed_hosts (requests by IP address, localhost and this machine's name always work)", hostOf(h))
	return false
}
