package media

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// errMorePackets means the packet was taken and the access unit is not
// complete yet; it is not a loss.
var errMorePackets = errors.New("access unit incomplete")

// H.264 RTP payload types (RFC 6184 §5.2) that carry more or less than one
// NAL unit.
const (
	h264STAPA = 24
	h264FUA   = 28
)

// h264Depacketizer reassembles H.264 access units from RTP (RFC 6184,
// packetization modes 0 and 1).
//
// It exists instead of the RTP library's decoder because that one scans
// every reassembled NAL unit twice for start codes (for cameras that wrap
// NAL units in Annex-B) and zeroes each unit's buffer before copying into
// it. Our streams come from go2rtc, which packetizes NAL units itself, so
// a unit is scanned only when it begins with a start code, and fragments
// are joined into a buffer that is not zeroed first. Together that was a
// quarter of ingest CPU (the ingest benchmark's profile).
type h264Depacketizer struct {
	hdr   [1]byte  // the reassembled NAL unit's header
	frags [][]byte // hdr, then each fragment's payload; empty when no FU-A is open
	size  int      // bytes in frags
	next  uint16   // sequence number the open FU-A expects next

	au     [][]byte // NAL units of the access unit being collected
	auSize int
	auTS   uint32
	annexB bool // the stream wraps NAL units in start codes
}

// Decode takes one packet and returns an access unit when the packet ends
// one (marker bit), or when it starts the next one (a new timestamp, for
// cameras that never set the marker). errMorePackets means the unit is not
// complete yet; any other error discarded the fragment it broke.
func (d *h264Depacketizer) Decode(p *rtp.Packet) ([][]byte, error) {
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

func (d *h264Depacketizer) take() [][]byte {
	au := d.au
	// The unit goes to subscribers that keep it: the next one gets its
	// own slice.
	d.au, d.auSize = nil, 0
	return au
}

func (d *h264Depacketizer) add(nalus [][]byte, ts uint32) error {
	size := d.auSize
	for _, n := range nalus {
		size += len(n)
	}
	switch {
	case len(d.au)+len(nalus) > h264.MaxNALUsPerAccessUnit:
		d.au, d.auSize = nil, 0
		return fmt.Errorf("access unit has more than %d NAL units", h264.MaxNALUsPerAccessUnit)
	case size > h264.MaxAccessUnitSize:
		d.au, d.auSize = nil, 0
		return fmt.Errorf("access unit of %d bytes is over the %d allowed", size, h264.MaxAccessUnitSize)
	}
	d.au = append(d.au, nalus...)
	d.auSize = size
	d.auTS = ts
	return nil
}

// nalus returns the complete NAL units p carries or completes: none while
// a fragmented unit is still open.
func (d *h264Depacketizer) nalus(p *rtp.Packet) ([][]byte, error) {
	pl := p.Payload
	if len(pl) == 0 {
		d.dropFragments()
		return nil, errors.New("empty RTP payload")
	}
	switch typ := pl[0] & 0x1f; typ {
	case h264FUA:
		n, err := d.fragment(p)
		if n == nil || err != nil {
			return nil, err
		}
		return d.unwrap([][]byte{n})
	case h264STAPA:
		d.dropFragments()
		nalus, err := splitSTAPA(pl[1:])
		if err != nil {
			return nil, err
		}
		return d.unwrap(nalus)
	case 25, 26, 27, 29, 30, 31:
		d.dropFragments()
		return nil, fmt.Errorf("RTP H.264 payload type %d not supported", typ)
	default:
		d.dropFragments()
		return d.unwrap([][]byte{pl})
	}
}

// fragment adds an FU-A packet and returns the NAL unit it completes.
func (d *h264Depacketizer) fragment(p *rtp.Packet) ([]byte, error) {
	pl := p.Payload
	if len(pl) < 2 {
		d.dropFragments()
		return nil, errors.New("FU-A packet too short")
	}
	start, end := pl[1]&0x80 != 0, pl[1]&0x40 != 0
	if start {
		d.dropFragments()
		d.hdr[0] = pl[0]&0xe0 | pl[1]&0x1f
		d.frags = append(d.frags, d.hdr[:])
		d.size = 1
	} else {
		if len(d.frags) == 0 {
			return nil, errors.New("FU-A fragment without its start")
		}
		if p.SequenceNumber != d.next {
			d.dropFragments()
			return nil, errors.New("FU-A fragment lost: NAL unit discarded")
		}
	}
	d.frags = append(d.frags, pl[2:])
	d.size += len(pl) - 2
	d.next = p.SequenceNumber + 1
	if d.size > h264.MaxAccessUnitSize {
		size := d.size
		d.dropFragments()
		return nil, fmt.Errorf("NAL unit of %d bytes is over the %d allowed", size, h264.MaxAccessUnitSize)
	}
	if !end {
		return nil, nil
	}
	// bytes.Join allocates without zeroing: every byte is copied over.
	n := bytes.Join(d.frags, nil)
	d.dropFragments()
	return n, nil
}

func (d *h264Depacketizer) dropFragments() {
	clear(d.frags) // the packets' payloads may go
	d.frags, d.size = d.frags[:0], 0
}

// unwrap splits NAL units that arrive wrapped in Annex-B start codes. A NAL
// unit never begins with a zero byte (its header's type 0 is unused), so
// looking at its first bytes is enough to notice such a stream; from then
// on every unit is scanned.
func (d *h264Depacketizer) unwrap(nalus [][]byte) ([][]byte, error) {
	if !d.annexB {
		for _, n := range nalus {
			if len(n) > 0 && n[0] == 0 {
				d.annexB = true
				break
			}
		}
		if !d.annexB {
			return nalus, nil
		}
	}
	var out [][]byte
	for _, n := range nalus {
		if len(n) > 0 && n[0] != 0 {
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

// splitSTAPA returns the NAL units of a STAP-A payload (after its header
// byte): each is a 16-bit size and the unit.
func splitSTAPA(b []byte) ([][]byte, error) {
	var nalus [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("STAP-A packet truncated")
		}
		size := int(b[0])<<8 | int(b[1])
		b = b[2:]
		if size == 0 {
			if !allZero(b) {
				return nil, errors.New("STAP-A packet has a unit of size 0")
			}
			break // padding
		}
		if size > len(b) {
			return nil, errors.New("STAP-A packet truncated")
		}
		nalus = append(nalus, b[:size])
		b = b[size:]
	}
	if len(nalus) == 0 {
		return nil, errors.New("STAP-A packet carries no NAL unit")
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
