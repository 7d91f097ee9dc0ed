package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/testkit"
	"lightnvr/pkg/tlscert"
)

// tlsEnv is a real api.Server on a loopback TCP port, with or without HTTPS.
type tlsEnv struct {
	t    *testing.T
	srv  *Server
	addr string // 127.0.0.1:port
	cert *tlscert.Cert
}

const tlsTestPassword = "correct horse battery"

func newTLSEnv(t *testing.T, https bool) *tlsEnv {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	// The redirect is checked with a name, which the Host allowlist must know.
	cfg.Web.AllowedHosts = "nvr.local"
	d := testkit.OpenDB(t, "")
	opt, err := auth.OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opt.Logger = quietLog
	opt.Hash = auth.HashParams{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	svc := auth.New(d, opt)
	if _, err := svc.CreateUser(ctx, auth.NewUser{Username: "admin", Password: tlsTestPassword, Role: auth.RoleAdmin, Active: true}); err != nil {
		t.Fatal(err)
	}
	e := &tlsEnv{t: t}
	if https {
		if e.cert, err = tlscert.LoadOrGenerate(t.TempDir(), tlscert.LocalNames(), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	e.srv, err = New(Deps{Config: cfg, DB: d, Logger: quietLog, Users: svc, TLS: e.cert})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		e.shutdown()
		<-done
	})
	return e
}

func (e *tlsEnv) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
}

// client does not follow redirects, accepts the self-signed certificate and
// records the certificate the server presented. The timeout only keeps a
// broken server from hanging the test.
func (e *tlsEnv) client(seen *[]byte) *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
				if seen != nil && len(cs.PeerCertificates) > 0 {
					*seen = cs.PeerCertificates[0].Raw
				}
				return nil
			}},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (e *tlsEnv) get(c *http.Client, url string, basic bool) (*http.Response, []byte) {
	e.t.Helper()
	rq, err := http.NewRequest("GET", url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if basic {
		rq.SetBasicAuth("admin", tlsTestPassword)
	}
	return e.send(c, rq)
}

func (e *tlsEnv) send(c *http.Client, rq *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	rs, err := c.Do(rq)
	if err != nil {
		e.t.Fatalf("%s %s: %v", rq.Method, rq.URL, err)
	}
	defer rs.Body.Close()
	b, err := io.ReadAll(rs.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs, b
}

// systemTLS fetches /api/system/info from base as the admin and returns the
// response with its tls block.
func (e *tlsEnv) systemTLS(c *http.Client, base string) (*http.Response, tlsInfo) {
	e.t.Helper()
	rs, b := e.get(c, base+"/api/system/info", true)
	if rs.StatusCode != 200 {
		e.t.Fatalf("GET %s/api/system/info: %d %s", base, rs.StatusCode, b)
	}
	var info struct {
		TLS tlsInfo `json:"tls"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		e.t.Fatal(err)
	}
	return rs, info.TLS
}

func (e *tlsEnv) login(c *http.Client, base string) *http.Cookie {
	e.t.Helper()
	rq, err := http.NewRequest("POST", base+"/api/auth/login", strings.NewReader(`{"username":"admin","password":"`+tlsTestPassword+`"}`))
	if err != nil {
		e.t.Fatal(err)
	}
	rq.Header.Set("Content-Type", "application/json")
	rs, b := e.send(c, rq)
	if rs.StatusCode != 200 {
		e.t.Fatalf("login over %s: %d %s", base, rs.StatusCode, b)
	}
	for _, ck := range rs.Cookies() {
		if ck.Name == "session" {
			return ck
		}
	}
	e.t.Fatalf("login over %s set no session cookie: %v", base, rs.Header["Set-Cookie"])
	return nil
}

func TestHTTPSAndHTTPShareThePort(t *testing.T) {
	e := newTLSEnv(t, true)
	var seen []byte
	c := e.client(&seen)

	rs, info := e.systemTLS(c, "https://"+e.addr)
	if want := tlscert.Fingerprint(seen); !info.Enabled || info.Fingerprint != want {
		t.Fatalf("API says tls %+v; the certificate the client saw has fingerprint %s", info, want)
	}
	if _, ok := rs.TLS.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey); !ok {
		t.Fatalf("served certificate key is %T, want ECDSA", rs.TLS.PeerCertificates[0].PublicKey)
	}

	// Plain HTTP on the same port: only a redirect to the same place over TLS.
	for _, method := range []string{"GET", "POST"} {
		rq, _ := http.NewRequest(method, "http://"+e.addr+"/api/streams?a=1&b=x%2Fy", strings.NewReader("{}"))
		rq.SetBasicAuth("admin", tlsTestPassword)
		rs, b := e.send(c, rq)
		if rs.StatusCode != http.StatusTemporaryRedirect {
			t.Fatalf("plain %s: %d %s, want 307", method, rs.StatusCode, b)
		}
		if loc, want := rs.Header.Get("Location"), "https://"+e.addr+"/api/streams?a=1&b=x%2Fy"; loc != want {
			t.Fatalf("plain %s: Location %q, want %q", method, loc, want)
		}
		if len(b) != 0 {
			t.Fatalf("plain %s leaked a body: %s", method, b)
		}
	}

	// The redirect keeps the name the client used and the port it connected to.
	_, port, _ := net.SplitHostPort(e.addr)
	for host, want := range map[string]string{
		"nvr.local":      "https://nvr.local:" + port + "/",
		"nvr.local:9443": "https://nvr.local:9443/",
		"[::1]:8443":     "https://[::1]:8443/",
	} {
		rq, _ := http.NewRequest("GET", "http://"+e.addr+"/", nil)
		rq.Host = host
		rs, _ := e.send(c, rq)
		if loc := rs.Header.Get("Location"); rs.StatusCode != http.StatusTemporaryRedirect || loc != want {
			t.Errorf("Host %q: %d Location %q, want 307 %q", host, rs.StatusCode, loc, want)
		}
	}

	// Supervisors on the box probe health without TLS.
	if rs, b := e.get(c, "http://"+e.addr+"/api/health", false); rs.StatusCode != 200 {
		t.Fatalf("plain GET /api/health from loopback: %d %s", rs.StatusCode, b)
	}

	// A client that follows the redirect ends up served over TLS.
	follow := e.client(nil)
	follow.CheckRedirect = nil
	if rs, b := e.get(follow, "http://"+e.addr+"/api/system/info", true); rs.StatusCode != 200 || rs.TLS == nil {
		t.Fatalf("following the redirect: %d tls=%v %s", rs.StatusCode, rs.TLS != nil, b)
	}
}

func TestPlainHTTPServedWhenHTTPSIsOff(t *testing.T) {
	e := newTLSEnv(t, false)
	c := e.client(nil)
	if _, info := e.systemTLS(c, "http://"+e.addr); info.Enabled || info.Fingerprint != "" {
		t.Fatalf("tls %+v with HTTPS off", info)
	}
	if ck := e.login(c, "http://"+e.addr); ck.Secure {
		t.Fatal("session cookie over plain HTTP is Secure: the browser would never send it back")
	}
	conn, err := tls.Dial("tcp", e.addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("TLS handshake succeeded with HTTPS off")
	}
}

func TestSessionCookieSecureOverTLS(t *testing.T) {
	e := newTLSEnv(t, true)
	if ck := e.login(e.client(nil), "https://"+e.addr); !ck.Secure {
		t.Fatal("session cookie set over TLS lacks Secure")
	}
}

func TestSilentClientDoesNotBlockOthers(t *testing.T) {
	e := newTLSEnv(t, true)
	silent, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c := e.client(nil)
	// Both kinds of client are answered while the silent one holds its connection.
	if rs, b := e.get(c, "https://"+e.addr+"/api/health", false); rs.StatusCode != 200 {
		t.Fatalf("TLS client behind a silent one: %d %s", rs.StatusCode, b)
	}
	if rs, b := e.get(c, "http://"+e.addr+"/api/health", false); rs.StatusCode != 200 {
		t.Fatalf("plain client behind a silent one: %d %s", rs.StatusCode, b)
	}
	// Shutdown drops the connection still waiting for its first byte (rather
	// than waiting out the server's 60 s read timeout).
	stopped := make(chan struct{})
	go func() { defer close(stopped); e.shutdown() }()
	if err := silent.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = silent.Read(make([]byte, 1))
	<-stopped
	if !errors.Is(err, io.EOF) && !isConnReset(err) {
		t.Fatalf("silent connection after shutdown: read err %v, want it closed by the server", err)
	}
}

// TestSniffTimesOutSilentClients: a client that never sends a byte is dropped
// after the read timeout instead of holding a goroutine forever.
func TestSniffTimesOutSilentClients(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newSniffListener(raw, &tls.Config{}, 200*time.Millisecond)
	defer ln.Close()
	silent, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if err := silent.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isConnReset(err) {
		t.Fatalf("silent client: read err %v, want the server to close it", err)
	}
}

// TestRedirectHostRejectsURLSyntax: what fasthttp lets through as a Host
// never turns the Location into another URL.
func TestRedirectHostRejectsURLSyntax(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8080}
	for host, want := range map[string]string{
		"nvr":                 "nvr:8080",
		"nvr:81":              "nvr:81",
		"[fe80::1]":           "[fe80::1]:8080",
		"":                    "192.0.2.1:8080",
		"evil.example@x:8080": "192.0.2.1:8080",
		"a/b":                 "192.0.2.1:8080",
		"x:99999":             "192.0.2.1:8080",
		"x:8080/../@evil":     "192.0.2.1:8080",
		"evil.example\\@nvr":  "192.0.2.1:8080",
	} {
		if got := redirectHost(host, local); got != want {
			t.Errorf("redirectHost(%q) = %q, want %q", host, got, want)
		}
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}
