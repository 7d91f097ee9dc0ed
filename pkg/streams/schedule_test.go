package streams_test

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // DST cases need a zone with daylight saving on any host

	"lightnvr/pkg/streams"
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
