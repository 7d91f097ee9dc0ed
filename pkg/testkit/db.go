package testkit

import (
	"context"
	"path/filepath"
	"testing"

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
