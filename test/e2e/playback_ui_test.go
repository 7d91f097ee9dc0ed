package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"lightnvr/pkg/testkit"
)

type playbackRecording struct {
	ID            int64    `json:"id"`
	TriggerType   string   `json:"trigger_type"`
	CaptureMethod string   `json:"capture_method"`
	IsComplete    bool     `json:"is_complete"`
	SizeBytes     int64    `json:"size_bytes"`
	Tags          []string `json:"tags"`
}

// recordings lists the stream's recordings, newest first.
func (u *ui) recordings(stream string) []playbackRecording {
	u.t.Helper()
	var r struct {
		Recordings []playbackRecording `json:"recordings"`
	}
	u.apiJSON("GET", "/api/recordings?limit=100&sort=start_time&order=desc&stream="+stream, nil, &r)
	return r.Recordings
}

// completeRecordings counts the stream's finished recordings.
func (u *ui) completeRecordings(stream string) int {
	n := 0
	for _, r := range u.recordings(stream) {
		if r.IsComplete {
			n++
		}
	}
	return n
}

// drag presses the mouse at x0 and releases it at x1 on the row y, moving in
// steps as a hand does.
func drag(x0, x1, y float64) chromedp.Action[chromedp.Void] {
	acts := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x0, y), chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1))}
	for i := 1; i <= 5; i++ {
		acts = append(acts, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x0+(x1-x0)*float64(i)/5, y, chromedp.ButtonLeft))
	}
	acts = append(acts, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	return chromedp.Steps(acts...)
}

// The playback UI against the real daemon and a real camera: a range dragged
// on the timeline plays (and seeks) as one fragmented export and downloads as
// one MP4 that ffprobe reads; recordings show thumbnails and take tags; the
// live page starts and stops a manual recording.
func TestPlaybackUI(t *testing.T) {
	cam := testkit.StartCamera(t)
	d := testkit.NewDaemon(t, adminPassword)
	d.Start()
	b := testkit.StartChromium(t, 1280, 900)
	u := newUI(t, d.Base, b)
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")

	u.apiJSON("POST", "/api/streams", map[string]any{"name": "cam1", "url": cam.URL(), "record": true,
		"segment_duration": 5, "record_audio": false}, nil)
	testkit.WaitFor(t, 90*time.Second, "three finished recordings of cam1", func() bool { return u.completeRecordings("cam1") >= 3 })

	t.Run("timeline range plays and exports", func(t *testing.T) {
		u.t = t
		u.open("#/timeline")
		u.do("segments drawn", 20*time.Second, chromedp.WaitVisible(`[data-testid=timeline-segment]`))
		type box struct{ X, Y, W float64 }
		r, err := testkit.Eval[box](u.p, 5*time.Second, `(() => { const s = [...document.querySelectorAll('[data-testid=timeline-segment]')];
			const a = s[0].getBoundingClientRect(), z = s[s.length - 1].getBoundingClientRect();
			return {X: a.left, Y: a.top + a.height / 2, W: z.right - a.left}; })()`)
		if err != nil {
			t.Fatalf("segments on the bar: %v", err)
		}
		// A pixel of the day's bar is over a minute: the drag runs from
		// before the first recording to after the last.
		u.do("drag a range", 10*time.Second, drag(r.X-8, r.X+r.W+8, r.Y), chromedp.WaitVisible(`[data-testid=timeline-range]`))
		u.do("play the range", 10*time.Second, chromedp.Click(`[data-testid=range-play]`), chromedp.WaitVisible(`[data-testid=range-video]`))
		u.waitJS("the range to play", `(() => { const v = document.querySelector('[data-testid=range-video]');
			return v.readyState >= 2 && v.videoWidth > 0 && v.duration > 6 && v.currentTime > 0; })()`, 30*time.Second)
		start, _ := testkit.Eval[string](u.p, 5*time.Second, `document.querySelector('[data-testid=range-coverage]').dataset.start`)
		if _, err := time.Parse(time.RFC3339, start); err != nil {
			t.Errorf("the page shows no export start (X-Export-Start): %q", start)
		}
		seek := `new Promise(res => { const v = document.querySelector('[data-testid=range-video]'); const to = v.duration * 0.6;
			v.addEventListener('seeked', () => res({to, at: v.currentTime, err: v.error ? v.error.message : ''}), {once: true}); v.currentTime = to; })`
		type seekResult struct {
			To, At float64
			Err    string
		}
		sr, err := testkit.Eval[seekResult](u.p, 20*time.Second, seek)
		if err != nil || sr.Err != "" || sr.At < sr.To-1 {
			t.Fatalf("seek to %.1fs landed at %.1fs (%v %s)", sr.To, sr.At, err, sr.Err)
		}
		u.waitJS("playback to go on after the seek", fmt.Sprintf(`document.querySelector('[data-testid=range-video]').currentTime > %f`, sr.At+0.5), 20*time.Second)
		u.p.Screenshot(t, "01-timeline-range")

		url, _ := testkit.Eval[string](u.p, 5*time.Second, `document.querySelector('[data-testid=range-export]').dataset.url`)
		if !strings.Contains(url, "format=mp4") {
			t.Fatalf("export button points at %q", url)
		}
		u.do("export", 10*time.Second, chromedp.Click(`[data-testid=range-export]`))
		u.waitJS("the export to download", `document.querySelector('[data-testid=timeline-range]').dataset.phase === 'done'`, 60*time.Second)
		probeExport(t, d.Base+url)
		u.checkClean("timeline range")
	})

	t.Run("thumbnails and tags", func(t *testing.T) {
		u.t = t
		u.open("#/recordings")
		u.waitJS("a thumbnail", `[...document.querySelectorAll('[data-testid=rec-thumb]')].some(i => i.complete && i.naturalWidth > 0)`, 60*time.Second)
		row := `tr[data-recording][data-complete="true"]`
		id, err := testkit.Eval[int64](u.p, 5*time.Second, `Number(document.querySelector('`+row+`').dataset.recording)`)
		if err != nil || id == 0 {
			t.Fatalf("no finished recording listed: %v", err)
		}
		in := fmt.Sprintf(`tr[data-recording="%d"] [data-testid=rec-tag-input]`, id)
		u.do("add a tag", 10*time.Second, chromedp.Click(in), chromedp.SendKeys(in, "evidence"+kb.Enter))
		tagsOf := func() []string {
			var r struct {
				Tags []string `json:"tags"`
			}
			u.apiJSON("GET", fmt.Sprintf("/api/recordings/%d/tags", id), nil, &r)
			return r.Tags
		}
		testkit.WaitFor(t, 10*time.Second, "the tag in the API", func() bool { return strings.Join(tagsOf(), ",") == "evidence" })
		u.waitJS("the chip", fmt.Sprintf(`!!document.querySelector('tr[data-recording="%d"] .chip[data-tag=evidence]')`, id), 10*time.Second)
		u.waitJS("the tag in the filter", `[...document.querySelectorAll('#rf-tag option')].some(o => o.value === 'evidence')`, 10*time.Second)
		u.do("filter by tag", 5*time.Second, u.choose("#rf-tag", "evidence"))
		u.waitJS("only the tagged recording", fmt.Sprintf(`(() => { const rows = [...document.querySelectorAll('tr[data-recording]')];
			return rows.length === 1 && rows[0].dataset.recording === '%d'; })()`, id), 15*time.Second)
		u.p.Screenshot(t, "02-recordings-tags")
		u.do("remove the tag", 10*time.Second, chromedp.Click(fmt.Sprintf(`tr[data-recording="%d"] .chip[data-tag=evidence] button`, id)))
		testkit.WaitFor(t, 10*time.Second, "the tag gone from the API", func() bool { return len(tagsOf()) == 0 })
		u.checkClean("recordings")
	})

	t.Run("manual recording from the live page", func(t *testing.T) {
		u.t = t
		u.apiJSON("POST", "/api/streams", map[string]any{"name": "cam2", "url": cam.URL(), "record": false, "record_audio": false}, nil)
		u.open("#/live")
		u.do("four cells", 20*time.Second, u.choose("#livemode", "auto"), chromedp.Click(`button[title="4 cameras"]`))
		cont := `.cell[data-stream=cam1] [data-testid=live-record]`
		u.waitJS("cam1's button to say it records continuously", `(() => { const b = document.querySelector('`+cont+`');
			return !!b && b.disabled && b.dataset.reason === 'continuous_recording'; })()`, 20*time.Second)
		rec := `.cell[data-stream=cam2] [data-testid=live-record]`
		u.waitJS("cam2's record button", `(() => { const b = document.querySelector('`+rec+`'); return !!b && !b.disabled; })()`, 20*time.Second)
		u.do("start recording", 10*time.Second, chromedp.Click(rec))
		u.waitJS("the recording to run", `(() => { const b = document.querySelector('`+rec+`');
			return b.dataset.manual === 'true' && b.dataset.state === 'recording'; })()`, 30*time.Second)
		u.p.Screenshot(t, "03-live-recording")
		testkit.WaitFor(t, 30*time.Second, "cam2's manual recording to be listed", func() bool { return len(u.recordings("cam2")) > 0 })
		u.do("stop recording", 10*time.Second, chromedp.Click(rec))
		u.waitJS("the button to show idle", `document.querySelector('`+rec+`').dataset.manual === 'false'`, 20*time.Second)
		u.waitRecording("cam2", "manual", 30*time.Second)
		// cam2 records nothing else: its newest recording is the manual one.
		if got := u.recordings("cam2")[0]; got.CaptureMethod != "manual" || got.SizeBytes == 0 {
			t.Errorf("the manual recording is %+v, want capture_method manual and some media", got)
		}
		u.checkClean("live record")
	})

	t.Run("live over HLS", func(t *testing.T) {
		u.t = t
		u.open("#/live")
		u.do("choose HLS", 5*time.Second, u.choose("#livemode", "hls"))
		u.waitJS("cam1 live over HLS", `(() => { const c = document.querySelector('.cell[data-stream=cam1]');
			return !!c && c.querySelector('[data-testid=live-badge]').textContent.includes('HLS') && c.querySelector('video').currentTime > 0; })()`, 40*time.Second)
		u.p.Screenshot(t, "04-live-hls")
		u.do("back to auto", 5*time.Second, u.choose("#livemode", "auto"))
		u.checkClean("live hls")
	})
}

// probeExport downloads the export as a client other than the browser does
// and has ffprobe read it.
func probeExport(t *testing.T, url string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", adminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/mp4" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		t.Fatalf("export answered %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	f, err := os.CreateTemp(t.TempDir(), "export-*.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		t.Fatalf("export body: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	p := testkit.FFprobe(t, f.Name())
	if p.Errors != "" || p.Duration() < 6 || len(p.Streams) == 0 || p.Streams[0].CodecType != "video" {
		j, _ := json.Marshal(p)
		t.Fatalf("ffprobe of the export: %s (%s)", j, p.Errors)
	}
	t.Logf("export: %.1fs, %s, X-Export-Start %s", p.Duration(), p.Streams[0].CodecName, resp.Header.Get("X-Export-Start"))
}
