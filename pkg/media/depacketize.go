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
// code, and fragments are joined into a buffer that is not zeroed first.
// Together that was a quarter of ingest's user CPU (BenchmarkIngest).
type depacketizer struct {
	h265  bool
	hdr   [2]byte  // the reassembled NAL unit's header
	frags [][]byte // header, then each fragment's payload; empty when no FU is open
	size  int      // bytes in frags
	next  uint16   // sequence number the open FU expects next

	one [1][]byte // the single NAL unit a packet carries or completes, without a slice per packet

	au     [][]byte // NAL units of the access unit being collected
	auSize int
	auTS   uint32
	annexB bool // the stream wraps NAL units in start codes
}

func newDepacketizer(c Codec) *depacketizer { return &depacketizer{h265: c == CodecH265} }

func (d *depacketizer) maxNALUs() int {
	if d.h265 {
		return h265.MaxNALUsPerAccessUnit
	}
	return h264.MaxNALUsPerAccessUnit
}

// Decode takes one packet and returns an access unit when the packet ends
// one (marker bit), or when it starts the next one (a new timestamp, for
// cameras that never set the marker). errMorePackets means the unit is not
// complete yet; any other error discarded the fragment it broke.
func (d *depacketizer) Decode(p *rtp.Packet) ([][]byte, error) {
	nalus, err := d.nalus(p)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	if len(d.au) > 0 && p.Timestamp != d.auTS {
		out = d.take()
	}
	if err := d.add(nalus, p.Timestamp); err != nil && out == nil {
		return nil, err
	}
	if out == nil && p.Marker {
		out = d.take()
	}
	if out == nil {
		return nil, errMorePackets
	}
	return out, nil
}

func (d *depacketizer) take() [][]byte {
	au := d.au
	// The unit goes to subscribers that keep it: the next one gets its
	// own slice.
	d.au, d.auSize = nil, 0
	return au
}

func (d *depacketizer) add(nalus [][]byte, ts uint32) error {
	size := d.auSize
	for _, n := range nalus {
		size += len(n)
	}
	switch {
	case len(d.au)+len(nalus) > d.maxNALUs():
		d.au, d.auSize = nil, 0
		return fmt.Errorf("access unit has more than %d NAL units", d.maxNALUs())
	case size > h264.MaxAccessUnitSize: // the same for H.265
		d.au, d.auSize = nil, 0
		return fmt.Errorf("access unit of %d bytes is over the %d allowed", size, h264.MaxAccessUnitSize)
	}
	d.au = append(d.au, nalus...)
	d.auSize = size
	d.auTS = ts
	return nil
}

// nalus returns the complete NAL units p carries or completes: none while
// a fragmented unit is still open. The slice is only good until the next
// call (add copies its elements).
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
		nalus, err := splitAggregate(pl[hl:])
		if err != nil {
			return nil, err
		}
		return d.unwrap(nalus)
	case !d.h265 && typ >= 25, d.h265 && typ >= 50:
		d.dropFragments()
		return nil, fmt.Errorf("RTP payload type %d not supported", typ)
	default:
		d.dropFragments()
		d.one[0] = pl
		return d.unwrap(d.one[:])
	}
}

// fragment adds a fragmentation unit (after a NAL header of hl bytes comes
// the FU header: start and end bits and the unit's type) and returns the
// NAL unit it completes.
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
		d.frags = append(d.frags, d.hdr[:hl])
		d.size = hl
	} else {
		if len(d.frags) == 0 {
			return nil, errors.New("fragment without its start")
		}
		if p.SequenceNumber != d.next {
			d.dropFragments()
			return nil, errors.New("fragment lost: NAL unit discarded")
		}
	}
	d.frags = append(d.frags, pl[hl+1:])
	d.size += len(pl) - hl - 1
	d.next = p.SequenceNumber + 1
	if d.size > h264.MaxAccessUnitSize { // the same for H.265
		size := d.size
		d.dropFragments()
		return nil, fmt.Errorf("NAL unit of %d bytes is over the %d allowed", size, h264.MaxAccessUnitSize)
	}
	if fu&0x40 == 0 { // not the end
		return nil, nil
	}
	// bytes.Join allocates without zeroing: every byte is copied over.
	n := bytes.Join(d.frags, nil)
	d.dropFragments()
	return n, nil
}

func (d *depacketizer) dropFragments() {
	clear(d.frags) // the packets' payloads may go
	d.frags, d.size = d.frags[:0], 0
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
// (after its NAL header): each is a 16-bit size and the unit.
func splitAggregate(b []byte) ([][]byte, error) {
	var nalus [][]byte
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
		nalus = append(nalus, b[:size])
		b = b[size:]
	}
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
