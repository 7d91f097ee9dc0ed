package record

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"
	"unsafe"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"golang.org/x/sys/unix"
)

// A burst of large frames outgrows the part buffer's first mapping in the
// middle of a part: the part's payloads are taken again from the new one
// and every frame reaches the file as sent. Two segments later, the pages
// the burst touched are given back.
func TestPartBufferGrowsAndGivesBack(t *testing.T) {
	units, rec, d, storage := closeFeed(t) // 10 s of 1080p, a keyframe and a segment every 2 s
	// The first keyframe interval carries 160 KB of filler data (a NAL
	// unit every decoder skips) per frame: 8 MB a second.
	rnd := rand.New(rand.NewPCG(1, 2))
	const gop = 50
	var sent [][]byte
	var burstMapping, resident int
	for i, u := range units {
		u.Payload = bytes.Clone(u.Payload)
		if i < gop {
			filler := make([]byte, 4+160<<10)
			binary.BigEndian.PutUint32(filler, uint32(len(filler)-4))
			filler[4] = 12 // H.264 filler data
			for j := 5; j < len(filler); j++ {
				filler[j] = byte(rnd.Uint32())
			}
			u.Payload = append(u.Payload, filler...)
		}
		sent = append(sent, u.Payload)
		rec.Write(&u)
		if i == gop-1 {
			burstMapping = len(rec.parts[0].b)
		}
		if i == 2*gop {
			// The third segment began with this keyframe.
			resident = residentBytes(t, rec.parts[0].b)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if burstMapping <= videoPartSize {
		t.Fatalf("the burst's parts fit in %d bytes: the test wants the buffer to grow", burstMapping)
	}
	if rec.parts[0].b != nil {
		t.Error("the part buffer is still mapped after Close")
	}

	segs := checkRecordings(t, d, storage, "cam")
	if len(segs) != 5 {
		t.Fatalf("%d segments, want one per keyframe interval, 5", len(segs))
	}
	// Once the second segment is done, the buffer keeps the pages of its
	// largest part (a part's size counts its moof too) and no more.
	parts, err := DecodeParts(segs[1].ix.Parts, segs[1].ix.InitSize)
	if err != nil {
		t.Fatal(err)
	}
	page, largest := int64(os.Getpagesize()), int64(0)
	for _, p := range parts {
		largest = max(largest, p.Size)
	}
	if limit := (largest + page - 1) / page * page; int64(resident) > limit {
		t.Errorf("%d KB of the part buffer resident after the burst's segment and a normal one, want at most the normal one's largest part, %d KB", resident>>10, limit>>10)
	}

	var got [][]byte
	for _, s := range segs {
		b, err := os.ReadFile(s.rec.FilePath)
		if err != nil {
			t.Fatal(err)
		}
		var parts fmp4.Parts
		if err := parts.Unmarshal(b[s.ix.InitSize:]); err != nil {
			t.Fatalf("%s: %v", s.rec.FilePath, err)
		}
		for _, p := range parts {
			for _, tr := range p.Tracks {
				for _, smp := range tr.Samples {
					got = append(got, smp.Payload)
				}
			}
		}
	}
	if len(got) != len(sent) {
		t.Fatalf("%d frames in the files, %d sent", len(got), len(sent))
	}
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Fatalf("frame %d (%d bytes) is not the frame sent (%d bytes)", i, len(got[i]), len(sent[i]))
		}
	}
}

// residentBytes is how much of mapping b is in memory.
func residentBytes(t *testing.T, b []byte) int {
	t.Helper()
	page := os.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		if v&1 != 0 {
			n += page
		}
	}
	return n
}
