package ringbuf_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/media"
	"lightnvr/pkg/ringbuf"
)

var (
	video = &media.Track{Codec: media.CodecH264, ClockRate: 90000, SPS: []byte{1}, PPS: []byte{2}}
	desc  = &media.Desc{Gen: 1, Video: video}
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// unit i of a 25 fps stream with a keyframe every gop units; its payload is
// size bytes of a pattern that names i.
func unit(i, gop, size int) *media.Unit {
	p := make([]byte, size)
	for j := range p {
		p[j] = byte(i + j)
	}
	return &media.Unit{Desc: desc, Track: video, Seq: uint64(i), DTS: int64(i) * 3600, PTS: int64(i) * 3600,
		Wall: t0.Add(time.Duration(i) * 40 * time.Millisecond), Key: i%gop == 0, Payload: p}
}

func open(t testing.TB, window time.Duration, maxBytes int) *ringbuf.Ring {
	t.Helper()
	r, err := ringbuf.Open(ringbuf.Config{Path: filepath.Join(t.TempDir(), "cam.ring"), Window: window, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// readAll reads what the ring holds from a reader started back before the
// newest unit, checking every payload, and returns the sequence numbers.
func readAll(t *testing.T, r *ringbuf.Ring, back time.Duration, gop, size int) []uint64 {
	t.Helper()
	rd, err := r.NewReader(back)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var seqs []uint64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		u, err := rd.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return seqs
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := unit(int(u.Seq), gop, size); !bytes.Equal(u.Payload, want.Payload) || u.Key != want.Key || !u.Wall.Equal(want.Wall) {
			t.Fatalf("unit %d read back changed (key %v, %d bytes)", u.Seq, u.Key, len(u.Payload))
		}
		seqs = append(seqs, u.Seq)
	}
}

// After many passes over the data area every unit read back is intact and
// consecutive, and the ring holds the window from a keyframe.
func TestWraparoundKeepsWindowIntact(t *testing.T) {
	r := open(t, 2*time.Second, 4<<20)
	const gop, size = 25, 7000
	for i := 0; i < 3000; i++ { // 120 s, ~21 MB through a ring sized for ~3 s
		r.Write(unit(i, gop, size))
	}
	st := r.Stats()
	if st.Limit >= 4<<20 || st.Limit < 2*25*size {
		t.Fatalf("data area %d bytes: not sized from the bitrate (%d bytes/s) and window", st.Limit, 25*size)
	}
	seqs := readAll(t, r, 2*time.Second, gop, size)
	if len(seqs) == 0 || seqs[0]%gop != 0 {
		t.Fatalf("reader does not start at a keyframe: %v", seqs[:min(len(seqs), 3)])
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("units %d then %d: a gap", seqs[i-1], seqs[i])
		}
	}
	if seqs[len(seqs)-1] != 2999 || seqs[0] > 2999-50 {
		t.Fatalf("held %d..%d, want the newest unit and ≥ 2 s before it", seqs[0], seqs[len(seqs)-1])
	}
}

// A reader starts at the newest keyframe at least N seconds back.
func TestReaderStartsAtKeyframeBack(t *testing.T) {
	r := open(t, 10*time.Second, 8<<20)
	const gop, size = 25, 1000
	for i := 0; i <= 500; i++ { // keyframes at 0, 1 s, ... 20 s; newest at 20 s
		r.Write(unit(i, gop, size))
	}
	for _, c := range []struct {
		back time.Duration
		want uint64
	}{
		{0, 500},
		{500 * time.Millisecond, 475},
		{time.Second, 475},
		{3500 * time.Millisecond, 400},
		{10 * time.Second, 250},
		{time.Hour, 250}, // the oldest keyframe held
	} {
		rd, err := r.NewReader(c.back)
		if err != nil {
			t.Fatal(err)
		}
		u, err := rd.Next(context.Background())
		rd.Close()
		if err != nil || u.Seq != c.want || !u.Key {
			t.Errorf("back %s: starts at %v (err %v), want keyframe %d", c.back, u, err, c.want)
		}
	}
}

// A ring capped below its window's bytes holds what fits, never more, and a
// unit larger than the cap empties it rather than corrupting it.
func TestCapBoundsTheRing(t *testing.T) {
	const maxBytes, gop, size = 512 << 10, 25, 10000
	r := open(t, 60*time.Second, maxBytes)
	for i := 0; i < 1000; i++ {
		r.Write(unit(i, gop, size))
		if st := r.Stats(); st.Bytes > maxBytes || st.Limit > maxBytes {
			t.Fatalf("unit %d: %d bytes held, limit %d, cap %d", i, st.Bytes, st.Limit, maxBytes)
		}
	}
	seqs := readAll(t, r, time.Minute, gop, size)
	if len(seqs) == 0 || seqs[len(seqs)-1] != 999 {
		t.Fatalf("capped ring lost the newest units: %v", seqs)
	}
	r.Write(unit(1000, gop, maxBytes+1))
	if st := r.Stats(); st.Units != 0 || st.Overflow != 1 {
		t.Fatalf("after an oversized unit: %+v", st)
	}
	if _, err := r.NewReader(0); !errors.Is(err, ringbuf.ErrNoKeyframe) {
		t.Fatalf("reader on an emptied ring: %v", err)
	}
}

// A reader that falls behind by more than the ring holds is told so.
func TestSlowReaderIsOverrun(t *testing.T) {
	r := open(t, time.Second, 256<<10)
	r.Write(unit(0, 25, 5000))
	rd, err := r.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for i := 1; i < 500; i++ {
		r.Write(unit(i, 25, 5000))
	}
	if _, err := rd.Next(context.Background()); !errors.Is(err, ringbuf.ErrOverrun) {
		t.Fatalf("Next after being overrun: %v", err)
	}
}

// A file that is not a ring is never mapped over.
func TestOpenRefusesForeignFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(p, []byte("my notes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := ringbuf.Open(ringbuf.Config{Path: p, Window: time.Second}); err == nil {
		_ = r.Close()
		t.Fatal("opened a file that is not a ring")
	}
	if b, _ := os.ReadFile(p); string(b) != "my notes" {
		t.Fatalf("foreign file changed: %q", b)
	}
}

const childEnv = "RINGBUF_TEST_CHILD"

// A process killed (SIGKILL) while writing leaves a ring file the next
// Open takes: it starts empty and works.
func TestRingFromKilledProcessReopens(t *testing.T) {
	if p := os.Getenv(childEnv); p != "" {
		r, err := ringbuf.Open(ringbuf.Config{Path: p, Window: 2 * time.Second, MaxBytes: 1 << 20})
		if err != nil {
			os.Exit(3)
		}
		for i := 0; ; i++ {
			r.Write(unit(i, 25, 6000))
			if i == 200 {
				_, _ = os.Stdout.WriteString("writing\n")
			}
		}
	}
	path := filepath.Join(t.TempDir(), "cam.ring")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRingFromKilledProcessReopens$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "writing") {
		_ = cmd.Process.Kill()
		t.Fatalf("child did not start writing: %q", buf[:n])
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("the killed writer left no ring file: %v", err)
	}

	r, err := ringbuf.Open(ringbuf.Config{Path: path, Window: 2 * time.Second, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer func() { _ = r.Close() }()
	if st := r.Stats(); st.Units != 0 {
		t.Fatalf("reopened ring holds %d units from the killed run", st.Units)
	}
	for i := 0; i < 100; i++ {
		r.Write(unit(i, 25, 6000))
	}
	if seqs := readAll(t, r, time.Second, 25, 6000); len(seqs) == 0 || seqs[len(seqs)-1] != 99 {
		t.Fatalf("reopened ring reads %v", seqs)
	}
}

// A total cap shared by rings: each ring takes from it what its measured
// bitrate asks for (never less than the smallest area, so a stream past the
// total still buffers, never more than its own cap), a ring that finds
// nothing left stays short and says so, and a closed ring's share goes to
// the next one that grows.
func TestBudgetCapsRingsInTotal(t *testing.T) {
	const kib = 1 << 10
	dir := t.TempDir()
	b := ringbuf.NewBudget(1024 * kib)
	openIn := func(name string) *ringbuf.Ring {
		t.Helper()
		r, err := ringbuf.Open(ringbuf.Config{Path: filepath.Join(dir, name), Window: 10 * time.Second, MaxBytes: 512 * kib, Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	// 8 KiB units at 25 fps: 200 KiB/s, far more than 512 KiB for 10 s.
	feed := func(r *ringbuf.Ring) ringbuf.Stats {
		for i := range 750 {
			r.Write(unit(i, 25, 8*kib))
			if b.Used() > 1024*kib {
				t.Fatalf("rings hold %d KiB of a 1024 KiB budget", b.Used()/kib)
			}
		}
		return r.Stats()
	}
	r1, r2, r3 := openIn("a.ring"), openIn("b.ring"), openIn("c.ring")
	if got := b.Used(); got != 768*kib {
		t.Fatalf("three new rings take %d KiB, want their smallest areas, 768 KiB", got/kib)
	}
	if st := feed(r1); st.Limit != 512*kib || st.Starved {
		t.Fatalf("first ring: area %d KiB (starved %v), want its own cap, 512 KiB", st.Limit/kib, st.Starved)
	}
	if st := feed(r2); st.Limit != 256*kib || !st.Starved || st.Bytes > 256*kib || st.Units == 0 {
		t.Fatalf("second ring with the budget spent: %+v, want 256 KiB and starved", st)
	}
	if _, err := ringbuf.Open(ringbuf.Config{Path: filepath.Join(dir, "missing", "d.ring"), MaxBytes: 512 * kib, Budget: b}); err == nil {
		t.Fatal("ring opened in a missing directory")
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.Used(); got != 512*kib {
		t.Fatalf("after a failed open and a close: %d KiB in use, want 512", got/kib)
	}
	if st := feed(r3); st.Limit != 512*kib || st.Starved {
		t.Fatalf("ring grown after a close: area %d KiB, want 512 KiB", st.Limit/kib)
	}
}

// A stream whose first second does not fit the smallest data area (1080p
// at 4 Mbit/s: 500 kB a second against 256 KiB) still has its bitrate
// measured, and its ring grows to hold the whole window.
func TestFastStreamFillsItsWindow(t *testing.T) {
	const gop, size = 25, 4_000_000 / 8 / 25
	r := open(t, 10*time.Second, 32<<20)
	for i := range 30 * gop {
		r.Write(unit(i, gop, size))
	}
	if st := r.Stats(); st.Span < 10*time.Second {
		t.Fatalf("a 10 s ring holds %s of a 4 Mbit/s stream (data area %d bytes)", st.Span, st.Limit)
	}
	if seqs := readAll(t, r, 10*time.Second, gop, size); len(seqs) < 10*gop {
		t.Fatalf("a reader 10 s back got %d units", len(seqs))
	}
}
