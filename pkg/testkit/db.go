package testkit

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"lightnvr/pkg/db"
)

// OpenDB opens the SQLite database at path, migrated to the newest schema
// and closed when the test ends; "" is a fresh file in the test's directory.
func OpenDB(t testing.TB, path string) *db.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "lightnvr.db")
	}
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// SQL opens a second connection pool on the database file at path, for a
// test that seeds or inspects rows in ways no production code may: pkg/db
// keeps its own pool to itself. WAL lets both pools share the file; this
// one waits on locks as long as pkg/db does, enforces foreign keys like
// it, and closes when the test ends.
func SQL(t testing.TB, path string) *sql.DB {
	t.Helper()
	s, err := driver.Open(path, func(c *sqlite3.Conn) error {
		if err := c.BusyTimeout(db.BusyTimeout); err != nil {
			return err
		}
		return c.Exec(`PRAGMA foreign_keys=ON`)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
