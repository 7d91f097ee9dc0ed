package api

import (
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
)

// FuzzDecodeAuthJSON: the strict decoder never panics on the auth request
// bodies, and accepts only what round-trips as a JSON object.
func FuzzDecodeAuthJSON(f *testing.F) {
	for _, s := range []string{
		`{"username":"a","password":"b","totp_code":"123456","remember_device":true}`,
		`{"totp_token":"x","code":"1"}`,
		`{"username":"u","role":"admin","allowed_tags":null,"allowed_login_cidrs":"10.0.0.0/8"}`,
		`{"role":7}`, `{"allowed_tags":5}`, `[]`, `{"a":1}`, `{} {}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var a loginRequest
		var b loginTOTPRequest
		var c createUserRequest
		var d updateUserRequest
		var e changePasswordRequest
		for _, v := range []any{&a, &b, &c, &d, &e} {
			_ = decodeJSONBytes(body, v)
		}
		if err := decodeJSONBytes(body, &c); err == nil && c.Role != nil && !c.Role.Valid() {
			t.Fatalf("decoded an invalid role %d", c.Role.Role)
		}
	})
}

// FuzzAuthHeaders sends arbitrary Cookie, Authorization, X-API-Key and
// X-Forwarded-For values through the real handler: no panic, and no
// non-public route ever lets such a request in.
func FuzzAuthHeaders(f *testing.F) {
	e := newAuthEnv(f, envOpts{cfg: nil})
	e.addUser("fuzz", "fuzz-password", auth.RoleAdmin)
	f.Add("session=abc", "Basic ZnV6ejp4", "key", "10.0.0.1")
	f.Add("session=; trusted_device=\x00", "Bearer "+strings.Repeat("A", 32), "", "::1, garbage")
	f.Add("", "Basic "+strings.Repeat("=", 100), strings.Repeat("k", 300), "")
	f.Fuzz(func(t *testing.T, cookie, authz, apiKey, xff string) {
		var rq fasthttp.Request
		rq.Header.SetMethod("GET")
		rq.SetRequestURI("/api/auth/users")
		rq.Header.Set("Cookie", cookie)
		rq.Header.Set("Authorization", authz)
		rq.Header.Set("X-API-Key", apiKey)
		rq.Header.Set("X-Forwarded-For", xff)
		var ctx fasthttp.RequestCtx
		ctx.Init(&rq, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}, nil)
		e.srv.Handle(&ctx)
		if st := ctx.Response.StatusCode(); st == fasthttp.StatusOK || st >= 500 {
			t.Fatalf("status %d for cookie=%q authorization=%q key=%q: %s", st, cookie, authz, apiKey, ctx.Response.Body())
		}
	})
}
