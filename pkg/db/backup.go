package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"lightnvr/migrations"
)

// BackupTo writes a consistent copy of the database to dst, a file that must
// not exist yet, with SQLite's online backup: one read transaction copies
// every page, so writers carry on and the copy is the database as of one
// moment (never a copy of the live file, which a checkpoint may be
// rewriting).
func (d *DB) BackupTo(ctx context.Context, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("backup %s to %s: destination exists", d.path, dst)
	}
	conn, err := d.pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup %s: %w", d.path, err)
	}
	defer func() { _ = conn.Close() }()
	err = conn.Raw(func(dc any) error {
		raw, ok := dc.(interface{ Raw() *sqlite3.Conn })
		if !ok {
			return fmt.Errorf("driver connection %T has no SQLite handle", dc)
		}
		return raw.Raw().Backup("main", dst)
	})
	if err != nil {
		return fmt.Errorf("backup %s to %s: %w", d.path, dst, err)
	}
	return nil
}

// ErrNotOurSchema marks a database that is valid SQLite but was never
// migrated by lightnvr (no schema_migrations table).
var ErrNotOurSchema = errors.New("not a LightNVR database (no schema_migrations table)")

// VerifyBackup checks a database file before it may replace the live one:
// it opens, PRAGMA integrity_check finds nothing, it has our migrations
// table, and no migration this build does not know. The file is a staged
// copy: opening it may switch it to WAL, which changes nothing in its data.
func VerifyBackup(ctx context.Context, path string) error {
	d, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	lines, err := queryAll(ctx, d, "integrity_check "+path, scanOne[string], `PRAGMA integrity_check`)
	if err != nil {
		return err
	}
	if verdict := strings.Join(lines, "; "); verdict != "ok" {
		return fmt.Errorf("integrity check of %s failed: %s", path, verdict)
	}
	st, err := d.readState(ctx)
	if err != nil {
		return err
	}
	if !st.hasTable {
		return ErrNotOurSchema
	}
	migs, err := LoadMigrations(migrations.FS)
	if err != nil {
		return err
	}
	if unknown := st.unknownApplied(migs); len(unknown) > 0 {
		return fmt.Errorf("%w: it has migration %s", ErrSchemaTooNew, strings.Join(unknown, ", "))
	}
	return nil
}

// Install moves the database file staged into place at path. The file at
// path and its -wal and -shm companions are moved aside to
// path+".before-restore" (and its companions) first: a WAL left beside the new
// file would be replayed into it. Run it only while no process has path
// open. Each step checks what is there, so after a power cut in the middle
// running it again completes the move.
func Install(staged, path string) error {
	if _, err := os.Stat(staged); err != nil {
		return fmt.Errorf("install database: %w", err)
	}
	for _, side := range []string{"", "-wal", "-shm"} {
		err := os.Rename(path+side, path+".before-restore"+side)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("install database: move aside %s: %w", path+side, err)
		}
	}
	if err := os.Rename(staged, path); err != nil {
		return fmt.Errorf("install database: %w", err)
	}
	return nil
}
