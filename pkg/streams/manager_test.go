package streams_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/media"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

type rig struct {
	db        *db.DB
	sup       *go2rtc.Supervisor
	mgr       *streams.Manager
	recording *streams.Recording
	bus       *event.Bus
	pipelines atomic.Int64 // built by the manager, counted on their way through the production factory
}

type rigOpts struct {
	binary   string // default bin/go2rtc
	external *testkit.Go2RTC
	mem      func() (int, error)
	floor    int
	seed     []*db.Stream
	noStart  bool
	// override is go2rtc's override.yaml, as the machine admin writes it.
	override string
	// builtin are lightnvr's own go2rtc streams (go2rtc.Settings.Builtin).
	builtin []go2rtc.Stream
	// ready waits for go2rtc to answer before newRig returns.
	ready bool
	// location is the local time of recording schedules; default time.Local.
	location *time.Location
	// manualMax ends manual recordings; default one hour.
	manualMax time.Duration
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRig(t testing.TB, o rigOpts) *rig {
	t.Helper()
	testkit.Need(t, "ffmpeg")
	r := &rig{db: testkit.OpenDB(t, ""), bus: event.NewBus()}
	ctx := context.Background()
	for _, s := range o.seed {
		if err := db.InsertStream(ctx, r.db, s); err != nil {
			t.Fatal(err)
		}
	}
	set := go2rtc.Settings{Mode: go2rtc.ModeManaged, ConfigDir: t.TempDir(), APIPort: testkit.FreePort(t), RTSPPort: testkit.FreePort(t),
		Override: o.override, Builtin: o.builtin}
	switch {
	case o.external != nil:
		set.Mode, set.APIPort, set.RTSPPort = go2rtc.ModeExternal, o.external.APIPort, o.external.RTSPPort
	case o.binary != "":
		set.BinaryPath = o.binary
	default:
		set.BinaryPath = testkit.Go2RTCBinary(t)
	}
	var mgr *streams.Manager
	sup, err := go2rtc.NewSupervisor(go2rtc.SupervisorOptions{
		Settings: set, Logger: quietLogger(), HealthInterval: 250 * time.Millisecond,
		Backoff: backoff.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond}, RestartBudget: 3,
		Streams: func(ctx context.Context) ([]go2rtc.Stream, error) { return mgr.DesiredGo2RTC(ctx) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// The daemon's pipelines: ingest from go2rtc and continuous recording.
	r.recording = streams.NewRecording(streams.RecordingOptions{DB: r.db, StorageDir: t.TempDir(), Logger: quietLogger(),
		Bus: r.bus, Frames: sup.Client(), Location: o.location, ManualMax: o.manualMax})
	factory := r.recording.Factory()
	mgr, err = streams.NewManager(streams.Options{
		DB: r.db, Go2RTC: sup, Logger: quietLogger(), StartTimeout: 8 * time.Second,
		MinAvailableMB: o.floor, MemAvailableMB: o.mem, MemPoll: 20 * time.Millisecond,
		Pipelines: func(name string) streams.Pipeline {
			r.pipelines.Add(1)
			return factory(name)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sup, r.mgr = sup, mgr
	if !o.noStart {
		r.start(t)
	}
	if o.ready {
		if err := sup.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// create adds s through the manager, failing the test on error.
func (r *rig) create(t *testing.T, s *db.Stream) {
	t.Helper()
	if err := r.mgr.Create(context.Background(), s); err != nil {
		t.Fatalf("create %s: %v", s.Name, err)
	}
}

func (r *rig) start(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	if err := r.sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Stop order as in the daemon: streams first, go2rtc last.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.mgr.Stop(ctx); err != nil {
			t.Errorf("stop manager: %v", err)
		}
		if err := r.sup.Stop(ctx); err != nil {
			t.Errorf("stop go2rtc: %v", err)
		}
	})
}

// go2rtcStreams is go2rtc's own stream list. An unanswered request fails the
// test: an empty list from a go2rtc that is down would pass every "not in
// go2rtc" check.
func (r *rig) go2rtcStreams(t *testing.T) map[string]go2rtc.StreamInfo {
	t.Helper()
	list, err := r.sup.Client().Streams(context.Background())
	if err != nil {
		t.Fatalf("ask go2rtc for its streams: %v", err)
	}
	return list
}

func waitState(t *testing.T, m *streams.Manager, name string, d time.Duration, states ...streams.State) streams.Status {
	t.Helper()
	var st streams.Status
	testkit.WaitFor(t, d, fmt.Sprintf("stream %s in %v", name, states), func() bool {
		st = m.StatusOf(name)
		for _, s := range states {
			if st.State == s {
				return true
			}
		}
		return false
	})
	return st
}

func stream(name, url string, prio int) *db.Stream {
	s := db.NewStream(name, url)
	s.Priority = prio
	return s
}

// A stream that go2rtc's override file defines belongs to the machine admin:
// its pipeline (here an exec: source, which the API refuses) stays in go2rtc
// through reconciles, updates and deletes of the database stream of the same
// name, and a stream only the override defines is never deleted.
func TestOverrideFileOwnsItsStreams(t *testing.T) {
	cam := testkit.StartCamera(t)
	pattern := testkit.TestPatternSource("320x240", 10)
	override := "streams:\n  custom: '" + pattern + "'\n  front: '" + pattern + "'\n"
	r := newRig(t, rigOpts{override: override, seed: []*db.Stream{stream("front", cam.URL(), 5), stream("plain", cam.URL(), 5)}})
	ctx := context.Background()
	waitState(t, r.mgr, "front", 20*time.Second, streams.StateActive)
	notCamera := func(what string) {
		t.Helper()
		l := r.go2rtcStreams(t)
		if _, ok := l["custom"]; !ok {
			t.Fatalf("%s: go2rtc lost the override's own stream: %v", what, l)
		}
		front, ok := l["front"]
		if !ok || len(front.Producers) != 1 || strings.HasPrefix(front.Producers[0].URL, cam.URL()) {
			t.Fatalf("%s: front carries the database's camera URL instead of the override's pipeline: %+v", what, front)
		}
		if p := l["plain"].Producers; len(p) != 1 || p[0].URL != cam.URL() {
			t.Fatalf("%s: a stream the override does not define is not managed: %+v", what, l["plain"])
		}
	}
	if _, err := r.mgr.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	notCamera("after reconcile")
	row, err := db.StreamByName(ctx, r.db, "front")
	if err != nil {
		t.Fatal(err)
	}
	// A new URL would be registered in go2rtc, were the stream not the override's.
	row.URL = cam.URL() + "?update"
	if err := r.mgr.Update(ctx, row); err != nil {
		t.Fatal(err)
	}
	notCamera("after an update of the database stream")
	if err := r.mgr.Delete(ctx, "front", true); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.go2rtcStreams(t)["front"]; !ok {
		t.Fatal("deleting the database stream deleted the override's stream from go2rtc")
	}
}

func TestAddUpdateDeletePropagate(t *testing.T) {
	cam := testkit.StartCamera(t)
	r := newRig(t, rigOpts{ready: true})
	ctx := context.Background()
	r.create(t, stream("front", cam.URL(), 5))
	if si, ok := r.go2rtcStreams(t)["front"]; !ok || si.Producers[0].URL != cam.URL() {
		t.Fatalf("go2rtc does not list the new stream: %+v", r.go2rtcStreams(t))
	}
	st := waitState(t, r.mgr, "front", 15*time.Second, streams.StateActive)
	if st.Codec != "H264" {
		t.Fatalf("probe saw codec %q", st.Codec)
	}
	codec, err := testkit.FFprobeCodec(t, r.sup.Settings().RTSPURL("front"), 20*time.Second)
	if err != nil || codec != "h264" {
		t.Fatalf("ffprobe through go2rtc: %q %v", codec, err)
	}

	upd, _ := db.StreamByName(ctx, r.db, "front")
	upd.URL = cam.URL() + "?video"
	if err := r.mgr.Update(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if got := r.go2rtcStreams(t)["front"]; len(got.Producers) != 1 || got.Producers[0].URL != cam.URL()+"?video" {
		t.Fatalf("update did not reach go2rtc: %+v", got)
	}
	waitState(t, r.mgr, "front", 15*time.Second, streams.StateActive)

	if err := r.mgr.Delete(ctx, "front", false); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.go2rtcStreams(t)["front"]; ok {
		t.Fatal("soft-deleted stream still in go2rtc")
	}
	row, err := db.StreamByName(ctx, r.db, "front")
	if err != nil || row.Enabled {
		t.Fatalf("soft delete must keep the row disabled: %+v %v", row, err)
	}
	if st := r.mgr.StatusOf("front"); st.State != streams.StateInactive {
		t.Fatalf("disabled stream state %s", st.State)
	}
	if err := r.mgr.Delete(ctx, "front", true); err != nil {
		t.Fatal(err)
	}
	if _, err := db.StreamByName(ctx, r.db, "front"); !errors.Is(err, db.ErrStreamNotFound) {
		t.Fatalf("permanent delete left the row: %v", err)
	}
	if err := r.mgr.Delete(ctx, "front", true); !errors.Is(err, streams.ErrNotFound) {
		t.Fatalf("delete of unknown stream: %v", err)
	}
}

// go2rtc refuses a source: nothing is written to the database either.
func TestCreateRefusedByGo2RTCLeavesNothing(t *testing.T) {
	r := newRig(t, rigOpts{ready: true})
	ctx := context.Background()
	err := r.mgr.Create(ctx, stream("evil", "exec:touch /tmp/pwned", 5))
	var inv *streams.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want InvalidError, got %v", err)
	}
	if n, _ := db.CountStreams(ctx, r.db); n != 0 {
		t.Fatalf("refused stream left %d rows", n)
	}
	if _, ok := r.go2rtcStreams(t)["evil"]; ok {
		t.Fatal("refused stream in go2rtc")
	}
}

// A restarted lightnvr finds a go2rtc that drifted from the database and fixes it.
func TestStartReconcilesDriftedGo2RTC(t *testing.T) {
	cam := testkit.StartCamera(t)
	ext := testkit.StartGo2RTC(t, "streams:\n  stale: rtsp://127.0.0.1:9/x\n  b: rtsp://127.0.0.1:9/wrong\n")
	r := newRig(t, rigOpts{external: ext, seed: []*db.Stream{stream("a", cam.URL(), 5), stream("b", cam.URL(), 5)}})
	testkit.WaitFor(t, 10*time.Second, "go2rtc reconciled", func() bool {
		l := r.go2rtcStreams(t)
		_, stale := l["stale"]
		return len(l) == 2 && !stale && len(l["a"].Producers) == 1 && len(l["b"].Producers) == 1 &&
			l["b"].Producers[0].URL == cam.URL()
	})
	waitState(t, r.mgr, "a", 15*time.Second, streams.StateActive)
	waitState(t, r.mgr, "b", 15*time.Second, streams.StateActive)
}

func TestKilledGo2RTCRestartsAndStreamsReturn(t *testing.T) {
	cam := testkit.StartCamera(t)
	r := newRig(t, rigOpts{ready: true})
	names := []string{"k1", "k2", "k3"}
	for _, n := range names {
		r.create(t, stream(n, cam.URL(), 5))
	}
	for _, n := range names {
		waitState(t, r.mgr, n, 20*time.Second, streams.StateActive)
	}
	before := r.sup.Status()
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "go2rtc restarted with every stream registered", func() bool {
		st := r.sup.Status()
		if !st.Ready() || st.Generation == before.Generation {
			return false
		}
		l := r.go2rtcStreams(t)
		for _, n := range names {
			if _, ok := l[n]; !ok {
				return false
			}
		}
		return true
	})
	for _, n := range names {
		waitState(t, r.mgr, n, 20*time.Second, streams.StateActive)
	}
}

func TestGo2RTCThatKeepsDyingFailsStreamsDaemonStays(t *testing.T) {
	script := filepath.Join(t.TempDir(), "go2rtc")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'listen: permission denied' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOpts{binary: script, seed: []*db.Stream{stream("cam", "rtsp://127.0.0.1:9/x", 5)}})
	st := waitState(t, r.mgr, "cam", 15*time.Second, streams.StateError)
	for _, want := range []string{"go2rtc unavailable", "restart budget exhausted", "permission denied"} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("reason %q lacks %q", st.Reason, want)
		}
	}
	// The manager still takes changes: the database is the truth, go2rtc gets them when it is back.
	if err := r.mgr.Create(context.Background(), stream("later", "rtsp://127.0.0.1:9/y", 5)); err != nil {
		t.Fatalf("create while go2rtc is gone: %v", err)
	}
}

func TestRefusingCameraDoesNotAffectOthers(t *testing.T) {
	cam := testkit.StartCamera(t)
	r := newRig(t, rigOpts{seed: []*db.Stream{
		stream("good1", cam.URL(), 9), stream("bad", testkit.RefusingURL(t), 8), stream("good2", cam.URL(), 7),
	}})
	waitState(t, r.mgr, "good1", 20*time.Second, streams.StateActive)
	waitState(t, r.mgr, "good2", 20*time.Second, streams.StateActive)
	st := waitState(t, r.mgr, "bad", 20*time.Second, streams.StateReconnecting, streams.StateError)
	if !strings.Contains(st.Reason, "could not open the source") {
		t.Fatalf("reason for refusing camera: %q", st.Reason)
	}
	if st := r.mgr.StatusOf("good1"); st.State != streams.StateActive {
		t.Fatalf("good1 affected: %+v", st)
	}
}

func TestStaggeredStartOrderAndMemoryGate(t *testing.T) {
	cam := testkit.StartCamera(t)
	var memOK atomic.Bool
	mem := func() (int, error) {
		if memOK.Load() {
			return 1000, nil
		}
		return 10, nil
	}
	var seed []*db.Stream
	for i := range 10 {
		// Priorities 1..10 inserted in an order that is not the start order.
		seed = append(seed, stream(fmt.Sprintf("s%02d", i), cam.URL(), (i*7)%10+1))
	}
	r := newRig(t, rigOpts{seed: seed, mem: mem, floor: 64, noStart: true})
	begin := time.Now()
	r.start(t)
	if err := r.sup.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "start held for memory", func() bool {
		return strings.Contains(r.mgr.StatusOf("s07").Reason, "waiting for memory")
	})
	for _, st := range r.mgr.Statuses() {
		if st.State != streams.StateInactive || !st.StartedAt.IsZero() {
			t.Fatalf("stream %s started while memory was below the floor: %+v", st.Name, st)
		}
	}
	memOK.Store(true)
	testkit.WaitFor(t, 60*time.Second, "all 10 streams active", func() bool {
		for _, st := range r.mgr.Statuses() {
			if st.State != streams.StateActive {
				return false
			}
		}
		return true
	})
	t.Logf("10 streams: %s from manager start (incl. memory hold) to all active", time.Since(begin).Round(time.Millisecond))
	logRSS(t, r.sup.Status().PID)

	list := r.mgr.Statuses()
	sort.Slice(list, func(i, j int) bool { return list[i].StartedAt.Before(list[j].StartedAt) })
	for i, st := range list {
		if i == 0 {
			continue
		}
		prev := list[i-1]
		if st.Priority > prev.Priority {
			t.Errorf("%s (priority %d) started after %s (priority %d)", st.Name, st.Priority, prev.Name, prev.Priority)
		}
		if st.StartedAt.Before(prev.ActiveAt) {
			t.Errorf("%s started at %s, before %s was active at %s", st.Name, st.StartedAt, prev.Name, prev.ActiveAt)
		}
	}
}

func logRSS(t *testing.T, go2rtcPID int) {
	rss := func(pid string) string {
		b, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			return "?"
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
			}
		}
		return "?"
	}
	t.Logf("RSS: test process %s, go2rtc %s (from /proc/PID/status VmRSS)", rss("self"), rss(fmt.Sprint(go2rtcPID)))
}

func TestAddDeleteCyclesLeaveNothingBehind(t *testing.T) {
	cam := testkit.StartCamera(t)
	r := newRig(t, rigOpts{ready: true})
	ctx := context.Background()
	// Warm up pools (HTTP keep-alive, database connections) before counting.
	r.create(t, stream("warm", cam.URL(), 5))
	if err := r.mgr.Delete(ctx, "warm", true); err != nil {
		t.Fatal(err)
	}
	settle := func() int {
		// Idle keep-alive connections to go2rtc belong to a bounded pool, not to a stream.
		r.sup.Client().CloseIdle()
		var n int
		for range 20 {
			runtime.GC()
			time.Sleep(25 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	before := settle()
	for i := range 100 {
		name := fmt.Sprintf("c%03d", i)
		r.create(t, stream(name, cam.URL(), 5))
		if err := r.mgr.Delete(ctx, name, i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	if l := r.go2rtcStreams(t); len(l) != 0 {
		t.Fatalf("%d go2rtc streams left behind: %v", len(l), l)
	}
	if st := r.mgr.Statuses(); len(st) != 0 {
		t.Fatalf("manager still tracks %d streams", len(st))
	}
	deadline := time.Now().Add(10 * time.Second)
	for after := settle(); after > before; after = settle() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d before, %d after 100 add/delete cycles:\n%s", before, after, buf)
		}
	}
}

// go2rtc rides out a short camera outage on its own (its session to us
// stays open and media resumes). A camera away for longer than the read
// timeout stalls the stream: the pipeline's source ends the session and
// reconnects, once, while the manager builds no second pipeline and only
// shows active → reconnecting → active; the recorder goes on writing
// readable segments.
func TestCameraDropIsOneReconnectNoRestart(t *testing.T) {
	testkit.Need(t, "ffprobe")
	cam := testkit.StartCamera(t)
	r := newRig(t, rigOpts{seed: []*db.Stream{stream("front", cam.URL(), 5)}})
	waitState(t, r.mgr, "front", 20*time.Second, streams.StateActive)
	testkit.WaitFor(t, 20*time.Second, "a recording", func() bool {
		ps, ok := r.recording.Stats("front")
		return ok && ps.RecordingID != 0
	})
	cam.Drop(t, 12*time.Second)
	var st streams.Status
	testkit.WaitFor(t, 30*time.Second, "active again after one reconnect", func() bool {
		st = r.mgr.StatusOf("front")
		return st.Reconnects > 0 && st.State == streams.StateActive
	})
	ps, _ := r.recording.Stats("front")
	frames := ps.Frames
	testkit.WaitFor(t, 20*time.Second, "recording after the reconnect", func() bool {
		ps, _ = r.recording.Stats("front")
		return ps.Frames > frames+20 && ps.RecorderState == "recording"
	})
	if n := r.pipelines.Load(); n != 1 {
		t.Fatalf("the manager built %d pipelines for one stream whose camera dropped", n)
	}
	if st.Reconnects != 1 || ps.Reconnects != 1 || ps.State != media.SourcePlaying {
		t.Fatalf("reconnects: manager %d, source %d (state %s), want 1 each", st.Reconnects, ps.Reconnects, ps.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.mgr.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := db.StreamRecordings(context.Background(), r.db, "front")
	if err != nil || len(recs) == 0 {
		t.Fatalf("recordings: %d %v", len(recs), err)
	}
	for _, rec := range recs {
		if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
			t.Errorf("ffprobe %s: duration %.3f, %s", rec.FilePath, pr.Duration(), pr.Errors)
		}
	}
}

func TestEnsureDemo(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	ctx := context.Background()
	d := testkit.OpenDB(t, "")
	g := go2rtc.Settings{RTSPPort: 8554}
	added, err := streams.EnsureDemo(ctx, d, g)
	if err != nil || !added {
		t.Fatalf("demo not added: %v", err)
	}
	s, err := db.StreamByName(ctx, d, streams.DemoName)
	if err != nil || s.URL != "rtsp://localhost:8554/demo" || !s.Enabled || !s.Record || s.RetentionDays != 1 || s.MaxStorageMB != streams.DemoQuotaMB {
		t.Fatalf("demo row: %+v %v", s, err)
	}
	if added, err := streams.EnsureDemo(ctx, d, g); err != nil || added {
		t.Fatalf("demo added twice: %v %v", added, err)
	}
}

// The demo's exec source reaches go2rtc through go2rtc.yaml (go2rtc refuses exec
// sources over its API) and the demo stream reads it through go2rtc's restream.
func TestDemoStreamPlays(t *testing.T) {
	r := newRig(t, rigOpts{noStart: true, builtin: []go2rtc.Stream{streams.Demo}})
	if _, err := streams.EnsureDemo(context.Background(), r.db, r.sup.Settings()); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	waitState(t, r.mgr, streams.DemoName, 20*time.Second, streams.StateActive)
}

func TestMain(m *testing.M) {
	slog.SetDefault(quietLogger())
	os.Exit(m.Run())
}

// Streams added while go2rtc is still starting (after it wrote its config,
// before the reconcile that registers them) start as soon as it is ready,
// and cleanly: none asks go2rtc for a stream it has not been told about
// yet, which it answers with 404, an error and a backoff.
func TestStreamsAddedWhileGo2RTCStartsStartCleanly(t *testing.T) {
	cam := testkit.StartCamera(t)
	// go2rtc takes a second to come up, as on a loaded board.
	slow := filepath.Join(t.TempDir(), "go2rtc")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nsleep 1\nexec '"+testkit.Go2RTCBinary(t)+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOpts{binary: slow})
	testkit.WaitFor(t, 5*time.Second, "go2rtc launched", func() bool { return r.sup.Status().PID != 0 })
	if r.sup.Status().Ready() {
		t.Fatal("go2rtc was ready before the streams were added: the test needs them added while it starts")
	}
	names := []string{"s1", "s2", "s3"}
	for _, n := range names {
		r.create(t, stream(n, cam.URL(), 5))
	}
	for _, n := range names {
		st := waitState(t, r.mgr, n, 20*time.Second, streams.StateActive)
		if st.Reconnects != 0 || st.Errors != (streams.ErrorCounts{}) {
			t.Errorf("%s: %d reconnects, errors %+v before its first frame; want none", n, st.Reconnects, st.Errors)
		}
	}
}
