package ringbuf_test

import (
	"testing"
	"time"

	"lightnvr/pkg/media"
)

// BenchmarkWrite: 4 Mbit/s at 25 fps (20 kB a unit, a keyframe each second)
// into a 10 s ring.
func BenchmarkWrite(b *testing.B) {
	r := open(b, 10*time.Second, 32<<20)
	const gop, size = 25, 4_000_000 / 8 / 25
	us := make([]*media.Unit, 250)
	for i := range us {
		us[i] = unit(i, gop, size)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := us[i%len(us)]
		u.Key = i%gop == 0
		u.Wall = t0.Add(time.Duration(i) * 40 * time.Millisecond)
		u.Seq = uint64(i)
		r.Write(u)
	}
}
