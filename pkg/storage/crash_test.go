package storage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

const childEnv = "LIGHTNVR_STORAGE_CRASH_CHILD"

// childMain runs a retention pass in a child process and kills itself
// with SIGKILL at the point named by the environment: "moved" (rows in the
// garbage table, files still there) or "unlinked" (files gone, garbage
// rows not yet removed).
func childMain() int {
	dir, dbPath, point := os.Getenv("CRASH_DIR"), os.Getenv("CRASH_DB"), os.Getenv(childEnv)
	d, err := db.Open(context.Background(), dbPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	kill := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	switch point {
	case "moved":
		afterGarbageMove = kill
	case "unlinked":
		afterUnlink = kill
	}
	c, err := New(Config{Dir: dir, DB: d, RetentionDays: 1, AutoDeleteOldest: true, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := c.RunPass(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 3 // not killed: the pass deleted nothing
}

func TestKill9DuringDelete(t *testing.T) {
	for _, point := range []string{"moved", "unlinked"} {
		t.Run(point, func(t *testing.T) {
			dir := mountTmpfs(t, 16)
			d := testkit.OpenDB(t, "")
			addStream(t, d, "cam", -1, -1, 0)
			var old []int64
			for i := range 5 {
				old = append(old, addRec(t, d, dir, "cam", time.Now().Add(-72*time.Hour+time.Duration(i)*time.Minute), 1000, "scheduled"))
			}
			young := addRec(t, d, dir, "cam", time.Now().Add(-time.Hour), 1000, "scheduled")
			if err := db.PutRecordingIndex(context.Background(), d, &db.RecordingIndex{RecordingID: old[0], StartUS: 1}); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+point, "CRASH_DIR="+dir, "CRASH_DB="+d.Path())
			out, err := cmd.CombinedOutput()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed: %v\n%s", err, out)
			}
			pending := countRows(t, d, `SELECT count(*) FROM recordings_garbage`)
			if pending == 0 {
				t.Fatal("the kill left no pending deletion: the hook ran at the wrong place")
			}
			files := 0
			_ = filepath.WalkDir(filepath.Join(dir, "mp4"), func(p string, de os.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(p, ".mp4") {
					files++
				}
				return nil
			})
			if point == "unlinked" && files != 1 || point == "moved" && files != 6 {
				t.Fatalf("%d files on disk after the kill at %s", files, point)
			}

			// Restart: the new controller finishes the deletion.
			c := newController(t, d, dir, func(cfg *Config) { cfg.RetentionDays = 1 })
			if err := c.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := c.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, d, dir)
			for _, id := range old {
				if rowExists(t, d, id) {
					t.Errorf("expired recording %d came back", id)
				}
			}
			if _, err := db.GetRecordingIndex(context.Background(), d, old[0]); err == nil {
				t.Error("index row of a deleted recording survived")
			}
			if !rowExists(t, d, young) {
				t.Error("young recording lost")
			}
		})
	}
}

// A stop that cancels a deletion after its files are unlinked does not
// leave it for the next start: the garbage rows and the day's statistics
// are still written.
func TestCancelAfterUnlinkFinishesTheDeletion(t *testing.T) {
	dir := plainDir(t)
	d := testkit.OpenDB(t, "")
	addStream(t, d, "cam", -1, -1, 0)
	ids := []int64{
		addRec(t, d, dir, "cam", time.Now().Add(-2*time.Hour), 1000, "scheduled"),
		addRec(t, d, dir, "cam", time.Now().Add(-time.Hour), 1000, "scheduled"),
	}
	c := newController(t, d, dir, nil)
	ctx, cancel := context.WithCancel(context.Background())
	afterUnlink = cancel
	t.Cleanup(func() { afterUnlink = nil })
	if n, err := c.Delete(ctx, ids); err != nil || n != 2 {
		t.Fatalf("delete cancelled after the unlink: %d deleted, %v; want 2, no error", n, err)
	}
	if ctx.Err() == nil {
		t.Fatal("the hook did not cancel the deletion")
	}
	checkConsistent(t, d, dir)
}
