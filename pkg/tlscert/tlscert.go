// Package tlscert provides the certificate of the HTTPS listener: the user's
// own files, or a self-signed ECDSA certificate generated once on first start
// and kept in the data directory, and the fingerprint a user compares with
// what the browser shows.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"lightnvr/pkg/host"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files of the generated certificate in the data directory.
const (
	CertFile = "https-cert.pem"
	KeyFile  = "https-key.pem"
)

// Validity is the lifetime of a generated certificate. An appliance has no
// one to renew it by hand and a user who checked the fingerprint once should
// not have to again, so it is long; it is regenerated at start when it has
// less than RenewBefore left.
const (
	Validity    = 10 * 365 * 24 * time.Hour
	RenewBefore = 30 * 24 * time.Hour
)

// earliestNotBefore is the floor for NotBefore: a board without a battery
// clock may generate its certificate at boot before NTP set the time; a
// certificate dated 1970 would already have expired once the clock is right.
var earliestNotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Cert is a loaded certificate and key.
type Cert struct {
	TLS         tls.Certificate
	Leaf        *x509.Certificate
	Fingerprint string // SHA-256 of the DER, colon-separated upper-case hex
	CertFile    string
	KeyFile     string
	// Generated is true for the self-signed certificate of the data
	// directory, false for the user's own files.
	Generated bool
	// Created is true when this start generated it; Replaced then says why
	// an existing one was not used ("" when there was none).
	Created  bool
	Replaced string
}

// Fingerprint is the SHA-256 of a certificate's DER as browsers show it:
// colon-separated upper-case hex.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// Load reads the user's own PEM certificate (chain first, leaf on top) and
// key. Both must be readable, parse and belong together.
func Load(certFile, keyFile string) (*Cert, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return newCert(pair, certFile, keyFile)
}

func newCert(pair tls.Certificate, certFile, keyFile string) (*Cert, error) {
	if len(pair.Certificate) == 0 {
		return nil, fmt.Errorf("%s holds no certificate", certFile)
	}
	leaf := pair.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse certificate %s: %w", certFile, err)
		}
		pair.Leaf = leaf
	}
	return &Cert{TLS: pair, Leaf: leaf, Fingerprint: Fingerprint(leaf.Raw), CertFile: certFile, KeyFile: keyFile}, nil
}

// Names are the host names and addresses a generated certificate covers.
type Names struct {
	DNS []string
	IPs []net.IP
}

// LocalNames lists this machine's names: its host name, host name.local
// (mDNS), localhost, every interface address and the loopback addresses.
func LocalNames() Names {
	n := Names{DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		h = strings.TrimSuffix(h, ".local")
		n.DNS = append([]string{h}, n.DNS...)
		if !strings.Contains(h, ".") {
			n.DNS = append(n.DNS, h+".local")
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return n
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		n.IPs = append(n.IPs, ipn.IP)
	}
	return n
}

// LoadOrGenerate returns the certificate kept in dir, generating it when it is
// missing, unreadable or about to expire. The key file is mode 0600.
func LoadOrGenerate(dir string, names Names, now time.Time) (*Cert, error) {
	certFile, keyFile := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	c, err := Load(certFile, keyFile)
	var replaced string
	switch {
	case err == nil && now.Add(RenewBefore).Before(c.Leaf.NotAfter):
		if err := keepPrivate(keyFile); err != nil {
			return nil, err
		}
		c.Generated = true
		return c, nil
	case err == nil:
		replaced = "it expires " + c.Leaf.NotAfter.UTC().Format(time.DateOnly)
	case !errors.Is(err, os.ErrNotExist):
		// A damaged pair: a new certificate keeps the UI reachable, and its
		// new fingerprint tells the user.
		replaced = err.Error()
	}
	certPEM, keyPEM, err := generate(names, now)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create certificate directory: %w", err)
	}
	if err := host.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := host.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	c, err = Load(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c.Generated, c.Created, c.Replaced = true, true, replaced
	return c, nil
}

// keepPrivate takes group and other access away from a key file someone
// loosened.
func keepPrivate(keyFile string) error {
	st, err := os.Stat(keyFile)
	if err != nil {
		return fmt.Errorf("stat TLS key: %w", err)
	}
	if st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		return fmt.Errorf("restrict TLS key %s to mode 0600: %w", keyFile, err)
	}
	return nil
}

// generate makes a self-signed ECDSA P-256 server certificate for names.
func generate(names Names, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	notBefore := now.Add(-time.Hour).UTC()
	if notBefore.Before(earliestNotBefore) {
		notBefore = earliestNotBefore
	}
	cn := "lightnvr"
	if len(names.DNS) > 0 {
		cn = names.DNS[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"LightNVR (self-signed)"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names.DNS,
		IPAddresses:           names.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode TLS key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
