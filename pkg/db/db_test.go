package db

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestOpenSetsPragmasOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t, "p.db")
	if _, err := d.MigrateFS(ctx, fstest.MapFS{
		"0001_a.sql": {Data: []byte("-- migrate:up\nCREATE TABLE a (x INTEGER);\n")},
	}); err != nil {
		t.Fatal(err)
	}
	conns := holdEveryConn(t, d)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL: a commit survives a power cut
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"auto_vacuum":  "2", // INCREMENTAL
	}
	for i, c := range conns {
		for p, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, p, err)
			}
			if got != w {
				t.Errorf("conn %d: %s = %s, want %s", i, p, got, w)
			}
		}
	}
}

// A database made elsewhere without auto-vacuum keeps working and is not
// rewritten: the setting only applies to new files.
func TestOpenExistingDatabaseKeepsAutoVacuum(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "plain.db")
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	var av, n int
	var jm string
	if err := d.pool.QueryRow(`PRAGMA auto_vacuum`).Scan(&av); err != nil || av != 0 {
		t.Errorf("auto_vacuum = %d, %v; want 0 (unchanged)", av, err)
	}
	if err := d.pool.QueryRow(`PRAGMA journal_mode`).Scan(&jm); err != nil || jm != "wal" {
		t.Errorf("journal_mode = %s, %v", jm, err)
	}
	if err := d.pool.QueryRow(`SELECT x FROM a`).Scan(&n); err != nil || n != 1 {
		t.Errorf("row = %d, %v", n, err)
	}
}

func TestForeignKeysEnforced(t *testing.T) {
	t.Parallel()
	d := openMigrated(t)
	_, err := d.pool.Exec(`INSERT INTO sessions (user_id, token, expires_at) VALUES (42, 't', 1)`)
	if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Errorf("session for a missing user: err = %v", err)
	}
	mustExec(t, d, `INSERT INTO streams (name, url) VALUES ('cam', 'rtsp://x')`)
	mustExec(t, d, `INSERT INTO detection_zones (id, stream_name, name, polygon) VALUES ('z1', 'cam', 'door', '[]')`)
	mustExec(t, d, `INSERT INTO recordings (stream_name, file_path, start_time) VALUES ('cam', '/r', 1)`)
	mustExec(t, d, `INSERT INTO detections (stream_name, timestamp, label, confidence, recording_id) VALUES ('cam', 1, 'car', 0.5, 1)`)
	mustExec(t, d, `DELETE FROM streams WHERE name = 'cam'`)
	mustExec(t, d, `DELETE FROM recordings`)
	var zones int
	var rec sql.NullInt64
	if err := d.pool.QueryRow(`SELECT count(*) FROM detection_zones`).Scan(&zones); err != nil || zones != 0 {
		t.Errorf("zones after stream delete = %d, %v; want cascaded away", zones, err)
	}
	if err := d.pool.QueryRow(`SELECT recording_id FROM detections`).Scan(&rec); err != nil || rec.Valid {
		t.Errorf("detection recording_id = %v, %v; want NULL", rec, err)
	}
}

func TestCloseLeavesNoWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, `CREATE TABLE a (x BLOB)`)
	mustExec(t, d, `INSERT INTO a VALUES (zeroblob(200000))`)
	if coreWALSize(t, path) <= 0 {
		t.Fatal("no WAL while open: not in WAL mode?")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if w := coreWALSize(t, path); w > 0 {
		t.Errorf("-wal holds %d bytes after Close", w)
	}
	// Everything is in the main file: it reads back on its own.
	d, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	var n int
	if err := d.pool.QueryRow(`SELECT length(x) FROM a`).Scan(&n); err != nil || n != 200000 {
		t.Errorf("blob = %d, %v", n, err)
	}
	if v, err := d.QuickCheck(ctx); err != nil || v != "ok" {
		t.Errorf("QuickCheck = %q, %v", v, err)
	}
}

// coreRefusedUnchanged opens path, expects an error matching target and
// containing msg, and checks the file and its neighbours are untouched.
func coreRefusedUnchanged(t *testing.T, path string, target error, msg string) {
	t.Helper()
	sum := coreFileSum(t, path)
	d, err := Open(context.Background(), path)
	if err == nil {
		_ = d.Close()
		t.Fatal("Open accepted the file")
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error %v is not %v", err, target)
	}
	if want := "open database " + path + ": " + msg; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
	if coreFileSum(t, path) != sum {
		t.Error("file modified")
	}
	for _, ext := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(path + ext); err == nil {
			t.Errorf("%s created", ext)
		}
	}
}

func TestOpenRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 8192)
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	path := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	coreRefusedUnchanged(t, path, ErrNotADatabase, "file is not a database")

	text := filepath.Join(dir, "config.ini")
	if err := os.WriteFile(text, []byte("[general]\nlog_level = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	coreRefusedUnchanged(t, text, ErrNotADatabase, "file is not a database")

	short := filepath.Join(dir, "short.db")
	if err := os.WriteFile(short, []byte("SQLite format 3\x00\x10\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	coreRefusedUnchanged(t, short, ErrNotADatabase, "file is not a database")
}

func TestOpenRejectsTruncated(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trunc.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, `CREATE TABLE a (x BLOB)`)
	for range 8 {
		mustExec(t, d, `INSERT INTO a VALUES (randomblob(4000))`)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	coreRefusedUnchanged(t, path, ErrTruncated, "database file is truncated")
}

// Damage past the header check still fails at Open, as an error.
func TestOpenRejectsCorruptSchemaPage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "corrupt.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, `CREATE TABLE a (x INTEGER)`)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 4096 && i < len(b); i++ {
		b[i] = 0xA5
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	coreRefusedUnchanged(t, path, nil, "")
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := Open(ctx, filepath.Join(dir, "missing", "x.db")); err == nil {
		t.Error("missing parent directory: no error")
	}
	if _, err := Open(ctx, ""); err == nil {
		t.Error("empty path: no error")
	}
	// An empty file is a new database, as SQLite sees it.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(ctx, empty)
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	_ = d.Close()
}

// A power cut in the middle of a checkpoint can leave the main file's first
// page rewritten (declaring every page) while later pages were never
// written; the WAL still holds them all. That database is sound and must
// open, not be refused as truncated.
func TestOpenAfterInterruptedCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	d, err := Open(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	mustExec(t, d, `CREATE TABLE a (x BLOB)`)
	if _, err := d.pool.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		mustExec(t, d, `INSERT INTO a VALUES (randomblob(3000))`)
	}

	// Snapshot the files as a power cut would leave them, then play the
	// start of a checkpoint: the newest page 1 from the WAL lands in the
	// main file, nothing else does.
	mainFile, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(live + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	const walHeader, frameHeader = 32, 24
	pageSize := int(mainFile[16])<<8 | int(mainFile[17])
	var page1 []byte
	for off := walHeader; off+frameHeader+pageSize <= len(wal); off += frameHeader + pageSize {
		if pgno := uint32(wal[off])<<24 | uint32(wal[off+1])<<16 | uint32(wal[off+2])<<8 | uint32(wal[off+3]); pgno == 1 {
			page1 = wal[off+frameHeader : off+frameHeader+pageSize]
		}
	}
	if page1 == nil {
		t.Fatal("no page 1 in the WAL")
	}
	copy(mainFile, page1)
	crashed := filepath.Join(dir, "crashed.db")
	if err := os.WriteFile(crashed, mainFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed+"-wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}
	declared := int64(page1[28])<<24 | int64(page1[29])<<16 | int64(page1[30])<<8 | int64(page1[31])
	if declared*int64(pageSize) <= int64(len(mainFile)) {
		t.Fatalf("setup: header declares %d pages, file has %d bytes: not short", declared, len(mainFile))
	}

	c, err := Open(ctx, crashed)
	if err != nil {
		t.Fatalf("open after interrupted checkpoint: %v", err)
	}
	defer func() { _ = c.Close() }()
	var n int
	if err := c.pool.QueryRow(`SELECT count(*) FROM a WHERE length(x) = 3000`).Scan(&n); err != nil || n != 20 {
		t.Errorf("rows = %d, %v; want 20", n, err)
	}
	if v, err := c.QuickCheck(ctx); err != nil || v != "ok" {
		t.Errorf("QuickCheck = %q, %v", v, err)
	}
}

// Connections a burst opened are closed once idle: each holds a SQLite
// instance and its page cache.
func TestIdleConnectionsClose(t *testing.T) {
	saved := connMaxIdle
	connMaxIdle = 50 * time.Millisecond
	t.Cleanup(func() { connMaxIdle = saved })
	d := openTemp(t, "idle.db")
	for _, c := range holdEveryConn(t, d) {
		_ = c.Close() // back to the pool
	}
	// 200 times the idle limit: a bound for a stalled machine, not a timing.
	giveUp := time.Now().Add(10 * time.Second)
	for n := d.OpenConnections(); n > 0; n = d.OpenConnections() {
		if time.Now().After(giveUp) {
			t.Fatalf("%d of %d connections still open after idling, want 0", n, maxOpenConns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdEveryConn takes every connection of the pool at once, so each is a
// distinct one.
func holdEveryConn(t *testing.T, d *DB) []*sql.Conn {
	t.Helper()
	conns := make([]*sql.Conn, maxOpenConns)
	for i := range conns {
		c, err := d.pool.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	return conns
}
