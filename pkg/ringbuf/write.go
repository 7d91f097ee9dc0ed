package ringbuf

import (
	"time"

	"lightnvr/pkg/media"
)

// Write copies u's payload into the ring. It never blocks on a reader: a
// reader too slow to keep up is overrun instead.
func (r *Ring) Write(u *media.Unit) {
	n := len(u.Payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || u.Track == nil || u.Desc == nil {
		return
	}
	if n > r.cfg.MaxBytes {
		// Nothing before it can be continued without it.
		r.overflow++
		for r.entries.len() > 0 {
			r.popEntry()
		}
		r.w = 0
		return
	}
	if r.w+n > r.limit {
		r.wrap(n)
	}
	r.evict(r.w, r.w+n)
	copy(r.data[r.w:], u.Payload)
	e := entry{u: u.Meta(), off: r.w, n: n}
	num := r.first + uint64(r.entries.len())
	r.entries.push(e)
	r.w += n
	r.bytes += n
	if isKey(u) {
		r.keys.push(num)
		r.measure(u.Wall)
	}
	r.rateBytes += n
	r.trim(u.Wall)
	for rd := range r.readers {
		rd.poke()
	}
}

// isKey: a unit a reader may start at (video keyframes; every unit of an
// audio-only stream).
func isKey(u *media.Unit) bool {
	return u.Key && (u.IsVideo() || u.Desc.Video == nil)
}

// wrap starts a new pass at offset 0 with a limit sized for the measured
// bitrate. The units of the previous pass beyond the write offset go first:
// they would otherwise sit ahead of newer units the new pass overwrites.
func (r *Ring) wrap(n int) {
	for r.entries.len() > 0 && r.entries.at(0).off >= r.w {
		r.popEntry()
	}
	r.resize(r.target(n), n)
	r.w = 0
}

// resize makes the data area want bytes, within what the budget allows; a
// unit of n bytes always fits.
func (r *Ring) resize(want, n int) {
	b := r.cfg.Budget
	switch {
	case b == nil:
		r.limit = want
	case want < r.limit:
		b.give(r.limit - want)
		r.limit, r.starved = want, false
	case want > r.limit:
		got := b.take(want-r.limit, false)
		if r.limit+got < n {
			got += b.take(n-r.limit-got, true)
		}
		r.limit += got
		r.starved = r.limit < want
	}
}

// target is the data area for Window plus a GOP and a second of slack at the
// measured bitrate, with a quarter extra, within [n, MaxBytes].
func (r *Ring) target(n int) int {
	t := minLimit
	if r.rate > 0 {
		t = int(r.rate * (r.cfg.Window + r.gop + time.Second).Seconds() * 1.25)
	}
	return min(max(t, n, minLimit), r.cfg.MaxBytes)
}

// evict drops the oldest units while they lie in [lo, hi), the bytes about
// to be written. Units still held all start at or after the write offset
// (previous pass) or before it (this pass), so only the front can overlap.
func (r *Ring) evict(lo, hi int) {
	for r.entries.len() > 0 {
		off := r.entries.at(0).off
		if off < lo || off >= hi {
			return
		}
		r.popEntry()
	}
}

// trim drops what no reader may need: everything before the newest keyframe
// at least Window before now.
func (r *Ring) trim(now time.Time) {
	edge := now.Add(-r.cfg.Window)
	for r.keys.len() >= 2 && !r.entries.at(int(*r.keys.at(1)-r.first)).u.Wall.After(edge) {
		r.keys.pop()
	}
	if r.keys.len() == 0 {
		return
	}
	for r.first < *r.keys.at(0) {
		r.popEntry()
	}
}

func (r *Ring) popEntry() {
	e := r.entries.pop()
	r.first++
	r.bytes -= e.n
	if r.keys.len() > 0 && *r.keys.at(0) < r.first {
		r.keys.pop()
	}
}

// measure updates the bitrate and GOP estimates at a keyframe. The rate
// counts the bytes written since a keyframe at least a second back, not
// the bytes held: a ring still at its smallest data area may hold less than
// a second of a fast stream, and must still learn how much it needs.
func (r *Ring) measure(wall time.Time) {
	if !r.lastKey.IsZero() && wall.After(r.lastKey) {
		r.gop = wall.Sub(r.lastKey)
	}
	r.lastKey = wall
	if r.rateFrom.IsZero() || wall.Before(r.rateFrom) {
		r.rateFrom, r.rateBytes = wall, 0
		return
	}
	if span := wall.Sub(r.rateFrom); span >= time.Second {
		r.rate = float64(r.rateBytes) / span.Seconds()
		r.rateFrom, r.rateBytes = wall, 0
	}
}

// Stats returns the ring's current figures.
func (r *Ring) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{Units: r.entries.len(), Bytes: r.bytes, Limit: r.limit, Overflow: r.overflow, Cap: r.cfg.MaxBytes,
		Starved: r.starved}
	if n := r.entries.len(); n > 0 {
		st.Span = r.entries.at(n - 1).u.Wall.Sub(r.entries.at(0).u.Wall)
	}
	return st
}
