package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lightnvr/pkg/testkit"
)

// apiCall makes a request from the page, with its session, and returns the
// status and body.
func (u *ui) apiCall(method, path string, body any) (int, string) {
	u.t.Helper()
	b := "undefined"
	if body != nil {
		j, _ := json.Marshal(body)
		b = fmt.Sprintf("%q", j)
	}
	type reply struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	js := fmt.Sprintf(`fetch(%q, {method: %q, credentials: 'same-origin', body: %s,
		headers: {'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest'}})
		.then(async r => ({status: r.status, body: await r.text()}))`, path, method, b)
	r, err := testkit.Eval[reply](u.p, 15*time.Second, js)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r.Status, r.Body
}

// apiJSON makes a request that must succeed and decodes its reply into out.
func (u *ui) apiJSON(method, path string, body, out any) {
	u.t.Helper()
	st, b := u.apiCall(method, path, body)
	if st/100 != 2 {
		u.t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			u.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// fill replaces an input's text and fires input, as typing does.
func (u *ui) fill(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); e.value = %q;
		e.dispatchEvent(new Event('input', {bubbles: true})); })()`, sel, text))
}

// choose picks a select's option and fires change, as a user's pick does.
func (u *ui) choose(sel, value string) chromedp.Action[chromedp.Void] {
	// The page may still be rendering the control: wait for it (the
	// action's deadline bounds the wait).
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(async () => { let s;
		while (!(s = document.querySelector(%q))) await new Promise(r => setTimeout(r, 50));
		s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value), chromedp.EvalAwaitPromise)
}

// waitJS waits until the expression is true.
func (u *ui) waitJS(what, expr string, timeout time.Duration) {
	u.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := testkit.Eval[bool](u.p, 5*time.Second, expr)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			u.p.Screenshot(u.t, "failed-"+strings.ReplaceAll(what, " ", "-"))
			u.t.Fatalf("timed out after %s waiting for %s (%v)", timeout, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type uiRecording struct {
	ID          int64  `json:"id"`
	TriggerType string `json:"trigger_type"`
	IsComplete  bool   `json:"is_complete"`
}

// waitRecording waits until the stream has a complete recording of the trigger type.
func (u *ui) waitRecording(stream, trigger string, timeout time.Duration) {
	u.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var r struct {
			Recordings []uiRecording `json:"recordings"`
		}
		u.apiJSON("GET", "/api/recordings?limit=100&stream="+stream, nil, &r)
		for _, rec := range r.Recordings {
			if rec.TriggerType == trigger && rec.IsComplete {
				return
			}
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("no complete %s recording of %s within %s: %+v", trigger, stream, timeout, r.Recordings)
		}
		time.Sleep(time.Second)
	}
}

// The detection UI against the real daemon and a real camera: a stream is
// switched to detection-only mode and given a zone in the stream editor, a
// trigger shows in the live event feed, and its clip is marked in the
// recordings list, where the label filter finds it.
func TestDetectionUI(t *testing.T) {
	cam := testkit.StartMotionCamera(t, testkit.MotionScene{}) // a still picture: no motion of its own
	d := testkit.NewDaemon(t, adminPassword)
	proc := d.Start()
	b := testkit.StartChromium(t, 1280, 900)
	u := newUI(t, d.Base, b)
	// A snapshot is stored about a second after its event: the feed's first
	// try may come too early, and the page tries again.
	u.p.IgnoreErrors(`status of 404 .*/api/snapshots/`)
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")

	// Continuous first: its segments are what the clip must be told apart from.
	u.apiJSON("POST", "/api/streams", map[string]any{"name": "door", "url": cam.URL(), "record": true,
		"segment_duration": 5, "record_audio": false}, nil)
	u.waitRecording("door", "scheduled", 60*time.Second)

	t.Run("detection settings", func(t *testing.T) {
		u.t = t
		u.open("#/streams")
		u.do("open the editor", 15*time.Second, chromedp.Click(`tr[data-stream="door"] button[aria-label="Edit door"]`), chromedp.WaitVisible("#stream-mode"))
		u.do("set detection-only mode", 10*time.Second,
			u.choose("#stream-mode", "detection"),
			u.fill("#stream-pre", "2"), u.fill("#stream-post", "3"),
			u.choose("#stream-detector", "motion"),
			u.fill("#stream-threshold", "60"), u.fill("#stream-interval", "5"),
			u.fill("#stream-motion-sens", "70"), u.fill("#stream-motion-min", "2"),
			u.choose("#stream-objfilter", "include"))
		u.do("object labels", 10*time.Second, u.fill("#stream-objlist", "person,car"))
		// Clips only in the marked hours: a day three days off is taken out, so
		// that the trigger below still falls in allowed hours.
		off, err := testkit.Eval[int](u.p, 5*time.Second, `(new Date().getDay() + 3) % 7`)
		if err != nil {
			t.Fatal(err)
		}
		u.do("schedule clips", 10*time.Second, chromedp.Click("#stream-det-sched"), chromedp.WaitVisible(`[data-testid=stream-det-sched-grid]`),
			chromedp.Click(fmt.Sprintf(`[data-testid=stream-det-sched-grid] tr[data-day="%d"] th button`, off)))
		u.p.Screenshot(t, "01-detection-settings")
		u.do("save", 10*time.Second, chromedp.Click(`[data-testid=stream-save]`))
		u.waitJS("the editor to close", `!document.querySelector('.modal')`, 15*time.Second)

		var s map[string]any
		u.apiJSON("GET", "/api/streams/door", nil, &s)
		want := map[string]any{"record": false, "detection_based_recording": true, "pre_detection_buffer": 2.0,
			"post_detection_buffer": 3.0, "detection_model": "motion", "detection_threshold": 60.0, "detection_interval": 5.0,
			"motion_sensitivity": 70.0, "motion_min_duration": 2.0, "detection_object_filter": "include",
			"detection_object_filter_list": "person,car"}
		for k, v := range want {
			if s[k] != v {
				t.Errorf("stored %s = %v, want %v", k, s[k], v)
			}
		}
		if s["detection_record_on_schedule"] != true {
			t.Errorf("stored detection_record_on_schedule = %v, want true", s["detection_record_on_schedule"])
		}
		sched, _ := s["detection_recording_schedule"].([]any)
		if len(sched) != 168 {
			t.Fatalf("stored detection_recording_schedule has %d hours, want 168", len(sched))
		}
		for i, v := range sched {
			if want := i/24 != off; v != want {
				t.Fatalf("stored detection_recording_schedule[%d] (day %d, %d:00) = %v, want %v", i, i/24, i%24, v, want)
			}
		}
		u.waitJS("the list to show detection mode", `!!document.querySelector('tr[data-stream="door"] td[data-mode="detection"]')`, 15*time.Second)
		// The switch ends continuous recording: the last segment closes (before
		// any trigger below, so that no segment spans a detection).
		testkit.WaitFor(t, 30*time.Second, "the last continuous segment to close", func() bool {
			var r struct {
				Recordings []uiRecording `json:"recordings"`
			}
			u.apiJSON("GET", "/api/recordings?limit=100&stream=door", nil, &r)
			for _, rec := range r.Recordings {
				if !rec.IsComplete {
					return false
				}
			}
			return true
		})
		u.checkClean("stream editor")
	})

	t.Run("zone editor", func(t *testing.T) {
		u.t = t
		u.open("#/streams")
		u.do("open the zone editor", 15*time.Second, chromedp.Click(`tr[data-stream="door"] button[aria-label="Detection zones of door"]`),
			chromedp.WaitVisible(`[data-testid=zone-add]`))
		u.waitJS("the camera's picture", `(document.querySelector('[data-testid=zone-picture]')||{}).naturalWidth > 0`, 20*time.Second)
		u.do("add a zone", 10*time.Second, chromedp.Click(`[data-testid=zone-add]`), chromedp.WaitVisible("#zone-name-0"))
		u.do("set its labels", 10*time.Second, u.fill("#zone-classes-0", "person"), u.fill("#zone-conf-0", "40"))
		type rect struct{ X, Y, W, H float64 }
		r, err := testkit.Eval[rect](u.p, 5*time.Second, `(() => { const r = document.querySelector('[data-testid=zone-draw]').getBoundingClientRect();
			return {X: r.left, Y: r.top, W: r.width, H: r.height}; })()`)
		if err != nil || r.W == 0 {
			t.Fatalf("no drawing area: %+v %v", r, err)
		}
		corners := [][2]float64{{0.1, 0.2}, {0.6, 0.2}, {0.6, 0.8}, {0.1, 0.8}}
		for _, c := range corners {
			u.do("click a corner", 5*time.Second, chromedp.MouseClickXY(r.X+c[0]*r.W, r.Y+c[1]*r.H))
		}
		u.p.Screenshot(t, "02-zone-editor")
		// A save the server refuses (a name over 128 characters) keeps the
		// editor open and says why.
		u.p.IgnoreErrors(`status of 400 .*/api/streams/door/zones`)
		u.do("a name too long", 10*time.Second, u.fill("#zone-name-0", strings.Repeat("n", 129)), chromedp.Click(`[data-testid=zones-save]`))
		u.waitJS("the refusal", `[...document.querySelectorAll('.modal .banner.error')].some(b => b.textContent.includes('longer than 128'))`, 10*time.Second)
		u.p.Screenshot(t, "02-zone-refused")
		u.do("save zones", 10*time.Second, u.fill("#zone-name-0", "Door"), chromedp.Click(`[data-testid=zones-save]`))
		u.waitJS("the editor to close", `!document.querySelector('.modal')`, 10*time.Second)

		var z struct {
			Zones []struct {
				Name          string  `json:"name"`
				Enabled       bool    `json:"enabled"`
				FilterClasses string  `json:"filter_classes"`
				MinConfidence float64 `json:"min_confidence"`
				Polygon       []struct{ X, Y float64 }
			} `json:"zones"`
		}
		u.apiJSON("GET", "/api/streams/door/zones", nil, &z)
		if len(z.Zones) != 1 {
			t.Fatalf("%d zones stored, want 1: %+v", len(z.Zones), z.Zones)
		}
		got := z.Zones[0]
		if got.Name != "Door" || !got.Enabled || got.FilterClasses != "person" || math.Abs(got.MinConfidence-0.4) > 1e-9 || len(got.Polygon) != len(corners) {
			t.Fatalf("stored zone %+v, want Door, enabled, person, 0.4 and %d points", got, len(corners))
		}
		for i, c := range corners {
			if p := got.Polygon[i]; math.Abs(p.X-c[0]) > 0.01 || math.Abs(p.Y-c[1]) > 0.01 {
				t.Errorf("point %d stored at (%.4f, %.4f), clicked at (%.2f, %.2f)", i, p.X, p.Y, c[0], c[1])
			}
		}
		u.checkClean("zone editor")
	})

	t.Run("live event feed", func(t *testing.T) {
		u.t = t
		u.open("#/events")
		u.waitJS("the feed to connect", `!!document.querySelector('[data-testid=feed-state][data-state=open]')`, 15*time.Second)
		st, body := u.apiCall("POST", "/api/motion/trigger", map[string]any{"stream": "door", "action": "pulse", "duration_ms": 2000, "label": "person"})
		if st != http.StatusAccepted || !strings.Contains(body, `"recording_triggered":true`) {
			t.Fatalf("trigger: %d %s", st, body)
		}
		u.waitJS("the event in the feed", `!!document.querySelector('[data-testid=event-item][data-stream=door][data-labels=person]')`, 15*time.Second)
		u.waitJS("the event's snapshot", `(document.querySelector('[data-testid=event-item][data-stream=door] [data-testid=event-snapshot]')||{}).naturalWidth > 0`, 20*time.Second)
		if n, _ := testkit.Eval[int](u.p, 5*time.Second, `document.querySelectorAll('[data-testid=event-item]').length`); n != 1 {
			t.Errorf("one held trigger shows as %d feed entries, want 1", n)
		}
		u.p.Screenshot(t, "03-event-feed")
		u.checkClean("events")
	})

	t.Run("detection clip in recordings", func(t *testing.T) {
		u.t = t
		u.waitRecording("door", "detection", 60*time.Second)
		u.open("#/recordings")
		clip := `tr[data-trigger=detection] [data-testid=rec-labels]`
		u.waitJS("the clip with its label", `[...document.querySelectorAll('`+clip+`')].some(e => e.textContent.includes('person'))`, 15*time.Second)
		if n, _ := testkit.Eval[int](u.p, 5*time.Second, `document.querySelectorAll('tr[data-trigger=scheduled]').length`); n == 0 {
			t.Fatal("no continuous segment listed: the label filter below would prove nothing")
		}
		u.p.Screenshot(t, "04-recordings-markers")
		u.waitJS("the label in the filter", `[...document.querySelectorAll('#rf-label option')].some(o => o.value === 'person')`, 10*time.Second)
		u.do("filter by label", 5*time.Second, u.choose("#rf-label", "person"))
		filtered := `!document.querySelector('tr[data-trigger=scheduled]') && !!document.querySelector('` + clip + `')`
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if ok, err := testkit.Eval[bool](u.p, 5*time.Second, filtered); err == nil && ok {
				break
			}
			if time.Now().After(deadline) {
				rows, _ := testkit.Eval[string](u.p, 5*time.Second, `[...document.querySelectorAll('tr[data-recording]')].map(r => r.dataset.trigger + ': ' + r.textContent).join('\n')`)
				_, api := u.apiCall("GET", "/api/recordings?stream=door&detection_label=person", nil)
				u.p.Screenshot(t, "failed-label-filter")
				t.Fatalf("the person filter lists:\n%s\nthe API answers: %s", rows, api)
			}
		}
		u.p.Screenshot(t, "05-recordings-label-filter")
		u.checkClean("recordings")
	})

	t.Run("feed reconnects after a restart", func(t *testing.T) {
		u.t = t
		u.open("#/events")
		u.waitJS("the feed to connect", `!!document.querySelector('[data-testid=feed-state][data-state=open]')`, 15*time.Second)
		u.do("clear the feed", 5*time.Second, chromedp.Click(`[data-testid=events-clear]`))
		if err := proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := proc.Wait(t, 30*time.Second); err != nil {
			t.Fatalf("lightnvr stop: %v", err)
		}
		// The browser's own retries fail while the server is away.
		u.p.IgnoreErrors(`/api/events`)
		u.waitJS("the feed to notice", `!document.querySelector('[data-testid=feed-state][data-state=open]')`, 15*time.Second)
		proc = d.Start()
		u.waitJS("the feed to reconnect", `!!document.querySelector('[data-testid=feed-state][data-state=open]')`, 30*time.Second)
		st, body := u.apiCall("POST", "/api/motion/trigger", map[string]any{"stream": "door", "action": "pulse", "duration_ms": 1000, "label": "car"})
		if st != http.StatusAccepted {
			t.Fatalf("trigger: %d %s", st, body)
		}
		u.waitJS("the event after the restart", `!!document.querySelector('[data-testid=event-item][data-stream=door][data-labels=car]')`, 15*time.Second)
		u.p.Screenshot(t, "06-feed-after-restart")
		u.checkClean("events after restart")
	})
}
