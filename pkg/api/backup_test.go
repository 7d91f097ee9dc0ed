package api

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

// backupSite is one LightNVR installation: a configuration file and a
// database in its own data directory, served by a real server.
type backupSite struct {
	*authEnv
	dir, ini, dbPath string
	admin            req
}

func newBackupSite(t *testing.T, extraINI string) *backupSite {
	t.Helper()
	dir := t.TempDir()
	s := &backupSite{dir: dir, ini: filepath.Join(dir, "lightnvr.ini"), dbPath: filepath.Join(dir, "lightnvr.db")}
	text := "[database]\npath = " + s.dbPath + "\n[storage]\npath = " + filepath.Join(dir, "recordings") + "\n" + extraINI
	if err := os.WriteFile(s.ini, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(s.ini)
	if err != nil {
		t.Fatal(err)
	}
	s.authEnv = newAuthEnv(t, envOpts{
		db:  testkit.OpenDB(t, s.dbPath),
		cfg: func(c *config.Config) { allowed := c.Web.AllowedHosts; *c = *loaded; c.Web.AllowedHosts = allowed },
	})
	s.admin = s.signIn(s.addUser("admin", "admin-password-1", auth.RoleAdmin), "admin-password-1")
	return s
}

func (s *backupSite) post(path string, body []byte) *resp {
	s.t.Helper()
	r := s.admin
	r.method, r.path, r.body, r.contentType = "POST", path, string(body), "application/zip"
	// What the UI's fetch sends: a cookie request needs it (CSRF).
	r.headers = map[string]string{"X-Requested-With": "XMLHttpRequest"}
	return s.do(r)
}

type archiveEntry struct {
	name string
	data []byte
}

func readArchive(t *testing.T, b []byte) []archiveEntry {
	t.Helper()
	var out []archiveEntry
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("backup is not a zip: %v", err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, archiveEntry{f.Name, data})
	}
	return out
}

func writeArchive(t *testing.T, entries []archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// replaced returns entries with name's data swapped for data.
func replaced(entries []archiveEntry, name string, data []byte) []archiveEntry {
	out := make([]archiveEntry, len(entries))
	copy(out, entries)
	for i := range out {
		if out[i].name == name {
			out[i].data = data
		}
	}
	return out
}

// leftovers lists what a backup or restore left in the data directory
// beyond the database and configuration.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n.Name(), ".backup-") || strings.HasPrefix(n.Name(), ".restore-") || n.Name() == pendingRestoreDir {
			out = append(out, n.Name())
		}
	}
	return out
}

func streamNames(t *testing.T, d *db.DB) []string {
	t.Helper()
	list, err := db.ListStreams(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
	}
	return names
}

// TestBackupRestoresIntoAnotherDataDirectory takes a backup of one site and
// restores it on a fresh one: after the next start's apply step the streams,
// users and settings of the first are there, and the database stays where
// the second keeps it.
func TestBackupRestoresIntoAnotherDataDirectory(t *testing.T) {
	ctx := context.Background()
	src := newBackupSite(t, "[web]\nport = 8123\n")
	if err := db.InsertStream(ctx, src.db, &db.Stream{Name: "frontdoor", URL: "rtsp://192.0.2.7/live", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	src.addUser("operator", "operator-password-1", auth.RoleUser)

	r := src.post("/api/system/backup", nil)
	expectStatus(t, r, 200, "backup")
	if ct := string(r.header.ContentType()); ct != "application/zip" {
		t.Errorf("backup content type %q", ct)
	}
	entries := readArchive(t, r.body)
	if len(entries) != 3 || entries[0].name != backupManifestName || entries[1].name != backupConfigName || entries[2].name != backupDBName {
		t.Fatalf("backup entries: %v", entries)
	}
	if !strings.Contains(string(entries[1].data), "port = 8123") {
		t.Errorf("backup config is not the saved file:\n%s", entries[1].data)
	}
	if l := leftovers(t, src.dir); len(l) > 0 {
		t.Errorf("backup left %v in the data directory", l)
	}

	dst := newBackupSite(t, "")
	iniBefore, _ := os.ReadFile(dst.ini)
	r = dst.post("/api/system/restore", r.body)
	expectStatus(t, r, 200, "restore")
	if m := r.json(t); m["restart_required"] != true {
		t.Errorf("restore reply: %s", r.body)
	}
	// Staged only: the running site is as it was.
	if names := streamNames(t, dst.db); len(names) != 0 {
		t.Errorf("restore changed the running database: streams %v", names)
	}
	if now, _ := os.ReadFile(dst.ini); !bytes.Equal(now, iniBefore) {
		t.Errorf("restore changed the running configuration:\n%s", now)
	}

	// The next start: the daemon has closed its database.
	if err := dst.db.Close(); err != nil {
		t.Fatal(err)
	}
	applied, err := ApplyPendingRestore(dst.dbPath)
	if err != nil || !applied {
		t.Fatalf("apply: %v %v", applied, err)
	}
	cfg, err := config.Load(dst.ini)
	if err != nil {
		t.Fatalf("restored config does not load: %v", err)
	}
	if cfg.Web.Port != 8123 || cfg.Database.Path != dst.dbPath {
		t.Errorf("restored config: port %d, database %s (want 8123, %s)", cfg.Web.Port, cfg.Database.Path, dst.dbPath)
	}
	restored := testkit.OpenDB(t, dst.dbPath)
	if names := streamNames(t, restored); len(names) != 1 || names[0] != "frontdoor" {
		t.Errorf("restored streams %v, want [frontdoor]", names)
	}
	if _, err := restored.UserByUsername(ctx, "operator"); err != nil {
		t.Errorf("restored users lack operator: %v", err)
	}
	for _, kept := range []string{dst.ini + ".before-restore", dst.dbPath + ".before-restore"} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("the replaced file is not kept: %v", err)
		}
	}
	if l := leftovers(t, dst.dir); len(l) > 0 {
		t.Errorf("apply left %v", l)
	}
	if again, err := ApplyPendingRestore(dst.dbPath); again || err != nil {
		t.Errorf("a second start applied again: %v %v", again, err)
	}
}

// TestRestoreRefusesBadArchives: each broken archive is answered 400 with
// what is wrong, and nothing is staged or replaced.
func TestRestoreRefusesBadArchives(t *testing.T) {
	src := newBackupSite(t, "")
	r := src.post("/api/system/backup", nil)
	expectStatus(t, r, 200, "backup")
	good := readArchive(t, r.body)
	dbData := good[2].data

	// A database whose pages are all readable but whose index on
	// users.api_key now claims to index usernames: only PRAGMA
	// integrity_check notices.
	mismatch := filepath.Join(t.TempDir(), "mismatch.db")
	if err := os.WriteFile(mismatch, dbData, 0o600); err != nil {
		t.Fatal(err)
	}
	editSchema(t, mismatch, `UPDATE sqlite_master SET sql = 'CREATE INDEX idx_users_api_key ON users (username)' WHERE name = 'idx_users_api_key'`)
	corrupt, err := os.ReadFile(mismatch)
	if err != nil {
		t.Fatal(err)
	}
	// Another program's SQLite file (rollback journal: the table is in the file).
	foreign := filepath.Join(t.TempDir(), "other.db")
	if _, err := testkit.SQL(t, foreign).Exec(`CREATE TABLE cameras (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	foreignData, err := os.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}

	full := writeArchive(t, good)
	cases := []struct {
		name, want string
		body       []byte
	}{
		{"corrupted database", "integrity check", writeArchive(t, replaced(good, backupDBName, corrupt))},
		{"another program's database", "no schema_migrations", writeArchive(t, replaced(good, backupDBName, foreignData))},
		{"bad ini", "lightnvr.ini does not load", writeArchive(t, replaced(good, backupConfigName, []byte("[web]\nport = eighty\n")))},
		{"truncated archive", "not a complete backup archive", full[:len(full)/2]},
		{"archive cut before the database", "has no lightnvr.db", writeArchive(t, good[:2])},
		{"not a zip", "not a complete backup archive", bytes.Repeat([]byte("not a backup "), 100)},
	}
	dst := newBackupSite(t, "[web]\nport = 8124\n")
	if err := db.InsertStream(context.Background(), dst.db, &db.Stream{Name: "keep", URL: "rtsp://192.0.2.8/live", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	iniBefore, _ := os.ReadFile(dst.ini)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := dst.post("/api/system/restore", c.body)
			expectStatus(t, r, 400, c.name)
			if msg, _ := r.json(t)["error"].(string); !strings.Contains(msg, c.want) || !strings.Contains(msg, "nothing was changed") {
				t.Errorf("message %q, want it to say %q", msg, c.want)
			}
			if l := leftovers(t, dst.dir); len(l) > 0 {
				t.Errorf("refused restore left %v", l)
			}
			if now, _ := os.ReadFile(dst.ini); !bytes.Equal(now, iniBefore) {
				t.Errorf("refused restore changed the configuration")
			}
			if names := streamNames(t, dst.db); len(names) != 1 || names[0] != "keep" {
				t.Errorf("refused restore changed the database: %v", names)
			}
		})
	}
	if applied, err := ApplyPendingRestore(dst.dbPath); applied || err != nil {
		t.Errorf("a refused restore was applied at start: %v %v", applied, err)
	}
}

// editSchema runs stmt on the database at path with the schema writable,
// then closes it (the WAL is folded back into the file).
func editSchema(t *testing.T, path, stmt string) {
	t.Helper()
	ctx := context.Background()
	pool := testkit.SQL(t, path)
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`PRAGMA writable_schema=ON`, stmt, `PRAGMA writable_schema=OFF`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := errors.Join(conn.Close(), pool.Close()); err != nil {
		t.Fatal(err)
	}
}
