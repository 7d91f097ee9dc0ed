package media

import (
	"time"

	"github.com/pion/rtp"
)

// timeline turns the 32-bit RTP timestamps of a session's tracks into 64-bit
// PTS on one timeline, as gortsplib's rtptime.GlobalDecoder does: the first
// track to start leads, and a later track starts at the leader's PTS plus
// the wall time since the leader's last packet whose PTS is its DTS. It
// does without that decoder's lock and track map (0.7 % of ingest at
// 8 streams): one goroutine reads a session, and each track keeps its own
// state in a trackTime.
type timeline struct {
	lead     *trackTime
	leadPTS  int64 // in the leader's clock
	leadRate int64
	leadAt   time.Time

	now func() time.Time // time.Now; tests set it
}

// trackTime is one track's place on a timeline.
type trackTime struct {
	started bool
	pts     int64
	prev    uint32
}

// ptsTrack is what a timeline needs of a format (gortsplib's format.Format
// has both methods).
type ptsTrack interface {
	ClockRate() int
	PTSEqualsDTS(*rtp.Packet) bool
}

// decode returns p's PTS in f's clock; false while the track waits for a
// packet it can start on (its PTS must be its DTS).
func (tl *timeline) decode(tt *trackTime, f ptsTrack, p *rtp.Packet) (int64, bool) {
	if !tt.started {
		rate := int64(f.ClockRate())
		if rate == 0 || !f.PTSEqualsDTS(p) {
			return 0, false
		}
		now := tl.clock()
		if tl.lead == nil {
			tl.lead, tl.leadPTS, tl.leadRate, tl.leadAt = tt, 0, rate, now
		}
		tt.started, tt.prev = true, p.Timestamp
		tt.pts = mulDiv(tl.leadPTS, rate, tl.leadRate) + mulDiv(int64(now.Sub(tl.leadAt)), rate, int64(time.Second))
		return tt.pts, true
	}
	// The step is signed: B-frames go back, and the counter wraps.
	tt.pts += int64(int32(p.Timestamp - tt.prev))
	tt.prev = p.Timestamp
	if tl.lead == tt && f.PTSEqualsDTS(p) {
		tl.leadPTS, tl.leadAt = tt.pts, tl.clock()
	}
	return tt.pts, true
}

func (tl *timeline) clock() time.Time {
	if tl.now != nil {
		return tl.now()
	}
	return time.Now()
}

// mulDiv is v*m/d without overflowing for v of a day's nanoseconds.
func mulDiv(v, m, d int64) int64 {
	return v/d*m + v%d*m/d
}
