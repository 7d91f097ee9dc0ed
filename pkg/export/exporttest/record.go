// Package exporttest writes real recordings for the tests and benchmarks
// of exports: a clip encoded by ffmpeg, fed through pkg/record with chosen
// wall-clock times, so segments can cross midnight or leave gaps without
// waiting for a camera.
package exporttest

import (
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

// Span is a stretch of continuous recording.
type Span struct {
	Start  time.Time
	Length time.Duration
}

// Clip is the ffmpeg clip the recordings loop: 320x240 H.264 at 25 fps
// with an AAC track.
type Clip struct {
	smp   *loadgen.Sample
	desc  *media.Desc
	video [][]byte
}

// LoadClip makes (once per cache) and loads the clip, with a keyframe
// every gop.
func LoadClip(t testing.TB, gop time.Duration) *Clip {
	t.Helper()
	path := testkit.Sample(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: int(gop * 25 / time.Second),
		Bitrate: "300k", AAC: true, Seconds: 4})
	smp, err := loadgen.LoadSample(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &Clip{smp: smp}
	v := &media.Track{Codec: media.CodecH264, ClockRate: 90000, SPS: smp.SPS, PPS: smp.PPS, Width: 320, Height: 240, FPS: 25}
	a := &media.Track{Codec: media.CodecAAC, ClockRate: smp.AACConfig.SampleRate, AACConfig: smp.AACConfig,
		SampleRate: smp.AACConfig.SampleRate, Channels: media.AACChannels(smp.AACConfig)}
	c.desc = &media.Desc{Gen: 1, Video: v, Audio: a}
	for _, au := range smp.Video {
		p, err := h264.AVCC(au.AU).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c.video = append(c.video, p)
	}
	return c
}

// Record writes each span as recordings of stream through a real
// recorder (segments of segDur, no fsync) under storage.
func (c *Clip) Record(t testing.TB, d *db.DB, storage, stream string, segDur time.Duration, spans ...Span) {
	t.Helper()
	for _, sp := range spans {
		rec, err := record.New(record.Config{Stream: stream, StorageDir: storage, DB: d,
			SegmentDuration: segDur, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		c.feed(rec, sp)
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// feed writes the clip, looped, for sp.Length of media time, video and
// audio interleaved in time order as ingest delivers them.
func (c *Clip) feed(rec *record.Recorder, sp Span) {
	smp, v, a := c.smp, c.desc.Video, c.desc.Audio
	end := media.DurationToTicks(sp.Length, 90000)
	var vseq, aseq uint64
	audioUntil := func(base, limit int64, ai int) int {
		for ; ai < len(smp.Audio) && smp.Audio[ai].PTS < limit; ai++ {
			pts := base + smp.Audio[ai].PTS
			aseq++
			ticks := pts * int64(a.ClockRate) / 90000
			rec.Write(&media.Unit{Desc: c.desc, Track: a, Seq: aseq, DTS: ticks, PTS: ticks, Key: true,
				Wall: sp.Start.Add(media.TicksToDuration(pts, 90000)), Payload: smp.Audio[ai].AU})
		}
		return ai
	}
	for loop := int64(0); ; loop++ {
		base, ai := loop*smp.Duration, 0
		for i, au := range smp.Video {
			dts := base + au.DTS
			if dts >= end {
				return
			}
			ai = audioUntil(base, au.DTS+1, ai)
			vseq++
			rec.Write(&media.Unit{Desc: c.desc, Track: v, Seq: vseq, DTS: dts, PTS: base + au.PTS, Key: au.Key,
				Wall: sp.Start.Add(media.TicksToDuration(dts, 90000)), Payload: c.video[i]})
		}
		audioUntil(base, smp.Duration, ai)
	}
}
