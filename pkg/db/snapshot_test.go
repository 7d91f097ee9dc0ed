package db

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"lightnvr/migrations"
)

var updateSnapshot = flag.Bool("update", false, "rewrite schema_snapshot.sql from the migrations")

// The snapshot is what the migrations, run one by one, leave in a new
// database; a new database built from it holds the same schema and rows.
func TestSchemaSnapshot(t *testing.T) {
	ctx := context.Background()
	migrated := openTemp(t, "fresh.db")
	if _, err := migrated.MigrateFS(ctx, migrations.FS); err != nil {
		t.Fatal(err)
	}
	want := dumpSnapshot(t, migrated)
	if *updateSnapshot {
		schemaSnapshot = gzipped(t, want)
		if err := os.WriteFile("schema_snapshot.sql.gz", schemaSnapshot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readSnapshot(schemaSnapshot); err != nil || got != want {
		t.Fatalf("schema_snapshot.sql.gz is stale (%v): run go test ./pkg/db -run TestSchemaSnapshot -update", err)
	}

	built := openTemp(t, "fresh.db")
	applied, err := built.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all := migAppliedVersions(t, migrated); !slices.Equal(applied, all) {
		t.Errorf("Migrate on a new database applied %v, want %v", applied, all)
	}
	if got := dumpSnapshot(t, built); got != want {
		t.Errorf("a database built from the snapshot differs from a migrated one:\n%s", firstDiff(got, want))
	}
	if got := migAppliedVersions(t, built); !slices.Equal(got, applied) {
		t.Errorf("schema_migrations holds %v, want %v", got, applied)
	}
	if again, err := built.Migrate(ctx); err != nil || len(again) != 0 {
		t.Errorf("second Migrate = %v, %v; want nothing to do", again, err)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := zw.Write([]byte(s)); err != nil || zw.Close() != nil {
		t.Fatal("gzip the snapshot")
	}
	return b.Bytes()
}

// dumpSnapshot writes d's schema and rows as the script applySnapshot runs:
// every CREATE in creation order, then every row but schema_migrations'.
func dumpSnapshot(t *testing.T, d *DB) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("-- What the migrations leave in a new database; applySnapshot (snapshot.go)\n")
	b.WriteString("-- runs it. Generated: go test ./pkg/db -run TestSchemaSnapshot -update. Do not edit.\n")
	fmt.Fprintf(&b, "%s %s\n", snapshotVersionsLine, strings.Join(migAppliedVersions(t, d), " "))
	stmts, err := queryAll(ctx, d, "schema", scanOne[string],
		`SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		b.WriteString(s + ";\n")
	}
	tables, err := queryAll(ctx, d, "tables", scanOne[string],
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'schema_migrations' ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		// A column defaulting to the current time is left to its default,
		// as the migration that inserted the row left it.
		cols, err := queryAll(ctx, d, "columns", scanOne[string], `SELECT name FROM pragma_table_info(?)
			WHERE NOT (coalesce(dflt_value, '') LIKE '%now%' OR coalesce(dflt_value, '') LIKE '%current\_%' ESCAPE '\') ORDER BY cid`, table)
		if err != nil {
			t.Fatal(err)
		}
		var names, values []string
		for _, c := range cols {
			names = append(names, `"`+c+`"`)
			values = append(values, `quote("`+c+`")`)
		}
		rows, err := queryAll(ctx, d, "rows", scanOne[string], fmt.Sprintf(`SELECT 'INSERT INTO "%s" (%s) VALUES (' || %s || ');' FROM "%s" ORDER BY %s`,
			table, strings.Join(names, ", "), strings.Join(values, " || ', ' || "), table, strings.Join(names, ", ")))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(al), len(bl))
}

// Only an empty database is built from the snapshot; one that holds
// anything is migrated step by step.
func TestSnapshotOnlyForEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	script, err := readSnapshot(schemaSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	marked := gzipped(t, script+"CREATE TABLE snapshot_marker (x);\n")
	hasMarker := func(d *DB) bool {
		n, err := queryValue[int](ctx, d, `SELECT count(*) FROM sqlite_master WHERE name = 'snapshot_marker'`)
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	empty := openTemp(t, "fresh.db")
	if _, err := empty.migrate(ctx, migrations.FS, marked); err != nil {
		t.Fatal(err)
	}
	if !hasMarker(empty) {
		t.Error("an empty database was not built from the snapshot")
	}
	used := openTemp(t, "fresh.db")
	mustExec(t, used, `CREATE TABLE notes (x)`)
	if _, err := used.migrate(ctx, migrations.FS, marked); err != nil {
		t.Fatal(err)
	}
	if hasMarker(used) {
		t.Error("a database that held a table was built from the snapshot")
	}
}
