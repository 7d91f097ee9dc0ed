package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"lightnvr/migrations"
)

// Migration is one schema change, read from a NNNN_name.sql file.
type Migration struct {
	Version string // the digits before the first underscore, e.g. "0001"
	Name    string // the rest of the file name without ".sql"
	Up      []string
	Down    []string
	num     int
}

// MigrationStatus reports one migration for diagnostics. A version applied
// to the database but unknown to this build is listed with an empty Name.
type MigrationStatus struct {
	Version   string
	Name      string
	Applied   bool
	AppliedAt time.Time // zero when not applied
}

// ErrSchemaTooNew is returned when the database records a migration this
// build does not know: a newer release migrated it, and running older code
// against it could corrupt data.
var ErrSchemaTooNew = errors.New("database schema is newer than this lightnvr")

// legacyMaxVersion is the newest migration a pre-dbmate LightNVR database
// can have applied: its schema_version counter N stands for 0001..N, up to
// 0019.
const legacyMaxVersion = 19

var migrationFileName = regexp.MustCompile(`^([0-9]{4,})_([^/]+)\.sql$`)

// LoadMigrations reads every NNNN_name.sql at the top of fsys, sorted by
// version number.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := migrationFileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_description.sql", e.Name())
		}
		num, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("migration %s: version: %w", e.Name(), err)
		}
		if prev, dup := seen[num]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), num)
		}
		seen[num] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		up, down, err := parseMigration(string(body))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: m[1], Name: m[2], Up: up, Down: down, num: num})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.num - b.num })
	return out, nil
}

// parseMigration splits a dbmate-style file into its up and down
// statements. Text before "-- migrate:up" may hold comments only.
func parseMigration(body string) (up, down []string, err error) {
	var pre, upText, downText strings.Builder
	section, sawUp := &pre, false
	for l := range strings.Lines(body) {
		switch migrationMarker(l) {
		case "up":
			if sawUp {
				return nil, nil, errors.New("two -- migrate:up markers")
			}
			section, sawUp = &upText, true
			continue
		case "down":
			if !sawUp {
				return nil, nil, errors.New("-- migrate:down before -- migrate:up")
			}
			section = &downText
			continue
		}
		section.WriteString(l)
	}
	if !sawUp {
		return nil, nil, errors.New("no -- migrate:up marker")
	}
	if stmts, err := splitStatements(pre.String()); err != nil || len(stmts) > 0 {
		return nil, nil, errors.New("SQL before -- migrate:up")
	}
	if up, err = splitStatements(upText.String()); err != nil {
		return nil, nil, fmt.Errorf("up: %w", err)
	}
	if down, err = splitStatements(downText.String()); err != nil {
		return nil, nil, fmt.Errorf("down: %w", err)
	}
	return up, down, nil
}

// migrationMarker recognises "-- migrate:up" and "-- migrate:down" lines; dbmate
// allows options after the marker, which we accept and ignore.
func migrationMarker(line string) string {
	f := strings.Fields(line)
	if len(f) >= 2 && f[0] == "--" {
		switch f[1] {
		case "migrate:up":
			return "up"
		case "migrate:down":
			return "down"
		}
	}
	return ""
}

// Migrate applies the embedded migrations that the database lacks, in
// order, and returns the versions it applied (none when up to date).
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	return d.migrate(ctx, migrations.FS, schemaSnapshot)
}

// Status reports every embedded migration and whether it is applied.
func (d *DB) Status(ctx context.Context) ([]MigrationStatus, error) {
	return d.StatusFS(ctx, migrations.FS)
}

// schemaState is what the database records about its migrations.
type schemaState struct {
	hasTable bool             // schema_migrations exists
	applied  map[string]int64 // version → applied_at (unix s, 0 if unreadable)
	legacy   int              // schema_version counter, 0 if none
}

// readState only reads: it runs before the check that may refuse the
// database, which must leave the file untouched.
func (d *DB) readState(ctx context.Context) (schemaState, error) {
	st := schemaState{applied: map[string]int64{}}
	names, err := queryAll(ctx, d, "read schema tables", scanOne[string],
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('schema_migrations', 'schema_version')`)
	if err != nil {
		return st, err
	}
	tables := map[string]bool{}
	for _, n := range names {
		tables[n] = true
	}
	if tables["schema_migrations"] {
		st.hasTable = true
		type applied struct {
			version string
			at      any
		}
		rows, err := queryAll(ctx, d, "read schema_migrations", scanFields(func(a *applied) []any { return []any{&a.version, &a.at} }),
			`SELECT version, applied_at FROM schema_migrations`)
		if err != nil {
			return st, err
		}
		for _, a := range rows {
			t, _ := a.at.(int64)
			st.applied[a.version] = t
		}
	}
	if tables["schema_version"] {
		v, err := queryValue[sql.NullInt64](ctx, d, `SELECT version FROM schema_version WHERE id = 1`)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return st, fmt.Errorf("read schema_version: %w", err)
		}
		st.legacy = int(v.Int64)
	}
	return st, nil
}

// unknownApplied lists applied versions that migs does not contain, sorted.
func (st schemaState) unknownApplied(migs []Migration) []string {
	known := map[string]bool{}
	for _, m := range migs {
		known[m.Version] = true
	}
	var unknown []string
	for v := range st.applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	slices.Sort(unknown)
	return unknown
}

// MigrateFS is Migrate over another set of migration files (tests, tools).
func (d *DB) MigrateFS(ctx context.Context, fsys fs.FS) ([]string, error) {
	return d.migrate(ctx, fsys, nil)
}

// migrate applies fsys's migrations; a new database is first built from
// snapshot when there is one (see applySnapshot).
func (d *DB) migrate(ctx context.Context, fsys fs.FS, snapshot []byte) ([]string, error) {
	migs, err := LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	st, err := d.readState(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", d.path, err)
	}
	if unknown := st.unknownApplied(migs); len(unknown) > 0 {
		word := "migration"
		if len(unknown) > 1 {
			word = "migrations"
		}
		return nil, fmt.Errorf("migrate %s: %w: unknown %s %s applied; refusing to migrate",
			d.path, ErrSchemaTooNew, word, strings.Join(unknown, ", "))
	}

	var applied []string
	if snapshot != nil && !st.hasTable && st.legacy == 0 {
		if applied, err = d.applySnapshot(ctx, snapshot, migs); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", d.path, err)
		}
		for _, v := range applied {
			st.applied[v], st.hasTable = 0, true
		}
	}

	// A legacy counter N means 0001..N are in the schema already.
	var legacy []string
	var pending []Migration
	for _, m := range migs {
		if _, ok := st.applied[m.Version]; ok {
			continue
		}
		if m.num <= min(st.legacy, legacyMaxVersion) {
			legacy = append(legacy, m.Version)
			continue
		}
		pending = append(pending, m)
	}
	if len(legacy) == 0 && len(pending) == 0 {
		logMigrated(d.path, applied)
		return applied, nil
	}

	if !st.hasTable {
		if _, err := exec(ctx, d, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
)`); err != nil {
			return nil, fmt.Errorf("migrate %s: create schema_migrations: %w", d.path, err)
		}
	}
	if len(legacy) > 0 {
		if err := d.recordLegacy(ctx, legacy); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", d.path, err)
		}
		slog.Info("database: mapped legacy schema_version", "path", d.path, "version", st.legacy, "migrations", len(legacy))
	}

	for _, m := range pending {
		did, err := d.apply(ctx, m)
		if err != nil {
			return applied, fmt.Errorf("migrate %s: migration %s_%s: %w", d.path, m.Version, m.Name, err)
		}
		if did {
			applied = append(applied, m.Version)
			slog.Debug("database: applied migration", "path", d.path, "version", m.Version, "name", m.Name)
		}
	}
	logMigrated(d.path, applied)
	return applied, nil
}

func logMigrated(path string, applied []string) {
	if len(applied) > 0 {
		slog.Info("database: migrated", "path", path, "applied", len(applied), "from", applied[0], "to", applied[len(applied)-1])
	}
}

func (d *DB) recordLegacy(ctx context.Context, versions []string) error {
	err := d.inTx(ctx, func(q Querier) error {
		for _, v := range versions {
			if _, err := exec(ctx, q, `INSERT OR IGNORE INTO schema_migrations (version) VALUES (?)`, v); err != nil {
				return fmt.Errorf("record legacy version %s: %w", v, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record legacy versions: %w", err)
	}
	return nil
}

// apply runs one migration and records it, in one transaction. It reports
// false when another process applied the migration first.
func (d *DB) apply(ctx context.Context, m Migration) (applied bool, err error) {
	// BEGIN IMMEDIATE (the driver's default) takes the write lock now, so
	// the check below cannot race another migrating process.
	err = d.inTx(ctx, func(q Querier) error {
		n, err := queryValue[int](ctx, q, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version)
		if err != nil || n > 0 {
			return err
		}
		for i, stmt := range m.Up {
			if err := execTolerant(ctx, q, stmt); err != nil {
				return fmt.Errorf("statement %d (%s): %w", i+1, stmtExcerpt(stmt), err)
			}
		}
		if _, err := exec(ctx, q, `INSERT INTO schema_migrations (version) VALUES (?)`, m.Version); err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		applied = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return applied, nil
}

// execTolerant runs one statement the way LightNVR's runner did, so its
// migrations behave the same over databases whose history differs: an ADD
// COLUMN for a column that exists is skipped, and "already exists" errors of
// CREATE and ALTER statements are ignored.
func execTolerant(ctx context.Context, q Querier, stmt string) error {
	if table, column, ok := addColumnTarget(stmt); ok {
		n, err := queryValue[int](ctx, q,
			`SELECT count(*) FROM pragma_table_info(?) WHERE name = ? COLLATE NOCASE`, table, column)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", table, err)
		}
		if n > 0 {
			return nil
		}
	}
	_, err := q.conn().ExecContext(ctx, stmt)
	if err == nil {
		return nil
	}
	if kw := sqlTokens(stmt, 1); len(kw) == 1 && (kw[0] == "CREATE" || kw[0] == "ALTER") {
		msg := err.Error()
		if strings.Contains(msg, "duplicate column name") || strings.Contains(msg, "already exists") {
			return nil
		}
	}
	return err
}

func stmtExcerpt(stmt string) string {
	s := strings.Join(strings.Fields(stmt), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "…"
	}
	return s
}

// StatusFS is Status over another set of migration files.
func (d *DB) StatusFS(ctx context.Context, fsys fs.FS) ([]MigrationStatus, error) {
	migs, err := LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	st, err := d.readState(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status %s: %w", d.path, err)
	}
	out := make([]MigrationStatus, 0, len(migs))
	for _, m := range migs {
		s := MigrationStatus{Version: m.Version, Name: m.Name}
		if at, ok := st.applied[m.Version]; ok {
			s.Applied = true
			if at > 0 {
				s.AppliedAt = time.Unix(at, 0)
			}
		} else if m.num <= min(st.legacy, legacyMaxVersion) {
			s.Applied = true // recorded by the legacy counter; Migrate will map it
		}
		out = append(out, s)
	}
	for _, v := range st.unknownApplied(migs) {
		s := MigrationStatus{Version: v, Applied: true}
		if at := st.applied[v]; at > 0 {
			s.AppliedAt = time.Unix(at, 0)
		}
		out = append(out, s)
	}
	return out, nil
}
