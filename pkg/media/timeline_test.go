package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// fakeTrack starts on a packet whose marker is set, standing for a
// format's PTS=DTS test (an IDR for H.264).
type fakeTrack int

func (f fakeTrack) ClockRate() int                { return int(f) }
func (fakeTrack) PTSEqualsDTS(p *rtp.Packet) bool { return p.Marker }

// TestTimeline: timestamps unwrap across the 32-bit counter and step back
// for B-frames; a track waits for a packet it can start on; a later track
// starts where the leader is by the wall clock, in its own clock.
func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	tl := timeline{now: func() time.Time { return now }}
	video, audio := fakeTrack(90000), fakeTrack(48000)
	var vt, at trackTime
	pkt := func(ts uint32, start bool) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{Timestamp: ts, Marker: start}}
	}
	step := func(tt *trackTime, f fakeTrack, ts uint32, start bool, want int64, wantOK bool) {
		t.Helper()
		got, ok := tl.decode(tt, f, pkt(ts, start))
		if got != want || ok != wantOK {
			t.Fatalf("decode(ts %d) = %d, %v; want %d, %v", ts, got, ok, want, wantOK)
		}
	}
	step(&vt, video, 100, false, 0, false)      // not a start: waits
	step(&vt, video, 4294967000, true, 0, true) // leads, from 0
	step(&vt, video, 3304, false, 3600, true)   // wrapped: 4294967000 + 3600 - 2^32
	step(&vt, video, 6904, false, 7200, true)
	step(&vt, video, 5104, false, 5400, true) // a B-frame, back
	now = t0.Add(500 * time.Millisecond)
	step(&vt, video, 10504, true, 10800, true) // the leader's PTS=DTS point moves to 10800 at t0+0.5 s

	now = t0.Add(time.Second) // audio starts 0.5 s later: 10800/90000 s + 0.5 s, in 48 kHz
	step(&at, audio, 77, true, 5760+24000, true)
	step(&at, audio, 77+1024, true, 5760+24000+1024, true)
	if tl.lead != &vt {
		t.Error("the second track took the lead")
	}
	var none trackTime
	if _, ok := tl.decode(&none, fakeTrack(0), pkt(1, true)); ok {
		t.Error("a track without a clock rate was decoded")
	}
	if got := mulDiv(int64(24*time.Hour)+123456789, 90000, int64(time.Second)); got != 24*3600*90000+11111 {
		t.Errorf("mulDiv of a day in ns to 90 kHz = %d", got)
	}
}
