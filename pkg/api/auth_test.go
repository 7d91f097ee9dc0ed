package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
)

// concretePath fills a route pattern's parameters with plausible values.
func concretePath(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		switch {
		case strings.HasSuffix(s, "...}"):
			segs[i] = "api/streams"
		case strings.HasPrefix(s, "{"):
			segs[i] = "1"
		}
	}
	return strings.Join(segs, "/")
}

func TestRouteWithoutAccessPanics(t *testing.T) {
	for _, a := range []auth.Access{0, -1, auth.AccessAdmin + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("registering a route with access %d did not panic", a)
				}
			}()
			var r router
			r.add("GET", "/api/new", a, func(*fasthttp.RequestCtx) {})
		}()
	}
}

func sessionRow(t *testing.T, e *authEnv) (token string, n int) {
	t.Helper()
	rows, err := e.rawSQL().Query(`SELECT token FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&token); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return token, n
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestLoginWithCookie(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("alice", "alice-password", auth.RoleUser)

	r := e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"alice","password":"alice-password"}`})
	expectStatus(t, r, 200, "login")
	if m := r.json(t); m["success"] != true || m["redirect"] != "/index.html" {
		t.Fatalf("login reply %s", r.body)
	}
	c := r.cookies["session"]
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HTTPOnly() || c.SameSite() != fasthttp.CookieSameSiteLaxMode || string(c.Path()) != "/" || c.Secure() {
		t.Fatalf("session cookie attributes: %s", c.String())
	}
	if c.MaxAge() != 168*3600 {
		t.Fatalf("session cookie Max-Age %d, want the absolute timeout %d", c.MaxAge(), 168*3600)
	}
	tok := string(c.Value())

	r = e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": tok}})
	expectStatus(t, r, 200, "verify")
	m := r.json(t)
	if m["username"] != "alice" || m["role"] != "user" || m["authenticated"] != true {
		t.Fatalf("verify reply %s", r.body)
	}

	// The database holds the hash of the token, never the token.
	stored, n := sessionRow(t, e)
	if n != 1 || stored == tok || stored != sha256Hex(tok) {
		t.Fatalf("sessions.token = %q (%d rows); want sha256 of the cookie", stored, n)
	}

	r = e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"alice","password":"wrong-password"}`})
	expectStatus(t, r, 401, "wrong password")
	if r.json(t)["error"] != "Invalid credentials" {
		t.Fatalf("wrong password reply %s", r.body)
	}
	r = e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"nobody","password":"whatever-pw"}`})
	expectStatus(t, r, 401, "unknown user")
	r = e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"alice","password":"x","extra":1}`})
	expectStatus(t, r, 400, "unknown field")
	expectErrorBody(t, r)
}

func TestSecureCookieBehindTrustedProxy(t *testing.T) {
	e := newAuthEnv(t, envOpts{cfg: func(c *config.Config) { c.Web.TrustedProxyCIDRs = "127.0.0.1/32" }})
	e.addUser("alice", "alice-password", auth.RoleUser)
	body := `{"username":"alice","password":"alice-password"}`
	xfp := map[string]string{"X-Forwarded-Proto": "https"}

	r := e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "127.0.0.1", headers: xfp})
	expectStatus(t, r, 200, "login via proxy")
	if !r.cookies["session"].Secure() {
		t.Fatal("session cookie not Secure behind a trusted TLS proxy")
	}
	r = e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "192.0.2.50", headers: xfp})
	expectStatus(t, r, 200, "login direct")
	if r.cookies["session"].Secure() {
		t.Fatal("X-Forwarded-Proto from an untrusted peer made the cookie Secure")
	}
}

func TestBasicAuth(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("bob", "bob-password", auth.RoleViewer)
	r := e.do(req{method: "GET", path: "/api/auth/verify", basic: [2]string{"bob", "bob-password"}})
	expectStatus(t, r, 200, "basic")
	if r.json(t)["username"] != "bob" {
		t.Fatalf("verify %s", r.body)
	}
	// Again: served from the verified-credentials cache, same answer.
	r = e.do(req{method: "GET", path: "/api/auth/verify", basic: [2]string{"bob", "bob-password"}})
	expectStatus(t, r, 200, "basic again")
	r = e.do(req{method: "GET", path: "/api/auth/verify", basic: [2]string{"bob", "not-bobs-password"}})
	expectStatus(t, r, 401, "basic wrong password")

	// A password change must not leave the cached credentials usable.
	ctx := context.Background()
	u, _ := e.svc.GetUserByName(ctx, "bob")
	if err := e.svc.SetPassword(ctx, u.ID, "new-bob-password"); err != nil {
		t.Fatal(err)
	}
	r = e.do(req{method: "GET", path: "/api/auth/verify", basic: [2]string{"bob", "bob-password"}})
	expectStatus(t, r, 401, "basic with the old password")
	r = e.do(req{method: "GET", path: "/api/auth/verify", basic: [2]string{"bob", "new-bob-password"}})
	expectStatus(t, r, 200, "basic with the new password")
}

func TestAPIKeys(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	admin := e.addUser("admin", "admin-password", auth.RoleAdmin)
	cam := e.addUser("script", "script-password", auth.RoleAPI)
	sess := e.login("admin", "admin-password")

	r := e.do(req{method: "POST", path: fmt.Sprintf("/api/auth/users/%d/api-key", cam.ID), cookies: map[string]string{"session": sess}, headers: map[string]string{"X-Requested-With": "XMLHttpRequest"}})
	expectStatus(t, r, 200, "generate key")
	key, _ := r.json(t)["api_key"].(string)
	if len(key) != 32 {
		t.Fatalf("api key %q", key)
	}
	var plain, hash *string
	if err := e.rawSQL().QueryRow(`SELECT api_key, api_key_hash FROM users WHERE id = ?`, cam.ID).Scan(&plain, &hash); err != nil {
		t.Fatal(err)
	}
	if plain != nil || hash == nil || *hash != sha256Hex(key) {
		t.Fatalf("stored api_key=%v api_key_hash=%v; want NULL and sha256 of the key", plain, hash)
	}

	r = e.do(req{method: "GET", path: "/api/auth/verify", apiKey: key})
	expectStatus(t, r, 200, "X-API-Key")
	if m := r.json(t); m["username"] != "script" || m["role"] != "api" {
		t.Fatalf("verify %s", r.body)
	}
	r = e.do(req{method: "GET", path: "/api/auth/verify", headers: map[string]string{"Authorization": "Bearer " + key}})
	expectStatus(t, r, 200, "Bearer")
	r = e.do(req{method: "GET", path: "/api/auth/verify", apiKey: strings.ToLower(key)})
	expectStatus(t, r, 401, "wrong key")

	// The list never shows keys.
	r = e.do(req{method: "GET", path: "/api/auth/users", apiKey: e.apiKeyFor(admin.ID)})
	expectStatus(t, r, 200, "list users")
	if strings.Contains(string(r.body), key) || strings.Contains(string(r.body), `"api_key":`) {
		t.Fatalf("user list leaks keys: %s", r.body)
	}
	// A new key replaces the old one.
	e.apiKeyFor(cam.ID)
	r = e.do(req{method: "GET", path: "/api/auth/verify", apiKey: key})
	expectStatus(t, r, 401, "replaced key")
}

func TestLegacyLightNVRUserUpgrades(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	ctx := context.Background()
	// A row as LightNVR writes it: PBKDF2-SHA256 hex, hex salt, plaintext key.
	salt := []byte("0123456789abcdef")
	hash := legacyPBKDF2Hex("old-password", salt)
	const oldKey = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
	if _, err := e.rawSQL().Exec(`INSERT INTO users (username, password_hash, salt, role, is_active, api_key) VALUES ('legacy', ?, ?, '1', 1, ?)`,
		hash, hex.EncodeToString(salt), oldKey); err != nil {
		t.Fatal(err)
	}
	if err := auth.Bootstrap(ctx, e.db, e.cfg, t.TempDir(), &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	var plain *string
	if err := e.rawSQL().QueryRow(`SELECT api_key FROM users WHERE username = 'legacy'`).Scan(&plain); err != nil {
		t.Fatal(err)
	}
	if plain != nil {
		t.Fatalf("plaintext api key left in the database: %q", *plain)
	}
	r := e.do(req{method: "GET", path: "/api/auth/verify", apiKey: oldKey})
	expectStatus(t, r, 200, "LightNVR's key after conversion")

	e.login("legacy", "old-password")
	var newHash, newSalt string
	if err := e.rawSQL().QueryRow(`SELECT password_hash, salt FROM users WHERE username = 'legacy'`).Scan(&newHash, &newSalt); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(newHash, "$argon2id$") || newSalt != "" {
		t.Fatalf("password not re-hashed: %q / %q", newHash, newSalt)
	}
	e.login("legacy", "old-password")
	r = e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"legacy","password":"wrong-password"}`})
	expectStatus(t, r, 401, "wrong password after re-hash")
}

func TestTOTPTwoStepAndTrustedDevice(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	u := e.addUser("carol", "carol-password", auth.RoleUser)
	sess := e.login("carol", "carol-password")
	xrw := map[string]string{"X-Requested-With": "XMLHttpRequest"}
	cookie := map[string]string{"session": sess}
	base := fmt.Sprintf("/api/auth/users/%d/totp", u.ID)

	r := e.do(req{method: "POST", path: base + "/setup", cookies: cookie, headers: xrw})
	expectStatus(t, r, 200, "totp setup")
	m := r.json(t)
	secret, _ := m["secret"].(string)
	if uri, _ := m["otpauth_uri"].(string); secret == "" || !strings.HasPrefix(uri, "otpauth://totp/LightNVR:carol?secret="+secret) {
		t.Fatalf("setup reply %s", r.body)
	}
	code := func() string {
		c, err := totp.GenerateCode(secret, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r = e.do(req{method: "POST", path: base + "/verify", cookies: cookie, body: `{"code":"000000"}`})
	if r.status != 401 && code() != "000000" {
		t.Fatalf("verify with a wrong code: %d %s", r.status, r.body)
	}
	r = e.do(req{method: "POST", path: base + "/verify", cookies: cookie, body: `{"code":"` + code() + `"}`})
	expectStatus(t, r, 200, "totp verify")
	r = e.do(req{method: "GET", path: base + "/status", cookies: cookie})
	if m := r.json(t); m["totp_enabled"] != true || m["totp_configured"] != true {
		t.Fatalf("status %s", r.body)
	}

	// Step one: password only → an MFA token and no session.
	e.clock.Advance(30 * time.Second)
	r = e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"carol","password":"carol-password"}`})
	expectStatus(t, r, 200, "login step one")
	m = r.json(t)
	mfa, _ := m["totp_token"].(string)
	if m["totp_required"] != true || mfa == "" || r.cookies["session"] != nil {
		t.Fatalf("step one reply %s (cookies %v)", r.body, r.cookies)
	}
	wrong := "123456"
	if code() == wrong {
		wrong = "654321"
	}
	r = e.do(req{method: "POST", path: "/api/auth/login/totp", body: `{"totp_token":"` + mfa + `","code":"` + wrong + `"}`})
	expectStatus(t, r, 401, "wrong code")
	good := code()
	r = e.do(req{method: "POST", path: "/api/auth/login/totp", body: `{"totp_token":"` + mfa + `","code":"` + good + `","remember_device":true}`})
	expectStatus(t, r, 200, "login step two")
	if r.cookies["session"] == nil || r.cookies["trusted_device"] == nil {
		t.Fatalf("step two cookies: %v", r.cookies)
	}
	trusted := string(r.cookies["trusted_device"].Value())
	if r.cookies["trusted_device"].MaxAge() != 30*86400 {
		t.Fatalf("trusted_device Max-Age %d", r.cookies["trusted_device"].MaxAge())
	}
	// The MFA token is single use.
	r = e.do(req{method: "POST", path: "/api/auth/login/totp", body: `{"totp_token":"` + mfa + `","code":"` + good + `"}`})
	expectStatus(t, r, 401, "reused MFA token")

	var storedTD string
	if err := e.rawSQL().QueryRow(`SELECT token FROM trusted_devices`).Scan(&storedTD); err != nil {
		t.Fatal(err)
	}
	if storedTD != sha256Hex(trusted) {
		t.Fatal("trusted device token stored in clear")
	}

	// The trusted device skips the second step.
	r = e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"carol","password":"carol-password"}`, cookies: map[string]string{"trusted_device": trusted}})
	expectStatus(t, r, 200, "login from trusted device")
	if r.cookies["session"] == nil {
		t.Fatalf("no session from a trusted device: %s", r.body)
	}
	// The code inline in the first request works once per time step.
	e.clock.Advance(30 * time.Second)
	inline := `{"username":"carol","password":"carol-password","totp_code":"` + code() + `"}`
	r = e.do(req{method: "POST", path: "/api/auth/login", body: inline})
	expectStatus(t, r, 200, "inline code")
	if r.cookies["session"] == nil {
		t.Fatalf("inline code gave no session: %s", r.body)
	}
	r = e.do(req{method: "POST", path: "/api/auth/login", body: inline})
	expectStatus(t, r, 401, "replayed inline code")
}

func TestForceMFA(t *testing.T) {
	e := newAuthEnv(t, envOpts{cfg: func(c *config.Config) { c.Web.ForceMFAOnLogin = true }})
	u := e.addUser("dave", "dave-password", auth.RoleUser)
	ctx := context.Background()
	secret, _, err := e.svc.TOTPSetup(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := totp.GenerateCode(secret, e.clock.Now())
	if err := e.svc.TOTPVerify(ctx, u.ID, c); err != nil {
		t.Fatal(err)
	}
	r := e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"dave","password":"dave-password"}`})
	expectStatus(t, r, 401, "forced MFA without a code")
	r = e.do(req{method: "GET", path: "/api/auth/login/config"})
	if r.json(t)["force_mfa_on_login"] != true {
		t.Fatalf("login config %s", r.body)
	}
}

func TestLoginLockout(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	admin := e.addUser("admin", "admin-password", auth.RoleAdmin)
	u := e.addUser("erin", "erin-password", auth.RoleUser)
	bad := `{"username":"erin","password":"wrong-password"}`
	good := `{"username":"erin","password":"erin-password"}`
	for i := 0; i < 5; i++ {
		r := e.do(req{method: "POST", path: "/api/auth/login", body: bad, from: fmt.Sprintf("198.51.100.%d", i+1)})
		expectStatus(t, r, 401, "bad password")
	}
	r := e.do(req{method: "POST", path: "/api/auth/login", body: good, from: "198.51.100.77"})
	expectStatus(t, r, 429, "locked user, right password")
	expectErrorBody(t, r)
	ra, err := strconv.Atoi(string(r.header.Peek("Retry-After")))
	if err != nil || ra < 1 || ra > 300 {
		t.Fatalf("Retry-After %q", r.header.Peek("Retry-After"))
	}
	// Basic is no way around the lock.
	r = e.do(req{method: "GET", path: "/api/auth/verify", basic: [2]string{"erin", "erin-password"}})
	expectStatus(t, r, 429, "basic while locked")

	// An admin clears it.
	r = e.do(req{method: "POST", path: fmt.Sprintf("/api/auth/users/%d/login-lockout/clear", u.ID), apiKey: e.apiKeyFor(admin.ID)})
	expectStatus(t, r, 200, "clear lockout")
	if r.json(t)["cleared"] != true {
		t.Fatalf("clear reply %s", r.body)
	}
	e.do(req{method: "POST", path: "/api/auth/login", body: good, from: "198.51.100.77"})

	// Lock again; the window passes on the injected clock.
	for i := 0; i < 5; i++ {
		e.do(req{method: "POST", path: "/api/auth/login", body: bad, from: fmt.Sprintf("198.51.100.%d", i+1)})
	}
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: good}), 429, "locked again")
	e.clock.Advance(301 * time.Second)
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: good}), 200, "after the window")
}

func TestLoginLockoutPerAddress(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("frank", "frank-password", auth.RoleUser)
	// Spraying many names from one address locks the address, not the names.
	for i := 0; i < 20; i++ {
		body := fmt.Sprintf(`{"username":"guess%d","password":"some-password"}`, i)
		expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "203.0.113.9"}), 401, "spray")
	}
	good := `{"username":"frank","password":"frank-password"}`
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: good, from: "203.0.113.9"}), 429, "sprayed address")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: good, from: "203.0.113.10"}), 200, "other address")
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("gina", "gina-password", auth.RoleViewer)
	verify := func(tok string) int {
		return e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": tok}}).status
	}

	// Idle: 24 h without a request ends the session.
	tok := e.login("gina", "gina-password")
	e.clock.Advance(23 * time.Hour)
	if s := verify(tok); s != 200 {
		t.Fatalf("after 23 h idle: %d", s)
	}
	e.clock.Advance(23 * time.Hour) // the previous request slid the idle deadline
	if s := verify(tok); s != 200 {
		t.Fatalf("23 h after the last request: %d", s)
	}
	e.clock.Advance(24*time.Hour + time.Minute)
	r := e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": tok}})
	expectStatus(t, r, 401, "idle session")
	if c := r.cookies["session"]; c == nil || c.MaxAge() >= 0 && c.MaxAge() != 0 {
		t.Fatalf("a dead session cookie is not cleared: %v", r.cookies)
	}

	// Absolute: activity keeps it alive at most 168 h.
	tok = e.login("gina", "gina-password")
	for h := 0; h < 160; h += 20 {
		e.clock.Advance(20 * time.Hour)
		if s := verify(tok); s != 200 {
			t.Fatalf("active session refused after %d h: %d", h+20, s)
		}
	}
	e.clock.Advance(9 * time.Hour) // 169 h since login
	if s := verify(tok); s != 401 {
		t.Fatalf("session past the absolute limit: %d", s)
	}
}

func TestLogoutInvalidatesToken(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("hank", "hank-password", auth.RoleViewer)
	tok := e.login("hank", "hank-password")
	r := e.do(req{method: "POST", path: "/api/auth/logout", cookies: map[string]string{"session": tok}, headers: map[string]string{"Accept": "application/json"}})
	expectStatus(t, r, 200, "logout")
	if c := r.cookies["session"]; c == nil || len(c.Value()) != 0 {
		t.Fatalf("logout did not clear the cookie: %v", r.cookies)
	}
	if _, n := sessionRow(t, e); n != 0 {
		t.Fatalf("%d session rows after logout", n)
	}
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": tok}}), 401, "token after logout")

	r = e.do(req{method: "GET", path: "/logout"})
	expectStatus(t, r, 302, "GET /logout")
	if string(r.header.Peek("Location")) != "/login.html?logout=true" {
		t.Fatalf("logout redirect %q", r.header.Peek("Location"))
	}
}

func TestPasswordChangeAndLock(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	admin := e.addUser("admin", "admin-password", auth.RoleAdmin)
	u := e.addUser("ivan", "ivan-password", auth.RoleUser)
	adminKey := e.apiKeyFor(admin.ID)
	other := e.login("ivan", "ivan-password") // a second session, to be ended
	tok := e.login("ivan", "ivan-password")
	cookie := map[string]string{"session": tok}
	path := fmt.Sprintf("/api/auth/users/%d/password", u.ID)

	r := e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d/password-lock", u.ID), apiKey: adminKey, body: `{"locked":true}`})
	expectStatus(t, r, 200, "lock")
	if r.json(t)["password_change_locked"] != true {
		t.Fatalf("lock reply %s", r.body)
	}
	r = e.do(req{method: "PUT", path: path, cookies: cookie, body: `{"old_password":"ivan-password","new_password":"ivan-password-2"}`})
	expectStatus(t, r, 403, "locked change")
	expectErrorBody(t, r)

	expectStatus(t, e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d/password-lock", u.ID), apiKey: adminKey, body: `{"locked":false}`}), 200, "unlock")
	r = e.do(req{method: "PUT", path: path, cookies: cookie, body: `{"old_password":"not-it","new_password":"ivan-password-2"}`})
	expectStatus(t, r, 401, "wrong old password")
	r = e.do(req{method: "PUT", path: path, cookies: cookie, body: `{"old_password":"ivan-password","new_password":"short"}`})
	expectStatus(t, r, 400, "short password")
	r = e.do(req{method: "PUT", path: path, cookies: cookie, body: `{"old_password":"ivan-password","new_password":"ivan-password-2"}`})
	expectStatus(t, r, 200, "change")

	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: cookie}), 200, "own session kept")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": other}}), 401, "other session ended")
	e.login("ivan", "ivan-password-2")

	// Another user's password is not theirs to change.
	r = e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d/password", admin.ID), cookies: cookie, body: `{"old_password":"x","new_password":"yyyyyyyyyy"}`})
	expectStatus(t, r, 403, "someone else's password")
	// An admin resets it without the old one.
	r = e.do(req{method: "PUT", path: path, apiKey: adminKey, body: `{"new_password":"reset-by-admin"}`})
	expectStatus(t, r, 200, "admin reset")
	e.login("ivan", "reset-by-admin")
}

func TestAllowedLoginCIDRs(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	admin := e.addUser("admin", "admin-password", auth.RoleAdmin)
	u := e.addUser("judy", "judy-password", auth.RoleUser)
	r := e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", u.ID), apiKey: e.apiKeyFor(admin.ID), body: `{"allowed_login_cidrs":"10.0.0.0/8\n192.168.1.5"}`})
	expectStatus(t, r, 200, "set cidrs")
	if got, _ := r.json(t)["allowed_login_cidrs"].(string); got != "10.0.0.0/8\n192.168.1.5/32" {
		t.Fatalf("stored cidrs %q", got)
	}
	body := `{"username":"judy","password":"judy-password"}`
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "192.0.2.10"}), 401, "outside")
	r = e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "10.1.2.3"})
	expectStatus(t, r, 200, "inside")
	tok := string(r.cookies["session"].Value())
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": tok}, from: "10.9.9.9"}), 200, "session inside")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": tok}, from: "192.0.2.10"}), 401, "session outside")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", basic: [2]string{"judy", "judy-password"}, from: "192.168.1.5"}), 200, "basic from the single host")
	r = e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", u.ID), apiKey: e.apiKeyFor(admin.ID), body: `{"allowed_login_cidrs":"10.0.0.0/33"}`})
	expectStatus(t, r, 400, "bad cidr")
}

func TestXForwardedForOnlyFromTrustedProxies(t *testing.T) {
	e := newAuthEnv(t, envOpts{cfg: func(c *config.Config) { c.Web.TrustedProxyCIDRs = "127.0.0.1/32, ::1" }})
	admin := e.addUser("admin", "admin-password", auth.RoleAdmin)
	u := e.addUser("kate", "kate-password", auth.RoleUser)
	expectStatus(t, e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", u.ID), apiKey: e.apiKeyFor(admin.ID), body: `{"allowed_login_cidrs":"10.0.0.0/8"}`}), 200, "set cidrs")
	body := `{"username":"kate","password":"kate-password"}`
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }

	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "192.0.2.10", headers: xff("10.1.1.1")}), 401, "XFF from an untrusted peer")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "127.0.0.1", headers: xff("10.1.1.1")}), 200, "XFF from the proxy")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "127.0.0.1", headers: xff("10.1.1.1, 192.0.2.99")}), 401, "spoofed left entry")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "127.0.0.1", headers: map[string]string{"X-Real-IP": "10.2.2.2"}}), 200, "X-Real-IP from the proxy")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/login", body: body, from: "192.0.2.10", headers: map[string]string{"X-Real-IP": "10.2.2.2"}}), 401, "X-Real-IP from an untrusted peer")
}

func TestCSRFOnCookieRequests(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	u := e.addUser("lena", "lena-password", auth.RoleUser)
	tok := e.login("lena", "lena-password")
	path := fmt.Sprintf("/api/auth/users/%d/api-key", u.ID)
	cookie := map[string]string{"session": tok}

	r := e.do(req{method: "POST", path: path, cookies: cookie, contentType: "application/x-www-form-urlencoded"})
	expectStatus(t, r, 403, "form post with the cookie")
	expectErrorBody(t, r)
	r = e.do(req{method: "POST", path: path, cookies: cookie, contentType: "text/plain"})
	expectStatus(t, r, 403, "text/plain post with the cookie")
	r = e.do(req{method: "POST", path: path, cookies: cookie, body: "{}", headers: map[string]string{"Origin": "http://evil.example"}})
	expectStatus(t, r, 403, "foreign origin")
	expectStatus(t, e.do(req{method: "POST", path: path, cookies: cookie, body: "{}"}), 200, "JSON")
	// A WebRTC offer as LightNVR's UI posts it: not a type a cross-site form can send.
	expectStatus(t, e.do(req{method: "POST", path: path, cookies: cookie, contentType: "application/sdp"}), 200, "SDP")
	// A bare DELETE (as LightNVR's UI sends it) cannot come from another site without a preflight.
	e.addUser("ada", "ada-password", auth.RoleAdmin)
	admin := map[string]string{"session": e.login("ada", "ada-password")}
	gone := fmt.Sprintf("/api/auth/users/%d", e.addUser("gone", "gone-password", auth.RoleViewer).ID)
	r = e.do(req{method: "DELETE", path: gone, cookies: admin, headers: map[string]string{"Origin": "http://evil.example"}})
	expectStatus(t, r, 403, "DELETE from a foreign origin")
	expectStatus(t, e.do(req{method: "DELETE", path: gone, cookies: admin}), 200, "bare DELETE")
	expectStatus(t, e.do(req{method: "POST", path: path, cookies: cookie, headers: map[string]string{"X-Requested-With": "XMLHttpRequest"}}), 200, "X-Requested-With")
	expectStatus(t, e.do(req{method: "POST", path: path, cookies: cookie, body: "{}", headers: map[string]string{"Origin": "http://nvr.test"}}), 200, "same origin")
	// Scripts with Basic carry no ambient credentials: no CSRF rule.
	expectStatus(t, e.do(req{method: "POST", path: path, basic: [2]string{"lena", "lena-password"}, contentType: "text/plain"}), 200, "basic")
	// Login itself refuses a foreign origin (login CSRF).
	r = e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"lena","password":"lena-password"}`, headers: map[string]string{"Origin": "http://evil.example"}})
	expectStatus(t, r, 403, "cross-origin login")
}

func TestNoWildcardCORS(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("mia", "mia-password", auth.RoleViewer)
	tok := e.login("mia", "mia-password")
	for _, r := range []*resp{
		e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": tok}, headers: map[string]string{"Origin": "http://evil.example"}}),
		e.do(req{method: "GET", path: "/api/health"}),
		e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"mia","password":"mia-password"}`}),
	} {
		if v := r.header.Peek("Access-Control-Allow-Origin"); len(v) > 0 {
			t.Fatalf("Access-Control-Allow-Origin: %s", v)
		}
	}
}

func TestAuthDisabledEveryoneAdmin(t *testing.T) {
	e := newAuthEnv(t, envOpts{cfg: func(c *config.Config) { c.Web.AuthEnabled = false }})
	r := e.do(req{method: "GET", path: "/api/auth/users"})
	expectStatus(t, r, 200, "users without credentials, auth off")
	r = e.do(req{method: "GET", path: "/api/auth/verify"})
	expectStatus(t, r, 200, "verify, auth off")
	if m := r.json(t); m["auth_enabled"] != false || m["role"] != "admin" {
		t.Fatalf("verify %s", r.body)
	}
}

func TestUsersAPI(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	admin := e.addUser("admin", "admin-password", auth.RoleAdmin)
	key := e.apiKeyFor(admin.ID)

	r := e.do(req{method: "POST", path: "/api/auth/users", apiKey: key, body: `{"username":"nina","password":"nina-password","email":"n@example.com","role":2}`})
	expectStatus(t, r, 200, "create")
	m := r.json(t)
	id := int64(m["id"].(float64))
	if m["role"] != float64(2) || m["role_name"] != "viewer" || m["is_active"] != true || m["email"] != "n@example.com" {
		t.Fatalf("create reply %s", r.body)
	}
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/users", apiKey: key, body: `{"username":"nina","password":"nina-password"}`}), 400, "duplicate")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/users", apiKey: key, body: `{"username":"x","password":"long-enough"}`}), 400, "short name")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/users", apiKey: key, body: `{"username":"oscar","password":"short"}`}), 400, "short password")
	expectStatus(t, e.do(req{method: "POST", path: "/api/auth/users", apiKey: key, body: `{"username":"oscar","password":"long-enough","role":7}`}), 400, "bad role")
	r = e.do(req{method: "POST", path: "/api/auth/users", apiKey: key, body: `{"username":"oscar","password":"long-enough","role":"user"}`})
	expectStatus(t, r, 200, "role by name")

	r = e.do(req{method: "GET", path: "/api/auth/users", apiKey: key})
	expectStatus(t, r, 200, "list")
	if users, _ := r.json(t)["users"].([]any); len(users) != 3 {
		t.Fatalf("list %s", r.body)
	}
	expectStatus(t, e.do(req{method: "GET", path: fmt.Sprintf("/api/auth/users/%d", id), apiKey: key}), 200, "get")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/users/999", apiKey: key}), 404, "get missing")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/users/abc", apiKey: key}), 400, "bad id")

	// A viewer edits their own e-mail, not their role, and not other users.
	tok := e.login("nina", "nina-password")
	cookie := map[string]string{"session": tok}
	r = e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", id), cookies: cookie, body: `{"email":"nina@example.com","role":2,"id":5,"created_at":1}`})
	expectStatus(t, r, 200, "own e-mail")
	if r.json(t)["email"] != "nina@example.com" {
		t.Fatalf("update %s", r.body)
	}
	expectStatus(t, e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", id), cookies: cookie, body: `{"role":0}`}), 403, "own role")
	expectStatus(t, e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", admin.ID), cookies: cookie, body: `{"email":"x@example.com"}`}), 403, "other user")

	// Renaming onto an existing name conflicts.
	expectStatus(t, e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", id), apiKey: key, body: `{"username":"oscar"}`}), 409, "rename conflict")

	// The last admin stays.
	expectStatus(t, e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", admin.ID), apiKey: key, body: `{"role":1}`}), 400, "demote last admin")
	expectStatus(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/auth/users/%d", admin.ID), apiKey: key}), 400, "delete self")

	// Disabling a user ends their sessions; deleting removes them.
	expectStatus(t, e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", id), apiKey: key, body: `{"is_active":false}`}), 200, "disable")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: cookie}), 401, "disabled user's session")
	r = e.do(req{method: "DELETE", path: fmt.Sprintf("/api/auth/users/%d", id), apiKey: key})
	expectStatus(t, r, 200, "delete")
	expectStatus(t, e.do(req{method: "GET", path: fmt.Sprintf("/api/auth/users/%d", id), apiKey: key}), 404, "deleted")
}

func TestSessionsEndpoints(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.addUser("olga", "olga-password", auth.RoleViewer)
	e.addUser("paul", "paul-password", auth.RoleViewer)
	a := e.login("olga", "olga-password")
	b := e.login("olga", "olga-password")
	p := e.login("paul", "paul-password")

	r := e.do(req{method: "GET", path: "/api/auth/sessions", cookies: map[string]string{"session": a}})
	expectStatus(t, r, 200, "list sessions")
	list, _ := r.json(t)["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("sessions %s", r.body)
	}
	var otherID float64
	current := 0
	for _, it := range list {
		s := it.(map[string]any)
		if s["current"] == true {
			current++
		} else {
			otherID = s["id"].(float64)
		}
	}
	if current != 1 {
		t.Fatalf("want exactly one current session: %s", r.body)
	}
	// Paul cannot end Olga's session.
	del := fmt.Sprintf("/api/auth/sessions/%d", int64(otherID))
	expectStatus(t, e.do(req{method: "DELETE", path: del, cookies: map[string]string{"session": p}, headers: map[string]string{"X-Requested-With": "x"}}), 404, "someone else's session")
	expectStatus(t, e.do(req{method: "DELETE", path: del, cookies: map[string]string{"session": a}, headers: map[string]string{"X-Requested-With": "x"}}), 200, "own session")
	expectStatus(t, e.do(req{method: "GET", path: "/api/auth/verify", cookies: map[string]string{"session": b}}), 401, "ended session")
}

func TestBootstrapCreatesAdmin(t *testing.T) {
	ctx := context.Background()
	t.Run("random password", func(t *testing.T) {
		e := newAuthEnv(t, envOpts{})
		dir := t.TempDir()
		var out strings.Builder
		if err := auth.Bootstrap(ctx, e.db, e.cfg, dir, &out); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, auth.InitialPasswordFile)
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v", file, st.Mode().Perm())
		}
		content, _ := os.ReadFile(file)
		name, pw, ok := strings.Cut(strings.TrimSpace(string(content)), ":")
		if !ok || name != "admin" || len(pw) < 12 || !strings.Contains(out.String(), pw) {
			t.Fatalf("file %q, console %q", content, out.String())
		}
		e.login("admin", pw)
		// Not again on the next start.
		out.Reset()
		if err := auth.Bootstrap(ctx, e.db, e.cfg, dir, &out); err != nil || out.Len() != 0 {
			t.Fatalf("second bootstrap: %v %q", err, out.String())
		}
	})
	t.Run("configured password", func(t *testing.T) {
		e := newAuthEnv(t, envOpts{cfg: func(c *config.Config) { c.Web.Username = "root"; c.Web.Password = "from-the-ini" }})
		dir := t.TempDir()
		var out strings.Builder
		if err := auth.Bootstrap(ctx, e.db, e.cfg, dir, &out); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, auth.InitialPasswordFile)); !os.IsNotExist(err) {
			t.Fatalf("password file written although [web] password is set: %v", err)
		}
		if strings.Contains(out.String(), "from-the-ini") {
			t.Fatal("configured password printed")
		}
		e.login("root", "from-the-ini")
	})
}
