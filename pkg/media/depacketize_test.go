package media

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// nalu is a NAL unit of the given header byte and size with random bytes
// in which, as emulation prevention ensures, two zeros are never followed
// by a byte below 4, so it holds no start code.
func nalu(r *rand.Rand, hdr byte, size int) []byte {
	n := make([]byte, size)
	n[0] = hdr
	for i := 1; i < size; i++ {
		n[i] = byte(r.IntN(256))
		if i >= 2 && n[i-2] == 0 && n[i-1] == 0 && n[i] < 4 {
			n[i] = 3
		}
	}
	return n
}

// testAUs is a keyframe with its parameter sets, then P-frames large and
// small: the packetizer sends them as STAP-A, FU-A and single units.
func testAUs() [][][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	return [][][]byte{
		{nalu(r, 0x67, 20), nalu(r, 0x68, 4), nalu(r, 0x65, 9000)},
		{nalu(r, 0x41, 3000)},
		{nalu(r, 0x41, 60)},
		{nalu(r, 0x06, 30), nalu(r, 0x41, 1400), nalu(r, 0x41, 1500)},
		{nalu(r, 0x41, 1)},
	}
}

// packetize is the RTP library's own H.264 packetizer: the reference for
// what a sender puts on the wire.
func packetize(t testing.TB, aus [][][]byte) [][]*rtp.Packet {
	t.Helper()
	enc, err := (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateEncoder()
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

func decodeAll(d *h264Depacketizer, pkts []*rtp.Packet) (aus [][][]byte, errs []error) {
	for _, p := range pkts {
		au, err := d.Decode(p)
		switch {
		case errors.Is(err, errMorePackets):
		case err != nil:
			errs = append(errs, err)
		default:
			aus = append(aus, au)
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

func TestH264DepacketizerRoundTrip(t *testing.T) {
	aus := testAUs()
	pkts := packetize(t, aus)
	kinds := map[byte]int{}
	for _, p := range flat(pkts) {
		kinds[p.Payload[0]&0x1f]++
	}
	if kinds[h264STAPA] == 0 || kinds[h264FUA] == 0 || kinds[0x41&0x1f] == 0 {
		t.Fatalf("packet types %v: the test wants STAP-A, FU-A and single units", kinds)
	}
	got, errs := decodeAll(&h264Depacketizer{}, flat(pkts))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if !reflect.DeepEqual(got, aus) {
		t.Fatalf("got %d access units, want the %d sent, byte for byte", len(got), len(aus))
	}
}

func TestH264DepacketizerWithoutMarker(t *testing.T) {
	aus := testAUs()
	pkts := flat(packetize(t, aus))
	for _, p := range pkts {
		p.Marker = false // cameras that never set it: the next timestamp ends a unit
	}
	got, errs := decodeAll(&h264Depacketizer{}, pkts)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if !reflect.DeepEqual(got, aus[:len(aus)-1]) {
		t.Fatalf("got %d access units, want all but the last (not ended yet) of %d", len(got), len(aus))
	}
}

func TestH264DepacketizerLostFragment(t *testing.T) {
	aus := testAUs()
	pkts := packetize(t, aus)
	// Drop a middle fragment of the keyframe's IDR slice.
	key := pkts[0]
	var lost []*rtp.Packet
	for i, p := range key {
		if i == len(key)/2 {
			if p.Payload[0]&0x1f != h264FUA || p.Payload[1]&0xc0 != 0 {
				t.Fatalf("packet %d of the keyframe is not a middle FU-A fragment", i)
			}
			continue
		}
		lost = append(lost, p)
	}
	pkts[0] = lost
	got, errs := decodeAll(&h264Depacketizer{}, flat(pkts))
	if len(errs) == 0 {
		t.Fatal("a lost fragment gave no error")
	}
	for _, au := range got {
		for _, n := range au {
			if n[0]&0x1f == 5 {
				t.Fatalf("an IDR slice of %d bytes came out of a unit with a fragment lost", len(n))
			}
		}
	}
	if !reflect.DeepEqual(got[len(got)-len(aus)+1:], aus[1:]) {
		t.Fatal("the units after the loss are not intact")
	}
}

func TestH264DepacketizerAnnexB(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sps, pps, idr, p := nalu(r, 0x67, 20), nalu(r, 0x68, 4), nalu(r, 0x65, 500), nalu(r, 0x41, 200)
	wrap := func(nn ...[]byte) []byte {
		var b []byte
		for _, n := range nn {
			b = append(append(b, 0, 0, 0, 1), n...)
		}
		return b
	}
	d := &h264Depacketizer{}
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

func TestH264DepacketizerRejectsBrokenPackets(t *testing.T) {
	for name, pl := range map[string][]byte{
		"empty":          {},
		"STAP-B":         {25, 0, 1, 0x41},
		"FU-A too short": {28},
		"STAP-A cut":     {24, 0, 9, 0x41},
		"FU-A no start":  {28, 0x05, 1, 2, 3},
	} {
		d := &h264Depacketizer{}
		au, err := d.Decode(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: pl})
		if err == nil || errors.Is(err, errMorePackets) || au != nil {
			t.Errorf("%s: got %d units, %v; want an error", name, len(au), err)
		}
	}
}

func BenchmarkH264Depacketizer(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	au := [][]byte{nalu(r, 0x41, 20000)}
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
		"ours":    (&h264Depacketizer{}).Decode,
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

// FuzzH264Depacketizer feeds packets cut from arbitrary bytes: the first
// byte of each is its flags (marker, new timestamp, a lost packet before
// it), the second its payload length. Whatever arrives, the depacketizer
// must not panic and every unit it returns holds only non-empty NAL units.
func FuzzH264Depacketizer(f *testing.F) {
	for _, pkts := range packetize(f, testAUs()[:2]) {
		var seed []byte
		for _, p := range pkts {
			if len(p.Payload) > 255 {
				p.Payload = p.Payload[:255]
			}
			seed = append(append(seed, 1, byte(len(p.Payload))), p.Payload...)
		}
		f.Add(seed)
	}
	f.Add([]byte{1, 9, 0, 0, 0, 1, 0x67, 0, 0, 1, 0x68})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &h264Depacketizer{}
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
