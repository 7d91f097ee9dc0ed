package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/db"
	"lightnvr/pkg/export/exporttest"
	"lightnvr/pkg/testkit"
)

// exportGOP is the keyframe interval of the recordings the tests export.
const exportGOP = time.Second

// exportEnv is a real server over a database holding real recordings of
// stream "cam": 40 s from 25 s before local midnight in 10 s segments
// (four segments, in two day directories), then a 10 s hole, then 10 s.
type exportEnv struct {
	*recEnv
	midnight time.Time
	client   *fasthttp.Client
}

func newExportEnv(t *testing.T) *exportEnv {
	t.Helper()
	e := &exportEnv{recEnv: newRecEnv(t)}
	if err := db.InsertStream(context.Background(), e.db, db.NewStream("cam", "rtsp://127.0.0.1:8554/cam")); err != nil {
		t.Fatal(err)
	}
	e.midnight = time.Date(2026, 3, 2, 0, 0, 0, 0, time.Local)
	clip := exporttest.LoadClip(t, exportGOP)
	clip.Record(t, e.db, e.cfg.Storage.Path, "cam", 10*time.Second,
		exporttest.Span{Start: e.at(-25), Length: 40 * time.Second},
		exporttest.Span{Start: e.at(25), Length: 10 * time.Second})
	e.client = &fasthttp.Client{Dial: func(string) (net.Conn, error) { return e.ln.Dial() }}
	return e
}

// at is midnight plus sec seconds.
func (e *exportEnv) at(sec float64) time.Time {
	return e.midnight.Add(time.Duration(sec * float64(time.Second)))
}

func (e *exportEnv) exportURL(from, to float64, format string) string {
	return fmt.Sprintf("/api/export?stream=cam&start=%s&end=%s&format=%s",
		e.at(from).UTC().Format(time.RFC3339Nano), e.at(to).UTC().Format(time.RFC3339Nano), format)
}

// get fetches path as the viewer; it is safe from any goroutine.
func (e *exportEnv) get(path string, headers ...string) (*fasthttp.Response, error) {
	rq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(rq)
	rq.SetRequestURI("http://nvr.test" + path)
	rq.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("viewer:viewer-pass")))
	for i := 0; i+1 < len(headers); i += 2 {
		rq.Header.Set(headers[i], headers[i+1])
	}
	rs := &fasthttp.Response{}
	if err := e.client.DoTimeout(rq, rs, time.Minute); err != nil {
		return nil, err
	}
	return rs, nil
}

func (e *exportEnv) mustGet(t *testing.T, want int, path string, headers ...string) *fasthttp.Response {
	t.Helper()
	rs, err := e.get(path, headers...)
	if err != nil {
		t.Fatal(err)
	}
	if rs.StatusCode() != want {
		t.Fatalf("GET %s: status %d, want %d: %s", path, rs.StatusCode(), want, rs.Body())
	}
	return rs
}

func headerTime(t *testing.T, rs *fasthttp.Response, name string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, string(rs.Header.Peek(name)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// probeExport writes body to a file and checks ffmpeg decodes all of it;
// it returns the duration ffprobe reads and the video frame count.
func probeExport(t *testing.T, body []byte, name string) (float64, int) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	pr := testkit.FFprobe(t, p)
	if pr.Errors != "" {
		t.Fatalf("ffprobe %s: %s", name, pr.Errors)
	}
	if errs := testkit.DecodeErrors(t, p); errs != "" {
		t.Fatalf("decoding %s: %s", name, errs)
	}
	return pr.Duration(), testkit.VideoPackets(t, p)
}

// TestExportAcrossSegmentsAndMidnight exports 30 s over four segments and
// a day boundary in both forms: ffprobe reads the whole file, its length
// is the request's within one GOP, ranges are the same bytes as the full
// body, and the ETag holds until the recordings change.
func TestExportAcrossSegmentsAndMidnight(t *testing.T) {
	e := newExportEnv(t)
	recs, err := db.StreamRecordings(context.Background(), e.db, "cam")
	if err != nil {
		t.Fatal(err)
	}
	days := map[string]bool{}
	for _, r := range recs {
		days[filepath.Dir(r.FilePath)] = true
	}
	if len(recs) != 5 || len(days) != 2 {
		t.Fatalf("want 5 recordings in 2 day directories, have %d in %v", len(recs), days)
	}
	for _, format := range []string{"fmp4", "mp4"} {
		t.Run(format, func(t *testing.T) {
			url := e.exportURL(-21.5, 8.5, format)
			full := e.mustGet(t, fasthttp.StatusOK, url)
			body := full.Body()
			if full.Header.ContentLength() != len(body) {
				t.Fatalf("Content-Length %d, body %d bytes", full.Header.ContentLength(), len(body))
			}
			start, end := headerTime(t, full, "X-Export-Start"), headerTime(t, full, "X-Export-End")
			if start.After(e.at(-21.5)) || e.at(-21.5).Sub(start) > exportGOP {
				t.Errorf("export starts at %s, want the keyframe within one GOP before %s", start, e.at(-21.5))
			}
			if g := full.Header.Peek("X-Export-Gaps"); len(g) > 0 {
				t.Errorf("continuous recording reported gaps %s", g)
			}
			dur, frames := probeExport(t, body, "export."+format)
			want := 30.0
			if math.Abs(dur-want) > exportGOP.Seconds() {
				t.Errorf("ffprobe duration %.3f s, want %.1f ± one GOP", dur, want)
			}
			if math.Abs(dur-end.Sub(start).Seconds()) > 0.1 {
				t.Errorf("ffprobe duration %.3f s, headers say %s", dur, end.Sub(start))
			}
			if math.Abs(float64(frames)-dur*25) > 2 {
				t.Errorf("%d video frames in %.3f s at 25 fps", frames, dur)
			}
			checkRanges(t, e, url, body, string(full.Header.Peek("ETag")))
		})
	}
	// A recording inside the range going away changes the ETag.
	url := e.exportURL(-21.5, 8.5, "fmp4")
	before := string(e.mustGet(t, fasthttp.StatusOK, url).Header.Peek("ETag"))
	if err := db.DeleteRecording(context.Background(), e.db, recs[3].ID); err != nil {
		t.Fatal(err)
	}
	after := e.mustGet(t, fasthttp.StatusOK, url)
	if string(after.Header.Peek("ETag")) == before {
		t.Errorf("ETag %s unchanged after a recording in the range was deleted", before)
	}
}

// checkRanges compares ranges of url with the same bytes of body and
// checks the ETag validators.
func checkRanges(t *testing.T, e *exportEnv, url string, body []byte, etag string) {
	t.Helper()
	n := len(body)
	for _, r := range [][2]int{{0, 9}, {5, 3000}, {n/3 - 7, n/3 + 100_000}, {n / 2, n - 1}, {n - 1, n - 1}} {
		rs := e.mustGet(t, fasthttp.StatusPartialContent, url, "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		if got, want := rs.Body(), body[r[0]:min(r[1], n-1)+1]; string(got) != string(want) {
			t.Fatalf("range %v: %d bytes differ from the full body's %d", r, len(got), len(want))
		}
		if g := string(rs.Header.Peek("ETag")); g != etag {
			t.Fatalf("range %v: ETag %s, full body %s", r, g, etag)
		}
	}
	rs := e.mustGet(t, fasthttp.StatusPartialContent, url, "Range", "bytes=-100")
	if string(rs.Body()) != string(body[n-100:]) {
		t.Fatal("suffix range differs")
	}
	e.mustGet(t, fasthttp.StatusNotModified, url, "If-None-Match", etag)
	e.mustGet(t, fasthttp.StatusRequestedRangeNotSatisfiable, url, "Range", fmt.Sprintf("bytes=%d-", n))
	if again := e.mustGet(t, fasthttp.StatusOK, url); string(again.Header.Peek("ETag")) != etag {
		t.Fatalf("ETag changed between two requests: %s then %s", etag, again.Header.Peek("ETag"))
	}
}

// TestExportMarksGaps exports over the hole between the two spans: the
// gap is listed and kept on the file's clock (the file is as long as the
// wall time it covers), in both forms.
func TestExportMarksGaps(t *testing.T) {
	e := newExportEnv(t)
	for _, format := range []string{"fmp4", "mp4"} {
		rs := e.mustGet(t, fasthttp.StatusOK, e.exportURL(10, 30, format))
		gaps := string(rs.Header.Peek("X-Export-Gaps"))
		from, to, ok := strings.Cut(gaps, "/")
		if !ok || strings.Contains(gaps, ",") {
			t.Fatalf("%s: X-Export-Gaps %q, want one gap", format, gaps)
		}
		gs, err1 := time.Parse(time.RFC3339Nano, from)
		ge, err2 := time.Parse(time.RFC3339Nano, to)
		if err1 != nil || err2 != nil || gs.Sub(e.at(15)).Abs() > 100*time.Millisecond || ge.Sub(e.at(25)).Abs() > 100*time.Millisecond {
			t.Errorf("%s: gap %q, want about %s/%s", format, gaps, e.at(15).UTC(), e.at(25).UTC())
		}
		dur, _ := probeExport(t, rs.Body(), "gap."+format)
		if math.Abs(dur-20) > exportGOP.Seconds() {
			t.Errorf("%s: duration %.3f s over a 10 s gap, want the 20 s of wall time", format, dur)
		}
	}
}

// TestExportBadRequests: every wrong request gets a clear 4xx, never 500.
func TestExportBadRequests(t *testing.T) {
	e := newExportEnv(t)
	from, to := fmt.Sprint(e.at(-20).Unix()), fmt.Sprint(e.at(-10).Unix())
	for _, c := range []struct {
		path string
		want int
	}{
		{"/api/export?start=" + from + "&end=" + to, fasthttp.StatusBadRequest},
		{"/api/export?stream=cam&start=yesterday&end=" + to, fasthttp.StatusBadRequest},
		{"/api/export?stream=cam&start=" + from, fasthttp.StatusBadRequest},
		{"/api/export?stream=cam&start=" + to + "&end=" + from, fasthttp.StatusBadRequest},
		{"/api/export?stream=cam&start=" + from + "&end=" + to + "&format=avi", fasthttp.StatusBadRequest},
		{"/api/export?stream=nope&start=" + from + "&end=" + to, fasthttp.StatusNotFound},
		{"/api/export?stream=cam&start=" + from + "&end=" + fmt.Sprint(e.at(-20).Unix()+400*86400), fasthttp.StatusBadRequest},
		{e.exportURL(17, 23, "fmp4"), fasthttp.StatusNotFound}, // inside the hole
		{e.exportURL(-3600, -1800, "mp4"), fasthttp.StatusNotFound},
		{"/api/export?stream=cam&start=" + from + "&end=" + to + "&format=mp4", fasthttp.StatusOK},
	} {
		rs := e.mustGet(t, c.want, c.path)
		if c.want != fasthttp.StatusOK && !strings.Contains(string(rs.Body()), `"error"`) {
			t.Errorf("%s: body %s has no error", c.path, rs.Body())
		}
	}
	rs, err := e.get(e.exportURL(-20, -10, "fmp4"), "Authorization", "")
	if err != nil || rs.StatusCode() != fasthttp.StatusUnauthorized {
		t.Errorf("without credentials: %v %v, want 401", rs, err)
	}

	// The file of a recording in the range is gone: 404, both forms.
	recs, err := db.StreamRecordings(context.Background(), e.db, "cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(recs[1].FilePath); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"fmp4", "mp4"} {
		e.mustGet(t, fasthttp.StatusNotFound, e.exportURL(-20, -10, format))
	}
}

// TestExportConcurrentRanges: 50 concurrent range requests on one export
// all get the right bytes, memory stays bounded and no file stays open.
func TestExportConcurrentRanges(t *testing.T) {
	e := newExportEnv(t)
	url := e.exportURL(-25, 15, "fmp4")
	mp4URL := e.exportURL(-25, 15, "mp4")
	bodies := [2][]byte{e.mustGet(t, fasthttp.StatusOK, url).Body(), e.mustGet(t, fasthttp.StatusOK, mp4URL).Body()}
	fdsBefore, filesBefore := openFDs(t, e.cfg.Storage.Path)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path, body := url, bodies[i%2]
			if i%2 == 1 {
				path = mp4URL
			}
			n := len(body)
			a := (i * 7919 * 131) % n
			b := min(a+n/5, n-1)
			rs, err := e.get(path, "Range", fmt.Sprintf("bytes=%d-%d", a, b))
			switch {
			case err != nil:
				errs <- err
			case rs.StatusCode() != fasthttp.StatusPartialContent:
				errs <- fmt.Errorf("range %d-%d: status %d", a, b, rs.StatusCode())
			case string(rs.Body()) != string(body[a:b+1]):
				errs <- fmt.Errorf("range %d-%d: bytes differ", a, b)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.client.CloseIdleConnections()
	fdsAfter, filesAfter := openFDs(t, e.cfg.Storage.Path)
	t.Logf("50 concurrent ranges of a %d/%d-byte fmp4/mp4 export: heap in use %d KiB before, peak %d KiB; "+
		"fds %d before, %d after (recording files %d, %d)",
		len(bodies[0]), len(bodies[1]), base>>10, peak.Load()>>10, fdsBefore, fdsAfter, filesBefore, filesAfter)
	if filesAfter > filesBefore {
		t.Errorf("recording files open went from %d to %d", filesBefore, filesAfter)
	}
	if grow := int64(peak.Load()) - int64(base); grow > 64<<20 {
		t.Errorf("heap grew by %d MiB serving 50 ranges", grow>>20)
	}
}

// openFDs counts the process's open descriptors and those on files
// under dir. The database pool may open connections under load; a file
// of dir left open is a leak.
func openFDs(t *testing.T, dir string) (all, under int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, ent := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", ent.Name())); err == nil && strings.HasPrefix(target, dir) {
			under++
		}
	}
	return len(ents), under
}
