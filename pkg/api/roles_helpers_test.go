package api

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// rolesEnv is the whole stack a stream request meets: the real auth service
// (sessions, API keys), a real go2rtc under the supervisor, the stream manager
// and the API server with its go2rtc proxy.
type rolesEnv struct {
	*authEnv
	sup *go2rtc.Supervisor
	mgr *streams.Manager
	cam *testkit.Camera
	// creds maps a role name to the credential a request of that role carries.
	creds map[string]req
}

// newRolesEnv builds the stack; seed rows are in the database before the
// manager starts, as streams imported from LightNVR are.
func newRolesEnv(t *testing.T, seed ...*db.Stream) *rolesEnv {
	t.Helper()
	ctx := context.Background()
	cam := testkit.StartCamera(t)
	d := testkit.OpenDB(t, "")
	for _, s := range seed {
		if err := db.InsertStream(ctx, d, s); err != nil {
			t.Fatal(err)
		}
	}
	sup, mgr := startStreamStack(t, d)
	ae := newAuthEnv(t, envOpts{db: d,
		cfg: func(cfg *config.Config) {
			cfg.Streams.MaxStreams = 0
			cfg.Go2RTC.Enabled = true
			cfg.Go2RTC.APIPort = sup.Settings().APIPort
		},
		deps: func(deps *Deps) {
			deps.Streams = mgr
			deps.Go2RTCCredentials = sup.Credentials
			deps.Go2RTC = sup
		}})
	e := &rolesEnv{authEnv: ae, sup: sup, mgr: mgr, cam: cam, creds: map[string]req{}}
	e.loginRoles()
	return e
}

// loginRoles creates one account per role and logs in the way that role's
// clients do: a browser session for admin, user and viewer, an API key for api.
func (e *rolesEnv) loginRoles() {
	for _, r := range []struct {
		name string
		role auth.Role
	}{{"admin", auth.RoleAdmin}, {"user", auth.RoleUser}, {"viewer", auth.RoleViewer}, {"api", auth.RoleAPI}} {
		pw := r.name + "-password-1"
		e.creds[r.name] = e.signIn(e.addUser(r.name, pw, r.role), pw)
	}
}

// as sends a request with role's credentials; body is JSON-encoded unless it is a string.
func (e *rolesEnv) as(role, method, path string, body any) *resp {
	e.t.Helper()
	r := e.creds[role]
	if r.cookies == nil && r.apiKey == "" {
		e.t.Fatalf("no credentials for role %q", role)
	}
	r.method, r.path = method, path
	switch b := body.(type) {
	case nil:
	case string:
		r.body = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r.body = string(j)
	}
	return e.do(r)
}

// go2rtcSources asks go2rtc itself (not through lightnvr) for its streams and
// their source URLs.
func (e *rolesEnv) go2rtcSources() map[string][]string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := e.sup.Client().Streams(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]string{}
	for name, si := range list {
		for _, p := range si.Producers {
			out[name] = append(out[name], p.URL)
		}
	}
	return out
}

// state is what a refused request must leave unchanged: every stream row and
// go2rtc's streams with their sources.
func (e *rolesEnv) state() string {
	e.t.Helper()
	rows, err := db.ListStreams(context.Background(), e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	src := e.go2rtcSources()
	for _, n := range slices.Sorted(maps.Keys(src)) {
		b.WriteString(n + "=" + strings.Join(src[n], ",") + "\n")
	}
	return b.String()
}

// camHostPort is the test camera's host:port, for payloads that need a
// reachable RTSP input.
func (e *rolesEnv) camHostPort() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(e.cam.RTSPPort))
}

// startStreamStack runs a managed go2rtc (bin/go2rtc) and the stream manager
// on d, as the daemon does, and stops both when the test ends. pipelines,
// when given, builds the streams' pipelines (the recorder's); else they only
// probe.
func startStreamStack(t *testing.T, d *db.DB, pipelines ...streams.PipelineFactory) (*go2rtc.Supervisor, *streams.Manager) {
	t.Helper()
	ctx := context.Background()
	set := go2rtc.Settings{BinaryPath: testkit.Go2RTCBinary(t), ConfigDir: t.TempDir(),
		APIPort: testkit.FreePort(t), RTSPPort: testkit.FreePort(t)}
	var mgr *streams.Manager
	sup, err := go2rtc.NewSupervisor(go2rtc.SupervisorOptions{Settings: set, Logger: quietLog,
		Streams: func(ctx context.Context) ([]go2rtc.Stream, error) { return mgr.DesiredGo2RTC(ctx) }})
	if err != nil {
		t.Fatal(err)
	}
	opts := streams.Options{DB: d, Go2RTC: sup, Logger: quietLog, StartTimeout: 5 * time.Second}
	if len(pipelines) > 0 {
		opts.Pipelines = pipelines[0]
	}
	mgr, err = streams.NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = mgr.Stop(ctx)
		_ = sup.Stop(ctx)
	})
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sup.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return sup, mgr
}
