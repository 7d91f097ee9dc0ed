package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestDefaultHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse", DefaultHashParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	ok, rehash, err := VerifyPassword(h, "", "correct horse", DefaultHashParams)
	if !ok || rehash || err != nil {
		t.Fatalf("verify: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, _, _ := VerifyPassword(h, "", "correct horsE", DefaultHashParams); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse", DefaultHashParams)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	// Weaker stored parameters ask for a re-hash.
	weak, _ := HashPassword("pw", fastHash)
	if ok, rehash, _ := VerifyPassword(weak, "", "pw", DefaultHashParams); !ok || !rehash {
		t.Fatalf("weak hash: ok=%v rehash=%v", ok, rehash)
	}
}

func TestVerifyLegacyPBKDF2(t *testing.T) {
	hash, salt := legacyHash("lightnvr-pass", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	if len(hash) != 64 || len(salt) != 32 {
		t.Fatalf("legacy form %q %q", hash, salt)
	}
	ok, rehash, err := VerifyPassword(hash, salt, "lightnvr-pass", DefaultHashParams)
	if !ok || !rehash || err != nil {
		t.Fatalf("legacy verify: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, _, _ := VerifyPassword(hash, salt, "lightnvr-pasS", DefaultHashParams); ok {
		t.Fatal("wrong legacy password accepted")
	}
	// A published PBKDF2-HMAC-SHA256 value ("password", "salt", 10000 iterations, 32 bytes).
	const known = "5ec02b91a4b59c6f59dd5fbe4ca649ece4fa8568cdb8ba36cf41426e8805522b"
	if h, _ := legacyHash("password", []byte("salt")); h != known {
		t.Fatalf("PBKDF2 result %s, want %s", h, known)
	}
}

func TestVerifyRejectsHostileHashes(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	for _, h := range []string{
		"",
		"$argon2id$",
		"$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key, // 4 GiB
		"$argon2id$v=19$m=19456,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1,x=3$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$!!$" + key,
		"zz", strings.Repeat("a", 64),
	} {
		ok, _, err := VerifyPassword(h, "zz", "pw", DefaultHashParams)
		if ok || err == nil {
			t.Errorf("hash %q: ok=%v err=%v, want a refusal", h, ok, err)
		}
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		tok := NewToken()
		if len(tok) != TokenLen || !plausibleToken(tok) || seen[tok] {
			t.Fatalf("token %q", tok)
		}
		seen[tok] = true
	}
	if HashToken("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal("HashToken is not SHA-256 hex")
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 300), "abcdefghijklmnop qrstuv", "abcdefghijklmnop;rstuv"} {
		if plausibleToken(bad) {
			t.Errorf("plausibleToken(%q) = true", bad)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		in   string
		want Credentials
	}{
		{"Basic " + b64("alice:pw:with:colons"), Credentials{Scheme: "basic", Username: "alice", Password: "pw:with:colons"}},
		{"basic  " + b64("bob:"), Credentials{Scheme: "basic", Username: "bob"}},
		{"Basic " + b64(":pw"), Credentials{}},
		{"Basic " + b64("nocolon"), Credentials{}},
		{"Basic ***", Credentials{}},
		{"Bearer abcDEF123", Credentials{Scheme: "bearer", Token: "abcDEF123"}},
		{"Bearer a b", Credentials{}},
		{"Bearer", Credentials{}},
		{"Digest x", Credentials{}},
		{"", Credentials{}},
	} {
		if got := ParseAuthorization(tc.in); got != tc.want {
			t.Errorf("ParseAuthorization(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseCIDRList("10.0.0.1\n172.16.0.0/12, ::1")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	for _, tc := range []struct {
		peer, xff, xri, want string
	}{
		{"192.0.2.1", "198.51.100.1", "", "192.0.2.1"},                // untrusted peer: headers ignored
		{"192.0.2.1", "", "198.51.100.1", "192.0.2.1"},                // same for X-Real-IP
		{"10.0.0.1", "198.51.100.1", "", "198.51.100.1"},              // trusted proxy
		{"10.0.0.1", "203.0.113.5, 198.51.100.1", "", "198.51.100.1"}, // right-most untrusted wins
		{"10.0.0.1", "198.51.100.1, 172.16.3.4", "", "198.51.100.1"},  // proxies in the chain are skipped
		{"10.0.0.1", "172.16.3.4", "", "10.0.0.1"},                    // only proxies: the peer
		{"10.0.0.1", "", "198.51.100.7", "198.51.100.7"},              // X-Real-IP fallback
		{"10.0.0.1", "garbage", "198.51.100.7", "198.51.100.7"},       // garbage stops XFF
		{"10.0.0.1", "[2001:db8::5]:443", "", "2001:db8::5"},          // bracketed with port
		{"10.0.0.1", "198.51.100.1:5000", "", "198.51.100.1"},         // with port
		{"::1", "::ffff:198.51.100.9", "", "198.51.100.9"},            // mapped form
	} {
		got := ClientIP(a(tc.peer), trusted, tc.xff, tc.xri)
		if got != a(tc.want) {
			t.Errorf("ClientIP(%s, %q, %q) = %s, want %s", tc.peer, tc.xff, tc.xri, got, tc.want)
		}
	}
}

func TestCIDRLists(t *testing.T) {
	n, err := NormalizeCIDRList(" 10.1.2.3/8,192.168.1.5\n2001:db8::/32  ")
	if err != nil || n != "10.0.0.0/8\n192.168.1.5/32\n2001:db8::/32" {
		t.Fatalf("normalize: %q %v", n, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "10.0.0.0/"} {
		if _, err := ParseCIDRList(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if n, err := NormalizeCIDRList("  "); n != "" || err != nil {
		t.Fatalf("empty list: %q %v", n, err)
	}
}

func TestLimiterIsBounded(t *testing.T) {
	l := newLimiter(3, time.Minute)
	now := time.Unix(1000, 0)
	for i := 0; i < maxLimiterEntries+500; i++ {
		l.fail(fmt.Sprintf("k%d", i), now)
	}
	if n := l.size(); n > maxLimiterEntries {
		t.Fatalf("limiter holds %d entries, cap %d", n, maxLimiterEntries)
	}
	for i := 0; i < 3; i++ {
		l.fail("victim", now)
	}
	if w := l.blockedFor("victim", now.Add(10*time.Second)); w != 50*time.Second {
		t.Fatalf("blocked for %v, want 50s", w)
	}
	if w := l.blockedFor("victim", now.Add(time.Minute)); w != 0 {
		t.Fatalf("still blocked after the window: %v", w)
	}
}

func TestTOTPMatchAndReplay(t *testing.T) {
	s, _, clock := newTestService(t, nil)
	ctx := context.Background()
	u := mustCreate(t, s, "tina", "tina-password", RoleUser)
	secret, uri, err := s.TOTPSetup(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(uri, "issuer=LightNVR") || !strings.Contains(uri, "period=30") || len(secret) != 32 {
		t.Fatalf("secret %q uri %q", secret, uri)
	}
	// One step of clock skew either way is accepted.
	past, _ := totp.GenerateCode(secret, clock.Now().Add(-30*time.Second))
	if err := s.TOTPVerify(ctx, u.ID, past); err != nil {
		t.Fatalf("code from the previous step: %v", err)
	}
	clock.Advance(30 * time.Second)
	old, _ := totp.GenerateCode(secret, clock.Now().Add(-90*time.Second))
	res, err := s.Login(ctx, LoginRequest{Username: "tina", Password: "tina-password", TOTPCode: old})
	if !errors.Is(err, ErrInvalidTOTP) {
		t.Fatalf("code from three steps ago: %v %+v", err, res)
	}
}

func TestBootstrapRejectsBadUsername(t *testing.T) {
	if err := ValidateUsername("a b"); err == nil {
		t.Fatal("space accepted")
	}
	if err := ValidateUsername("admin"); err != nil {
		t.Fatal(err)
	}
}
