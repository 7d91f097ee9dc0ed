package api

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/notify"
)

// accessMatrix says, for every route, which roles may use it. It is written
// out by hand, independently of the access levels the routes declare, so that
// a route whose declared level is wrong fails here instead of being checked
// against itself. "public" means no credentials are needed.
//
// Routes marked "self" act on the caller's own account for every role; the
// matrix test calls them with the caller's own user id, and
// TestSelfRoutesRefuseOtherUsers checks they refuse anyone else's.
var accessMatrix = map[string]string{
	// A public route is added here on purpose, with its reason.
	"GET /api/health":            "public", // liveness for supervisors; details only with a login
	"GET /api/auth/login/config": "public", // the login page reads it before login
	"POST /api/auth/login":       "public",
	"POST /api/auth/login/totp":  "public",
	"POST /api/auth/logout":      "public", // acts only on the caller's own cookie
	"GET /logout":                "public", // a redirect to the login page, which logs out by POST
	"GET /api/setup/status":      "public", // the first-run wizard, read-only

	"GET /api/auth/verify":                          "admin user viewer api",
	"GET /api/auth/sessions":                        "admin user viewer api",
	"DELETE /api/auth/sessions/{id}":                "admin user viewer api",
	"GET /api/auth/trusted-devices":                 "admin user viewer api",
	"DELETE /api/auth/trusted-devices/{id}":         "admin user viewer api",
	"GET /api/auth/users":                           "admin",
	"POST /api/auth/users":                          "admin",
	"GET /api/auth/users/{id}":                      "admin",
	"PUT /api/auth/users/{id}":                      "admin user viewer api self",
	"DELETE /api/auth/users/{id}":                   "admin",
	"PUT /api/auth/users/{id}/password":             "admin user viewer api self",
	"PUT /api/auth/users/{id}/password-lock":        "admin",
	"POST /api/auth/users/{id}/api-key":             "admin user self", // people who change things; a viewer or an api key may not mint keys
	"POST /api/auth/users/{id}/login-lockout/clear": "admin",
	"GET /api/auth/users/{id}/totp/status":          "admin user viewer api self",
	"POST /api/auth/users/{id}/totp/setup":          "admin user viewer api self",
	"POST /api/auth/users/{id}/totp/verify":         "admin user viewer api self",
	"POST /api/auth/users/{id}/totp/disable":        "admin user viewer api self",

	"GET /api/onvif/discovery/status":    "admin user viewer api",
	"POST /api/onvif/discovery/discover": "admin user api", // probes the network
	"GET /api/onvif/devices":             "admin user api", // addresses of cameras not added yet
	"GET /api/onvif/device/profiles":     "admin user api", // calls a device with the caller's credentials
	"POST /api/onvif/device/test":        "admin user api",
	"POST /api/onvif/device/add":         "admin user api",
	"POST /api/onvif/notify/{token}":     "public", // cameras push events here; the per-subscription token admits them

	"GET /api/streams":                   "admin user viewer api",
	"POST /api/streams":                  "admin user api",
	"POST /api/streams/test":             "admin user api",
	"GET /api/streams/{name}":            "admin user viewer api",
	"GET /api/streams/{name}/full":       "admin user viewer api",
	"PUT /api/streams/{name}":            "admin user api",
	"DELETE /api/streams/{name}":         "admin user api",
	"POST /api/streams/{name}/refresh":   "admin user api",
	"GET /api/streams/{name}/retention":  "admin user viewer api",
	"PUT /api/streams/{name}/retention":  "admin user api",
	"GET /api/streams/{name}/zones":      "admin user viewer api",
	"POST /api/streams/{name}/zones":     "admin user api",
	"DELETE /api/streams/{name}/zones":   "admin user api",
	"GET /api/streams/{name}/recording":  "admin user viewer api",
	"POST /api/streams/{name}/recording": "admin user api",

	"GET /api/streams/{name}/ptz/capabilities": "admin user viewer api",
	"GET /api/streams/{name}/ptz/presets":      "admin user viewer api",
	"POST /api/streams/{name}/ptz/move":        "admin user api", // moving the camera changes what is recorded
	"POST /api/streams/{name}/ptz/stop":        "admin user api",
	"POST /api/streams/{name}/ptz/absolute":    "admin user api",
	"POST /api/streams/{name}/ptz/relative":    "admin user api",
	"POST /api/streams/{name}/ptz/home":        "admin user api",
	"POST /api/streams/{name}/ptz/set-home":    "admin user api",
	"POST /api/streams/{name}/ptz/goto-preset": "admin user api",
	"PUT /api/streams/{name}/ptz/preset":       "admin user api",
	"GET /api/streams/{name}/imaging/settings": "admin user viewer api",
	"PUT /api/streams/{name}/imaging/settings": "admin user api",
	"GET /api/streams/{name}/imaging/options":  "admin user viewer api",
	"GET /api/streams/{name}/daynight":         "admin user viewer api",
	"PUT /api/streams/{name}/daynight":         "admin user api",

	"GET /api/detection/results/{stream}":  "admin user viewer api",
	"GET /api/detection/models":            "admin user viewer api",
	"GET /api/recordings/detection-labels": "admin user viewer api",
	"GET /api/snapshots/{stream}/{file}":   "admin user viewer api",
	"GET /api/events":                      "admin user viewer api",
	"POST /api/motion/trigger":             "admin user api",

	"GET /api/notify/webhooks/status": "admin",
	"POST /api/notify/webhooks/test":  "admin",
	"POST /api/notify/mqtt/test":      "admin",

	"GET /api/recordings":                               "admin user viewer api",
	"GET /api/recordings/protected":                     "admin user viewer api",
	"GET /api/recordings/{id}":                          "admin user viewer api",
	"GET /api/recordings/play/{id}":                     "admin user viewer api",
	"GET /api/recordings/download/{id}":                 "admin user viewer api",
	"GET /api/export":                                   "admin user viewer api",
	"PUT /api/recordings/{id}/protect":                  "admin user api",
	"PUT /api/recordings/{id}/retention":                "admin user api",
	"POST /api/recordings/batch-protect":                "admin user api",
	"DELETE /api/recordings/{id}":                       "admin user",
	"POST /api/recordings/batch-delete":                 "admin user",
	"GET /api/recordings/batch-delete/progress/{job}":   "admin user",
	"GET /api/recordings/files/check":                   "admin user viewer api",
	"DELETE /api/recordings/files":                      "admin user", // LightNVR left it public and unlinked any path
	"POST /api/recordings/sync":                         "admin user api",
	"GET /api/recordings/thumbnail/{id}/{idx}":          "admin user viewer api",
	"GET /api/recordings/tags":                          "admin user viewer api",
	"POST /api/recordings/batch-download":               "admin user viewer api",
	"GET /api/recordings/batch-download/status/{token}": "admin user viewer api",
	"GET /api/recordings/batch-download/result/{token}": "admin user viewer api",
	"POST /api/recordings/batch-tags":                   "admin user api",
	"GET /api/recordings/{id}/tags":                     "admin user viewer api",
	"PUT /api/recordings/{id}/tags":                     "admin user api",
	"GET /api/timeline/segments":                        "admin user viewer api", // LightNVR leaves these four public
	"GET /api/timeline/segments-by-ids":                 "admin user viewer api",
	"GET /api/timeline/manifest":                        "admin user viewer api",
	"GET /api/timeline/play":                            "admin user viewer api",

	"GET /api/storage":          "admin user viewer api",
	"GET /api/storage/health":   "admin user viewer api",
	"POST /api/storage/cleanup": "admin user",

	"GET /api/settings":      "admin user viewer api",
	"POST /api/settings":     "admin",
	"POST /api/setup/status": "admin",

	"GET /api/metrics":            "admin user viewer api",
	"GET /api/health/hls":         "admin user viewer api",
	"POST /api/telemetry/player":  "admin user viewer api",
	"GET /api/system/status":      "admin user viewer api",
	"GET /api/system":             "admin",
	"GET /api/system/info":        "admin",
	"GET /api/system/logs":        "admin",
	"POST /api/system/logs/clear": "admin",
	"POST /api/system/restart":    "admin",
	"POST /api/system/ota":        "admin",
	"POST /api/system/ota/url":    "admin",
	"GET /api/system/ota/status":  "admin",
	"POST /api/system/shutdown":   "admin",
	"POST /api/system/reboot":     "admin",
	"GET /api/debug/pprof/{name}": "admin",
	"POST /api/system/backup":     "admin", // the archive holds the configuration's secrets
	"POST /api/system/restore":    "admin",

	"GET /go2rtc/{path...}":   "admin user viewer api",
	"POST /go2rtc/{path...}":  "admin user viewer api",
	"POST /go2rtc/api/reload": "admin",

	"GET /hls/{stream}/{file}": "admin user viewer api",

	"GET /api/ice-servers":                    "admin user viewer api",
	"POST /api/settings/go2rtc/validate":      "admin",
	"GET /api/system/go2rtc/effective-config": "admin",
	"GET /api/system/go2rtc/override-status":  "admin",
}

var matrixRoles = []auth.Role{auth.RoleAdmin, auth.RoleUser, auth.RoleViewer, auth.RoleAPI}

// matrixCaller is one account of each role, signed in the way that role
// signs in: people by session, the api role by API key.
type matrixCaller struct {
	role     auth.Role
	user     *auth.User
	password string
}

func (e *authEnv) matrixCallers() []matrixCaller {
	var out []matrixCaller
	for _, r := range matrixRoles {
		pw := "matrix-password-" + r.String()
		out = append(out, matrixCaller{role: r, user: e.addUser("matrix-"+r.String(), pw, r), password: pw})
	}
	return out
}

// send makes one request as c with fresh credentials: a request may end the
// session or replace the API key it came with.
func (e *authEnv) send(c matrixCaller, method, path string) *resp {
	e.t.Helper()
	r := e.signIn(c.user, c.password)
	r.method, r.path, r.body = method, path, "{}"
	return e.do(r)
}

// matrixPath fills a pattern's parameters; {id} of a self route is the
// caller's own user id.
func matrixPath(pattern string, self int64) string {
	p := concretePath(pattern)
	if strings.HasPrefix(pattern, "/api/auth/users/{id}") && self > 0 {
		p = strings.Replace(p, "/api/auth/users/1", "/api/auth/users/"+strconv.FormatInt(self, 10), 1)
	}
	return p
}

func matrixEnv(t *testing.T) *authEnv {
	// Every cell signs in afresh; the login limiter is tested elsewhere.
	return newAuthEnv(t, envOpts{cfg: func(c *config.Config) { c.Web.LoginRateLimitEnabled = false },
		deps: func(d *Deps) { d.Webhooks = notify.NewWebhooks(notify.WebhookOptions{}) }})
}

func TestAccessMatrixCoversEveryRoute(t *testing.T) {
	e := matrixEnv(t)
	seen := map[string]bool{}
	for _, rt := range e.srv.Routes() {
		name := rt.Method + " " + rt.Pattern
		seen[name] = true
		if _, ok := accessMatrix[name]; !ok {
			t.Errorf("%s is not in accessMatrix: say who may use it", name)
		}
	}
	var stale []string
	for name := range accessMatrix {
		if !seen[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		t.Errorf("accessMatrix lists %s, which is not a route", name)
	}
}

// TestAccessMatrix calls every route as nobody and as each of the four roles
// and checks each cell: the roles the matrix allows get past authorization
// (any status but 401 and 403), the others get 403, nobody gets 401.
func TestAccessMatrix(t *testing.T) {
	e := matrixEnv(t)
	callers := e.matrixCallers()
	for _, name := range slices.Sorted(maps.Keys(accessMatrix)) {
		allowed := strings.Fields(accessMatrix[name])
		method, pattern, _ := strings.Cut(name, " ")
		if allowed[0] == "public" {
			if r := e.do(req{method: method, path: concretePath(pattern), body: "{}"}); r.status == 401 || r.status == 403 {
				t.Errorf("%s is public but refused a caller without credentials: %d %s", name, r.status, r.body)
			}
			continue
		}
		if r := e.do(req{method: method, path: concretePath(pattern), body: "{}"}); r.status != fasthttp.StatusUnauthorized {
			t.Errorf("%s without credentials: %d, want 401 (%s)", name, r.status, r.body)
		} else {
			expectErrorBody(t, r)
		}
		for _, c := range callers {
			may := slices.Contains(allowed, c.role.String())
			self := int64(0)
			if slices.Contains(allowed, "self") {
				self = c.user.ID
			}
			r := e.send(c, method, matrixPath(pattern, self))
			refused := r.status == fasthttp.StatusUnauthorized || r.status == fasthttp.StatusForbidden
			switch {
			case may && refused:
				t.Errorf("%s as %s: %d, but the role may use it (%s)", name, c.role, r.status, r.body)
			case !may && r.status != fasthttp.StatusForbidden:
				t.Errorf("%s as %s: %d, want 403 (%s)", name, c.role, r.status, r.body)
			case !may:
				expectErrorBody(t, r)
			}
		}
	}
}

// TestSelfRoutesRefuseOtherUsers: a role below admin may act on its own
// account only; an admin may act on anyone's.
func TestSelfRoutesRefuseOtherUsers(t *testing.T) {
	e := matrixEnv(t)
	callers := e.matrixCallers()
	victim := e.addUser("matrix-victim", "victim-password", auth.RoleViewer)
	for name, who := range accessMatrix {
		if !strings.Contains(who, "self") {
			continue
		}
		method, pattern, _ := strings.Cut(name, " ")
		path := strings.Replace(pattern, "{id}", fmt.Sprint(victim.ID), 1)
		for _, c := range callers {
			if c.role == auth.RoleAdmin {
				continue
			}
			if r := e.send(c, method, path); r.status != fasthttp.StatusForbidden {
				t.Errorf("%s as %s on another user's account: %d, want 403 (%s)", name, c.role, r.status, r.body)
			}
		}
	}
}

// The profiles are there for administrators only while web.pprof_enabled
// is on, and come out in pprof's format (gzip-compressed protobuf), the
// execution trace in the runtime's.
func TestPprofAdminOnlyAndOffByDefault(t *testing.T) {
	off := newAuthEnv(t, envOpts{})
	boss := off.addUser("boss", "a long enough password", auth.RoleAdmin)
	r := off.do(withPath(off.signIn(boss, "a long enough password"), "GET", "/api/debug/pprof/heap"))
	expectStatus(t, r, 404, "heap profile with profiling off")

	on := newAuthEnv(t, envOpts{cfg: func(c *config.Config) { c.Web.PprofEnabled = true }})
	boss = on.addUser("boss", "a long enough password", auth.RoleAdmin)
	viewer := on.addUser("eve", "a long enough password", auth.RoleViewer)
	admin := on.signIn(boss, "a long enough password")
	for _, path := range []string{"/api/debug/pprof/heap", "/api/debug/pprof/allocs", "/api/debug/pprof/profile?seconds=1"} {
		r := on.do(withPath(admin, "GET", path))
		expectStatus(t, r, 200, path)
		if !bytes.HasPrefix(r.body, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: not a gzip-compressed profile: %q", path, r.body[:min(len(r.body), 32)])
		}
	}
	// The text form of a heap profile taken after a collection carries the
	// runtime's memory statistics.
	r = on.do(withPath(admin, "GET", "/api/debug/pprof/heap?gc=1&debug=1"))
	expectStatus(t, r, 200, "heap profile as text")
	for _, want := range []string{"heap profile:", "# HeapInuse = ", "# NumGC = "} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("text heap profile lacks %q: %.200q", want, r.body)
		}
	}
	// The execution trace is in the runtime's own format, for `go tool trace`.
	r = on.do(withPath(admin, "GET", "/api/debug/pprof/trace?seconds=1"))
	expectStatus(t, r, 200, "execution trace")
	if !bytes.HasPrefix(r.body, []byte("go 1.")) || !bytes.Contains(r.body[:16], []byte(" trace\x00")) || len(r.body) < 1024 {
		t.Errorf("execution trace: %d bytes, want the runtime's trace format: %q", len(r.body), r.body[:min(len(r.body), 32)])
	}
	expectStatus(t, on.do(withPath(admin, "GET", "/api/debug/pprof/trace?seconds=600")), 400, "too long a trace")
	expectStatus(t, on.do(withPath(admin, "GET", "/api/debug/pprof/nosuch")), 404, "unknown profile")
	expectStatus(t, on.do(withPath(admin, "GET", "/api/debug/pprof/profile?seconds=600")), 400, "too long a CPU profile")
	expectStatus(t, on.do(withPath(on.signIn(viewer, "a long enough password"), "GET", "/api/debug/pprof/heap")), 403, "viewer")
	expectStatus(t, on.do(req{method: "GET", path: "/api/debug/pprof/heap"}), 401, "anonymous")
}

func withPath(r req, method, path string) req {
	r.method, r.path = method, path
	return r
}
