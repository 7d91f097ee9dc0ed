package streams_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// TestRestreamOfItselfKeepsGo2RTCSource: a go2rtc that defines the camera
// itself (external mode, its own config) and a stream of the same name whose
// URL is go2rtc's restream of it. go2rtc keeps the camera as the source, through
// start, reconcile, edits and deletion, and the stream reads it.
func TestRestreamOfItselfKeepsGo2RTCSource(t *testing.T) {
	cam := testkit.StartCamera(t)
	rtsp := testkit.FreePort(t)
	g := testkit.StartGo2RTCOn(t, testkit.FreePort(t), rtsp, "streams:\n  front: "+cam.URL()+"\n")
	s := db.NewStream("front", fmt.Sprintf("rtsp://user:pw@LocalHost:%d/front?video#transport=tcp", rtsp))
	s.Record = false
	r := newRig(t, rigOpts{external: g, seed: []*db.Stream{s}, ready: true})
	ctx := context.Background()
	waitState(t, r.mgr, "front", 30*time.Second, streams.StateActive)
	camera := func(when string) {
		t.Helper()
		si, err := r.sup.Client().Stream(ctx, "front")
		if err != nil || len(si.Producers) != 1 || si.Producers[0].URL != cam.URL() {
			t.Fatalf("%s: go2rtc's front is %+v (%v), want the camera", when, si.Producers, err)
		}
	}
	camera("after start")
	if _, err := r.mgr.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	camera("after reconcile")
	s.Priority = 9
	if err := r.mgr.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	camera("after an edit")
	if codec, err := testkit.FFprobeCodec(t, fmt.Sprintf("rtsp://127.0.0.1:%d/front", rtsp), 20*time.Second); err != nil || codec != "h264" {
		t.Fatalf("ffprobe front: %q %v", codec, err)
	}
	if err := r.mgr.Delete(ctx, "front", true); err != nil {
		t.Fatal(err)
	}
	camera("after deleting the stream")
}
