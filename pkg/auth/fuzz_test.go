package auth

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseAuthorization: any header value parses without panic, and what
// comes out is consistent with its scheme.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Basic YWxpY2U6cHc=", "Bearer abc", "basic ", "Basic Og==", "Bearer  x y", "\x00 \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		c := ParseAuthorization(h)
		switch c.Scheme {
		case "basic":
			if c.Username == "" || c.Token != "" {
				t.Fatalf("basic credentials %+v", c)
			}
		case "bearer":
			if c.Token == "" || strings.ContainsAny(c.Token, " \t") {
				t.Fatalf("bearer credentials %+v", c)
			}
		case "":
			if c != (Credentials{}) {
				t.Fatalf("no scheme but %+v", c)
			}
		default:
			t.Fatalf("scheme %q", c.Scheme)
		}
	})
}

// FuzzClientIP: forwarded headers never panic, and an untrusted peer is
// never replaced by header contents.
func FuzzClientIP(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1}, "198.51.100.1, 10.0.0.2", "1.2.3.4")
	f.Add([]byte{192, 0, 2, 1}, "[::1]:80", "")
	f.Add([]byte{}, ",,,", "garbage")
	trusted, _ := ParseCIDRList("10.0.0.0/8")
	f.Fuzz(func(t *testing.T, peerBytes []byte, xff, xri string) {
		peer, _ := netip.AddrFromSlice(peerBytes)
		got := ClientIP(peer, trusted, xff, xri)
		if peer.IsValid() && !containsAddr(trusted, peer) && got != peer.Unmap() {
			t.Fatalf("untrusted peer %s became %s", peer, got)
		}
	})
}

// FuzzVerifyPassword: stored hashes come from a file we may not have written;
// none may panic or ask for absurd resources.
func FuzzVerifyPassword(f *testing.F) {
	h, _ := HashPassword("pw", fastHash)
	f.Add(h, "", "pw")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "x")
	f.Add(strings.Repeat("ab", 32), "00112233", "pw")
	f.Fuzz(func(t *testing.T, hash, salt, pw string) {
		if strings.HasPrefix(hash, "$argon2id$") {
			if p, _, _, err := parseArgon2id(hash); err == nil && (p.Memory > 4096 || p.Time > 2) {
				return // valid but expensive: parsing is what is under test
			}
		}
		_, _, _ = VerifyPassword(hash, salt, pw, fastHash)
	})
}
