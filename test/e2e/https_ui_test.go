package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lightnvr/pkg/testkit"
)

// TestSystemPageShowsFingerprint: over HTTPS, the System page shows the SHA-256
// fingerprint of the certificate the server presents, for the user to compare
// with the browser's.
func TestSystemPageShowsFingerprint(t *testing.T) {
	d := testkit.NewDaemon(t, adminPassword)
	t.Setenv("LIGHTNVR_WEB_HTTPS_ENABLED", "true")
	d.Start()
	base := strings.Replace(d.Base, "http://", "https://", 1)
	served := servedFingerprint(t, base)

	// The certificate is self-signed: the browser is told to accept it.
	b := testkit.StartChromium(t, 1280, 800, chromedp.Flag("ignore-certificate-errors", true))
	u := newUI(t, base, b)
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")
	u.open("#/system")
	u.do("wait for the certificate card", 15*time.Second, chromedp.WaitVisible(`[data-testid=tls-fingerprint]`))
	u.p.Screenshot(t, "https-system")
	shown, err := testkit.Eval[string](u.p, 5*time.Second, `document.querySelector('[data-testid=tls-fingerprint]').textContent.trim()`)
	if err != nil {
		t.Fatal(err)
	}
	if shown != served {
		t.Fatalf("System page shows %q; the server presents %q", shown, served)
	}
	u.checkClean("system over https")
}

// servedFingerprint is the fingerprint of the certificate a TLS client sees,
// computed here from its DER, not taken from the server's API.
func servedFingerprint(t *testing.T, base string) string {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	rs, err := c.Get(base + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Body.Close()
	_, _ = io.Copy(io.Discard, rs.Body)
	sum := sha256.Sum256(rs.TLS.PeerCertificates[0].Raw)
	parts := make([]string, len(sum))
	for i, x := range sum {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}
