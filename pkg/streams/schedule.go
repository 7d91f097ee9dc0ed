package streams

import (
	"context"
	"strings"
	"time"

	"lightnvr/pkg/media"
	"lightnvr/pkg/record"
)

// ScheduleSlots is the number of hourly flags in a recording schedule: one
// week of hours.
const ScheduleSlots = 168

// Schedule is a stream's weekly recording schedule as LightNVR stores it:
// slot weekday*24+hour (Sunday is weekday 0) of local time says whether
// recording is allowed during that hour.
type Schedule [ScheduleSlots]bool

// ParseSchedule reads the stored text, 168 comma-separated 0/1 flags. NULL
// ("") or short text means every hour, as in LightNVR; of a full schedule
// the first 168 flags count and only "0" forbids an hour.
func ParseSchedule(text string) Schedule {
	var s Schedule
	parts := strings.Split(text, ",")
	whole := len(parts) >= ScheduleSlots
	for i := range s {
		s[i] = !whole || strings.TrimSpace(parts[i]) != "0"
	}
	return s
}

// Allows reports whether recording is allowed at t, in the hour of the week
// t has in loc.
func (s *Schedule) Allows(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	return s[int(lt.Weekday())*24+lt.Hour()]
}

// NextChange is the first local hour boundary after t at which Allows
// changes, and false when it never does (every hour alike). Hours are
// stepped as instants, so a DST change (a skipped or repeated local hour)
// moves the boundary with the clock.
func (s *Schedule) NextChange(t time.Time, loc *time.Location) (time.Time, bool) {
	now := s.Allows(t, loc)
	at := t
	// A week and a bit: DST may repeat an hour, never add more.
	for range ScheduleSlots + 2 {
		at = nextLocalHour(at, loc)
		if s.Allows(at, loc) != now {
			return at, true
		}
	}
	return time.Time{}, false
}

// nextLocalHour is the first instant after t whose local time in loc is on
// the hour.
func nextLocalHour(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	into := time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second +
		time.Duration(lt.Nanosecond())
	return t.Add(time.Hour - into)
}

// scheduleGate is a schedule in force for one recorder: nil-safe, a nil
// gate allows every hour (the stream does not record on schedule).
type scheduleGate struct {
	sched Schedule
	loc   *time.Location
}

// newScheduleGate is the gate of a stream's on flag and schedule text; nil
// when on is false.
func newScheduleGate(on bool, text string, loc *time.Location) *scheduleGate {
	if !on {
		return nil
	}
	if loc == nil {
		loc = time.Local
	}
	return &scheduleGate{sched: ParseSchedule(text), loc: loc}
}

// allows reports whether recording is allowed at t.
func (g *scheduleGate) allows(t time.Time) bool {
	return g == nil || g.sched.Allows(t, g.loc)
}

// until is when the allowance in force at t ends; zero when it never does.
func (g *scheduleGate) until(t time.Time) time.Time {
	if g == nil {
		return time.Time{}
	}
	at, _ := g.sched.NextChange(t, g.loc)
	return at
}

// clamp is a clip's end for an event at: never past the end of the allowed
// hours the event falls in.
func (g *scheduleGate) clamp(at, end time.Time) time.Time {
	if stop := g.until(at); !stop.IsZero() && stop.Before(end) {
		return stop
	}
	return end
}

// record writes sub's units into rec until ctx ends or sub closes, then
// closes rec. Under a gate only units whose wall time is in an allowed hour
// are written: the segment open at a boundary into a forbidden hour ends
// there, and the first keyframe of the next allowed hour starts a new one.
func (g *scheduleGate) record(ctx context.Context, rec *record.Recorder, sub *media.Subscription) error {
	if g == nil {
		return rec.Run(ctx, sub)
	}
	var allowed, known bool
	var until time.Time // when the allowance in force ends; zero: never
	each(ctx, sub.C(), func(u *media.Unit) {
		if !known || (!until.IsZero() && !u.Wall.Before(until)) {
			was := allowed
			allowed, until, known = g.allows(u.Wall), g.until(u.Wall), true
			if was && !allowed {
				rec.Cut()
			}
		}
		if allowed {
			rec.Write(u)
		} else {
			u.Release()
		}
	})
	return rec.Close()
}
