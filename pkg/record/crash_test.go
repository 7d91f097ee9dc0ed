package record

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

// The crash tests re-run this test binary as a child that records (or
// deletes) until it is killed with SIGKILL.
const childEnv = "LIGHTNVR_RECORD_CHILD"

func childMain() int {
	ctx := context.Background()
	d, err := db.Open(ctx, os.Getenv("CHILD_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	switch os.Getenv(childEnv) {
	case "delete":
		id, _ := strconv.ParseInt(os.Getenv("CHILD_ID"), 10, 64)
		afterUnlink = func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) }
		if err := Delete(ctx, d, id); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		return 0
	case "record":
		hub := media.NewHub()
		src := media.NewSource(media.SourceConfig{Name: "cam", URL: os.Getenv("CHILD_URL"), Hub: hub})
		segDur, _ := time.ParseDuration(os.Getenv("CHILD_SEGMENT"))
		rec, err := New(Config{Stream: "cam", StorageDir: os.Getenv("CHILD_STORAGE"), DB: d, SegmentDuration: segDur})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		sub := hub.Subscribe("rec", 1024)
		go func() { _ = src.Run(ctx) }()
		for u := range sub.C() {
			rec.Write(u)
			if u.IsVideo() && rec.Status().State == StateRecording {
				// What the recorder has accepted so far ends here.
				fmt.Printf("%d\n", u.Wall.Add(40*time.Millisecond).UnixMicro())
			}
		}
	}
	return 2
}

func killIterations() int {
	if s := os.Getenv("LIGHTNVR_KILL_ITERATIONS"); s != "" {
		n, _ := strconv.Atoi(s)
		return n
	}
	if testing.Short() {
		return 3
	}
	return 20
}

// TestKill9MidSegment kills a recording process at random points and
// checks that recovery leaves every file playable to its last part, loses
// at most one second, and leaves no incomplete row and no orphan file.
func TestKill9MidSegment(t *testing.T) {
	testkit.Need(t, "ffprobe")
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 4}, loadgen.Config{Streams: 1})
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "nvr.db")
	d := testkit.OpenDB(t, dbPath)
	storage := filepath.Join(dir, "storage")
	ctx := context.Background()

	for i := 0; i < killIterations(); i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=record", "CHILD_DB="+dbPath, "CHILD_STORAGE="+storage,
			"CHILD_URL="+lg.URL(0), "CHILD_SEGMENT=3s")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan int64, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if v, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64); err == nil {
					lines <- v
				}
			}
			close(lines)
		}()
		// Kill somewhere in the first or second segment, at a random frame.
		var first, last int64
		var n int
		want := 20 + rand.IntN(100)
		if i == 0 {
			// The first child must outlive its first part (25 frames): a
			// kill before it leaves no file at all, and no earlier
			// child's file to measure against.
			want += 25
		}
		for n < want {
			select {
			case v, ok := <-lines:
				if !ok {
					t.Fatalf("iteration %d: child exited early", i)
				}
				if n == 0 {
					first = v
				}
				last, n = v, n+1
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("iteration %d: child recorded nothing", i)
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for v := range lines {
			last = v
		}
		_ = cmd.Wait()

		if _, err := Recover(ctx, d, nil); err != nil {
			t.Fatalf("iteration %d: recover: %v", i, err)
		}
		recs, err := db.StreamRecordings(ctx, d, "cam")
		if err != nil {
			t.Fatal(err)
		}
		var lastRec *db.Recording
		for _, r := range recs {
			if !r.IsComplete {
				t.Fatalf("iteration %d: row %d incomplete after recovery", i, r.ID)
			}
			if lastRec == nil || r.ID > lastRec.ID {
				lastRec = r
			}
		}
		if lastRec == nil {
			t.Fatalf("iteration %d: nothing recorded", i)
		}
		ix, err := db.GetRecordingIndex(ctx, d, lastRec.ID)
		if err != nil {
			t.Fatal(err)
		}
		// What this child received and did not persist. When it died before its
		// first part, the newest file is an earlier child's, and the time between
		// the two children is a restart, not a loss.
		kept := max(ix.StartUS+ix.DurationUS, first-40_000) // first is its frame's end
		lost := time.Duration(last-kept) * time.Microsecond
		if lost > time.Second {
			t.Errorf("iteration %d: %v lost", i, lost)
		}
		if e := testkit.DecodeErrors(t, lastRec.FilePath); e != "" {
			t.Errorf("iteration %d: %s: %s", i, lastRec.FilePath, e)
		}
		t.Logf("iteration %d: killed after %d frames, lost %v", i, n, lost)
	}
	checkRecordings(t, d, storage, "cam")
}

// TestDeleteCrashBetweenUnlinkAndRowRemoval kills a deleting process right
// after the unlink; recovery must finish the deletion.
func TestDeleteCrashBetweenUnlinkAndRowRemoval(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "nvr.db")
	d := testkit.OpenDB(t, dbPath)
	ctx := context.Background()
	file := filepath.Join(dir, "storage", "mp4", "cam", "recording_20250101_000000.mp4")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := db.InsertRecording(ctx, d, &db.Recording{StreamName: "cam", FilePath: file, StartTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutRecordingIndex(ctx, d, &db.RecordingIndex{RecordingID: id, StartUS: 1}); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=delete", "CHILD_DB="+dbPath, "CHILD_ID="+strconv.FormatInt(id, 10))
	err = cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by the hook: %v", err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("file still there after unlink: %v", err)
	}
	g, err := db.Garbage(ctx, d)
	if err != nil || len(g) != 1 || g[0].RecordingID != id {
		t.Fatalf("garbage before recovery: %v %v", g, err)
	}
	if _, err := db.GetRecording(ctx, d, id); err == nil {
		t.Fatal("recording row survived its move to garbage")
	}

	rep, err := Recover(ctx, d, nil)
	if err != nil || rep.GarbageCleared != 1 {
		t.Fatalf("recover: %+v %v", rep, err)
	}
	if g, _ := db.Garbage(ctx, d); len(g) != 0 {
		t.Fatalf("garbage left: %v", g)
	}
	if _, err := db.GetRecordingIndex(ctx, d, id); err == nil {
		t.Fatal("index row survived")
	}
}

// TestRecoverTornFile cuts a finished segment in the middle of a part and
// in the middle of the init, as a power cut would.
func TestRecoverTornFile(t *testing.T) {
	testkit.Need(t, "ffprobe")
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 4}, loadgen.Config{Streams: 1})
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	storage := filepath.Join(dir, "storage")
	p := startPipeline(t, lg.URL(0), Config{Stream: "cam", StorageDir: storage, DB: d, SegmentDuration: 2 * time.Second})
	testkit.WaitFor(t, 15*time.Second, "two segments", func() bool { return p.rec.Status().Segments >= 2 })
	p.stop()
	ctx := context.Background()
	recs, _ := db.StreamRecordings(ctx, d, "cam")
	if len(recs) < 2 {
		t.Fatalf("%d recordings", len(recs))
	}
	// Segment 0: cut 100 bytes into its last part. Segment 1: cut inside the moov.
	ix, _ := db.GetRecordingIndex(ctx, d, recs[0].ID)
	parts, _ := DecodeParts(ix.Parts, ix.InitSize)
	lastPart := parts[len(parts)-1]
	if err := os.Truncate(recs[0].FilePath, lastPart.Offset+100); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(recs[1].FilePath, 20); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{recs[0].ID, recs[1].ID} {
		if _, err := d.ExecContext(ctx, `UPDATE recordings SET is_complete = 0 WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Recover(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Completed != 1 || rep.Removed != 1 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(recs[1].FilePath); !os.IsNotExist(err) {
		t.Fatal("file without a whole part was kept")
	}
	segs := checkRecordings(t, d, storage, "cam")
	got := time.Duration(segs[0].ix.DurationUS) * time.Microsecond
	want := lastPart.Start
	if (got - want).Abs() > time.Millisecond {
		t.Fatalf("recovered duration %v, want %v (parts before the torn one)", got, want)
	}
}
