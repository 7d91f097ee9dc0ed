package hls_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/hls"
	"lightnvr/pkg/media"
	"lightnvr/pkg/testkit"
)

var quiet = slog.New(slog.DiscardHandler)

// startLive serves live HLS of a real camera, ingested as the pipelines do.
func startLive(t testing.TB, idle time.Duration) (*hls.Server, *media.Hub) {
	t.Helper()
	cam := testkit.StartCamera(t)
	hub := media.NewHub()
	src := media.NewSource(media.SourceConfig{Name: "cam", URL: cam.URL(), Hub: hub, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = src.Run(ctx)
	}()
	srv := hls.New(hls.Config{Hub: func(name string) *media.Hub {
		if name == "cam" {
			return hub
		}
		return nil
	}, IdleTimeout: idle, Logger: quiet})
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		hub.Close()
	})
	return srv, hub
}

// playlist is what the tests read of a media playlist.
type playlist struct {
	target, partTarget float64
	mediaSeq           uint64
	init               string
	segs               []plSeg // complete segments, in order
	parts              []plPart
}

type plSeg struct {
	dur float64
	uri string
}

type plPart struct {
	dur float64
	uri string
}

func attr(line, key string) string {
	for _, kv := range strings.Split(line[strings.Index(line, ":")+1:], ",") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return f
}

func parsePlaylist(t *testing.T, b []byte) *playlist {
	t.Helper()
	p := &playlist{}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "#EXTM3U" {
		t.Fatalf("not a playlist:\n%s", b)
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "#EXT-X-TARGETDURATION:"):
			p.target = num(t, strings.TrimPrefix(l, "#EXT-X-TARGETDURATION:"))
		case strings.HasPrefix(l, "#EXT-X-PART-INF:"):
			p.partTarget = num(t, attr(l, "PART-TARGET"))
		case strings.HasPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"):
			p.mediaSeq = uint64(num(t, strings.TrimPrefix(l, "#EXT-X-MEDIA-SEQUENCE:")))
		case strings.HasPrefix(l, "#EXT-X-MAP:"):
			p.init = attr(l, "URI")
		case strings.HasPrefix(l, "#EXT-X-PART:"):
			p.parts = append(p.parts, plPart{dur: num(t, attr(l, "DURATION")), uri: attr(l, "URI")})
		case strings.HasPrefix(l, "#EXTINF:"):
			d := strings.TrimSuffix(strings.TrimPrefix(l, "#EXTINF:"), ",")
			i++
			p.segs = append(p.segs, plSeg{dur: num(t, d), uri: lines[i]})
		}
	}
	return p
}

// validate checks the rules of RFC 8216 and its LL-HLS extension the
// players rely on.
func (p *playlist) validate(t *testing.T) {
	t.Helper()
	if len(p.segs) == 0 {
		t.Fatal("no complete segment")
	}
	for i, s := range p.segs {
		if math.Round(s.dur) > p.target {
			t.Errorf("segment %s lasts %.3f s, over EXT-X-TARGETDURATION %v", s.uri, s.dur, p.target)
		}
		if want := fmt.Sprintf("seg%d.m4s", p.mediaSeq+uint64(i)); s.uri != want {
			t.Errorf("segment %d is %s, want %s (media sequence %d)", i, s.uri, want, p.mediaSeq)
		}
	}
	if p.partTarget <= 0 || len(p.parts) == 0 {
		t.Fatalf("no parts (PART-TARGET %v)", p.partTarget)
	}
	for _, pt := range p.parts {
		if pt.dur > p.partTarget {
			t.Errorf("part %s lasts %.3f s, over PART-TARGET %v", pt.uri, pt.dur, p.partTarget)
		}
	}
}

// firstPlaylist is the playlist a player starts with.
func firstPlaylist(t *testing.T, srv *hls.Server) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := srv.Playlist(ctx, "cam", -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLivePlaylistsAndSegments(t *testing.T) {
	srv, _ := startLive(t, 30*time.Second)
	prev := parsePlaylist(t, firstPlaylist(t, srv))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prev.validate(t)
	// Blocking reloads, each for the segment after the last one listed:
	// the media sequence only moves forward and a segment keeps its number.
	for range 4 {
		next := prev.mediaSeq + uint64(len(prev.segs))
		b, err := srv.Playlist(ctx, "cam", int64(next), -1)
		if err != nil {
			t.Fatal(err)
		}
		cur := parsePlaylist(t, b)
		cur.validate(t)
		if cur.mediaSeq < prev.mediaSeq {
			t.Fatalf("media sequence went back from %d to %d", prev.mediaSeq, cur.mediaSeq)
		}
		if last := cur.segs[len(cur.segs)-1].uri; last != fmt.Sprintf("seg%d.m4s", next) {
			t.Fatalf("blocking reload for %d ended at %s:\n%s", next, last, b)
		}
		prev = cur
	}

	// A complete segment is its parts, and init+segment decodes.
	last := prev.segs[len(prev.segs)-1]
	seg := fetch(t, srv, last.uri)
	msn := strings.TrimSuffix(strings.TrimPrefix(last.uri, "seg"), ".m4s")
	var joined []byte
	for i := 0; ; i++ {
		p, _, err := srv.File(ctx, "cam", fmt.Sprintf("part%s.%d.m4s", msn, i))
		if err != nil {
			break
		}
		joined = append(joined, p...)
	}
	if !bytes.Equal(joined, seg) {
		t.Fatalf("segment %s (%d bytes) is not its parts (%d bytes)", last.uri, len(seg), len(joined))
	}
	init, ctype, err := srv.File(ctx, "cam", prev.init)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ctype, `codecs="avc1.`) {
		t.Errorf("init Content-Type %q names no H.264 codec", ctype)
	}
	path := t.TempDir() + "/live.mp4"
	if err := os.WriteFile(path, append(init, seg...), 0o644); err != nil {
		t.Fatal(err)
	}
	if e := testkit.DecodeErrors(t, path); e != "" {
		t.Fatalf("init+segment does not decode: %s", e)
	}
	// The camera sends 10 frames a second.
	if n, want := testkit.VideoPackets(t, path), int(math.Round(last.dur*10)); n != want {
		t.Fatalf("segment of %.3f s holds %d frames, want %d", last.dur, n, want)
	}
}

func fetch(t *testing.T, srv *hls.Server, file string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, _, err := srv.File(ctx, "cam", file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return b
}

// A part announced by the preload hint is waited for, then served.
func TestLivePreloadHint(t *testing.T) {
	srv, _ := startLive(t, 30*time.Second)
	b := firstPlaylist(t, srv)
	uri := hint(string(b))
	if uri == "" {
		t.Fatalf("no preload hint:\n%s", b)
	}
	if p := fetch(t, srv, uri); !bytes.Contains(p[:16], []byte("moof")) {
		t.Fatalf("%s is not a moof+mdat", uri)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := srv.File(ctx, "cam", "seg999999.m4s"); err == nil {
		t.Fatal("a segment far in the future was served")
	}
	if _, err := srv.Playlist(ctx, "nope", -1, -1); err != hls.ErrNotRunning {
		t.Fatalf("unknown stream: %v, want ErrNotRunning", err)
	}
}

// The muxer stops, and leaves the hub, once nobody asks for a while; the
// next request starts it again.
func TestLiveStopsWithoutViewers(t *testing.T) {
	srv, hub := startLive(t, time.Second)
	firstPlaylist(t, srv)
	if srv.Running() != 1 || hub.Subscribers() != 1 {
		t.Fatalf("running %d, subscribers %d after a request", srv.Running(), hub.Subscribers())
	}
	testkit.WaitFor(t, 20*time.Second, "the muxer to stop", func() bool {
		return srv.Running() == 0 && hub.Subscribers() == 0
	})
	firstPlaylist(t, srv)
	if srv.Running() != 1 {
		t.Fatal("a new request did not start the muxer again")
	}
}
