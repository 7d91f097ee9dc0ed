package api

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

// timelineEnv is a server whose stream "cam" has two real recorded
// stretches of three 2-second segments each, the first across midnight
// (23:59:57 to 00:00:03 UTC), the second a minute later, and detections in
// both.
type timelineEnv struct {
	*recEnv
	wall0 time.Time
	rows  []*db.Recording
}

func newTimelineEnv(t *testing.T) *timelineEnv {
	t.Helper()
	e := &timelineEnv{recEnv: newRecEnv(t), wall0: time.Date(2026, 3, 1, 23, 59, 57, 0, time.UTC)}
	ctx := context.Background()
	if err := db.InsertStream(ctx, e.db, db.NewStream("cam", "rtsp://cam/cam")); err != nil {
		t.Fatal(err)
	}
	smp, err := loadgen.LoadSample(testkit.Sample(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 6}))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{e.wall0, e.wall0.Add(time.Minute)} {
		recordSample(t, e.db, e.cfg.Storage.Path, smp, at)
	}
	err = db.InsertDetections(ctx, e.db, []db.Detection{
		{StreamName: "cam", Timestamp: e.unix(1), EventEndTime: e.unix(1), Label: "person", Confidence: 0.9},
		{StreamName: "cam", Timestamp: e.unix(3), EventEndTime: e.unix(4), Label: "person", Confidence: 0.9},
		{StreamName: "cam", Timestamp: e.unix(62), EventEndTime: e.unix(62), Label: "car", Confidence: 0.8},
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.rows, err = db.StreamRecordings(ctx, e.db, "cam"); err != nil {
		t.Fatal(err)
	}
	if len(e.rows) != 6 {
		t.Fatalf("recorded %d segments, want 6", len(e.rows))
	}
	return e
}

// unix is the time s seconds after the first recording started.
func (e *timelineEnv) unix(s int) int64 { return e.wall0.Unix() + int64(s) }

// recordSample writes one pass over smp through a real recorder in
// 2-second segments, its first frame at wall.
func recordSample(t *testing.T, d *db.DB, storage string, smp *loadgen.Sample, wall time.Time) {
	t.Helper()
	rec, err := record.New(record.Config{Stream: "cam", StorageDir: storage, DB: d, Logger: quietLog,
		SegmentDuration: 2 * time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := &media.Track{Codec: media.CodecH264, ClockRate: 90000, SPS: smp.SPS, PPS: smp.PPS, Width: 320, Height: 240, FPS: 25}
	desc := &media.Desc{Gen: 1, Video: tr}
	for i, au := range smp.Video {
		payload, err := h264.AVCC(au.AU).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		rec.Write(&media.Unit{Desc: desc, Track: tr, Seq: uint64(i + 1), DTS: au.DTS, PTS: au.PTS,
			Wall: wall.Add(media.TicksToDuration(au.DTS, 90000)), Key: au.Key, Payload: payload})
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

func (e *timelineEnv) get(t *testing.T, path string) map[string]any {
	t.Helper()
	r := e.as("viewer", req{method: "GET", path: path})
	expectStatus(t, r, 200, path)
	return r.json(t)
}

var localTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)

// checkSegment checks one segment has LightNVR's fields and types, and
// that it says what its row and the detections say.
func (e *timelineEnv) checkSegment(t *testing.T, s map[string]any) {
	t.Helper()
	for k, kind := range map[string]string{"id": "number", "stream": "string", "start_time": "string", "end_time": "string",
		"duration": "number", "size": "string", "has_detection": "bool", "start_timestamp": "number", "end_timestamp": "number",
		"local_start_timestamp": "number", "local_end_timestamp": "number"} {
		var ok bool
		switch kind {
		case "number":
			_, ok = s[k].(float64)
		case "string":
			_, ok = s[k].(string)
		case "bool":
			_, ok = s[k].(bool)
		}
		if !ok {
			t.Errorf("segment field %s = %#v, want a %s", k, s[k], kind)
		}
	}
	if v, ok := s["schedule_restricted"]; !ok || (v != nil && v != true && v != false) {
		t.Errorf("schedule_restricted = %#v, want null or a bool", v)
	}
	id := int64(s["id"].(float64))
	var row *db.Recording
	for _, r := range e.rows {
		if r.ID == id {
			row = r
		}
	}
	if row == nil {
		t.Fatalf("segment %d is no recording of cam", id)
	}
	start, end := int64(s["start_timestamp"].(float64)), int64(s["end_timestamp"].(float64))
	if start != row.StartTime || end < row.EndTime || end > row.EndTime+1 || int64(s["duration"].(float64)) != end-start {
		t.Errorf("segment %d spans %d..%d (%v s), row %d..%d", id, start, end, s["duration"], row.StartTime, row.EndTime)
	}
	if s["local_start_timestamp"] != s["start_timestamp"] || s["local_end_timestamp"] != s["end_timestamp"] {
		t.Errorf("local timestamps differ: %v", s)
	}
	if st := s["start_time"].(string); !localTimeRE.MatchString(st) || st != time.Unix(start, 0).Format(time.DateTime) {
		t.Errorf("start_time %q, want %s in server local time", st, time.Unix(start, 0).Format(time.DateTime))
	}
	if s["stream"] != "cam" || s["size"] != humanSize(row.SizeBytes) {
		t.Errorf("stream %v size %v, want cam and %s", s["stream"], s["size"], humanSize(row.SizeBytes))
	}
	det := false
	for _, at := range []int64{e.unix(1), e.unix(3), e.unix(62)} {
		det = det || (at >= row.StartTime && at <= row.EndTime)
	}
	if s["has_detection"] != det {
		t.Errorf("segment %d (%d..%d) has_detection %v, want %v", id, row.StartTime, row.EndTime, s["has_detection"], det)
	}
}

func segmentIDs(t *testing.T, m map[string]any) []int64 {
	t.Helper()
	segs, ok := m["segments"].([]any)
	if !ok {
		t.Fatalf("segments is %T, want an array", m["segments"])
	}
	if n, _ := m["segment_count"].(float64); int(n) != len(segs) {
		t.Errorf("segment_count %v for %d segments", m["segment_count"], len(segs))
	}
	ids := make([]int64, len(segs))
	for i, s := range segs {
		ids[i] = int64(s.(map[string]any)["id"].(float64))
	}
	return ids
}

func (e *timelineEnv) ids(rows ...int) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = e.rows[r].ID
	}
	return out
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestTimelineSegments(t *testing.T) {
	e := newTimelineEnv(t)
	// The page's own query: ISO 8601 with milliseconds.
	m := e.get(t, "/api/timeline/segments?stream=cam&start=2026-03-01T00:00:00.000Z&end=2026-03-02T23:59:59.999Z")
	if got := segmentIDs(t, m); !slices.Equal(got, e.ids(0, 1, 2, 3, 4, 5)) {
		t.Fatalf("segments %v, want every recording in start order %v", got, e.ids(0, 1, 2, 3, 4, 5))
	}
	for _, s := range m["segments"].([]any) {
		e.checkSegment(t, s.(map[string]any))
	}
	if m["stream"] != "cam" || m["start_time"] != time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Local().Format(time.DateTime) {
		t.Errorf("stream %v start_time %v, want cam and the span's start in server local time", m["stream"], m["start_time"])
	}
	wantIv := []any{
		map[string]any{"start_timestamp": float64(e.unix(1)), "end_timestamp": float64(e.unix(4))},
		map[string]any{"start_timestamp": float64(e.unix(62)), "end_timestamp": float64(e.unix(62))},
	}
	if jsonText(m["detection_intervals"]) != jsonText(wantIv) || m["detection_interval_count"] != float64(2) {
		t.Errorf("detection_intervals %s (count %v), want %s", jsonText(m["detection_intervals"]), m["detection_interval_count"], jsonText(wantIv))
	}

	// Unix seconds give the same answer.
	u := e.get(t, "/api/timeline/segments?stream=cam&start="+strconv.FormatInt(e.unix(-3600), 10)+"&end="+strconv.FormatInt(e.unix(3600), 10))
	if jsonText(u["segments"]) != jsonText(m["segments"]) {
		t.Errorf("unix-second query differs:\n%s\n%s", jsonText(u["segments"]), jsonText(m["segments"]))
	}

	// A day is every recording overlapping it: the one across midnight
	// belongs to both days.
	day1 := e.get(t, "/api/timeline/segments?stream=cam&start=2026-03-01&end=2026-03-01")
	if got := segmentIDs(t, day1); !slices.Equal(got, e.ids(0, 1)) {
		t.Errorf("1 March: %v, want %v", got, e.ids(0, 1))
	}
	day2 := e.get(t, "/api/timeline/segments?stream=cam&start=2026-03-02T00:00:00Z&end=2026-03-02T23:59:59Z")
	if got := segmentIDs(t, day2); !slices.Equal(got, e.ids(1, 2, 3, 4, 5)) {
		t.Errorf("2 March: %v, want %v", got, e.ids(1, 2, 3, 4, 5))
	}
	if iv := jsonText(day2["detection_intervals"]); iv != jsonText([]any{
		map[string]any{"start_timestamp": float64(e.unix(3)), "end_timestamp": float64(e.unix(4))}, wantIv[1]}) {
		t.Errorf("2 March intervals %s, want the first clipped at midnight", iv)
	}
	empty := e.get(t, "/api/timeline/segments?stream=cam&start=2025-01-01&end=2025-01-01")
	if got := segmentIDs(t, empty); len(got) != 0 || jsonText(empty["detection_intervals"]) != "[]" {
		t.Errorf("a day without recordings: %s", jsonText(empty))
	}
}

func TestTimelineSegmentsByIDs(t *testing.T) {
	e := newTimelineEnv(t)
	m := e.get(t, "/api/timeline/segments-by-ids?ids="+strconv.FormatInt(e.rows[4].ID, 10)+",99999,"+strconv.FormatInt(e.rows[0].ID, 10))
	if got := segmentIDs(t, m); !slices.Equal(got, e.ids(0, 4)) {
		t.Fatalf("segments %v, want %v in start order (the unknown id left out)", got, e.ids(0, 4))
	}
	for _, s := range m["segments"].([]any) {
		e.checkSegment(t, s.(map[string]any))
	}
	if m["stream"] != "(selected)" || m["multi_stream"] != true ||
		m["start_time"] != time.Unix(e.rows[0].StartTime, 0).Format(time.DateTime) {
		t.Errorf("stream %v multi_stream %v start_time %v", m["stream"], m["multi_stream"], m["start_time"])
	}
	for _, q := range []string{"", "?ids=", "?ids=1,x", "?ids=-3"} {
		r := e.as("viewer", req{method: "GET", path: "/api/timeline/segments-by-ids" + q})
		expectStatus(t, r, 400, "ids "+q)
		expectErrorBody(t, r)
	}
}

func TestTimelineManifestAndPlay(t *testing.T) {
	e := newTimelineEnv(t)
	from := strconv.FormatInt(e.unix(0), 10)
	r := e.as("viewer", req{method: "GET", path: "/api/timeline/manifest?stream=cam&start=" + from + "&end=" + strconv.FormatInt(e.unix(100), 10)})
	expectStatus(t, r, 200, "manifest")
	body := string(r.body)
	if ct := string(r.header.ContentType()); ct != "application/vnd.apple.mpegurl" ||
		!strings.HasPrefix(body, "#EXTM3U\n") || !strings.Contains(body, "\n/api/timeline/play?stream=cam&start="+from+"\n") ||
		!strings.HasSuffix(body, "#EXT-X-ENDLIST\n") || !strings.Contains(body, "#EXT-X-TARGETDURATION:") {
		t.Errorf("manifest (%s):\n%s", ct, body)
	}
	r = e.as("viewer", req{method: "GET", path: "/api/timeline/manifest?stream=cam&start=2025-01-01&end=2025-01-02"})
	expectStatus(t, r, 404, "manifest of an empty range")

	// Inside the segment across midnight, in the gap (nearest: the end of
	// the first stretch), and far from any recording.
	for _, c := range []struct {
		at   int64
		want int64
	}{{e.unix(3), e.rows[1].ID}, {e.unix(20), e.rows[2].ID}, {e.unix(55), e.rows[3].ID}} {
		r := e.as("viewer", req{method: "GET", path: "/api/timeline/play?stream=cam&start=" + strconv.FormatInt(c.at, 10)})
		expectStatus(t, r, 302, "play")
		loc := string(r.header.Peek("Location"))
		if loc != "/api/recordings/play/"+strconv.FormatInt(c.want, 10) {
			t.Errorf("play at %d: Location %q, want recording %d", c.at, loc, c.want)
			continue
		}
		media := e.as("viewer", req{method: "GET", path: loc})
		expectStatus(t, media, 200, "recording the timeline points at")
		file, err := os.ReadFile(rowOf(e.rows, c.want).FilePath)
		if err != nil || !bytes.Equal(media.body, file) {
			t.Errorf("recording %d served %d bytes, file has %d (%v)", c.want, len(media.body), len(file), err)
		}
	}
	iso := time.Unix(e.unix(3), 0).UTC().Format("2006-01-02T15:04:05.000Z")
	r = e.as("viewer", req{method: "GET", path: "/api/timeline/play?stream=cam&start=" + iso})
	if expectStatus(t, r, 302, "play ISO"); string(r.header.Peek("Location")) != "/api/recordings/play/"+strconv.FormatInt(e.rows[1].ID, 10) {
		t.Errorf("play at %s: Location %q", iso, r.header.Peek("Location"))
	}
	r = e.as("viewer", req{method: "GET", path: "/api/timeline/play?stream=cam&start=" + strconv.FormatInt(e.unix(10_000), 10)})
	expectStatus(t, r, 404, "play far from any recording")
}

func rowOf(rows []*db.Recording, id int64) *db.Recording {
	for _, r := range rows {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func TestTimelineBadInput(t *testing.T) {
	e := newTimelineEnv(t)
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/api/timeline/segments", 400},
		{"/api/timeline/segments?stream=cam&start=yesterday", 400},
		{"/api/timeline/segments?stream=cam&end=2026-13-45T00:00:00Z", 400},
		{"/api/timeline/segments?stream=cam&start=2026-03-02&end=2026-03-01T00:00:00Z", 400},
		{"/api/timeline/segments?stream=nosuch&start=2026-03-01&end=2026-03-02", 404},
		{"/api/timeline/manifest?start=2026-03-01", 400},
		{"/api/timeline/manifest?stream=cam&start=2026-03-02&end=2026-03-01T00:00:00Z", 400},
		{"/api/timeline/manifest?stream=nosuch", 404},
		{"/api/timeline/play?start=2026-03-01", 400},
		{"/api/timeline/play?stream=cam&start=soon", 400},
		{"/api/timeline/play?stream=nosuch&start=2026-03-01", 404},
	} {
		r := e.as("viewer", req{method: "GET", path: c.path})
		expectStatus(t, r, c.status, c.path)
		expectErrorBody(t, r)
	}
}
