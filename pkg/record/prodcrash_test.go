package record_test

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

// inFlightAllowance is what a power cut may take beyond the recorder's one
// open part: video the camera had sent but the recorder could not have
// held yet. It is counted in frames of the 25 fps camera below:
//   - 1 frame: the camera's counter is read just after the kill, so a frame
//     sent in between counts as sent;
//   - 1 frame: the access unit whose RTP packets were on the loopback
//     socket or in the depacketizer at the kill;
//   - 1 frame: the unit queued in the hub between source and recorder;
//   - 1 frame: a part is cut at the first frame after its second has
//     passed, so the open part holds up to one frame more than a second.
//
// Four frames, 160 ms. It bounds latency on loopback, not speed: a
// recorder that never synced a part, or lost its open segment, is seconds
// or a whole segment off.
const inFlightAllowance = 4

// TestKill9ProductionSegment kills a recording process at the segment
// length new streams get, at a random instant 20–40 s into its recording,
// and measures the loss against what the camera sent (the loadgen's own
// frame counter) and what the recovered files hold (ffprobe's packet
// count of the files, not the recorder's index): at most one second plus
// the in-flight allowance. Recovery leaves no incomplete row, no orphan
// file and every file decodes cleanly.
func TestKill9ProductionSegment(t *testing.T) {
	testkit.Need(t, "ffprobe")
	const fps = 25
	segment := time.Duration(db.NewStream("cam", "").SegmentDuration) * time.Second
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: fps, GOP: fps, Seconds: 4}, loadgen.Config{Streams: 1})
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "nvr.db")
	ctx := context.Background()
	d := testkit.OpenDB(t, dbPath)
	storage := filepath.Join(dir, "storage")

	before := lg.Stats(0).PlayStart
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), record.ChildEnv+"=record", "CHILD_DB="+dbPath, "CHILD_STORAGE="+storage,
		"CHILD_URL="+lg.URL(0), "CHILD_SEGMENT="+segment.String())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for lg.Stats(0).PlayStart == before {
		if time.Now().After(deadline) {
			t.Fatal("the recording process never started playing the camera")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A random instant, so the kill lands anywhere in a part; past 30 s it
	// also lands after the first segment closed.
	time.Sleep(20*time.Second + rand.N(20*time.Second))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := lg.Stats(0) // read after the kill: nothing the child had is missed
	_ = cmd.Wait()
	sent := int(st.VideoFrames - st.PlayStart)

	rep, err := record.Recover(ctx, d, nil)
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	if n := len(record.CheckRecordings(t, d, storage, "cam")); n == 0 {
		t.Fatal("nothing recorded")
	}
	recs, err := db.StreamRecordings(ctx, d, "cam")
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, r := range recs {
		if e := testkit.DecodeErrors(t, r.FilePath); e != "" {
			t.Errorf("%s: %s", r.FilePath, e)
		}
		kept += testkit.VideoPackets(t, r.FilePath)
	}
	frame := time.Second / fps
	lost := time.Duration(sent-kept) * frame
	t.Logf("segment %v; camera sent %d frames, %d files hold %d; lost %v (recovery %+v)",
		segment, sent, len(recs), kept, lost, rep)
	if kept > sent {
		t.Fatalf("files hold %d frames, more than the %d the camera sent", kept, sent)
	}
	if limit := time.Second + inFlightAllowance*frame; lost > limit {
		t.Errorf("lost %v of video, more than %v", lost, limit)
	}
}
