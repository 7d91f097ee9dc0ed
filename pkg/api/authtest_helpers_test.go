package api

import (
	"bufio"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/storage"
	"lightnvr/pkg/testkit"
)

// authEnv is a real api.Server over a real SQLite file, served on an
// in-memory listener so each request can come from a chosen peer address.
type authEnv struct {
	t     testing.TB
	cfg   *config.Config
	db    *db.DB
	svc   *auth.Service
	srv   *Server
	ln    *fasthttputil.InmemoryListener
	clock *testkit.Clock
}

// envOpts tweak the environment before the server is built.
type envOpts struct {
	cfg func(*config.Config)
	opt func(*auth.Options)
	// db, when set, is the database to serve (a test that runs more of the
	// stack on it opens it first); a fresh migrated one otherwise.
	db *db.DB
	// deps adds the parts a test runs beyond auth and storage.
	deps func(*Deps)
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func newAuthEnv(t testing.TB, o envOpts) *authEnv {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Web.AllowedHosts = "nvr.test" // the Host these tests send
	if o.cfg != nil {
		o.cfg(cfg)
	}
	d := o.db
	if d == nil {
		d = testkit.OpenDB(t, "")
	}
	opt, err := auth.OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opt.Now = clock.Now
	opt.Logger = quietLog
	// Cheap hashing keeps the suite fast; the real parameters are benchmarked in pkg/auth.
	opt.Hash = auth.HashParams{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	if o.opt != nil {
		o.opt(&opt)
	}
	svc := auth.New(d, opt)
	sc, err := storage.New(storage.FromConfig(cfg, d, quietLog))
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Config: cfg, DB: d, Logger: quietLog, Users: svc, Storage: sc}
	if o.deps != nil {
		o.deps(&deps)
	}
	srv, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = ln.Close()
		<-done
	})
	return &authEnv{t: t, cfg: cfg, db: d, svc: svc, srv: srv, ln: ln, clock: clock}
}

// req describes one request.
type req struct {
	method, path string
	body         string
	contentType  string
	headers      map[string]string
	cookies      map[string]string
	from         string // peer address; default 192.0.2.10
	basic        [2]string
	apiKey       string
}

type resp struct {
	status  int
	body    []byte
	header  *fasthttp.ResponseHeader
	cookies map[string]*fasthttp.Cookie
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (e *authEnv) do(r req) *resp {
	e.t.Helper()
	from := r.from
	if from == "" {
		from = "192.0.2.10"
	}
	conn, err := e.ln.DialWithLocalAddr(&net.TCPAddr{IP: net.ParseIP(from), Port: 40000})
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	var rq fasthttp.Request
	rq.Header.SetMethod(r.method)
	// Origin-form, as browsers send it, so a "Host" in r.headers is the host.
	rq.SetRequestURI(r.path)
	rq.Header.SetHost("nvr.test")
	if r.body != "" {
		rq.SetBodyString(r.body)
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		rq.Header.SetContentType(ct)
	} else if r.contentType != "" {
		rq.Header.SetContentType(r.contentType)
	}
	for k, v := range r.headers {
		rq.Header.Set(k, v)
	}
	for k, v := range r.cookies {
		rq.Header.SetCookie(k, v)
	}
	if r.basic[0] != "" {
		rq.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(r.basic[0]+":"+r.basic[1])))
	}
	if r.apiKey != "" {
		rq.Header.Set("X-API-Key", r.apiKey)
	}
	bw := bufio.NewWriter(conn)
	if err := rq.Write(bw); err != nil {
		e.t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		e.t.Fatal(err)
	}
	var rs fasthttp.Response
	if err := rs.Read(bufio.NewReader(conn)); err != nil {
		e.t.Fatal(err)
	}
	out := &resp{status: rs.StatusCode(), body: append([]byte(nil), rs.Body()...), header: &fasthttp.ResponseHeader{}, cookies: map[string]*fasthttp.Cookie{}}
	rs.Header.CopyTo(out.header)
	for k, v := range rs.Header.Cookies() {
		c := &fasthttp.Cookie{}
		if err := c.ParseBytes(v); err == nil {
			out.cookies[string(k)] = c
		}
	}
	return out
}

// addUser creates a user straight through the service.
func (e *authEnv) addUser(name, password string, role auth.Role) *auth.User {
	e.t.Helper()
	u, err := e.svc.CreateUser(context.Background(), auth.NewUser{Username: name, Password: password, Role: role, Active: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *authEnv) apiKeyFor(id int64) string {
	e.t.Helper()
	k, err := e.svc.GenerateAPIKey(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// signIn returns the credentials a client of u's role carries: a browser
// session for people, an API key for the api role.
func (e *authEnv) signIn(u *auth.User, password string) req {
	e.t.Helper()
	if u.Role == auth.RoleAPI {
		return req{apiKey: e.apiKeyFor(u.ID)}
	}
	return req{cookies: map[string]string{"session": e.login(u.Username, password)}}
}

// login posts JSON credentials and returns the session cookie value.
func (e *authEnv) login(name, password string) string {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/api/auth/login", body: `{"username":` + jsonStr(name) + `,"password":` + jsonStr(password) + `}`})
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", name, r.status, r.body)
	}
	c := r.cookies["session"]
	if c == nil || len(c.Value()) == 0 {
		e.t.Fatalf("login %s: no session cookie", name)
	}
	return string(c.Value())
}

func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func expectStatus(t testing.TB, r *resp, want int, what string) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, want, r.body)
	}
}

func expectErrorBody(t testing.TB, r *resp) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("error reply is not JSON: %s", r.body)
	}
	if msg, _ := m["error"].(string); strings.TrimSpace(msg) == "" {
		t.Fatalf("error reply without message: %s", r.body)
	}
}

// legacyPBKDF2Hex is LightNVR's stored password hash: PBKDF2-HMAC-SHA256,
// 10000 iterations, 32 bytes, hex.
func legacyPBKDF2Hex(password string, salt []byte) string {
	k, err := pbkdf2.Key(sha256.New, password, salt, 10000, 32)
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(k)
}
