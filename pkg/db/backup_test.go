package db_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

// TestBackupToWhileWriting: the snapshot taken with writes in flight opens,
// passes the restore checks and holds every stream committed before it.
func TestBackupToWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := testkit.OpenDB(t, filepath.Join(dir, "live.db"))
	if err := db.InsertStream(ctx, live, &db.Stream{Name: "before", URL: "rtsp://192.0.2.1/a", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "snap.db")
	if err := live.BackupTo(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if err := live.BackupTo(ctx, snap); err == nil {
		t.Error("a second backup overwrote an existing file")
	}
	if err := db.InsertStream(ctx, live, &db.Stream{Name: "after", URL: "rtsp://192.0.2.1/b", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.VerifyBackup(ctx, snap); err != nil {
		t.Fatalf("snapshot fails the restore checks: %v", err)
	}
	got, err := db.ListStreams(ctx, testkit.OpenDB(t, snap))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "before" {
		t.Errorf("snapshot streams %v, want only the one committed before it", got)
	}
}

// TestInstallMovesTheOldWALAside: a WAL left beside the live file would be
// replayed into the restored one; Install keeps it with the old file.
func TestInstallMovesTheOldWALAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lightnvr.db")
	staged := filepath.Join(dir, "staged.db")
	for name, body := range map[string]string{path: "old", path + "-wal": "old wal", path + "-shm": "old shm", staged: "new"} {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Install(staged, path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("installed file holds %q", b)
	}
	for _, side := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + side); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still beside the restored database: %v", side, err)
		}
		if b, _ := os.ReadFile(path + ".before-restore" + side); len(b) == 0 {
			t.Errorf("the old %s was not kept", side)
		}
	}
	if b, _ := os.ReadFile(path + ".before-restore"); string(b) != "old" {
		t.Errorf("the old database was not kept: %q", b)
	}
}
