package media_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

func TestHubSlowSubscriberDropsWithoutBlocking(t *testing.T) {
	h := media.NewHub()
	fast := h.Subscribe("fast", 100)
	slow := h.Subscribe("slow", 2)
	u := &media.Unit{Payload: []byte{1, 2, 3}}
	for i := 0; i < 10; i++ {
		h.Publish(u) // must not block on the full slow subscriber
	}
	if got := slow.Dropped(); got != 8 {
		t.Fatalf("slow dropped %d, want 8", got)
	}
	if got := fast.Dropped(); got != 0 {
		t.Fatalf("fast dropped %d, want 0", got)
	}
	got := <-fast.C()
	if &got.Payload[0] != &u.Payload[0] {
		t.Fatal("payload was copied")
	}
	slow.Unsubscribe()
	slow.Unsubscribe()
	if _, ok := <-slow.C(); !ok {
		t.Fatal("buffered unit lost at unsubscribe")
	}
	h.Publish(u)
	h.Close()
	n := 0
	for range fast.C() {
		n++
	}
	if n != 10 {
		t.Fatalf("fast got %d more units, want 10", n)
	}
}

type collected struct {
	mu    sync.Mutex
	units []*media.Unit
}

func collect(ctx context.Context, sub *media.Subscription, c *collected) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-sub.C():
			if !ok {
				return
			}
			c.mu.Lock()
			c.units = append(c.units, u)
			c.mu.Unlock()
		}
	}
}

// runSource runs a source over url until the units collected are enough
// (polled) or within has passed. Waiting for what a test needs rather than
// a fixed time keeps it correct on a loaded machine, where connecting can
// take seconds.
func runSource(t *testing.T, url string, within time.Duration, enough func([]*media.Unit) bool) (*media.Source, *collected) {
	t.Helper()
	hub := media.NewHub()
	src := media.NewSource(media.SourceConfig{Name: "t", URL: url, Hub: hub, Backoff: backoff.Backoff{Min: 100 * time.Millisecond}})
	sub := hub.Subscribe("test", 4096)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	c := &collected{}
	wg.Add(2)
	go func() { defer wg.Done(); _ = src.Run(ctx) }()
	go func() { defer wg.Done(); collect(ctx, sub, c) }()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c.mu.Lock()
		done := enough(c.units)
		c.mu.Unlock()
		if done {
			break
		}
	}
	cancel()
	wg.Wait()
	return src, c
}

// videoUnits counts the video units in units.
func videoUnits(units []*media.Unit) int {
	n := 0
	for _, u := range units {
		if u.IsVideo() {
			n++
		}
	}
	return n
}

// twoSeconds is enough for a 25 fps stream: two seconds of video.
func twoSeconds(units []*media.Unit) bool { return videoUnits(units) >= 50 }

// ingestCodec runs a source over a loadgen stream of spec and asserts the
// codec and picture size it reports and the unit invariants.
func ingestCodec(t *testing.T, spec testkit.SampleSpec, audio string, want media.Codec) *collected {
	t.Helper()
	lg := testkit.Loadgen(t, spec, loadgen.Config{Streams: 1, Audio: audio})
	src, c := runSource(t, lg.URL(0), 30*time.Second, twoSeconds)
	st := src.Stats()
	if st.Codec != want || st.Width != 320 || st.Height != 240 {
		t.Fatalf("stats %+v", st)
	}
	checkUnits(t, c.units, true)
	return c
}

func TestSourceH264AAC(t *testing.T) {
	ingestCodec(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, AAC: true, Seconds: 4}, loadgen.AudioAAC, media.CodecH264)
}

func TestSourceH265G711(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	c := ingestCodec(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Codec: "h265", Seconds: 4},
		loadgen.AudioG711, media.CodecH265)
	// µ-law 8 kHz mono arrives decoded to 16-bit PCM: two bytes a sample.
	var pcmBytes int
	var firstV, lastV *media.Unit
	for _, u := range c.units {
		if u.IsVideo() {
			if firstV == nil {
				firstV = u
			}
			lastV = u
			continue
		}
		if u.Track.Codec != media.CodecLPCM || u.Track.SampleRate != 8000 || u.Track.Channels != 1 {
			t.Fatalf("audio track %+v, want LPCM 8000 Hz 1 channel", u.Track)
		}
		pcmBytes += len(u.Payload)
	}
	audio := float64(pcmBytes) / 2 / 8000
	video := media.TicksToDuration(lastV.DTS-firstV.DTS, firstV.Track.ClockRate).Seconds()
	if math.Abs(audio-video) > 0.2 {
		t.Fatalf("%.3f s of audio samples for %.3f s of video", audio, video)
	}
	t.Logf("%.3f s of audio samples for %.3f s of video", audio, video)
}

func TestSourceReconnects(t *testing.T) {
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 4},
		loadgen.Config{Streams: 1, Faults: map[int]loadgen.Faults{0: {DisconnectEvery: 1500 * time.Millisecond}}})
	// Enough once a second session has delivered video.
	src, c := runSource(t, lg.URL(0), 30*time.Second, func(units []*media.Unit) bool {
		descs := map[*media.Desc]bool{}
		for _, u := range units {
			descs[u.Desc] = true
		}
		return len(descs) >= 2 && videoUnits(units) >= 50
	})
	st := src.Stats()
	if st.Reconnects == 0 {
		t.Fatalf("no reconnect: %+v", st)
	}
	checkUnits(t, c.units, false)
	descs := map[*media.Desc]bool{}
	for _, u := range c.units {
		descs[u.Desc] = true
	}
	if len(descs) < 2 {
		t.Fatalf("a new session must publish a new description; saw %d", len(descs))
	}
}

// The source owns reconnecting: a camera that drops for a few seconds is one
// reconnect, told to its watcher as playing → reconnecting → playing, however
// many attempts fail while the camera is away.
func TestSourceStateAcrossCameraDrop(t *testing.T) {
	cam := testkit.StartCamera(t)
	var mu sync.Mutex
	var states []media.SourceState
	playing := make(chan struct{}, 4)
	src := media.NewSource(media.SourceConfig{Name: "cam", URL: cam.URL(), Hub: media.NewHub(),
		Backoff: backoff.Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond},
		OnState: func(st media.SourceState, _ error) {
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
			if st == media.SourcePlaying {
				playing <- struct{}{}
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = src.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitPlaying := func(what string) {
		t.Helper()
		select {
		case <-playing:
		case <-time.After(20 * time.Second):
			t.Fatalf("source not playing %s; states %v", what, src.Stats())
		}
	}
	waitPlaying("at start")
	cam.Drop(t, 2*time.Second)
	waitPlaying("after the camera came back")
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	// Failed attempts while the camera is away repeat connecting → reconnecting.
	var squeezed []media.SourceState
	for _, st := range states {
		if st == media.SourceConnecting {
			continue
		}
		if n := len(squeezed); n == 0 || squeezed[n-1] != st {
			squeezed = append(squeezed, st)
		}
	}
	want := []media.SourceState{media.SourcePlaying, media.SourceReconnecting, media.SourcePlaying, media.SourceStopped}
	if !slices.Equal(squeezed, want) {
		t.Fatalf("states %v, want %v (connecting aside)", states, want)
	}
	if n := src.Stats().Reconnects; n != 1 {
		t.Fatalf("%d reconnects for one camera drop", n)
	}
	if b, err := media.SourceReconnecting.MarshalText(); err != nil || string(b) != "reconnecting" {
		t.Fatalf("state text %q %v", b, err)
	}
}

func TestSourceWaitsForParameterSets(t *testing.T) {
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 4},
		loadgen.Config{Streams: 1, Faults: map[int]loadgen.Faults{0: {StripParamsFor: 1500 * time.Millisecond}}})
	_, c := runSource(t, lg.URL(0), 30*time.Second, twoSeconds)
	if len(c.units) == 0 {
		t.Fatal("no unit after the parameter sets appeared")
	}
	for _, u := range c.units {
		if !u.Track.Ready() {
			t.Fatal("unit published before its parameter sets were known")
		}
	}
	checkUnits(t, c.units, false)
}

// checkUnits asserts the invariants every consumer relies on.
func checkUnits(t *testing.T, units []*media.Unit, wantAudio bool) {
	t.Helper()
	var video, audio int
	var lastV, lastA *media.Unit
	for _, u := range units {
		if u.IsVideo() {
			if video == 0 && !u.Key {
				t.Fatal("first video unit is not a keyframe")
			}
			if lastV != nil {
				if u.DTS <= lastV.DTS {
					t.Fatalf("video DTS not increasing: %d after %d", u.DTS, lastV.DTS)
				}
				if u.Wall.Before(lastV.Wall) {
					t.Fatal("wall time goes back")
				}
			}
			if len(u.NALUs) == 0 || len(u.Payload) < 5 {
				t.Fatal("empty video unit")
			}
			lastV = u
			video++
		} else {
			if lastA != nil && u.DTS < lastA.DTS {
				t.Fatalf("audio DTS goes back: %d after %d", u.DTS, lastA.DTS)
			}
			lastA = u
			audio++
		}
	}
	if video < 25 {
		t.Fatalf("only %d video units", video)
	}
	if wantAudio && audio < 10 {
		t.Fatalf("only %d audio units", audio)
	}
}

func TestFormatNameAndAACChannels(t *testing.T) {
	for f, want := range map[format.Format]string{&format.H264{}: "H264", &format.H265{}: "H265",
		&format.MJPEG{}: "M-JPEG", &format.VP9{PayloadTyp: 96}: "VP9"} {
		if got := media.FormatName(f); got != want {
			t.Errorf("FormatName(%T) = %q, want %q", f, got, want)
		}
	}
	for cfg, want := range map[uint8]int{0: 0, 1: 1, 2: 2, 6: 6, 7: 8, 9: 0} {
		if got := media.AACChannels(&mpeg4audio.AudioSpecificConfig{ChannelConfig: cfg}); got != want {
			t.Errorf("AACChannels(config %d) = %d, want %d", cfg, got, want)
		}
	}
}

// A session whose packets arrive but never make a frame (no parameter sets
// for a minute) is ended once ReadTimeout has passed without one, and the
// source connects again; a stream whose frames flow is left playing across
// many timeouts.
func TestSourceEndsASessionWithoutMedia(t *testing.T) {
	const readTimeout = time.Second
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 4},
		loadgen.Config{Streams: 2, Faults: map[int]loadgen.Faults{0: {StripParamsFor: time.Minute}}})
	type change struct {
		st  media.SourceState
		err error
		at  time.Time
	}
	run := func(url string, until func([]change) bool) ([]change, media.Stats) {
		var mu sync.Mutex
		var seen []change
		src := media.NewSource(media.SourceConfig{Name: "t", URL: url, Hub: media.NewHub(), ReadTimeout: readTimeout,
			Backoff: backoff.Backoff{Min: 100 * time.Millisecond},
			OnState: func(st media.SourceState, err error) {
				mu.Lock()
				seen = append(seen, change{st, err, time.Now()})
				mu.Unlock()
			}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = src.Run(ctx) }()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			enough := until(seen)
			mu.Unlock()
			if enough {
				break
			}
		}
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen), src.Stats()
	}

	// Stream 0: connecting, then reconnecting for want of media, twice over.
	// It never plays: no frame is ever made.
	stalls := func(cs []change) (n int) {
		for _, c := range cs {
			if c.st == media.SourceReconnecting && c.err != nil && strings.Contains(c.err.Error(), "no media for 1s") {
				n++
			}
		}
		return n
	}
	seen, st := run(lg.URL(0), func(cs []change) bool { return stalls(cs) >= 2 })
	if stalls(seen) < 2 || st.Frames != 0 {
		t.Fatalf("a session without media was not ended twice within 30 s (%d frames): changes %v", st.Frames, seen)
	}
	for i, c := range seen {
		if c.st != media.SourceReconnecting || i == 0 || seen[i-1].st != media.SourceConnecting {
			continue
		}
		if d := c.at.Sub(seen[i-1].at); d < readTimeout {
			t.Errorf("session ended %v after it started connecting, before the %v timeout", d, readTimeout)
		}
	}

	// Stream 1: frames flow; 4 timeouts pass without the session ending.
	start := time.Now()
	seen, st = run(lg.URL(1), func([]change) bool { return time.Since(start) > 4*readTimeout+2*time.Second })
	for _, c := range seen {
		if c.st == media.SourceReconnecting {
			t.Fatalf("a flowing stream's session ended: %v; changes %v", c.err, seen)
		}
	}
	if st.Frames == 0 {
		t.Fatalf("a flowing stream made no frame; changes %v", seen)
	}
}
