package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/ota"
	"lightnvr/pkg/ota/otatest"
)

// otaFixture is an A/B layout on files (slot partitions, a single U-Boot env
// image, a key file) and a signing key the device trusts.
type otaFixture struct {
	sys *ota.System
	key ed25519.PrivateKey
	dir string
}

func newOTAFixture(t *testing.T) *otaFixture {
	t.Helper()
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	envFile := write("env", make([]byte, 0x2000))
	store, err := ota.ParseEnvConfig(write("fw_env.config", []byte(envFile+" 0 0x2000\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Create("bootslot=a", "upgrade_available=0", "bootcount=0", "bootlimit=3"); err != nil {
		t.Fatal(err)
	}
	sys := &ota.System{Board: "test-board", Env: store, CmdlineFile: write("cmdline", []byte("lightnvr.slot=a\n")),
		KeysFile: write("keys", []byte(base64.StdEncoding.EncodeToString(pub)+"\n")),
		Slots: map[string]map[string]string{
			"a": {"rootfs": write("rootfs_a", bytes.Repeat([]byte{'a'}, 4<<20))},
			"b": {"rootfs": write("rootfs_b", bytes.Repeat([]byte{'b'}, 4<<20))},
		}}
	return &otaFixture{sys: sys, key: priv, dir: dir}
}

// bundle signs a rootfs image of n random bytes.
func (f *otaFixture) bundle(t *testing.T, version string, n int) ([]byte, []byte) {
	return otatest.Bundle(t, f.key, f.sys.Board, version, n)
}

// TestOTAUploadInstallsIntoInactiveSlot uploads bundles larger than any JSON
// body may be, so the body is streamed: a good one lands in slot b and the
// status route reports it; a tampered one is refused with its reason and
// slot a is untouched.
func TestOTAUploadInstallsIntoInactiveSlot(t *testing.T) {
	f := newOTAFixture(t)
	e := newAuthEnv(t, envOpts{deps: func(d *Deps) { d.OTA = f.sys }})
	admin := e.signIn(e.addUser("root", "correct horse battery", auth.RoleAdmin), "correct horse battery")
	slotA, _ := os.ReadFile(f.sys.Slots["a"]["rootfs"])

	good, img := f.bundle(t, "2.0.0", 3<<20)
	r := admin
	r.method, r.path, r.body, r.contentType = "POST", "/api/system/ota", string(good), "application/octet-stream"
	r.headers = map[string]string{"X-Requested-With": "XMLHttpRequest"} // the CSRF check for a non-JSON body
	res := e.do(r)
	expectStatus(t, res, 200, "upload a good bundle")
	got, _ := os.ReadFile(f.sys.Slots["b"]["rootfs"])
	if !bytes.Equal(got[:len(img)], img) {
		t.Fatal("slot b does not hold the uploaded image")
	}

	st := admin
	st.method, st.path = "GET", "/api/system/ota/status"
	var status struct {
		Running  string            `json:"running_slot"`
		BootSlot string            `json:"boot_slot"`
		Versions map[string]string `json:"versions"`
		Result   string            `json:"result"`
		Upload   struct {
			State          string
			Written, Total int64
		} `json:"upload"`
	}
	res = e.do(st)
	expectStatus(t, res, 200, "status")
	if err := json.Unmarshal(res.body, &status); err != nil {
		t.Fatal(err)
	}
	if status.Running != "a" || status.BootSlot != "b" || status.Versions["b"] != "2.0.0" || status.Result != "reboot-pending" ||
		status.Upload.State != "installed" || status.Upload.Written != int64(len(img)) || status.Upload.Total != int64(len(img)) {
		t.Fatalf("status after install: %s", res.body)
	}

	bad, _ := f.bundle(t, "2.0.1", 2<<20)
	bad[len(bad)-1] ^= 1
	r.body = string(bad)
	res = e.do(r)
	expectStatus(t, res, 422, "upload a tampered bundle")
	if !strings.Contains(string(res.body), "bundle refused: sha256 mismatch") {
		t.Fatalf("refusal: %s", res.body)
	}
	if now, _ := os.ReadFile(f.sys.Slots["a"]["rootfs"]); !bytes.Equal(now, slotA) {
		t.Fatal("the running slot changed")
	}
	res = e.do(st)
	if !strings.Contains(string(res.body), `"state":"refused"`) {
		t.Fatalf("status after a refusal: %s", res.body)
	}
}

// TestLargeBodiesStayBoundedOffTheUploadRoute: streaming uploads must not
// let any other route take a body past the JSON limit.
func TestLargeBodiesStayBoundedOffTheUploadRoute(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	res := e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":"` + strings.Repeat("x", maxJSONBody) + `"}`})
	expectStatus(t, res, 413, "a login body past the limit")
}

// TestOTAURLPullInstallsAndExplainsFailures pulls bundles from an HTTP
// server: each way a download can fail is answered with its reason, a
// truncated bundle gets the install's own refusal, and a good one lands in
// slot b as an upload would.
func TestOTAURLPullInstallsAndExplainsFailures(t *testing.T) {
	f := newOTAFixture(t)
	e := newAuthEnv(t, envOpts{deps: func(d *Deps) { d.OTA = f.sys }})
	admin := e.signIn(e.addUser("root", "correct horse battery", auth.RoleAdmin), "correct horse battery")
	good, img := f.bundle(t, "2.0.0", 3<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good.bundle":
			w.Write(good)
		case "/short.bundle":
			w.Write(good[:len(good)-1000])
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	pull := func(u string) *resp {
		r := admin
		r.method, r.path, r.body, r.contentType = "POST", "/api/system/ota/url", `{"url":"`+u+`"}`, "application/json"
		return e.do(r)
	}
	for _, c := range []struct {
		url    string
		status int
		says   string
	}{
		{"ftp://example.com/fw.bundle", 400, "http:// or https://"},
		{"not a url", 400, "http:// or https://"},
		{gone.URL + "/good.bundle", 502, "download " + gone.URL + "/good.bundle: "},
		{srv.URL + "/missing.bundle", 502, "the server answered 404 Not Found"},
		{srv.URL + "/short.bundle", 422, "bundle refused: truncated download"},
	} {
		res := pull(c.url)
		expectStatus(t, res, c.status, "pull "+c.url)
		if !strings.Contains(string(res.body), c.says) {
			t.Fatalf("pull %s: %s, want it to say %q", c.url, res.body, c.says)
		}
	}
	st := admin
	st.method, st.path = "GET", "/api/system/ota/status"
	if res := e.do(st); !strings.Contains(string(res.body), `"state":"refused"`) {
		t.Fatalf("status after a truncated pull: %s", res.body)
	}

	expectStatus(t, pull(srv.URL+"/good.bundle"), 200, "pull a good bundle")
	got, _ := os.ReadFile(f.sys.Slots["b"]["rootfs"])
	if !bytes.Equal(got[:len(img)], img) {
		t.Fatal("slot b does not hold the pulled image")
	}
	res := e.do(st)
	if !strings.Contains(string(res.body), `"state":"installed","version":"2.0.0"`) || !strings.Contains(string(res.body), `"written":`+strconv.Itoa(len(img))) {
		t.Fatalf("status after the pull: %s", res.body)
	}
}
