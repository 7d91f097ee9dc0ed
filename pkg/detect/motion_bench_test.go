package detect

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"lightnvr/pkg/event"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

// benchFPS is the frame rate of the benchmark stream: 1080p, 4 Mbit/s.
const benchFPS = 25

// benchUnits encodes 20 s of 1080p at 4 Mbit/s with libx264 (ffmpeg's
// moving test pattern: motion all the time, the dearest case) and returns
// its video access units as the media hub hands them out.
func benchUnits(b *testing.B) (units []*media.Unit, loop int64) {
	b.Helper()
	smp, err := loadgen.LoadSample(testkit.Sample(b, testkit.SampleSpec{Size: "1920x1080", FPS: benchFPS,
		Bitrate: "4M", Seconds: 20}))
	if err != nil {
		b.Fatal(err)
	}
	tr := &media.Track{Codec: media.CodecH264, ClockRate: 90000, SPS: smp.SPS, PPS: smp.PPS,
		Width: 1920, Height: 1080, FPS: benchFPS}
	desc := &media.Desc{Gen: 1, Video: tr}
	start := time.Now()
	for _, au := range smp.Video {
		var payload []byte
		for _, n := range au.AU {
			payload = binary.BigEndian.AppendUint32(payload, uint32(len(n)))
			payload = append(payload, n...)
		}
		units = append(units, &media.Unit{Desc: desc, Track: tr, DTS: au.DTS, PTS: au.PTS, Key: au.Key,
			Wall: start.Add(media.TicksToDuration(au.PTS, 90000)), Payload: payload, NALUs: au.AU})
	}
	return units, smp.Duration
}

// reportStreamMinute turns ns per unit into CPU seconds per stream-minute.
func reportStreamMinute(b *testing.B) {
	perUnit := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perUnit*benchFPS*60/1e9, "cpu-s/stream-min")
}

// BenchmarkMotionObserve is the detector's own work per video unit,
// publishing the events that fall due (about one a second).
func BenchmarkMotionObserve(b *testing.B) {
	units, loop := benchUnits(b)
	m := NewMotion(MotionConfig{Stream: "bench", Sensitivity: DefaultSensitivity, MinDuration: time.Second})
	bus := event.NewBus()
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		u := units[i%len(units)]
		if i > 0 && i%len(units) == 0 {
			for _, v := range units { // the next pass continues the stream's clock
				v.DTS += loop
				v.Wall = v.Wall.Add(media.TicksToDuration(loop, 90000))
			}
		}
		if conf, due := m.observe(u); due {
			bus.Publish(m.event(u, conf))
			events++
		}
	}
	b.StopTimer()
	reportStreamMinute(b)
	b.ReportMetric(float64(events)/float64(b.N)*benchFPS, "events/s")
}

// BenchmarkMotionRun is the whole path a unit takes: the hub's channel to
// Run and the detector.
func BenchmarkMotionRun(b *testing.B) {
	units, _ := benchUnits(b)
	hub := media.NewHub()
	sub := hub.Subscribe("motion", 256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	m := NewMotion(MotionConfig{Stream: "bench", Sensitivity: DefaultSensitivity, MinDuration: time.Second})
	go func() { defer close(done); _ = m.Run(ctx, sub, event.NewBus()) }()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for len(sub.C()) == cap(sub.C()) {
			runtime.Gosched()
		}
		hub.Publish(units[i%len(units)])
	}
	for len(sub.C()) > 0 {
		runtime.Gosched()
	}
	b.StopTimer()
	cancel()
	<-done
	if sub.Dropped() > 0 {
		b.Fatalf("%d units dropped", sub.Dropped())
	}
	reportStreamMinute(b)
}
