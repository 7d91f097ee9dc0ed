package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
	"lightnvr/pkg/tlscert"
)

// httpsGet fetches path over TLS as the admin and returns the status, the
// body and the fingerprint of the certificate the server presented.
func httpsGet(t *testing.T, d *testkit.Daemon, path string) (int, []byte, string) {
	t.Helper()
	var seen string
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			seen = tlscert.Fingerprint(cs.PeerCertificates[0].Raw)
			return nil
		},
	}}}
	rq, _ := http.NewRequest("GET", strings.Replace(d.Base, "http://", "https://", 1)+path, nil)
	rq.SetBasicAuth("admin", d.Password)
	rs, err := c.Do(rq)
	if err != nil {
		t.Fatalf("GET %s over TLS: %v", path, err)
	}
	defer rs.Body.Close()
	b, _ := io.ReadAll(rs.Body)
	return rs.StatusCode, b, seen
}

func apiFingerprint(t *testing.T, d *testkit.Daemon) (api, seen string) {
	t.Helper()
	code, b, seen := httpsGet(t, d, "/api/system/info")
	if code != http.StatusOK {
		t.Fatalf("GET /api/system/info over TLS: %d %s", code, b)
	}
	var info struct {
		TLS struct {
			Fingerprint string `json:"fingerprint_sha256"`
		} `json:"tls"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info.TLS.Fingerprint, seen
}

func stopDaemon(t *testing.T, p *testkit.DaemonProc) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.Log.String())
	}
}

// TestDaemonHTTPSGeneratedCertificate: with https_enabled the daemon makes a
// certificate on first start, keeps its key private, shows its fingerprint in
// the banner and the API, and serves the same one after a restart.
func TestDaemonHTTPSGeneratedCertificate(t *testing.T) {
	d := testkit.NewDaemon(t, daemonTestPassword)
	t.Setenv("LIGHTNVR_WEB_HTTPS_ENABLED", "true")
	p := d.Start()

	api, seen := apiFingerprint(t, d)
	if api == "" || api != seen {
		t.Fatalf("API fingerprint %q, the TLS client saw %q", api, seen)
	}
	httpsBase := strings.Replace(d.Base, "http://", "https://", 1)
	for _, want := range []string{"open " + httpsBase + "/", "HTTPS certificate SHA-256 fingerprint: " + api} {
		if !strings.Contains(p.Log.String(), want) {
			t.Errorf("start-up output lacks %q:\n%s", want, p.Log.String())
		}
	}
	st, err := os.Stat(filepath.Join(d.Dir, tlscert.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("generated key mode %v, want 0600", st.Mode().Perm())
	}

	// Plain HTTP from a browser is sent to HTTPS.
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	rs, err := c.Get(d.Base + "/index.html?x=1")
	if err != nil {
		t.Fatal(err)
	}
	rs.Body.Close()
	if loc := rs.Header.Get("Location"); rs.StatusCode != http.StatusTemporaryRedirect || loc != httpsBase+"/index.html?x=1" {
		t.Fatalf("plain GET /index.html: %d Location %q", rs.StatusCode, loc)
	}

	stopDaemon(t, p)
	d.Start()
	again, _ := apiFingerprint(t, d)
	if again != api {
		t.Fatalf("fingerprint changed across a restart: %s → %s", api, again)
	}
}

// TestDaemonHTTPSOwnCertificate: the user's certificate is served as given, and
// one that does not load stops start-up with the file named.
func TestDaemonHTTPSOwnCertificate(t *testing.T) {
	d := testkit.NewDaemon(t, daemonTestPassword)
	own, err := tlscert.LoadOrGenerate(t.TempDir(), tlscert.Names{DNS: []string{"nvr.example"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIGHTNVR_WEB_HTTPS_ENABLED", "true")
	t.Setenv("LIGHTNVR_WEB_TLS_CERT_FILE", own.CertFile)
	t.Setenv("LIGHTNVR_WEB_TLS_KEY_FILE", own.KeyFile)
	p := d.Start()
	api, seen := apiFingerprint(t, d)
	if seen != own.Fingerprint || api != own.Fingerprint {
		t.Fatalf("served %s, API says %s; the user's certificate is %s", seen, api, own.Fingerprint)
	}
	if _, err := os.Stat(filepath.Join(d.Dir, tlscert.CertFile)); err == nil {
		t.Fatal("a certificate was generated although the user gave one")
	}
	stopDaemon(t, p)

	other, err := tlscert.LoadOrGenerate(t.TempDir(), tlscert.Names{DNS: []string{"other"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(d.Bin, "-c", d.INI, "serve")
	cmd.Env = append(os.Environ(), "LIGHTNVR_WEB_TLS_KEY_FILE="+other.KeyFile)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("daemon started with a certificate and a key that do not belong together:\n%s", out)
	}
	if !strings.Contains(string(out), own.CertFile) {
		t.Fatalf("start-up error does not name the certificate file:\n%s", out)
	}
}
