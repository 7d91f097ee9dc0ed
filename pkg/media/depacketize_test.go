package media

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// nalu is a NAL unit of the given header byte and size with random bytes
// in which, as emulation prevention ensures, two zeros are never followed
// by a byte below 4, so it holds no start code.
func nalu(r *rand.Rand, hdr []byte, size int) []byte {
	n := make([]byte, size)
	copy(n, hdr)
	for i := len(hdr); i < size; i++ {
		n[i] = byte(r.IntN(256))
		if i >= 2 && n[i-2] == 0 && n[i-1] == 0 && n[i] < 4 {
			n[i] = 3
		}
	}
	return n
}

// NAL unit headers of each codec.
type naluKinds struct{ sps, pps, idr, p, sei []byte }

var (
	h264Kinds = naluKinds{sps: []byte{0x67}, pps: []byte{0x68}, idr: []byte{0x65}, p: []byte{0x41}, sei: []byte{0x06}}
	h265Kinds = naluKinds{sps: []byte{0x42, 1}, pps: []byte{0x44, 1}, idr: []byte{0x26, 1}, p: []byte{0x02, 1}, sei: []byte{0x4e, 1}}
)

// testAUs is a keyframe with its parameter sets, then P-frames large and
// small: the packetizer sends them as aggregation packets, fragments and
// single units.
func testAUs(k naluKinds) [][][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	return [][][]byte{
		{nalu(r, k.sps, 20), nalu(r, k.pps, 4), nalu(r, k.idr, 9000)},
		{nalu(r, k.p, 3000)},
		{nalu(r, k.p, 60)},
		{nalu(r, k.sei, 30), nalu(r, k.p, 1400), nalu(r, k.p, 1500)},
		{nalu(r, k.p, 2)},
	}
}

// codecCase is one codec under test: its NAL unit kinds and the RTP
// library's own packetizer, the reference for what a sender puts on the
// wire.
type codecCase struct {
	codec      Codec
	kinds      naluKinds
	agg, frag  int // payload types
	newEncoder func() (rtpEncoder, error)
}

type rtpEncoder interface {
	Encode([][]byte) ([]*rtp.Packet, error)
}

var codecCases = []codecCase{
	{CodecH264, h264Kinds, h264STAPA, h264FUA, func() (rtpEncoder, error) {
		return (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateEncoder()
	}},
	{CodecH265, h265Kinds, h265AP, h265FU, func() (rtpEncoder, error) {
		return (&format.H265{PayloadTyp: 96}).CreateEncoder()
	}},
}

func (c codecCase) payloadType(p *rtp.Packet) int {
	if c.codec == CodecH265 {
		return int(p.Payload[0] >> 1 & 0x3f)
	}
	return int(p.Payload[0] & 0x1f)
}

func (c codecCase) packetize(t testing.TB, aus [][][]byte) [][]*rtp.Packet {
	t.Helper()
	enc, err := c.newEncoder()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]*rtp.Packet
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = uint32(i * 3600)
		}
		out = append(out, pkts)
	}
	return out
}

// decodeAll decodes pkts as the session does: each packet's bytes are
// overwritten once Decode returns (the socket buffer is reused), and each
// unit is copied before the next call (it is only good until then).
func decodeAll(d *depacketizer, pkts []*rtp.Packet) (aus [][][]byte, errs []error) {
	for _, p := range pkts {
		scratch := *p
		scratch.Payload = bytes.Clone(p.Payload)
		au, err := d.Decode(&scratch)
		for i := range scratch.Payload {
			scratch.Payload[i] = 0xee
		}
		switch {
		case errors.Is(err, errMorePackets):
		case err != nil:
			errs = append(errs, err)
		default:
			kept := make([][]byte, len(au))
			for i, n := range au {
				kept[i] = bytes.Clone(n)
			}
			aus = append(aus, kept)
		}
	}
	return aus, errs
}

func flat(pp [][]*rtp.Packet) []*rtp.Packet {
	var out []*rtp.Packet
	for _, p := range pp {
		out = append(out, p...)
	}
	return out
}

func TestDepacketizerRoundTrip(t *testing.T) {
	for _, c := range codecCases {
		t.Run(string(c.codec), func(t *testing.T) {
			aus := testAUs(c.kinds)
			pkts := c.packetize(t, aus)
			kinds := map[int]int{}
			for _, p := range flat(pkts) {
				kinds[c.payloadType(p)]++
			}
			if kinds[c.agg] == 0 || kinds[c.frag] == 0 || len(kinds) < 3 {
				t.Fatalf("packet types %v: the test wants aggregates, fragments and single units", kinds)
			}
			d := newDepacketizer(c.codec)
			got, errs := decodeAll(d, flat(pkts))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(got, aus) {
				t.Fatalf("got %d access units, want the %d sent, byte for byte", len(got), len(aus))
			}
			// Every unit ended by its marker: the second buffer was never needed.
			if n := cap(d.bufs[d.cur^1]); n != 0 {
				t.Errorf("the spare buffer grew to %d bytes for a stream that marks every unit", n)
			}
		})
	}
}

// Units ended by their marker and units ended by the next one's first
// packet, alternating: each kind of end hands over the unit whole while
// the next one is being collected.
func TestDepacketizerSomeMarkers(t *testing.T) {
	for _, c := range codecCases {
		t.Run(string(c.codec), func(t *testing.T) {
			aus := testAUs(c.kinds)
			pkts := c.packetize(t, aus)
			for i, pp := range pkts {
				pp[len(pp)-1].Marker = i%3 == 0
			}
			got, errs := decodeAll(newDepacketizer(c.codec), flat(pkts))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			want := aus
			if len(pkts)%3 != 1 {
				want = aus[:len(aus)-1] // the last unit, unmarked, has not ended
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %d access units, want %d, byte for byte", len(got), len(want))
			}
		})
	}
}

func TestDepacketizerWithoutMarker(t *testing.T) {
	for _, c := range codecCases {
		t.Run(string(c.codec), func(t *testing.T) {
			aus := testAUs(c.kinds)
			pkts := flat(c.packetize(t, aus))
			for _, p := range pkts {
				p.Marker = false // cameras that never set it: the next timestamp ends a unit
			}
			got, errs := decodeAll(newDepacketizer(c.codec), pkts)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(got, aus[:len(aus)-1]) {
				t.Fatalf("got %d access units, want all but the last (not ended yet) of %d", len(got), len(aus))
			}
		})
	}
}

func TestDepacketizerLostFragment(t *testing.T) {
	for _, c := range codecCases {
		t.Run(string(c.codec), func(t *testing.T) {
			aus := testAUs(c.kinds)
			pkts := c.packetize(t, aus)
			// Drop a middle fragment of the keyframe's IDR slice.
			key := pkts[0]
			var lost []*rtp.Packet
			for i, p := range key {
				if i == len(key)/2 {
					if c.payloadType(p) != c.frag {
						t.Fatalf("packet %d of the keyframe is not a fragment", i)
					}
					continue
				}
				lost = append(lost, p)
			}
			pkts[0] = lost
			got, errs := decodeAll(newDepacketizer(c.codec), flat(pkts))
			if len(errs) == 0 {
				t.Fatal("a lost fragment gave no error")
			}
			for _, au := range got {
				for _, n := range au {
					if bytes.HasPrefix(n, c.kinds.idr) {
						t.Fatalf("an IDR slice of %d bytes came out of a unit with a fragment lost", len(n))
					}
				}
			}
			if !reflect.DeepEqual(got[len(got)-len(aus)+1:], aus[1:]) {
				t.Fatal("the units after the loss are not intact")
			}
		})
	}
}

func TestDepacketizerAnnexB(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	k := h264Kinds
	sps, pps, idr, p := nalu(r, k.sps, 20), nalu(r, k.pps, 4), nalu(r, k.idr, 500), nalu(r, k.p, 200)
	wrap := func(nn ...[]byte) []byte {
		var b []byte
		for _, n := range nn {
			b = append(append(b, 0, 0, 0, 1), n...)
		}
		return b
	}
	d := newDepacketizer(CodecH264)
	au, err := d.Decode(&rtp.Packet{Header: rtp.Header{Marker: true, Timestamp: 1}, Payload: wrap(sps, pps, idr)})
	if err != nil || !reflect.DeepEqual(au, [][]byte{sps, pps, idr}) {
		t.Fatalf("wrapped keyframe: %d units, %v; want its 3 NAL units", len(au), err)
	}
	// Once the stream is known to wrap, a unit with a start code inside is
	// split even when it does not begin with one.
	au, err = d.Decode(&rtp.Packet{Header: rtp.Header{Marker: true, Timestamp: 2}, Payload: append(bytes.Clone(p), wrap(p)...)})
	if err != nil || !reflect.DeepEqual(au, [][]byte{p, p}) {
		t.Fatalf("unit with a start code inside: %d units, %v; want 2", len(au), err)
	}
}

func TestDepacketizerRejectsBrokenPackets(t *testing.T) {
	for name, pl := range map[string][]byte{
		"empty":                {},
		"H.264 STAP-B":         {25, 0, 1, 0x41},
		"H.264 FU-A too short": {28},
		"H.264 STAP-A cut":     {24, 0, 9, 0x41},
		"H.264 FU-A no start":  {28, 0x05, 1, 2, 3},
		"H.265 one byte":       {0x02},
		"H.265 PACI":           {50 << 1, 1, 0, 0},
		"H.265 FU too short":   {49 << 1, 1},
		"H.265 AP cut":         {48 << 1, 1, 0, 9, 0x02},
		"H.265 FU no start":    {49 << 1, 1, 0x01, 1, 2},
	} {
		codec := CodecH264
		if strings.HasPrefix(name, "H.265") {
			codec = CodecH265
		}
		d := newDepacketizer(codec)
		au, err := d.Decode(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: pl})
		if err == nil || errors.Is(err, errMorePackets) || au != nil {
			t.Errorf("%s: got %d units, %v; want an error", name, len(au), err)
		}
	}
}

func BenchmarkH264Depacketizer(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	au := [][]byte{nalu(r, h264Kinds.p, 20000)}
	enc, err := (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateEncoder()
	if err != nil {
		b.Fatal(err)
	}
	pkts, err := enc.Encode(au)
	if err != nil {
		b.Fatal(err)
	}
	dec, err := (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateDecoder()
	if err != nil {
		b.Fatal(err)
	}
	for name, decode := range map[string]func(*rtp.Packet) ([][]byte, error){
		"ours":    newDepacketizer(CodecH264).Decode,
		"library": dec.Decode,
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(20000)
			b.ReportAllocs()
			var seq uint16
			for b.Loop() {
				for _, p := range pkts {
					p.SequenceNumber = seq
					seq++
					_, _ = decode(p)
				}
			}
		})
	}
}

// FuzzDepacketizer feeds packets cut from arbitrary bytes: the first
// byte of each is its flags (marker, new timestamp, a lost packet before
// it), the second its payload length. Whatever arrives, the depacketizer
// must not panic and every unit it returns holds only non-empty NAL units.
func FuzzDepacketizer(f *testing.F) {
	for _, pkts := range codecCases[0].packetize(f, testAUs(h264Kinds)[:2]) {
		var seed []byte
		for _, p := range pkts {
			if len(p.Payload) > 255 {
				p.Payload = p.Payload[:255]
			}
			seed = append(append(seed, 1, byte(len(p.Payload))), p.Payload...)
		}
		f.Add(false, seed)
	}
	f.Add(false, []byte{1, 9, 0, 0, 0, 1, 0x67, 0, 0, 1, 0x68})
	f.Add(true, []byte{1, 4, 49 << 1, 1, 0x81, 7, 1, 4, 49 << 1, 1, 0x41, 8})
	f.Fuzz(func(t *testing.T, h265 bool, b []byte) {
		d := newDepacketizer(CodecH264)
		if h265 {
			d = newDepacketizer(CodecH265)
		}
		var seq uint16
		var ts uint32
		for len(b) >= 2 {
			flags, n := b[0], int(b[1])
			b = b[2:]
			n = min(n, len(b))
			seq += 1 + uint16(flags>>2&1)
			ts += uint32(flags >> 1 & 1)
			p := &rtp.Packet{Header: rtp.Header{Marker: flags&1 != 0, SequenceNumber: seq, Timestamp: ts}, Payload: b[:n]}
			b = b[n:]
			au, err := d.Decode(p)
			if err != nil && au != nil {
				t.Fatalf("a unit and an error: %v", err)
			}
			for _, nal := range au {
				if len(nal) == 0 {
					t.Fatal("an empty NAL unit in an access unit")
				}
			}
		}
	})
}

// TestAVCC: the packed unit is what mediacommon marshals, its NAL units
// are views into it, units held are left intact by the next ones, and a
// released frame is reused instead of allocated.
func TestAVCC(t *testing.T) {
	aus := [][][]byte{
		{{0x67, 1, 2, 3}, {0x68, 4}, bytes.Repeat([]byte{0x65, 9}, 40000)},
		{{0x41, 7, 7}},
		{{0x06, 5}, {}, {0x41, 1}},
	}
	var got []*frame
	for _, au := range aus {
		f := packAVCC(au)
		want, err := h264.AVCC(au).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.buf, want) {
			t.Fatalf("avcc(%d NAL units) = % x..., want % x...", len(au), f.buf[:min(len(f.buf), 16)], want[:min(len(want), 16)])
		}
		if len(f.nalus) != len(au) {
			t.Fatalf("%d NAL units returned, want %d", len(f.nalus), len(au))
		}
		for i := range au {
			if !bytes.Equal(f.nalus[i], au[i]) || cap(f.nalus[i]) != len(au[i]) {
				t.Errorf("NAL unit %d: % x (cap %d), want % x", i, f.nalus[i], cap(f.nalus[i]), au[i])
			}
		}
		got = append(got, f)
	}
	for i, au := range aus {
		want, _ := h264.AVCC(au).Marshal()
		if !bytes.Equal(got[i].buf, want) {
			t.Errorf("unit %d changed while later units were packed", i)
		}
		got[i].release()
	}
	// A fresh frame costs three allocations (frame, buffer, NAL unit list).
	// The race detector's pool drops a quarter of what it is given on
	// purpose, so there only the average must stay below a fresh frame's.
	limit := 0.0
	if raceEnabled {
		limit = 2
	}
	if n := testing.AllocsPerRun(100, func() { packAVCC(aus[0]).release() }); n > limit {
		t.Errorf("%v allocations per unit, want at most %v: the pool's frames reused", n, limit)
	}
}
