package auth

import (
	"context"
	"net/netip"
	"testing"
)

// BenchmarkLogin is a whole password login with the default argon2id
// parameters: user lookup, hash check, session row. B/op shows the memory a
// login costs (dominated by argon2id's m parameter).
func BenchmarkLogin(b *testing.B) {
	s, _, _ := newTestService(b, func(o *Options) { o.Hash = DefaultHashParams; o.RateLimit = false })
	mustCreate(b, s, "bench", "benchmark-password", RoleUser)
	ctx := context.Background()
	req := LoginRequest{Username: "bench", Password: "benchmark-password", Client: Client{IP: netip.MustParseAddr("192.0.2.1")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Login(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoginLegacyPBKDF2 is the first login of a user whose hash LightNVR
// wrote (PBKDF2 check, then the argon2id re-hash), measured as the check alone.
func BenchmarkLoginLegacyPBKDF2(b *testing.B) {
	hash, salt := legacyHash("benchmark-password", []byte("0123456789abcdef"))
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := VerifyPassword(hash, salt, "benchmark-password", DefaultHashParams); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkLoginHashOnly is argon2id alone with the default parameters.
func BenchmarkLoginHashOnly(b *testing.B) {
	h, err := HashPassword("benchmark-password", DefaultHashParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := VerifyPassword(h, "", "benchmark-password", DefaultHashParams); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
