package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"lightnvr/pkg/auth"
)

// Guessing admin's password from one address must not keep admin out when
// logging in from another with the right password.
func TestSecurityLockoutAttackerCannotLockOutAdmin(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("admin", "admin-password", auth.RoleAdmin)
	const home, attacker = "192.0.2.44", "198.51.100.66"
	good := `{"username":"admin","password":"admin-password"}`
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: good, from: home}), 200, "admin before the attack")
	for i := 0; i < 30; i++ {
		body := fmt.Sprintf(`{"username":"admin","password":"guess-%d"}`, i)
		r := e.do(req{method: "POST", path: "/api/auth/login", body: body, from: attacker})
		if r.status != 401 && r.status != 429 {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: good, from: attacker}), 429, "the attacker's own address")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: good, from: home}), 200, "admin from their address during the attack")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", basic: [2]string{"admin", "admin-password"}, from: home}), 200, "admin by Basic during the attack")
}

// Turning TOTP off for one's own account needs the password or a current
// code: a stolen session alone cannot remove the second factor.
func TestSecurityTOTPDisableNeedsProof(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	admin := e.addUser("admin", "admin-password", auth.RoleAdmin)
	v := e.addUser("vera", "vera-password", auth.RoleViewer)
	ctx := context.Background()
	enable := func(id int64) string {
		secret, _, err := e.svc.TOTPSetup(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.GenerateCode(secret, e.clock.Now())
		if err := e.svc.TOTPVerify(ctx, id, code); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	secret := enable(v.ID)
	sess := e.sessionWithTOTP("vera", "vera-password", secret)
	path := fmt.Sprintf("/api/auth/users/%d/totp/disable", v.ID)
	cookie := map[string]string{"session": sess}
	enabled := func() bool {
		on, _, err := e.svc.TOTPStatus(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		return on
	}

	r := e.do(req{method: "POST", path: path, cookies: cookie, contentType: "application/json"})
	expectStatus(t, r, 400, "disable with the session alone")
	expectStatus(t, e.do(req{method: "POST", path: path, cookies: cookie, body: `{"password":"not-her-password"}`}), 401, "disable with a wrong password")
	expectStatus(t, e.do(req{method: "POST", path: path, cookies: cookie, body: `{"code":"000000"}`}), 401, "disable with a wrong code")
	if !enabled() {
		t.Fatal("TOTP turned off without proof")
	}
	expectStatus(t, e.do(req{method: "POST", path: path, cookies: cookie, body: `{"password":"vera-password"}`}), 200, "disable with the password")
	if enabled() {
		t.Fatal("TOTP still on after a proven disable")
	}

	// With a current code.
	e.clock.Advance(time.Minute)
	secret = enable(v.ID)
	e.clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(secret, e.clock.Now())
	expectStatus(t, e.do(req{method: "POST", path: path, cookies: cookie, body: `{"code":"` + code + `"}`}), 200, "disable with a code")

	// An admin turns it off for someone who lost their authenticator.
	e.clock.Advance(time.Minute)
	enable(v.ID)
	expectStatus(t, e.do(req{method: "POST", path: path, apiKey: e.apiKeyFor(admin.ID)}), 200, "admin for another user")
	if enabled() {
		t.Fatal("admin's disable did not turn TOTP off")
	}
}

// sessionWithTOTP logs in through the two-step TOTP login and returns the session cookie.
func (e *authEnv) sessionWithTOTP(name, password, secret string) string {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":` + jsonStr(name) + `,"password":` + jsonStr(password) + `}`})
	tok, _ := r.json(e.t)["totp_token"].(string)
	if r.status != 200 || tok == "" {
		e.t.Fatalf("first step: %d %s", r.status, r.body)
	}
	e.clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(secret, e.clock.Now())
	r = e.do(req{method: "POST", path: "/api/auth/login/totp", body: `{"totp_token":"` + tok + `","code":"` + code + `"}`})
	c := r.cookies["session"]
	if r.status != 200 || c == nil {
		e.t.Fatalf("second step: %d %s", r.status, r.body)
	}
	return string(c.Value())
}

// A GET of /logout (a link, a prefetch, an <img> on a foreign page) does
// not end the session; POST does.
func TestSecurityGETLogoutKeepsSession(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("lou", "lou-password", auth.RoleViewer)
	tok := e.login("lou", "lou-password")
	cookie := map[string]string{"session": tok}
	r := e.do(req{method: "GET", path: "/logout", cookies: cookie})
	expectStatus(t, r, 302, "GET /logout")
	if loc := string(r.header.Peek("Location")); loc != "/login.html?logout=true" {
		t.Fatalf("GET /logout leads to %q", loc)
	}
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: cookie}), 200, "session after GET /logout")
	r = e.do(req{method: "POST", path: "/api/auth/logout", cookies: cookie, headers: map[string]string{"Origin": "http://evil.example"}})
	expectStatus(t, r, 403, "cross-origin logout")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/logout", cookies: cookie, headers: map[string]string{"Accept": "application/json"}}), 200, "POST logout")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: cookie}), 401, "session after POST logout")
}

// DNS rebinding: a page on a foreign name that resolves to the box sends
// that name as Host, and is refused.
func TestSecurityHostAllowlist(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("hal", "hal-password", auth.RoleAdmin)
	basic := [2]string{"hal", "hal-password"}
	for _, h := range []string{"rebind.attacker.example", "evil.example:8080", "nvr.test.attacker.example"} {
		r := e.do(req{method: "GET", path: "/api/auth/verify", basic: basic, headers: map[string]string{"Host": h}})
		expectStatus(t, r, 421, "Host "+h)
		if !strings.Contains(string(r.body), "allowed_hosts") {
			t.Fatalf("421 without a hint: %s", r.body)
		}
		expectStatus(t, e.do(req{method: "GET", path: "/index.html", headers: map[string]string{"Host": h}}), 421, "page with Host "+h)
	}
	for _, h := range []string{"nvr.test", "NVR.TEST:8080", "127.0.0.1:18080", "[::1]:8080", "192.0.2.1", "localhost:8080"} {
		expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", basic: basic, headers: map[string]string{"Host": h}}), 200, "Host "+h)
	}
}

// User names are unique regardless of case: no second "ADMIN" beside "admin".
func TestSecurityUsernameCaseInsensitive(t *testing.T) {
	e := newRecEnv(t)
	adminKey := func() string {
		u, err := e.svc.GetUserByName(context.Background(), "admin")
		if err != nil {
			t.Fatal(err)
		}
		return e.apiKeyFor(u.ID)
	}()
	r := e.do(req{method: "POST", path: "/api/auth/users", apiKey: adminKey,
		body: `{"username":"ADMIN","password":"other-password","role":0}`})
	expectStatus(t, r, 400, "create ADMIN beside admin")
	v, err := e.svc.GetUserByName(context.Background(), "viewer")
	if err != nil {
		t.Fatal(err)
	}
	r = e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", v.ID), apiKey: adminKey, body: `{"username":"Admin"}`})
	expectStatus(t, r, 409, "rename viewer to Admin")
	// A change of case of one's own name is still a rename, not a clash.
	r = e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", v.ID), apiKey: adminKey, body: `{"username":"Viewer"}`})
	expectStatus(t, r, 200, "rename viewer to Viewer")
}

// Storage cleanup deletes recordings: a viewer or an API key may not start it.
func TestSecurityStorageCleanupNeedsOperator(t *testing.T) {
	e := newRecEnv(t)
	for _, role := range []string{"viewer", "api"} {
		r := e.as(role, req{method: "POST", path: "/api/storage/cleanup", body: `{"aggressive":true}`})
		expectStatus(t, r, 403, "cleanup as "+role)
	}
}

// Without credentials /api/health says only whether the daemon lives.
func TestSecurityHealthDetailsNeedLogin(t *testing.T) {
	e := newRecEnv(t)
	r := e.do(req{method: "GET", path: "/api/health"})
	expectStatus(t, r, 200, "anonymous health")
	h := r.json(t)
	if h["healthy"] != true || h["status"] == nil {
		t.Fatalf("public health lacks liveness: %s", r.body)
	}
	for _, k := range []string{"streams", "streams_detail", "storage", "totalRequests", "failedRequests"} {
		if _, ok := h[k]; ok {
			t.Errorf("anonymous health shows %q: %s", k, r.body)
		}
	}
	r = e.as("viewer", req{method: "GET", path: "/api/health"})
	h = r.json(t)
	for _, k := range []string{"streams", "streams_detail", "storage"} {
		if _, ok := h[k]; !ok {
			t.Errorf("signed-in health lacks %q: %s", k, r.body)
		}
	}
}

// Viewers see neither absolute file paths nor go2rtc's loopback ports.
func TestSecurityViewerSeesNoPathsOrPorts(t *testing.T) {
	e := newRecEnv(t)
	id, abs := e.addFile("mp4/cam/2026/03/01/rec.mp4", []byte("not really mp4"))
	for _, path := range []string{"/api/recordings", fmt.Sprintf("/api/recordings/%d", id)} {
		for _, role := range []string{"viewer", "user", "api"} {
			r := e.as(role, req{method: "GET", path: path})
			expectStatus(t, r, 200, role+" "+path)
			if strings.Contains(string(r.body), e.cfg.Storage.Path) {
				t.Errorf("%s sees an absolute path in %s: %s", role, path, r.body)
			}
			if !strings.Contains(string(r.body), `"file_path":"rec.mp4"`) {
				t.Errorf("%s: file name missing from %s: %s", role, path, r.body)
			}
		}
		if r := e.as("admin", req{method: "GET", path: path}); !strings.Contains(string(r.body), abs) {
			t.Errorf("admin no longer sees the path in %s: %s", path, r.body)
		}
	}
	settings := func(role string) map[string]any {
		var m map[string]any
		r := e.as(role, req{method: "GET", path: "/api/settings"})
		if err := json.Unmarshal(r.body, &m); err != nil || r.status != 200 {
			t.Fatalf("settings as %s: %d %s", role, r.status, r.body)
		}
		return m
	}
	v, a := settings("viewer"), settings("admin")
	for _, k := range []string{"storage_path", "db_path", "go2rtc_config_dir", "go2rtc_binary_path"} {
		if s, _ := v[k].(string); strings.HasPrefix(s, "/") {
			t.Errorf("viewer sees %s = %q", k, s)
		}
	}
	// go2rtc_api_port is the port the browser reached us on (the /go2rtc/
	// proxy), never go2rtc's own loopback port.
	if v["go2rtc_api_port"] == float64(e.cfg.Go2RTC.APIPort) {
		t.Errorf("viewer sees go2rtc's own port %v", v["go2rtc_api_port"])
	}
	for _, k := range []string{"go2rtc_rtsp_port"} {
		if v[k] != 0.0 {
			t.Errorf("viewer sees %s = %v", k, v[k])
		}
		if a[k] == 0.0 {
			t.Errorf("admin lost %s", k)
		}
	}
	if s, _ := a["storage_path"].(string); s != e.cfg.Storage.Path {
		t.Errorf("admin sees storage_path %q", s)
	}
}

// A page so large that page × limit wraps must be refused, not answered
// with the first page.
func TestSecurityHugePageRefused(t *testing.T) {
	e := newRecEnv(t)
	e.addFile("mp4/cam/a.mp4", []byte("x"))
	for _, q := range []string{"page=9223372036854775807", "page=9223372036854775807&limit=1000", "page=4294967297&limit=2",
		"page=-1", "page=0", "page=99999999999999999999", "limit=-5"} {
		r := e.as("viewer", req{method: "GET", path: "/api/recordings?" + q})
		expectStatus(t, r, 400, q)
		expectErrorBody(t, r)
	}
	expectStatus(t, e.as("viewer", req{method: "GET", path: "/api/recordings?page=2&limit=1"}), 200, "an ordinary page")
}
