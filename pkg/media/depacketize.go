package media

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
)

// errMorePackets means the packet was taken and the access unit is not
// complete yet; it is not a loss.
var errMorePackets = errors.New("access unit incomplete")

// RTP payload types that carry more or less than one NAL unit: H.264's
// (RFC 6184 §5.2) aggregation and fragmentation units, and H.265's (RFC
// 7798 §4.4).
const (
	h264STAPA = 24
	h264FUA   = 28
	h265AP    = 48
	h265FU    = 49
)

// depacketizer reassembles H.264 (RFC 6184, packetization modes 0 and 1)
// and H.265 (RFC 7798, without DONL) access units from RTP.
//
// It exists instead of the RTP library's decoders because those scan
// every reassembled NAL unit for start codes (for cameras that wrap NAL
// units in Annex-B; the H.264 one twice) and zero each unit's buffer before
// copying into it. Our streams come from go2rtc, which packetizes NAL
// units itself, so units are scanned only once a unit begins with a start
// code. Together that was a quarter of ingest's user CPU (BenchmarkIngest).
//
// It copies what it keeps out of each packet, so the packet's bytes may be
// reused as soon as Decode returns: the session reads packets straight out
// of its socket buffer. The bytes go into a buffer, in order, so a
// fragmented unit is joined by arriving and an access unit's units lie
// side by side. A unit ended by its marker bit (go2rtc sets it on every
// unit) is returned from that buffer, which the next call empties; only a
// unit ended by the next one's first packet needs the second buffer, as
// that packet is kept while the unit is out. Buffers are reused from unit
// to unit, so a stream allocates nothing per packet, and one that always
// marks its units keeps one buffer of its largest unit, not two.
type depacketizer struct {
	h265 bool
	hdr  [2]byte // the reassembled NAL unit's header
	fu   int     // where the open fragmented unit starts in buf; -1 when none
	next uint16  // sequence number the open FU expects next

	one   [1][]byte // the single NAL unit a packet carries or completes, without a slice per packet
	split [][]byte  // the units of an aggregation packet, reused

	bufs   [2][]byte   // the bytes of the unit being collected and of the one returned last
	aus    [2][][]byte // their NAL units
	cur    int         // which of the two is being collected
	taken  bool        // bufs[cur] holds the unit returned last, emptied by the next call
	auSize int
	auTS   uint32
	annexB bool // the stream wraps NAL units in start codes
}

func newDepacketizer(c Codec) *depacketizer { return &depacketizer{h265: c == CodecH265, fu: -1} }

func (d *depacketizer) maxNALUs() int {
	if d.h265 {
		return h265.MaxNALUsPerAccessUnit
	}
	return h264.MaxNALUsPerAccessUnit
}

// Decode takes one packet and returns an access unit when the packet ends
// one (marker bit), or when it starts the next one (a new timestamp, for
// cameras that never set the marker). The unit is good until the next call.
// errMorePackets means the unit is not complete yet; any other error
// discarded the fragment it broke.
func (d *depacketizer) Decode(p *rtp.Packet) ([][]byte, error) {
	var out [][]byte
	if d.taken {
		d.taken = false
		d.reset() // the unit returned last is good only until this call
	}
	if p.Timestamp != d.auTS {
		d.dropFragments() // a unit's fragments share its timestamp
		if len(d.aus[d.cur]) > 0 {
			out = d.take()
		}
	}
	d.auTS = p.Timestamp
	mark := len(d.bufs[d.cur])
	nalus, err := d.nalus(p)
	if err == nil {
		err = d.add(nalus)
	} else if len(d.bufs[d.cur]) > mark {
		d.bufs[d.cur] = d.bufs[d.cur][:mark] // what the broken packet left
	}
	if err != nil && out == nil {
		return nil, err
	}
	if out == nil && p.Marker && len(d.aus[d.cur]) > 0 {
		d.dropFragments()
		out, d.taken = d.aus[d.cur], true
	}
	if out == nil {
		return nil, errMorePackets
	}
	return out, nil
}

// take ends the unit being collected and starts the next in the other
// buffer, whose unit (returned by an earlier call) is no longer needed.
func (d *depacketizer) take() [][]byte {
	d.dropFragments()
	au := d.aus[d.cur]
	d.cur ^= 1
	d.reset()
	return au
}

// reset empties the unit being collected.
func (d *depacketizer) reset() {
	d.bufs[d.cur] = d.bufs[d.cur][:0]
	d.aus[d.cur] = d.aus[d.cur][:0]
	d.auSize = 0
	d.fu = -1
}

// keep copies n into the buffer and returns the copy, capped so that
// appending to it can never run into the next unit.
func (d *depacketizer) keep(n []byte) []byte {
	b := d.bufs[d.cur]
	start := len(b)
	b = append(b, n...)
	d.bufs[d.cur] = b
	return b[start:len(b):len(b)]
}

// add appends NAL units, already in the buffer, to the unit.
func (d *depacketizer) add(nalus [][]byte) error {
	size := d.auSize
	for _, n := range nalus {
		size += len(n)
	}
	au := d.aus[d.cur]
	switch {
	case len(au)+len(nalus) > d.maxNALUs():
		d.reset()
		return fmt.Errorf("access unit has more than %d NAL units", d.maxNALUs())
	case size > h264.MaxAccessUnitSize: // the same for H.265
		d.reset()
		return fmt.Errorf("access unit of %d bytes is over the %d allowed", size, h264.MaxAccessUnitSize)
	}
	d.aus[d.cur] = append(au, nalus...)
	d.auSize = size
	return nil
}

// nalus returns the complete NAL units p carries or completes, copied into
// the buffer: none while a fragmented unit is still open. The slice is
// only good until the next call (add copies its elements).
func (d *depacketizer) nalus(p *rtp.Packet) ([][]byte, error) {
	pl := p.Payload
	hl := 1 // NAL unit header length
	typ := 0
	switch {
	case d.h265 && len(pl) >= 2:
		hl, typ = 2, int(pl[0]>>1&0x3f)
	case !d.h265 && len(pl) >= 1:
		typ = int(pl[0] & 0x1f)
	default:
		d.dropFragments()
		return nil, errors.New("RTP payload too short")
	}
	switch {
	case !d.h265 && typ == h264FUA, d.h265 && typ == h265FU:
		n, err := d.fragment(p, hl)
		if n == nil || err != nil {
			return nil, err
		}
		d.one[0] = n
		return d.unwrap(d.one[:])
	case !d.h265 && typ == h264STAPA, d.h265 && typ == h265AP:
		d.dropFragments()
		nalus, err := d.splitAggregate(pl[hl:])
		if err != nil {
			return nil, err
		}
		return d.unwrap(nalus)
	case !d.h265 && typ >= 25, d.h265 && typ >= 50:
		d.dropFragments()
		return nil, fmt.Errorf("RTP payload type %d not supported", typ)
	default:
		d.dropFragments()
		d.one[0] = d.keep(pl)
		return d.unwrap(d.one[:])
	}
}

// fragment adds a fragmentation unit (after a NAL header of hl bytes comes
// the FU header: start and end bits and the unit's type) and returns the
// NAL unit it completes. The fragments are appended to the buffer as they
// come, so the last one leaves the whole unit there in one piece.
func (d *depacketizer) fragment(p *rtp.Packet, hl int) ([]byte, error) {
	pl := p.Payload
	if len(pl) < hl+1 {
		d.dropFragments()
		return nil, errors.New("fragmentation unit too short")
	}
	fu := pl[hl]
	if fu&0x80 != 0 { // start
		d.dropFragments()
		if d.h265 {
			d.hdr[0], d.hdr[1] = pl[0]&0x81|(fu&0x3f)<<1, pl[1]
		} else {
			d.hdr[0] = pl[0]&0xe0 | fu&0x1f
		}
		d.fu = len(d.bufs[d.cur])
		d.keep(d.hdr[:hl])
	} else {
		if d.fu < 0 {
			return nil, errors.New("fragment without its start")
		}
		if p.SequenceNumber != d.next {
			d.dropFragments()
			return nil, errors.New("fragment lost: NAL unit discarded")
		}
	}
	d.keep(pl[hl+1:])
	d.next = p.SequenceNumber + 1
	b := d.bufs[d.cur]
	if size := len(b) - d.fu; size > h264.MaxAccessUnitSize { // the same for H.265
		d.dropFragments()
		return nil, fmt.Errorf("NAL unit of %d bytes is over the %d allowed", size, h264.MaxAccessUnitSize)
	}
	if fu&0x40 == 0 { // not the end
		return nil, nil
	}
	n := b[d.fu:len(b):len(b)]
	d.fu = -1
	return n, nil
}

// dropFragments discards the open fragmented unit: its bytes are the
// buffer's tail, since nothing else is kept while one is open.
func (d *depacketizer) dropFragments() {
	if d.fu >= 0 {
		d.bufs[d.cur] = d.bufs[d.cur][:d.fu]
		d.fu = -1
	}
}

// unwrap splits NAL units that arrive wrapped in Annex-B start codes. A NAL
// unit never begins with two zero bytes (an H.264 header of type 0 is
// unused, an H.265 header's second byte is never 0), so looking at its
// first bytes is enough to notice such a stream; from then on every unit
// is scanned.
func (d *depacketizer) unwrap(nalus [][]byte) ([][]byte, error) {
	if !d.annexB {
		d.annexB = slices.ContainsFunc(nalus, wrapped)
		if !d.annexB {
			return nalus, nil
		}
	}
	var out [][]byte
	for _, n := range nalus {
		if !wrapped(n) {
			if !bytes.Contains(n, annexBStart[1:]) {
				out = append(out, n)
				continue
			}
			n = append(annexBStart[:4:4], n...)
		}
		var a h264.AnnexB
		if err := a.Unmarshal(n); err != nil {
			return nil, fmt.Errorf("NAL units in Annex-B: %w", err)
		}
		out = append(out, a...)
	}
	return out, nil
}

var annexBStart = [4]byte{0, 0, 0, 1}

// wrapped reports whether n begins as only a start code can.
func wrapped(n []byte) bool { return len(n) >= 3 && n[0] == 0 && n[1] == 0 }

// splitAggregate returns the NAL units of an aggregation packet's payload
// (after its NAL header), copied into the buffer: each is a 16-bit size and
// the unit.
func (d *depacketizer) splitAggregate(b []byte) ([][]byte, error) {
	nalus := d.split[:0]
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("aggregation packet truncated")
		}
		size := int(b[0])<<8 | int(b[1])
		b = b[2:]
		if size == 0 {
			if !allZero(b) {
				return nil, errors.New("aggregation packet has a unit of size 0")
			}
			break // padding
		}
		if size > len(b) {
			return nil, errors.New("aggregation packet truncated")
		}
		nalus = append(nalus, d.keep(b[:size]))
		b = b[size:]
	}
	d.split = nalus
	if len(nalus) == 0 {
		return nil, errors.New("aggregation packet carries no NAL unit")
	}
	return nalus, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
