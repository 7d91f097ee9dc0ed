package api

import (
	"bytes"
	"testing"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
)

// The profiles are there for administrators only while web.pprof_enabled
// is on, and come out in pprof's format (gzip-compressed protobuf).
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
	expectStatus(t, on.do(withPath(admin, "GET", "/api/debug/pprof/nosuch")), 404, "unknown profile")
	expectStatus(t, on.do(withPath(admin, "GET", "/api/debug/pprof/profile?seconds=600")), 400, "too long a CPU profile")
	expectStatus(t, on.do(withPath(on.signIn(viewer, "a long enough password"), "GET", "/api/debug/pprof/heap")), 403, "viewer")
	expectStatus(t, on.do(req{method: "GET", path: "/api/debug/pprof/heap"}), 401, "anonymous")
}

func withPath(r req, method, path string) req {
	r.method, r.path = method, path
	return r
}
