package db

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
)

// genBase is the start_time of the first generated recording.
const genBase = 1_700_000_000

// genRow is what fillRecordings writes for i (1-based), computed the same
// way in Go so tests know the expected answer of any query.
type genRow struct {
	id        int64
	stream    string
	start     int64
	size      int64
	trigger   string
	protected bool
}

func genRowOf(i int64) genRow {
	r := genRow{id: i, stream: fmt.Sprintf("cam%d", i%8), start: genBase + (i/8)*60,
		size: 1_000_000 + (i*7919)%500_000, trigger: "scheduled"}
	if i%10 == 0 {
		r.trigger = "detection"
	}
	r.protected = i%100 == 0
	return r
}

// fillRecordings inserts n generated rows in one statement; ids are 1..n
// on a fresh table.
func fillRecordings(t testing.TB, d *DB, n int) {
	t.Helper()
	_, err := d.pool.ExecContext(context.Background(), `INSERT INTO recordings
		(stream_name, file_path, start_time, end_time, size_bytes, is_complete, trigger_type, protected, schedule_restricted)
		WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
		SELECT 'cam' || (i % 8), '/var/lib/lightnvr/recordings/mp4/cam' || (i % 8) || '/r' || i || '.mp4',
			?2 + (i / 8) * 60, ?2 + (i / 8) * 60 + 60, 1000000 + (i * 7919) % 500000, 1,
			CASE WHEN i % 10 = 0 THEN 'detection' ELSE 'scheduled' END, CASE WHEN i % 100 = 0 THEN 1 ELSE 0 END, 0
		FROM seq`, n, genBase)
	if err != nil {
		t.Fatalf("fill %d recordings: %v", n, err)
	}
}

func TestRecordingListFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t)
	// 100k rows natively; the race detector and qemu-user (mipsle) make
	// SQLite inserts tens of times slower, so those runs use fewer rows.
	n := 100_000
	if recRaceEnabled || runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		n = 10_000
	}
	fillRecordings(t, d, n)
	all := make([]genRow, 0, n)
	for i := int64(1); i <= int64(n); i++ {
		all = append(all, genRowOf(i))
	}
	yes, no := true, false
	from, to := int64(genBase+1000*60), int64(genBase+3000*60)
	cases := []struct {
		name  string
		f     RecordingFilter
		match func(genRow) bool
	}{
		{"all", RecordingFilter{}, func(genRow) bool { return true }},
		{"one stream", RecordingFilter{Streams: []string{"cam3"}}, func(r genRow) bool { return r.stream == "cam3" }},
		{"two streams", RecordingFilter{Streams: []string{"cam1", "cam6"}}, func(r genRow) bool { return r.stream == "cam1" || r.stream == "cam6" }},
		{"time range", RecordingFilter{StartFrom: from, StartTo: to}, func(r genRow) bool { return r.start >= from && r.start <= to }},
		{"protected", RecordingFilter{Protected: &yes}, func(r genRow) bool { return r.protected }},
		{"unprotected cam0", RecordingFilter{Protected: &no, Streams: []string{"cam0"}}, func(r genRow) bool { return !r.protected && r.stream == "cam0" }},
		{"detection clips", RecordingFilter{CaptureMethods: []string{"detection"}}, func(r genRow) bool { return r.trigger == "detection" }},
		{"continuous in range", RecordingFilter{CaptureMethods: []string{"continuous"}, StartFrom: from, StartTo: to, Streams: []string{"cam2"}},
			func(r genRow) bool {
				return r.trigger == "scheduled" && r.start >= from && r.start <= to && r.stream == "cam2"
			}},
		{"has detection", RecordingFilter{HasDetection: &yes, Streams: []string{"cam2"}}, func(r genRow) bool { return r.trigger == "detection" && r.stream == "cam2" }},
		{"ids", RecordingFilter{IDs: []int64{5, 77, int64(n - 1), int64(n + 5)}}, func(r genRow) bool { return r.id == 5 || r.id == 77 || r.id == int64(n-1) }},
	}
	sorts := []struct {
		key  string
		less func(a, b genRow) int
	}{
		{"start_time", func(a, b genRow) int { return cmpInt(a.start, b.start) }},
		{"size_bytes", func(a, b genRow) int { return cmpInt(a.size, b.size) }},
		{"stream_name", func(a, b genRow) int {
			if a.stream < b.stream {
				return -1
			} else if a.stream > b.stream {
				return 1
			}
			return 0
		}},
		{"id", func(a, b genRow) int { return 0 }},
	}
	for ci, c := range cases {
		var want []genRow
		for _, r := range all {
			if c.match(r) {
				want = append(want, r)
			}
		}
		got, err := CountRecordingItems(ctx, d, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if got != int64(len(want)) {
			t.Errorf("%s: count %d, want %d", c.name, got, len(want))
		}
		for si, s := range sorts {
			for _, desc := range []bool{false, true} {
				// Every order on two filters; the rest in the default order
				// only, to keep the suite quick.
				if ci > 1 && (si > 0 || !desc) {
					continue
				}
				exp := slices.Clone(want)
				slices.SortStableFunc(exp, func(a, b genRow) int {
					v := s.less(a, b)
					if v == 0 {
						v = cmpInt(a.id, b.id)
					}
					if desc {
						v = -v
					}
					return v
				})
				// First page, a middle page and the last (partial) page.
				const limit = 25
				for _, off := range []int{0, len(exp) / 2, max(len(exp)-7, 0)} {
					page, err := ListRecordingItems(ctx, d, c.f, RecordingPage{Sort: s.key, Desc: desc, Limit: limit, Offset: off})
					if err != nil {
						t.Fatal(err)
					}
					end := min(off+limit, len(exp))
					if len(page) != end-off {
						t.Fatalf("%s sort %s desc=%v offset %d: %d rows, want %d", c.name, s.key, desc, off, len(page), end-off)
					}
					for k, it := range page {
						w := exp[off+k]
						if it.ID != w.id || it.StreamName != w.stream || it.StartTime != w.start || it.SizeBytes != w.size || it.Protected != w.protected {
							t.Fatalf("%s sort %s desc=%v offset %d row %d: got id=%d %s %d %d, want id=%d %s %d %d",
								c.name, s.key, desc, off, k, it.ID, it.StreamName, it.StartTime, it.SizeBytes, w.id, w.stream, w.start, w.size)
						}
					}
				}
			}
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestRecordingItemFields(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t)
	fillRecordings(t, d, 20)
	// A detection of cam5 during recording 5 (start genBase, end +60).
	if _, err := d.pool.ExecContext(ctx, `INSERT INTO detections (stream_name, timestamp, label, confidence) VALUES
		('cam5', ?, 'person', 0.9), ('cam5', ?, 'person', 0.8), ('cam5', ?, 'car', 0.7)`, genBase+10, genBase+20, genBase+30); err != nil {
		t.Fatal(err)
	}
	if _, err := d.pool.ExecContext(ctx, `UPDATE recordings SET schedule_restricted = 1, retention_override_days = 7 WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.pool.ExecContext(ctx, `INSERT INTO recording_tags (recording_id, tag) VALUES (3, 'b'), (3, 'a'), (4, 'x')`); err != nil {
		t.Fatal(err)
	}
	it, err := GetRecordingItem(ctx, d, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !it.HasDetection || it.CaptureMethod != "continuous" || it.ScheduleRestricted == nil || *it.ScheduleRestricted || it.RetentionOverrideDays != nil {
		t.Errorf("recording 5: %+v", it)
	}
	it, err = GetRecordingItem(ctx, d, 3)
	if err != nil {
		t.Fatal(err)
	}
	if it.HasDetection || it.CaptureMethod != "scheduled" || it.ScheduleRestricted == nil || !*it.ScheduleRestricted ||
		it.RetentionOverrideDays == nil || *it.RetentionOverrideDays != 7 {
		t.Errorf("recording 3: %+v", it)
	}
	if _, err := GetRecordingItem(ctx, d, 999); !errors.Is(err, ErrRecordingNotFound) {
		t.Errorf("missing recording: %v", err)
	}
	labels, err := DetectionLabelsDuring(ctx, d, "cam5", it.StartTime, it.StartTime+60)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 2 || labels[0] != (LabelCount{"person", 2}) || labels[1] != (LabelCount{"car", 1}) {
		t.Errorf("labels %+v", labels)
	}
	tags, err := RecordingTagsOf(ctx, d, []int64{3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tags[3], []string{"a", "b"}) || !slices.Equal(tags[4], []string{"x"}) || len(tags[5]) != 0 {
		t.Errorf("tags %v", tags)
	}
	n, err := CountRecordingItems(ctx, d, RecordingFilter{Tags: []string{"x", "a"}})
	if err != nil || n != 2 {
		t.Errorf("tag filter count %d %v", n, err)
	}
	n, err = CountRecordingItems(ctx, d, RecordingFilter{DetectionLabels: []string{"car"}})
	if err != nil || n != 1 {
		t.Errorf("label filter count %d %v", n, err)
	}
	ids, err := RecordingIDsMatching(ctx, d, RecordingFilter{Streams: []string{"cam1"}}, 2)
	if err != nil || !slices.Equal(ids, []int64{1, 9}) {
		t.Errorf("ids %v %v", ids, err)
	}
}

func TestRecordingSortWhitelist(t *testing.T) {
	d := openMigrated(t)
	fillRecordings(t, d, 3)
	for _, bad := range []string{"file_path", "start_time; DROP TABLE recordings", "1", "r.id"} {
		_, err := ListRecordingItems(context.Background(), d, RecordingFilter{}, RecordingPage{Sort: bad, Limit: 5})
		if !errors.Is(err, ErrBadSort) {
			t.Errorf("sort %q: %v, want ErrBadSort", bad, err)
		}
	}
	n, err := CountRecordingItems(context.Background(), d, RecordingFilter{})
	if err != nil || n != 3 {
		t.Fatalf("table after bad sorts: %d rows, %v", n, err)
	}
}

// BenchmarkRecordingList measures the list query behind GET /api/recordings
// on 1M rows: count plus one page, as the handler runs them.
func BenchmarkRecordingList(b *testing.B) {
	ctx := context.Background()
	d := openMigrated(b)
	fillRecordings(b, d, 1_000_000)
	if _, err := d.pool.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	yes := true
	last := int64(genBase + (1_000_000/8)*60)
	cases := []struct {
		name string
		f    RecordingFilter
		p    RecordingPage
	}{
		{"first-page", RecordingFilter{}, RecordingPage{Desc: true, Limit: 20}},
		{"deep-page-offset-50000", RecordingFilter{}, RecordingPage{Desc: true, Limit: 20, Offset: 50_000}},
		{"stream-day-first-page", RecordingFilter{Streams: []string{"cam3"}, StartFrom: last - 86400, StartTo: last}, RecordingPage{Desc: true, Limit: 20}},
		{"stream-week-deep-page", RecordingFilter{Streams: []string{"cam3"}, StartFrom: last - 7*86400, StartTo: last}, RecordingPage{Desc: true, Limit: 20, Offset: 5000}},
		{"stream-detection-deep-page", RecordingFilter{Streams: []string{"cam2"}, CaptureMethods: []string{"detection"}}, RecordingPage{Desc: true, Limit: 20, Offset: 10_000}},
		{"protected-first-page", RecordingFilter{Protected: &yes}, RecordingPage{Desc: true, Limit: 20}},
		{"size-sort-first-page", RecordingFilter{}, RecordingPage{Sort: "size_bytes", Desc: true, Limit: 20}},
		{"stream-size-sort-page", RecordingFilter{Streams: []string{"cam3"}}, RecordingPage{Sort: "size_bytes", Desc: true, Limit: 20, Offset: 1000}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := CountRecordingItems(ctx, d, c.f); err != nil {
					b.Fatal(err)
				}
				page, err := ListRecordingItems(ctx, d, c.f, c.p)
				if err != nil {
					b.Fatal(err)
				}
				if len(page) == 0 {
					b.Fatal("empty page")
				}
			}
		})
	}
}

// The capture_method filter is written on the stored columns so indexes
// can serve it; it must select exactly the rows whose derived
// capture_method (captureMethodSQL, what the list reports) is asked for,
// over every combination of trigger_type and schedule_restricted.
func TestRecordingCaptureMethodFilter(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t)
	triggers := []any{nil, "scheduled", "continuous", "detection", "motion", "manual"}
	scheds := []any{nil, 0, 1}
	for i, tt := range triggers {
		for j, sr := range scheds {
			if _, err := d.pool.ExecContext(ctx, `INSERT INTO recordings (stream_name, file_path, start_time, trigger_type, schedule_restricted)
				VALUES ('cam', ?, ?, ?, ?)`, fmt.Sprintf("/r%d_%d.mp4", i, j), genBase+i*10+j, tt, sr); err != nil {
				t.Fatal(err)
			}
		}
	}
	methods := []string{"continuous", "scheduled", "detection", "motion", "manual"}
	sets := [][]string{{"nothing"}}
	for _, m := range methods {
		sets = append(sets, []string{m})
	}
	sets = append(sets, []string{"continuous", "scheduled"}, []string{"scheduled", "detection"},
		[]string{"continuous", "motion", "manual"}, methods)
	for _, set := range sets {
		args := make([]any, len(set))
		for i, m := range set {
			args[i] = m
		}
		want := mustQuery(t, d, scanOne[int64], `SELECT r.id FROM recordings r WHERE `+captureMethodSQL+` IN (`+placeholders(len(set))+`) ORDER BY r.id`, args...)
		got, err := RecordingIDsMatching(ctx, d, RecordingFilter{CaptureMethods: set}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("capture_method in %v: ids %v, want %v", set, got, want)
		}
		n, err := CountRecordingItems(ctx, d, RecordingFilter{CaptureMethods: set, Streams: []string{"cam"}})
		if err != nil || n != int64(len(want)) {
			t.Errorf("capture_method in %v: count %d (%v), want %d", set, n, err, len(want))
		}
		page, err := ListRecordingItems(ctx, d, RecordingFilter{CaptureMethods: set}, RecordingPage{Sort: "id", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for k, it := range page {
			if k >= len(want) || it.ID != want[k] || !slices.Contains(set, it.CaptureMethod) {
				t.Errorf("capture_method in %v: row %d id %d method %q", set, k, it.ID, it.CaptureMethod)
			}
		}
		if len(page) != len(want) {
			t.Errorf("capture_method in %v: %d rows listed, want %d", set, len(page), len(want))
		}
	}
}
