package logx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

func newTest(t *testing.T, opts Options) (*slog.Logger, *Ring, *testkit.SyncBuffer) {
	t.Helper()
	buf := &testkit.SyncBuffer{}
	if opts.Output == nil {
		opts.Output = buf
	}
	l, r, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := HandlerOf(l).Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l, r, buf
}

// parseLogfmt parses one line of slog's text output into key → value.
func parseLogfmt(t *testing.T, line string) map[string]string {
	t.Helper()
	m := map[string]string{}
	s := line
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			t.Fatalf("no key=value at %q in %q", s, line)
		}
		k := s[:eq]
		s = s[eq+1:]
		var v string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				t.Fatalf("bad quoted value at %q in %q: %v", s, line, err)
			}
			v, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			v = s[:end]
			s = s[end:]
		}
		m[k] = v
		s = strings.TrimPrefix(s, " ")
	}
	return m
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestLevelFiltering(t *testing.T) {
	l, ring, buf := newTest(t, Options{Level: slog.LevelWarn})
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	got := lines(buf.String())
	if len(got) != 2 || !strings.Contains(got[0], "msg=w") || !strings.Contains(got[1], "msg=e") {
		t.Fatalf("console at WARN: %q", got)
	}
	recs := ring.Records(slog.LevelDebug, 0)
	if len(recs) != 2 || recs[0].Message != "w" || recs[1].Message != "e" {
		t.Fatalf("ring at WARN: %+v", recs)
	}

	h := HandlerOf(l)
	h.SetLevel(slog.LevelDebug)
	if h.Level() != slog.LevelDebug {
		t.Fatalf("Level = %v after SetLevel", h.Level())
	}
	l.With("k", "v").Debug("d2") // derived loggers share the level
	if !strings.Contains(buf.String(), "msg=d2") {
		t.Fatalf("debug record missing after SetLevel(DEBUG): %q", buf.String())
	}
	if recs := ring.Records(slog.LevelError, 0); len(recs) != 1 || recs[0].Message != "e" {
		t.Fatalf("Records(ERROR) = %+v", recs)
	}
	if recs := ring.Records(slog.LevelDebug, 2); len(recs) != 2 || recs[0].Message != "e" || recs[1].Message != "d2" {
		t.Fatalf("Records(DEBUG, 2) = %+v, want newest two, newest last", recs)
	}
}

func TestLevelFromLightNVR(t *testing.T) {
	cases := map[int]slog.Level{-1: slog.LevelError, 0: slog.LevelError, 1: slog.LevelWarn, 2: slog.LevelInfo, 3: slog.LevelDebug, 9: slog.LevelDebug}
	for n, want := range cases {
		if got := LevelFromLightNVR(n); got != want {
			t.Errorf("LevelFromLightNVR(%d) = %v, want %v", n, got, want)
		}
	}
	for n := 0; n <= 3; n++ {
		if got := LightNVRLevel(LevelFromLightNVR(n)); got != n {
			t.Errorf("round trip %d → %d", n, got)
		}
	}
}

func TestTextOutputParseable(t *testing.T) {
	l, _, buf := newTest(t, Options{Format: "text"})
	l.Info("hello world", "n", 42, "s", `quote " and space`, "empty", "")
	got := lines(buf.String())
	if len(got) != 1 {
		t.Fatalf("want 1 line, got %q", got)
	}
	m := parseLogfmt(t, got[0])
	if m["level"] != "INFO" || m["msg"] != "hello world" || m["n"] != "42" || m["s"] != `quote " and space` {
		t.Fatalf("parsed %v", m)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["time"]); err != nil {
		t.Fatalf("time %q: %v", m["time"], err)
	}
}

func TestJSONOutputParseable(t *testing.T) {
	l, _, buf := newTest(t, Options{Format: "json"})
	l.WithGroup("stream").Info("started", "name", "cam1", "fps", 25)
	l.Error("failed", "err", errors.New("boom"))
	got := lines(buf.String())
	if len(got) != 2 {
		t.Fatalf("want 2 lines, got %q", got)
	}
	var first struct {
		Level  string
		Msg    string
		Stream struct {
			Name string
			FPS  int
		}
	}
	if err := json.Unmarshal([]byte(got[0]), &first); err != nil {
		t.Fatalf("line 1 not JSON: %v: %s", err, got[0])
	}
	if first.Level != "INFO" || first.Msg != "started" || first.Stream.Name != "cam1" || first.Stream.FPS != 25 {
		t.Fatalf("line 1 = %+v", first)
	}
	var second map[string]any
	if err := json.Unmarshal([]byte(got[1]), &second); err != nil {
		t.Fatalf("line 2 not JSON: %v", err)
	}
	if second["err"] != "boom" || second["level"] != "ERROR" {
		t.Fatalf("line 2 = %v", second)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Format: "xml"},
		{SyslogFacility: "LOG_NOPE"},
		{SyslogAddr: "nocolon"},
		{SyslogAddr: "http:host"},
		{File: filepath.Join(t.TempDir(), "missing", "dir", "x.log")},
	} {
		if _, _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want error", o)
		}
	}
}

func TestParseFacility(t *testing.T) {
	ok := map[string]syslog.Priority{
		"": syslog.LOG_USER, "LOG_USER": syslog.LOG_USER, "LOG_DAEMON": syslog.LOG_DAEMON,
		"log_local0": syslog.LOG_LOCAL0, "LOCAL7": syslog.LOG_LOCAL7, " LOG_LOCAL3 ": syslog.LOG_LOCAL3,
		"128": syslog.LOG_LOCAL0, "8": syslog.LOG_USER, "0": syslog.LOG_KERN,
	}
	for in, want := range ok {
		got, err := ParseFacility(in)
		if err != nil || got != want {
			t.Errorf("ParseFacility(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"LOG_LOCAL8", "nope", "-8", "3", "192"} {
		if _, err := ParseFacility(in); err == nil {
			t.Errorf("ParseFacility(%q) succeeded", in)
		}
	}
}

func TestLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lightnvr.log")
	if err := os.WriteFile(path, []byte("old line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, _, console := newTest(t, Options{File: path})
	l.Info("first")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "old line\n") || !strings.Contains(string(b), "msg=first") {
		t.Fatalf("file not appended to: %q", b)
	}
	if !strings.Contains(console.String(), "msg=first") {
		t.Fatalf("console missing record: %q", console.String())
	}

	// Rotation: move the file away, Reopen, and the next record lands in a
	// fresh file at the configured path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := HandlerOf(l).Reopen(); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	l.Info("second")
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), "first") || !strings.Contains(string(b), "msg=second") {
		t.Fatalf("after reopen: %q", b)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&^0o640 != 0 {
		t.Fatalf("new log file mode %o, want at most 0640", perm)
	}
}

func TestFileOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	l, _, _ := newTest(t, Options{Output: io.Discard, File: path, Format: "json"})
	l.Info("only file")
	b, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(b), &m); err != nil || m["msg"] != "only file" {
		t.Fatalf("file = %q (%v)", b, err)
	}
}

func TestRingByteBound(t *testing.T) {
	const budget = 16 << 10
	l, ring, _ := newTest(t, Options{Output: io.Discard, RingBytes: budget, Level: slog.LevelDebug})
	if ring.Cap() != budget {
		t.Fatalf("Cap = %d", ring.Cap())
	}
	for i := 0; i < 10000; i++ {
		// Sizes vary so eviction removes variable numbers of records.
		l.Info(strings.Repeat("m", i%300), "i", i, "pad", strings.Repeat("p", (i*7)%500))
		if b := ring.Bytes(); b > budget {
			t.Fatalf("after %d records Bytes = %d > %d", i+1, b, budget)
		}
	}
	recs := ring.Records(slog.LevelDebug, 0)
	if len(recs) == 0 || len(recs) != ring.Len() {
		t.Fatalf("Records len %d, Len %d", len(recs), ring.Len())
	}
	last := recs[len(recs)-1]
	if last.Attrs["i"] != "9999" || last.Seq != 10000 {
		t.Fatalf("newest record = %+v", last)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq != recs[i-1].Seq+1 {
			t.Fatalf("seq gap %d → %d", recs[i-1].Seq, recs[i].Seq)
		}
	}
	// The budget is not wasted: the ring holds more than a handful.
	if len(recs) < 10 {
		t.Fatalf("only %d records kept in %d bytes", len(recs), budget)
	}
}

func TestRingHugeRecordTruncated(t *testing.T) {
	ring := NewRing(8 << 10)
	huge := strings.Repeat("é", 1<<20) // multi-byte, so the cut must respect runes
	ring.add(time.Now(), slog.LevelError, "small", nil)
	ring.add(time.Now(), slog.LevelError, huge, []kv{{"k", "v"}, {"big", huge}})
	if b := ring.Bytes(); b > ring.Cap() {
		t.Fatalf("Bytes %d > Cap %d", b, ring.Cap())
	}
	recs := ring.Records(slog.LevelDebug, 0)
	last := recs[len(recs)-1]
	if !last.Truncated || len(last.Message) == 0 || len(last.Message) > ring.Cap()/2 {
		t.Fatalf("huge record: truncated=%v msglen=%d", last.Truncated, len(last.Message))
	}
	if !strings.HasPrefix(huge, last.Message) || strings.ContainsRune(last.Message, '\uFFFD') || !strings.HasSuffix(last.Message, "é") {
		t.Fatalf("message cut inside a rune")
	}
	if last.Attrs["k"] != "v" {
		t.Fatalf("small attr dropped: %v", last.Attrs)
	}
	if _, ok := last.Attrs["big"]; ok {
		t.Fatalf("oversized attr kept")
	}
}

func TestRingSinceAndClear(t *testing.T) {
	l, ring, _ := newTest(t, Options{Output: io.Discard})
	if ring.LastSeq() != 0 || ring.Since(0) != nil {
		t.Fatalf("empty ring")
	}
	changed := ring.Changed()
	l.Info("a")
	select {
	case <-changed:
	default:
		t.Fatalf("Changed not closed by a new record")
	}
	l.Info("b")
	l.Info("c")
	cursor := ring.LastSeq()
	if cursor != 3 {
		t.Fatalf("LastSeq = %d", cursor)
	}
	got := ring.Since(1)
	if len(got) != 2 || got[0].Message != "b" || got[1].Message != "c" {
		t.Fatalf("Since(1) = %+v", got)
	}
	if got := ring.Since(cursor); len(got) != 0 {
		t.Fatalf("Since(last) = %+v", got)
	}
	ring.Clear()
	if ring.Len() != 0 || ring.Bytes() != 0 || len(ring.Records(slog.LevelDebug, 0)) != 0 {
		t.Fatalf("Clear left records")
	}
	l.Info("d")
	got = ring.Since(cursor)
	if len(got) != 1 || got[0].Message != "d" || got[0].Seq != 4 {
		t.Fatalf("Since after Clear = %+v (seq must keep counting)", got)
	}
}

func TestConcurrentWrites(t *testing.T) {
	l, ring, buf := newTest(t, Options{RingBytes: 32 << 10})
	const writers, per = 8, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var cursor uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, r := range ring.Since(cursor) {
				if r.Seq <= cursor {
					t.Errorf("Since returned seq %d after cursor %d", r.Seq, cursor)
				}
				cursor = r.Seq
			}
			_ = ring.Records(slog.LevelWarn, 10)
		}
	}()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lw := l.With("writer", w).WithGroup("g")
			for i := 0; i < per; i++ {
				lw.Info("msg", "i", i)
				if i%50 == 0 {
					HandlerOf(l).SetLevel(slog.LevelInfo)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-readerDone
	if got := ring.LastSeq(); got != writers*per {
		t.Fatalf("LastSeq = %d, want %d", got, writers*per)
	}
	if n := len(lines(buf.String())); n != writers*per {
		t.Fatalf("console has %d lines, want %d (interleaved writes?)", n, writers*per)
	}
	if ring.Bytes() > ring.Cap() {
		t.Fatalf("Bytes %d > Cap %d", ring.Bytes(), ring.Cap())
	}
}

func TestIsSecretKey(t *testing.T) {
	for _, k := range []string{"password", "Password", "passwd", "secret", "token", "api_key", "mqtt_password", "access-token", "client.secret", "APIKEY"} {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false", k)
		}
	}
	for _, k := range []string{"user", "tokens", "token_count", "passwordless_login", "key", "secretary"} {
		if IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true", k)
		}
	}
}

func TestRedactionAllSinks(t *testing.T) {
	sock := listenSyslog(t)
	l, ring, buf := newTest(t, Options{Syslog: true, SyslogAddr: "unixgram:" + sock.LocalAddr().String()})
	u, _ := url.Parse("rtsp://admin:urlpw@cam/live")
	err := fmt.Errorf("dial: %w", &url.Error{Op: "Get", URL: "http://bob:errpw@cam/x", Err: errors.New("refused")})
	l.With("token", "withtok").WithGroup("mqtt").Info("connect rtsp://admin:msgpw@cam/live",
		"password", "hunter2", "api_key", "k3y", "url", "rtsp://u:strpw@h/", "u", u, "err", err, "user", "admin")

	secrets := []string{"hunter2", "k3y", "withtok", "urlpw", "strpw", "errpw", "msgpw"}
	check := func(sink, s string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("%s leaks %q: %s", sink, sec, s)
			}
		}
		if !strings.Contains(s, "admin") || !strings.Contains(s, Masked) {
			t.Errorf("%s lost non-secret data or mask: %s", sink, s)
		}
	}
	check("console", buf.String())
	recs := ring.Records(slog.LevelDebug, 0)
	rec := recs[len(recs)-1]
	check("ring", fmt.Sprint(rec.Message, rec.Attrs))
	if rec.Attrs["mqtt.password"] != Masked || rec.Attrs["token"] != Masked || rec.Attrs["mqtt.user"] != "admin" {
		t.Errorf("ring attrs = %v", rec.Attrs)
	}
	check("syslog", readDatagram(t, sock))

	// JSON goes through the same hook.
	lj, _, jb := newTest(t, Options{Format: "json"})
	lj.Info("x", "secret", "s3cr3t", "src", "rtsp://a:jsonpw@b/c")
	if strings.Contains(jb.String(), "s3cr3t") || strings.Contains(jb.String(), "jsonpw") {
		t.Errorf("json leaks: %s", jb.String())
	}
}

func TestAttrsAndGroupsFanOut(t *testing.T) {
	sock := listenSyslog(t)
	l, ring, buf := newTest(t, Options{Syslog: true, SyslogAddr: "unixgram:" + sock.LocalAddr().String()})
	base := l.With("a", 1)
	g := base.WithGroup("g").With("b", 2).WithGroup("h")
	g.Info("m", "c", 3, slog.Group("grp", "d", 4), slog.Group("", "inl", 5), slog.Group("empty"))
	base.Info("other", "e", 6) // the parent must not see the child's attrs

	ls := lines(buf.String())
	if len(ls) != 2 {
		t.Fatalf("console lines %q", ls)
	}
	m := parseLogfmt(t, ls[0])
	want := map[string]string{"a": "1", "g.b": "2", "g.h.c": "3", "g.h.grp.d": "4", "g.h.inl": "5"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("console %s = %q, want %q (line %s)", k, m[k], v, ls[0])
		}
	}
	recs := ring.Records(slog.LevelDebug, 0)
	if len(recs) != 2 {
		t.Fatalf("ring %+v", recs)
	}
	if len(recs[0].Attrs) != len(want) {
		t.Errorf("ring attrs %v, want %v", recs[0].Attrs, want)
	}
	for k, v := range want {
		if recs[0].Attrs[k] != v {
			t.Errorf("ring %s = %q, want %q", k, recs[0].Attrs[k], v)
		}
	}
	if fmt.Sprint(recs[1].Attrs) != "map[a:1 e:6]" {
		t.Errorf("parent record attrs %v", recs[1].Attrs)
	}
	sys := readDatagram(t, sock)
	if !strings.HasSuffix(sys, "m a=1 g.b=2 g.h.c=3 g.h.grp.d=4 g.h.inl=5\n") {
		t.Errorf("syslog line %q", sys)
	}
	if sys := readDatagram(t, sock); !strings.HasSuffix(sys, "other a=1 e=6\n") {
		t.Errorf("syslog line %q", sys)
	}
}

func listenSyslog(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readDatagram(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	// The deadline only turns a missing datagram into a failure instead of a
	// hung test; it does not measure anything.
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64<<10)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("read syslog datagram: %v", err)
	}
	return string(b[:n])
}

func TestSyslog(t *testing.T) {
	sock := listenSyslog(t)
	l, _, _ := newTest(t, Options{
		Level: slog.LevelDebug, Syslog: true, SyslogIdent: "nvrtest", SyslogFacility: "LOG_LOCAL3",
		SyslogAddr: "unixgram:" + sock.LocalAddr().String(),
	})
	l.Warn("disk low", "free_mb", 12)
	l.Error("boom")
	l.Debug("dbg")
	l.Info("hi")
	for _, want := range []struct {
		prio syslog.Priority
		text string
	}{
		{syslog.LOG_LOCAL3 | syslog.LOG_WARNING, "disk low free_mb=12"},
		{syslog.LOG_LOCAL3 | syslog.LOG_ERR, "boom"},
		{syslog.LOG_LOCAL3 | syslog.LOG_DEBUG, "dbg"},
		{syslog.LOG_LOCAL3 | syslog.LOG_INFO, "hi"},
	} {
		got := readDatagram(t, sock)
		prefix := fmt.Sprintf("<%d>", want.prio)
		if !strings.HasPrefix(got, prefix) {
			t.Errorf("datagram %q: want priority prefix %s", got, prefix)
		}
		tag := fmt.Sprintf(" nvrtest[%d]: ", os.Getpid())
		if !strings.Contains(got, tag) || !strings.HasSuffix(got, tag+want.text+"\n") {
			t.Errorf("datagram %q: want %q", got, tag+want.text)
		}
	}

	// Level changes apply to syslog too.
	HandlerOf(l).SetLevel(slog.LevelError)
	l.Warn("filtered")
	l.Error("passes")
	if got := readDatagram(t, sock); !strings.HasSuffix(got, ": passes\n") {
		t.Errorf("after SetLevel(ERROR) got %q", got)
	}
	if d := HandlerOf(l).SyslogDropped(); d != 0 {
		t.Errorf("SyslogDropped = %d", d)
	}
}

func TestSyslogUnreachableIsWarning(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nobody.sock")
	l, ring, buf := newTest(t, Options{Syslog: true, SyslogAddr: "unixgram:" + missing})
	l.Info("still logging")
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "syslog unavailable") {
		t.Fatalf("no warning about syslog: %q", buf.String())
	}
	if recs := ring.Records(slog.LevelInfo, 0); len(recs) != 2 || recs[1].Message != "still logging" {
		t.Fatalf("ring %+v", recs)
	}
}

// countWriter discards but keeps the text handler enabled (io.Discard
// would switch it off).
type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func BenchmarkLog(b *testing.B) {
	l, _, err := New(Options{Output: &countWriter{}})
	if err != nil {
		b.Fatal(err)
	}
	l = l.With("component", "record")
	b.ReportAllocs()
	for b.Loop() {
		l.Info("segment closed", "stream", "front_door", "bytes", 4194304, "dur", 2*time.Second)
	}
}
