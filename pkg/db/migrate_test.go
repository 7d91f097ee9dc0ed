package db

import (
	"context"
	"crypto/sha256"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func openTemp(t testing.TB, name string) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func mustExec(t testing.TB, d *DB, q string, args ...any) {
	t.Helper()
	if _, err := d.pool.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// migTemplates are databases migrated once per test binary and copied by
// the tests that need them: a migration run is cheap natively but takes
// seconds under qemu, where CI runs these tests too.
var migTemplates struct {
	once     sync.Once
	lightnvr []byte   // a new database after 0001–0046
	applied  []string // what that run reported
	full     []byte   // the same after every embedded migration
	err      error
}

func migTemplate(t testing.TB) {
	t.Helper()
	tpl := &migTemplates
	lightnvr := migLightNVRFS(t)
	tpl.once.Do(func() {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "template.db")
		step := func(run func(*DB) error) ([]byte, error) {
			d, err := Open(ctx, path)
			if err != nil {
				return nil, err
			}
			if err := errors.Join(run(d), d.Close()); err != nil {
				return nil, err
			}
			return os.ReadFile(path)
		}
		tpl.lightnvr, tpl.err = step(func(d *DB) (err error) {
			tpl.applied, err = d.MigrateFS(ctx, lightnvr)
			return err
		})
		if tpl.err == nil {
			tpl.full, tpl.err = step(func(d *DB) error {
				_, err := d.Migrate(ctx)
				return err
			})
		}
	})
	if tpl.err != nil {
		t.Fatalf("migrated template: %v", tpl.err)
	}
}

func openCopy(t testing.TB, file []byte) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// openMigrated opens a new database holding the full embedded schema.
func openMigrated(t testing.TB) *DB {
	t.Helper()
	migTemplate(t)
	return openCopy(t, migTemplates.full)
}

func TestFreshDatabaseHasLightNVRSchema(t *testing.T) {
	t.Parallel()
	migTemplate(t)
	if want := migVersionRange(1, 46); !slices.Equal(migTemplates.applied, want) {
		t.Fatalf("a new database applied %v, want %v", migTemplates.applied, want)
	}
	d := openCopy(t, migTemplates.lightnvr)
	schAssertLightNVR(t, d, true)
	if got := migAppliedVersions(t, d); !slices.Equal(got, migVersionRange(1, 46)) {
		t.Errorf("schema_migrations holds %v", got)
	}
	var setup string
	if err := d.pool.QueryRow(`SELECT value FROM system_settings WHERE key = 'setup_complete'`).Scan(&setup); err != nil || setup != "0" {
		t.Errorf("setup_complete = %q, %v; want \"0\"", setup, err)
	}
	var av int
	if err := d.pool.QueryRow(`PRAGMA auto_vacuum`).Scan(&av); err != nil || av != 2 {
		t.Errorf("auto_vacuum = %d, %v; want 2 (incremental)", av, err)
	}
}

// The embedded set goes beyond LightNVR's; its tables must still start with
// LightNVR's columns, in order, so LightNVR's queries keep working.
func TestEmbeddedMigrationsKeepLightNVRSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openMigrated(t)
	migs, err := LoadMigrations(migAllFS(t))
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := d.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("Migrate on a migrated database applied %v, %v", applied, err)
	}
	schAssertLightNVR(t, d, false)

	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(migs) {
		t.Fatalf("status lists %d migrations, want %d", len(st), len(migs))
	}
	for i, s := range st {
		if !s.Applied || s.AppliedAt.IsZero() || s.Version != migs[i].Version || s.Name != migs[i].Name {
			t.Errorf("status[%d] = %+v", i, s)
		}
	}
	if st[0].Name != "initial_schema" {
		t.Errorf("status[0].Name = %q", st[0].Name)
	}
}

func migAllFS(t testing.TB) fstest.MapFS { return migSubFS(t, 0, 1<<30) }

// A database at 0022 with rows in it migrates forward; on the way, at 0027,
// rows the data-repair migrations (0028, 0033, 0034, 0043) must fix are
// added.
func TestMigrateForwardFrom0022(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openTemp(t, "old.db")
	if _, err := d.MigrateFS(ctx, migSubFS(t, 1, 22)); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, `INSERT INTO streams (name, url) VALUES ('front', 'rtsp://cam/1')`)
	mustExec(t, d, `INSERT INTO recordings (stream_name, file_path, start_time, end_time, is_complete) VALUES ('front', '/r/1.mp4', 100, 160, 1)`)
	mustExec(t, d, `INSERT INTO detections (stream_name, timestamp, label, confidence, recording_id) VALUES ('front', 130, 'person', 0.9, 1)`)
	mustExec(t, d, `INSERT INTO users (username, password_hash, salt, role) VALUES ('admin', 'h', 's', '0')`)
	mustExec(t, d, `INSERT INTO sessions (user_id, token, created_at, expires_at) VALUES (1, 'tok', 1000, 2000)`)

	applied, err := d.MigrateFS(ctx, migSubFS(t, 1, 27))
	if err != nil {
		t.Fatal(err)
	}
	if want := migVersionRange(23, 27); !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	mustExec(t, d, `INSERT INTO streams (name, url, group_name) VALUES ('garage', 'rtsp://cam/1', 'outside')`)
	mustExec(t, d, `INSERT INTO streams (name, url) VALUES ('  ', 'rtsp://cam/2')`)
	mustExec(t, d, `INSERT INTO streams (name, url, is_onvif) VALUES ('door', 'http://admin:s3cret@10.0.0.9:8080/onvif/device_service', 1)`)
	mustExec(t, d, `INSERT INTO streams (name, url, is_onvif, onvif_username, onvif_password) VALUES ('yard', 'rtsp://u:p@10.0.0.8/s', 1, 'keep', 'kept')`)
	mustExec(t, d, `INSERT INTO streams (name, url) VALUES ('plain', 'rtsp://u:p@10.0.0.7/s')`)
	mustExec(t, d, `INSERT INTO recordings (stream_name, file_path, start_time, protected, disk_pressure_eligible) VALUES ('garage', '/a', 1, 0, 0)`)
	mustExec(t, d, `INSERT INTO recordings (stream_name, file_path, start_time, protected, disk_pressure_eligible) VALUES ('garage', '/b', 2, 1, 1)`)

	applied, err = d.MigrateFS(ctx, migLightNVRFS(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := migVersionRange(28, 46); !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	schAssertLightNVR(t, d, true)

	var endTime, lastAct, idle int64
	if err := d.pool.QueryRow(`SELECT event_end_time FROM detections`).Scan(&endTime); err != nil || endTime != 130 {
		t.Errorf("detections.event_end_time = %d, %v; want backfilled 130", endTime, err)
	}
	if err := d.pool.QueryRow(`SELECT last_activity_at, idle_expires_at FROM sessions`).Scan(&lastAct, &idle); err != nil ||
		lastAct != 1000 || idle != 2000 {
		t.Errorf("sessions backfill = %d %d, %v", lastAct, idle, err)
	}

	type stream struct{ name, url, user, pass, tags string }
	rows, err := d.pool.Query(`SELECT name, url, onvif_username, onvif_password, tags FROM streams ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []stream
	for rows.Next() {
		var s stream
		if err := rows.Scan(&s.name, &s.url, &s.user, &s.pass, &s.tags); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	_ = rows.Close()
	want := []stream{
		{"front", "rtsp://cam/1", "", "", ""},
		{"garage", "rtsp://cam/1", "", "", "outside"},
		{"door", "http://10.0.0.9:8080/onvif/device_service", "admin", "s3cret", ""},
		{"yard", "rtsp://10.0.0.8/s", "keep", "kept", ""},
		{"plain", "rtsp://u:p@10.0.0.7/s", "", "", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("streams:\n got %+v\nwant %+v", got, want)
	}
	rows, err = d.pool.Query(`SELECT file_path, disk_pressure_eligible FROM recordings ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	eligible := map[string]int{}
	for rows.Next() {
		var f string
		var e int
		if err := rows.Scan(&f, &e); err != nil {
			t.Fatal(err)
		}
		eligible[f] = e
	}
	_ = rows.Close()
	if len(eligible) != 3 || eligible["/r/1.mp4"] != 1 || eligible["/a"] != 1 || eligible["/b"] != 0 {
		t.Errorf("disk_pressure_eligible = %v; want 1 unless protected", eligible)
	}
}

func TestLegacySchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openTemp(t, "legacy.db")
	if _, err := d.MigrateFS(ctx, migSubFS(t, 1, 19)); err != nil {
		t.Fatal(err)
	}
	// What a pre-dbmate LightNVR left: the tables, and a bare counter.
	mustExec(t, d, `DROP TABLE schema_migrations`)
	mustExec(t, d, `CREATE TABLE schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)`)
	mustExec(t, d, `INSERT INTO schema_version (id, version) VALUES (1, 19)`)
	mustExec(t, d, `INSERT INTO streams (name, url) VALUES ('cam', 'rtsp://x')`)

	st, err := d.StatusFS(ctx, migLightNVRFS(t))
	if err != nil {
		t.Fatal(err)
	}
	if !st[18].Applied || st[19].Applied {
		t.Errorf("status before migrating: 0019 applied=%v, 0020 applied=%v; want true, false", st[18].Applied, st[19].Applied)
	}

	applied, err := d.MigrateFS(ctx, migLightNVRFS(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := migVersionRange(20, 46); !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	if got := schTableColumns(t, d, "schema_version"); !slices.Equal(got, []schColumn{schPK("id", "INTEGER"), schCol("version", "INTEGER", true, "")}) {
		t.Errorf("schema_version changed: %v", got)
	}
	mustExec(t, d, `DROP TABLE schema_version`)
	schAssertLightNVR(t, d, true)
	if got := migAppliedVersions(t, d); !slices.Equal(got, migVersionRange(1, 46)) {
		t.Errorf("schema_migrations holds %v", got)
	}
	var n int
	if err := d.pool.QueryRow(`SELECT count(*) FROM streams WHERE name = 'cam'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("stream lost: %d, %v", n, err)
	}
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openMigrated(t)
	path := d.Path()
	mustExec(t, d, `INSERT INTO streams (name, url) VALUES ('cam', 'rtsp://x')`)
	mustExec(t, d, `INSERT INTO recordings (stream_name, file_path, start_time) VALUES ('cam', '/r', 5)`)
	before := migAppliedVersions(t, d)
	applied, err := d.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second run applied %v, %v", applied, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	applied, err = d.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("run after reopen applied %v, %v", applied, err)
	}
	if got := migAppliedVersions(t, d); !slices.Equal(got, before) {
		t.Errorf("schema_migrations %v, before %v", got, before)
	}
	var n int
	if err := d.pool.QueryRow(`SELECT count(*) FROM streams JOIN recordings ON recordings.stream_name = streams.name`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows after re-run: %d, %v", n, err)
	}
}

func coreFileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// coreWALSize is -1 when there is no -wal file.
func coreWALSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestUnknownMigrationRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "newer.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"0001_a.sql": {Data: []byte("-- migrate:up\nCREATE TABLE a (x INTEGER);\n-- migrate:down\nDROP TABLE a;\n")},
	}
	if _, err := d.MigrateFS(ctx, fsys); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, `INSERT INTO schema_migrations (version) VALUES ('0999')`)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// A later migration is pending too: the refusal must come first.
	fsys["0002_b.sql"] = &fstest.MapFile{Data: []byte("-- migrate:up\nCREATE TABLE b (x INTEGER);\n")}

	sum, wal := coreFileSum(t, path), coreWALSize(t, path)
	d, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := d.MigrateFS(ctx, fsys)
	if !errors.Is(err, ErrSchemaTooNew) || len(applied) != 0 {
		t.Fatalf("MigrateFS = %v, %v; want ErrSchemaTooNew", applied, err)
	}
	const msg = "database schema is newer than this lightnvr: unknown migration 0999 applied; refusing to migrate"
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not say %q", err, msg)
	}
	st, err := d.StatusFS(ctx, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[2].Version != "0999" || st[2].Name != "" || !st[2].Applied || st[1].Applied {
		t.Errorf("status = %+v", st)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if coreFileSum(t, path) != sum {
		t.Error("database file changed")
	}
	if w := coreWALSize(t, path); w != wal {
		t.Errorf("-wal size %d, before %d", w, wal)
	}
}

// The same refusal on a database that never had schema_migrations created
// by us: nothing, not even that table, may be written.
func TestUnknownMigrationRefusedBeforeAnyWrite(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t, "n.db")
	mustExec(t, d, `CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL DEFAULT (strftime('%s','now')))`)
	mustExec(t, d, `INSERT INTO schema_migrations (version) VALUES ('0047')`)
	mustExec(t, d, `CREATE TABLE schema_version (id INTEGER PRIMARY KEY, version INTEGER)`)
	mustExec(t, d, `INSERT INTO schema_version VALUES (1, 19)`)
	_, err := d.MigrateFS(ctx, migLightNVRFS(t))
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "0047") {
		t.Fatalf("err = %v", err)
	}
	if got := migAppliedVersions(t, d); !slices.Equal(got, []string{"0047"}) {
		t.Errorf("schema_migrations = %v after refusal", got)
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t, "fail.db")
	fsys := fstest.MapFS{
		"0001_ok.sql": {Data: []byte("-- migrate:up\nCREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\n")},
		"0002_bad.sql": {Data: []byte("-- migrate:up\nCREATE TABLE b (x INTEGER);\nINSERT INTO a VALUES (2);\n" +
			"INSERT INTO no_such_table VALUES (3);\nCREATE TABLE c (x INTEGER);\n")},
		"0003_later.sql": {Data: []byte("-- migrate:up\nCREATE TABLE d (x INTEGER);\n")},
	}
	applied, err := d.MigrateFS(ctx, fsys)
	if err == nil {
		t.Fatal("bad migration succeeded")
	}
	for _, want := range []string{"0002_bad", "statement 3", "no_such_table"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !slices.Equal(applied, []string{"0001"}) {
		t.Errorf("applied = %v, want [0001]", applied)
	}
	if got := migAppliedVersions(t, d); !slices.Equal(got, []string{"0001"}) {
		t.Errorf("schema_migrations = %v", got)
	}
	if got := schUserTables(t, d); !slices.Equal(got, []string{"a", "schema_migrations"}) {
		t.Errorf("tables = %v, want the failed migration's table gone", got)
	}
	var n int
	if err := d.pool.QueryRow(`SELECT count(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in a = %d, %v; want 1", n, err)
	}

	fsys["0002_bad.sql"] = &fstest.MapFile{Data: []byte("-- migrate:up\nCREATE TABLE b (x INTEGER);\n")}
	applied, err = d.MigrateFS(ctx, fsys)
	if err != nil || !slices.Equal(applied, []string{"0002", "0003"}) {
		t.Errorf("after fix: applied %v, %v", applied, err)
	}
}

// LightNVR's runner tolerates re-adding columns and re-creating objects;
// triggers keep their bodies whole.
func TestRunnerQuirks(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t, "quirks.db")
	fsys := fstest.MapFS{
		"0001_base.sql": {Data: []byte(`-- migrate:up
CREATE TABLE t (id INTEGER PRIMARY KEY, "Name" TEXT);
CREATE INDEX ix_t ON t (id);
CREATE TABLE log (msg TEXT);
`)},
		"0002_again.sql": {Data: []byte(`-- migrate:up
ALTER TABLE t ADD COLUMN name TEXT DEFAULT 'x';   -- exists (case differs): skipped
ALTER TABLE main."t" ADD "extra" INTEGER DEFAULT 7;
ALTER TABLE t ADD COLUMN extra INTEGER;            -- just added: skipped
CREATE TABLE t (other TEXT);                       -- "already exists": ignored
CREATE INDEX ix_t ON t (id);                       -- "already exists": ignored
/* a trigger: semicolons inside BEGIN … END belong to it */
CREATE TRIGGER t_log AFTER INSERT ON t
WHEN NEW.extra > 0
BEGIN
    INSERT INTO log (msg) VALUES ('ins;' || CASE WHEN NEW.extra > 5 THEN 'big' ELSE 'small' END);
    INSERT INTO log (msg) VALUES ('end');
END;
INSERT INTO t (id) VALUES (1);
`)},
	}
	applied, err := d.MigrateFS(ctx, fsys)
	if err != nil || !slices.Equal(applied, []string{"0001", "0002"}) {
		t.Fatalf("applied %v, %v", applied, err)
	}
	cols := schTableColumns(t, d, "t")
	if len(cols) != 3 || cols[1].name != "Name" || cols[2].name != "extra" || cols[2].dflt != "7" {
		t.Errorf("columns of t: %+v", cols)
	}
	msgs := mustQuery(t, d, scanOne[string], `SELECT msg FROM log ORDER BY rowid`)
	if !slices.Equal(msgs, []string{"ins;big", "end"}) {
		t.Errorf("trigger wrote %q", msgs)
	}

	// Errors other than "already exists" still fail, even for CREATE.
	fsys["0003_bad.sql"] = &fstest.MapFile{Data: []byte("-- migrate:up\nCREATE INDEX ix_bad ON t (no_such_column);\n")}
	if _, err := d.MigrateFS(ctx, fsys); err == nil || !strings.Contains(err.Error(), "no_such_column") {
		t.Errorf("bad CREATE INDEX: err = %v", err)
	}
}

func TestLoadMigrationsSortsNumerically(t *testing.T) {
	up := &fstest.MapFile{Data: []byte("-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n")}
	fsys := fstest.MapFS{
		"0100_ours.sql": up, "0010_b.sql": up, "10000_far.sql": up, "0002_a.sql": up, "1000_c.sql": up,
		"README.md": {Data: []byte("not a migration")},
	}
	migs, err := LoadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range migs {
		got = append(got, m.Version+"_"+m.Name)
	}
	want := []string{"0002_a", "0010_b", "0100_ours", "1000_c", "10000_far"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if !slices.Equal(migs[0].Up, []string{"SELECT 1"}) || !slices.Equal(migs[0].Down, []string{"SELECT 1"}) {
		t.Errorf("up %q down %q", migs[0].Up, migs[0].Down)
	}
}

func TestLoadMigrationsRejectsBadFiles(t *testing.T) {
	up := []byte("-- migrate:up\nSELECT 1;\n")
	cases := []struct {
		fsys fstest.MapFS
		want string
	}{
		{fstest.MapFS{"1_short.sql": {Data: up}}, "not NNNN_description.sql"},
		{fstest.MapFS{"0001.sql": {Data: up}}, "not NNNN_description.sql"},
		{fstest.MapFS{"0001_a.sql": {Data: up}, "00001_c.sql": {Data: up}}, "share version 1"},
		{fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (x);\n")}}, "no -- migrate:up marker"},
		{fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (x);\n-- migrate:up\nSELECT 1;\n")}}, "SQL before -- migrate:up"},
		{fstest.MapFS{"0001_a.sql": {Data: []byte("-- migrate:down\nSELECT 1;\n-- migrate:up\nSELECT 1;\n")}}, "down before"},
		{fstest.MapFS{"0001_a.sql": {Data: []byte("-- migrate:up\nSELECT 'oops;\n")}}, "unterminated ' quote"},
	}
	for _, c := range cases {
		if _, err := LoadMigrations(c.fsys); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", slices.Collect(maps.Keys(c.fsys)), err, c.want)
		}
	}
	// Comments before the marker are fine, and so are dbmate options after it.
	ok := fstest.MapFS{"0001_a.sql": {Data: []byte("-- header\n-- migrate:up transaction:true\nSELECT 1;\n")}}
	if migs, err := LoadMigrations(ok); err != nil || len(migs) != 1 || len(migs[0].Up) != 1 {
		t.Errorf("header comment: %v, %v", migs, err)
	}
}

// Two processes starting at once on one database: each migration is
// applied exactly once, and both end up with the full schema.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "race.db")
	fsys := migSubFS(t, 1, 12)
	var dbs [2]*DB
	for i := range dbs {
		d, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		dbs[i] = d
	}
	var wg sync.WaitGroup
	var applied [2][]string
	var errs [2]error
	for i, d := range dbs {
		wg.Go(func() { applied[i], errs[i] = d.MigrateFS(ctx, fsys) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	all := append(slices.Clone(applied[0]), applied[1]...)
	slices.Sort(all)
	if !slices.Equal(all, migVersionRange(1, 12)) {
		t.Errorf("applied %v and %v", applied[0], applied[1])
	}
	if got := migAppliedVersions(t, dbs[1]); !slices.Equal(got, migVersionRange(1, 12)) {
		t.Errorf("schema_migrations = %v", got)
	}
}

// BenchmarkMigrateLightNVR measures a first start: a new database taken
// through LightNVR's 46 migrations.
func BenchmarkMigrateLightNVR(b *testing.B) {
	ctx := context.Background()
	fsys := migLightNVRFS(b)
	for b.Loop() {
		d, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.MigrateFS(ctx, fsys); err != nil {
			b.Fatal(err)
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
