package record

import (
	"bytes"
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
		var ref seekablebuffer.Buffer
		p := fmp4.Part{SequenceNumber: 7}
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
		got := appendPart(nil, 7, tracks)
		if !bytes.Equal(got, ref.Bytes()) {
			t.Fatalf("%d tracks:\n got %x\nwant %x", len(tracks), got, ref.Bytes())
		}
	}
}
