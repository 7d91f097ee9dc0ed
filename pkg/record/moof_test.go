package record

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// appendPart must write exactly what mediacommon's Part.Marshal writes.
func TestAppendPartMatchesMediacommon(t *testing.T) {
	v := &trackW{id: 1, partBase: 123456, samples: []fmp4.Sample{
		{Duration: 3600, Payload: []byte{0, 0, 0, 2, 0x65, 1}},
		{Duration: 3600, PTSOffset: 3600, IsNonSyncSample: true, Payload: []byte{0, 0, 0, 1, 0x41}},
	}}
	a := &trackW{id: 2, partBase: 777, samples: []fmp4.Sample{{Duration: 1024, Payload: []byte{9, 9, 9}}}}
	for _, tracks := range [][]*trackW{{v, a}, {v}, {a}} {
		want := marshalPart(t, 7, tracks)
		if got := appendPart(nil, 7, tracks); !bytes.Equal(got, want) {
			t.Fatalf("%d tracks:\n got %x\nwant %x", len(tracks), got, want)
		}
	}
}

// marshalPart is the reference: mediacommon's own Part.Marshal.
func marshalPart(t *testing.T, seq uint32, tracks []*trackW) []byte {
	t.Helper()
	var ref seekablebuffer.Buffer
	p := fmp4.Part{SequenceNumber: seq}
	for _, tw := range tracks {
		ptrs := make([]*fmp4.Sample, len(tw.samples))
		for i := range tw.samples {
			ptrs[i] = &tw.samples[i]
		}
		p.Tracks = append(p.Tracks, &fmp4.PartTrack{ID: tw.id, BaseTime: uint64(tw.partBase), Samples: ptrs})
	}
	if err := p.Marshal(&ref); err != nil {
		t.Fatal(err)
	}
	return ref.Bytes()
}

// Thousands of random parts as a recorder meets them: video with B-frames
// (negative and positive PTS offsets) and non-sync samples, audio without,
// odd payload sizes down to empty, base times past 32 bits as after a long
// session or a timestamp jump, and a buffer that already holds earlier parts.
func TestAppendPartMatchesMediacommonRandom(t *testing.T) {
	const seed = 20261204
	rng := rand.New(rand.NewPCG(seed, seed))
	randTrack := func(id int, video bool) *trackW {
		tw := &trackW{id: id, partBase: int64(rng.Uint64N(1 << 40))}
		if rng.IntN(4) == 0 {
			tw.partBase = int64(rng.Uint32()) // around the 32-bit boundary
		}
		for range 1 + rng.IntN(60) {
			s := fmp4.Sample{Duration: rng.Uint32N(200_000), Payload: make([]byte, rng.IntN(3000))}
			for i := range s.Payload {
				s.Payload[i] = byte(rng.Uint32())
			}
			if video {
				s.IsNonSyncSample = rng.IntN(8) != 0
				if rng.IntN(2) == 0 {
					s.PTSOffset = rng.Int32N(20_000) - 10_000
				}
			}
			tw.samples = append(tw.samples, s)
		}
		return tw
	}
	prefix := []byte("earlier parts")
	for i := range 3000 {
		var tracks []*trackW
		switch i % 3 {
		case 0:
			tracks = []*trackW{randTrack(1, true), randTrack(2, false)}
		case 1:
			tracks = []*trackW{randTrack(1, true)}
		default:
			tracks = []*trackW{randTrack(1+rng.IntN(2), false)}
		}
		seq := rng.Uint32()
		want := marshalPart(t, seq, tracks)
		got := appendPart(append([]byte(nil), prefix...), seq, tracks)
		if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("case %d (seed %d): appendPart differs from mediacommon for %d tracks", i, seed, len(tracks))
		}
	}
}
