package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func testNames() Names {
	return Names{DNS: []string{"nvr", "localhost", "nvr.local"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(192, 0, 2, 7)}}
}

func TestGenerateECDSAWithPrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadOrGenerate(dir, testNames(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Created || !c.Generated || c.Replaced != "" {
		t.Fatalf("first call: created=%v generated=%v replaced=%q", c.Created, c.Generated, c.Replaced)
	}
	pub, ok := c.Leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("public key is %T, want ECDSA P-256", c.Leaf.PublicKey)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if err := c.Leaf.VerifyHostname("nvr.local"); err != nil {
		t.Errorf("nvr.local: %v", err)
	}
	if err := c.Leaf.VerifyHostname("192.0.2.7"); err != nil {
		t.Errorf("192.0.2.7: %v", err)
	}
	if err := c.Leaf.VerifyHostname("::1"); err != nil {
		t.Errorf("::1: %v", err)
	}
	if got := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore); got != Validity {
		t.Errorf("validity %v, want %v", got, Validity)
	}
	sum := sha256.Sum256(c.Leaf.Raw)
	want := strings.ToUpper(strings.Join(strings.Fields(fmt.Sprintf("% x", sum[:])), ":"))
	if c.Fingerprint != want {
		t.Errorf("fingerprint %s, want %s", c.Fingerprint, want)
	}
}

func TestReusedOnLaterStarts(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrGenerate(dir, testNames(), now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadOrGenerate(dir, testNames(), now.Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if second.Created || second.Fingerprint != first.Fingerprint {
		t.Fatalf("second start made a new certificate: created=%v %s → %s", second.Created, first.Fingerprint, second.Fingerprint)
	}
}

func TestLoosenedKeyModeIsRestored(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrGenerate(dir, testNames(), now); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, KeyFile)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrGenerate(dir, testNames(), now); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v after restart, want 0600", st.Mode().Perm())
	}
}

func TestRenewedBeforeExpiry(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrGenerate(dir, testNames(), now)
	if err != nil {
		t.Fatal(err)
	}
	later := first.Leaf.NotAfter.Add(-RenewBefore / 2)
	second, err := LoadOrGenerate(dir, testNames(), later)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Created || second.Fingerprint == first.Fingerprint || !strings.Contains(second.Replaced, "expires") {
		t.Fatalf("certificate near expiry kept: created=%v replaced=%q", second.Created, second.Replaced)
	}
}

func TestDamagedPairIsReplaced(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{CertFile, KeyFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("half written"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := LoadOrGenerate(dir, testNames(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Created || c.Replaced == "" {
		t.Fatalf("damaged pair: created=%v replaced=%q", c.Created, c.Replaced)
	}
}

func TestClockBeforeNTPStillGivesAUsableCertificate(t *testing.T) {
	c, err := LoadOrGenerate(t.TempDir(), testNames(), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf.NotAfter.Before(earliestNotBefore.Add(Validity)) {
		t.Fatalf("a certificate made at boot in 1970 expires %v", c.Leaf.NotAfter)
	}
}

func TestLoadUsersOwnPair(t *testing.T) {
	dir := t.TempDir()
	own, err := LoadOrGenerate(dir, testNames(), now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(own.CertFile, own.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.Generated || c.Fingerprint != own.Fingerprint {
		t.Fatalf("Load: generated=%v fingerprint %s, want %s", c.Generated, c.Fingerprint, own.Fingerprint)
	}
	other, err := LoadOrGenerate(t.TempDir(), testNames(), now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(own.CertFile, other.KeyFile)
	if err == nil || !strings.Contains(err.Error(), own.CertFile) {
		t.Fatalf("certificate with another's key: err = %v, want an error naming the file", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.pem"), own.KeyFile); err == nil {
		t.Fatal("missing certificate file loaded")
	}
}

func TestLocalNamesIncludeLoopback(t *testing.T) {
	n := LocalNames()
	var v4, v6 bool
	for _, ip := range n.IPs {
		v4 = v4 || ip.Equal(net.IPv4(127, 0, 0, 1))
		v6 = v6 || ip.Equal(net.IPv6loopback)
	}
	if !v4 || !v6 {
		t.Fatalf("loopback addresses missing: %v", n.IPs)
	}
	host, err := os.Hostname()
	if err == nil && host != "localhost" && !strings.Contains(host, ".") {
		want := []string{host, "localhost", host + ".local"}
		if strings.Join(n.DNS, ",") != strings.Join(want, ",") {
			t.Fatalf("names %v, want %v", n.DNS, want)
		}
	}
}
