package streams_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // DST cases need a zone with daylight saving on any host

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// scheduleText is the stored text of a schedule allowing exactly the slots
// given (weekday*24+hour, Sunday 0).
func scheduleText(allowed ...int) string {
	flags := make([]string, streams.ScheduleSlots)
	for i := range flags {
		flags[i] = "0"
	}
	for _, i := range allowed {
		flags[i] = "1"
	}
	return strings.Join(flags, ",")
}

func TestParseScheduleNullAndShortMeanEveryHour(t *testing.T) {
	long := scheduleText(5) + ",0"
	for _, c := range []struct {
		name, text string
		want       func(slot int) bool
	}{
		{"null", "", func(int) bool { return true }},
		{"short", "0,0,0", func(int) bool { return true }},
		{"one slot", scheduleText(30), func(i int) bool { return i == 30 }},
		{"long: the first 168 count", long, func(i int) bool { return i == 5 }},
		{"spaces", " 0" + strings.Repeat(", 1", streams.ScheduleSlots-1), func(i int) bool { return i != 0 }},
	} {
		s := streams.ParseSchedule(c.text)
		for i, got := range s {
			if got != c.want(i) {
				t.Errorf("%s: slot %d = %v", c.name, i, got)
			}
		}
	}
}

func TestScheduleAllowsAtHourAndWeekBoundaries(t *testing.T) {
	utc := time.UTC
	// 2026-03-01 is a Sunday: the week's slot 0 is Sunday 00:00.
	sun := time.Date(2026, 3, 1, 0, 0, 0, 0, utc)
	for _, c := range []struct {
		at   time.Time
		slot int
	}{
		{sun, 0},
		{sun.Add(-time.Nanosecond), 167}, // Saturday 23:59:59.999…
		{sun.Add(59*time.Minute + 59*time.Second), 0},
		{sun.Add(time.Hour), 1},
		{sun.Add(24 * time.Hour), 24},                    // Monday 00:00
		{sun.Add(6*24*time.Hour + 23*time.Hour), 167},    // Saturday 23:00
		{sun.Add(7 * 24 * time.Hour), 0},                 // next Sunday
		{sun.Add(3*24*time.Hour + 14*time.Hour + 1), 86}, // Wednesday 14:00
	} {
		s := streams.ParseSchedule(scheduleText(c.slot))
		if !s.Allows(c.at, utc) {
			t.Errorf("%s (%s): slot %d not the one in force", c.at, c.at.Weekday(), c.slot)
		}
		next := (c.slot + 1) % streams.ScheduleSlots
		if others := streams.ParseSchedule(scheduleText(next)); others.Allows(c.at, utc) {
			t.Errorf("%s: slot %d allows it too", c.at, next)
		}
	}
	// The same instant is a different hour of the week in another zone.
	kolkata := time.FixedZone("IST", 5*3600+1800)
	at := time.Date(2026, 3, 1, 20, 0, 0, 0, utc) // Sunday 20:00 UTC = Monday 01:30 IST
	s := streams.ParseSchedule(scheduleText(25))
	if !s.Allows(at, kolkata) || s.Allows(at, utc) {
		t.Errorf("Monday 01:00 slot: allows in IST %v, in UTC %v", s.Allows(at, kolkata), s.Allows(at, utc))
	}
}

func TestScheduleNextChange(t *testing.T) {
	utc := time.UTC
	mon := time.Date(2026, 3, 2, 0, 0, 0, 0, utc)
	var office []int
	for h := 9; h < 17; h++ {
		office = append(office, 24+h) // Monday 09:00-17:00
	}
	s := streams.ParseSchedule(scheduleText(office...))
	for _, c := range []struct {
		from, want time.Time
	}{
		{mon.Add(8*time.Hour + 30*time.Minute), mon.Add(9 * time.Hour)},
		{mon.Add(9 * time.Hour), mon.Add(17 * time.Hour)},
		{mon.Add(16*time.Hour + 59*time.Minute), mon.Add(17 * time.Hour)},
		{mon.Add(17 * time.Hour), mon.Add(7*24*time.Hour + 9*time.Hour)}, // wraps the week
	} {
		got, ok := s.NextChange(c.from, utc)
		if !ok || !got.Equal(c.want) {
			t.Errorf("from %s: next change %s %v, want %s", c.from, got, ok, c.want)
		}
	}
	all := streams.ParseSchedule("")
	if at, ok := all.NextChange(mon, utc); ok {
		t.Errorf("every hour allowed, yet a change at %s", at)
	}
	// A zone half an hour off UTC: boundaries are on its hours.
	ist := time.FixedZone("IST", 5*3600+1800)
	got, _ := s.NextChange(mon.Add(-5*time.Hour), ist) // Monday 00:30 IST
	if want := time.Date(2026, 3, 2, 9, 0, 0, 0, ist); !got.Equal(want) {
		t.Errorf("IST: next change %s, want %s", got, want)
	}
}

// Daylight saving moves boundaries with the local clock: a skipped hour is
// never in force, a repeated one is in force twice as long.
func TestScheduleAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	utc := time.UTC
	// 2026-03-08 (Sunday): 02:00 EST jumps to 03:00 EDT.
	spring := streams.ParseSchedule(scheduleText(3))
	from := time.Date(2026, 3, 8, 6, 30, 0, 0, utc) // 01:30 EST
	got, ok := spring.NextChange(from, ny)
	if want := time.Date(2026, 3, 8, 7, 0, 0, 0, utc); !ok || !got.Equal(want) { // 03:00 EDT
		t.Errorf("spring forward: next change %s, want %s", got.In(ny), want.In(ny))
	}
	if got, _ = spring.NextChange(got, ny); !got.Equal(time.Date(2026, 3, 8, 8, 0, 0, 0, utc)) {
		t.Errorf("spring forward: slot 3 ends at %s, want 04:00 EDT", got.In(ny))
	}
	// 2026-11-01 (Sunday): 02:00 EDT falls back to 01:00 EST; hour 1 lasts two hours.
	fall := streams.ParseSchedule(scheduleText(0, 2, 3))
	from = time.Date(2026, 11, 1, 4, 30, 0, 0, utc) // 00:30 EDT
	got, _ = fall.NextChange(from, ny)
	if want := time.Date(2026, 11, 1, 5, 0, 0, 0, utc); !got.Equal(want) { // 01:00 EDT
		t.Errorf("fall back: forbidden from %s, want %s", got.In(ny), want.In(ny))
	}
	got, _ = fall.NextChange(got, ny)
	if want := time.Date(2026, 11, 1, 7, 0, 0, 0, utc); !got.Equal(want) { // 02:00 EST
		t.Errorf("fall back: allowed again at %s, want %s", got.In(ny), want.In(ny))
	}
}

// boundaryZone is a zone whose local hour ends at the whole second at or
// after at: a schedule boundary a test can wait for.
func boundaryZone(at time.Time) (*time.Location, time.Time) {
	b := at.Truncate(time.Second).Add(time.Second)
	return time.FixedZone("boundary", -int(b.Unix()%3600)), b
}

// slotAt is the schedule slot in force at t in loc.
func slotAt(t time.Time, loc *time.Location) int {
	lt := t.In(loc)
	return int(lt.Weekday())*24 + lt.Hour()
}

// sleepUntil sleeps until t.
func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

// Real cameras across a schedule boundary: a continuous stream allowed only
// in the hour that ends stops there, one allowed only in the next hour starts
// there; a detection stream ignores events outside its detection schedule,
// and a clip open at the end of its allowed hours ends at the boundary.
func TestScheduleBoundaryOnRealStreams(t *testing.T) {
	testkit.Need(t, "ffprobe")
	// Four streams start one per keyframe (2 s here), then each needs 3 s of
	// frames: 25 s leaves a loaded host room to be ready 4 s before the boundary.
	loc, boundary := boundaryZone(time.Now().Add(25 * time.Second))
	before, after := slotAt(boundary.Add(-time.Second), loc), slotAt(boundary, loc)
	cam := testkit.StartCamera(t) // 10 fps, a keyframe every 2 s
	ends := stream("ends", cam.URL(), 5)
	ends.RecordOnSchedule, ends.RecordingSchedule = true, scheduleText(before)
	starts := stream("starts", cam.URL(), 5)
	starts.RecordOnSchedule, starts.RecordingSchedule = true, scheduleText(after)
	late := stream("late", cam.URL(), 5)
	late.Record, late.DetectionBasedRecording, late.PreDetectionBuffer, late.PostDetectionBuffer = false, true, 1, 1
	late.DetectionRecordOnSchedule, late.DetectionRecordingSchedule = true, scheduleText(after)
	cut := stream("cut", cam.URL(), 5)
	cut.Record, cut.DetectionBasedRecording, cut.PreDetectionBuffer, cut.PostDetectionBuffer = false, true, 1, 10
	cut.DetectionRecordOnSchedule, cut.DetectionRecordingSchedule = true, scheduleText(before)
	r := newRig(t, rigOpts{seed: []*db.Stream{ends, starts, late, cut}, location: loc})
	names := []string{"ends", "starts", "late", "cut"}
	testkit.WaitFor(t, 30*time.Second, "video through every pipeline", func() bool {
		for _, n := range names {
			if ps, ok := r.recording.Stats(n); !ok || ps.Frames < 30 {
				return false
			}
		}
		return true
	})
	if time.Until(boundary) < 4*time.Second {
		t.Fatalf("the streams came up %s before the boundary, too late to test it", time.Until(boundary))
	}
	sleepUntil(boundary.Add(-3 * time.Second))
	r.bus.Publish(event.Event{Stream: "late", Time: time.Now(), Source: event.SourceAPI})
	r.bus.Publish(event.Event{Stream: "cut", Time: time.Now(), Source: event.SourceAPI})
	for _, n := range []string{"starts", "late"} {
		if recs := recordings(t, r, n); len(recs) != 0 {
			t.Errorf("%s recorded %d files before its hour", n, len(recs))
		}
	}
	sleepUntil(boundary.Add(4 * time.Second))
	r.bus.Publish(event.Event{Stream: "late", Time: time.Now(), Source: event.SourceAPI})
	testkit.WaitFor(t, 30*time.Second, "a segment in the allowed hour", func() bool { return len(recordings(t, r, "starts")) > 0 })

	endsRecs := recordings(t, r, "ends")
	if len(endsRecs) == 0 {
		t.Error("ends recorded nothing in its allowed hour")
	}
	for _, rec := range endsRecs {
		if !rec.IsComplete {
			t.Fatalf("%s still open after its last allowed hour", rec.FilePath)
		}
		if start, end := clipSpan(t, r.db, rec); !start.Before(boundary) || end.After(boundary.Add(time.Second)) {
			t.Errorf("ends: segment %s..%s, want it over by the boundary %s", start, end, boundary)
		}
		if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
			t.Errorf("ffprobe %s: duration %.3f, %s", rec.FilePath, pr.Duration(), pr.Errors)
		}
	}
	recs := recordings(t, r, "starts")
	if start := time.Unix(recs[0].StartTime, 0); start.Before(boundary) {
		t.Errorf("starts: first segment starts %s, before the boundary %s", start, boundary)
	}
	testkit.WaitFor(t, 10*time.Second, "late: a clip opened", func() bool {
		ps, _ := r.recording.Stats("late")
		return ps.Clips > 0
	})
	recs = waitClipClosed(t, r, "late")
	if start, _ := clipSpan(t, r.db, recs[0]); len(recs) != 1 || start.Before(boundary) {
		t.Errorf("late: %d clips, the first from %s; want one clip after the boundary %s", len(recs), start, boundary)
	}
	recs = waitClipClosed(t, r, "cut")
	if _, end := clipSpan(t, r.db, recs[0]); len(recs) != 1 || end.After(boundary.Add(time.Second)) {
		t.Errorf("cut: %d clips, the first ends %s; want one clip ending at the boundary %s", len(recs), end, boundary)
	}
}

// recordings are stream name's recordings in start order.
func recordings(t testing.TB, r *rig, name string) []*db.Recording {
	t.Helper()
	recs, err := db.StreamRecordings(context.Background(), r.db, name)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Files written under a recording schedule say so: schedule_restricted is 1
// and a scheduled segment is capture_method "scheduled"; without a schedule
// it is 0 and "continuous". A detection clip stays "detection" either way.
func TestScheduleRestrictedRecordings(t *testing.T) {
	cam := testkit.StartCamera(t)
	plain := stream("plain", cam.URL(), 5)
	sched := stream("sched", cam.URL(), 5)
	sched.RecordOnSchedule = true // every hour allowed: still recorded under a schedule
	clip := stream("clip", cam.URL(), 5)
	clip.Record, clip.DetectionBasedRecording, clip.PreDetectionBuffer, clip.PostDetectionBuffer = false, true, 1, 1
	clip.DetectionRecordOnSchedule = true
	r := newRig(t, rigOpts{seed: []*db.Stream{plain, sched, clip}})
	testkit.WaitFor(t, 30*time.Second, "video through every pipeline", func() bool {
		for _, n := range []string{"plain", "sched", "clip"} {
			if ps, ok := r.recording.Stats(n); !ok || ps.Frames < 30 {
				return false
			}
		}
		return true
	})
	r.bus.Publish(event.Event{Stream: "clip", Time: time.Now(), Source: event.SourceAPI})
	for _, c := range []struct {
		name, method string
		restricted   bool
	}{{"plain", "continuous", false}, {"sched", "scheduled", true}, {"clip", "detection", true}} {
		var recs []*db.Recording
		testkit.WaitFor(t, 30*time.Second, c.name+": a recording row", func() bool {
			recs = recordings(t, r, c.name)
			return len(recs) > 0
		})
		it, err := db.GetRecordingItem(context.Background(), r.db, recs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if it.CaptureMethod != c.method || it.ScheduleRestricted == nil || *it.ScheduleRestricted != c.restricted {
			t.Errorf("%s: capture_method %q, schedule_restricted %v; want %q, %v",
				c.name, it.CaptureMethod, fmtBool(it.ScheduleRestricted), c.method, c.restricted)
		}
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "NULL"
	}
	return strconv.FormatBool(*b)
}
