package db

import (
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"fmt"
	"io"
	"strings"
)

// A new, empty database is built from a snapshot of what the embedded
// migrations leave behind, in one script and one transaction: running the
// fifty-odd migrations one by one makes SQLite re-parse the growing schema
// after nearly every statement, which costs many seconds at first boot on
// the board and under emulation. The snapshot is generated from the
// migrations (go test ./pkg/db -run TestSchemaSnapshot -update) and that
// test fails when it is stale; migrations newer than the snapshot are then
// applied after it as usual, so a stale snapshot is slower, never wrong.
// It is kept gzipped: the binary has little room to spare.
//
//go:embed schema_snapshot.sql.gz
var schemaSnapshot []byte

// readSnapshot returns the script a gzipped snapshot holds.
func readSnapshot(gz []byte) (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return "", fmt.Errorf("schema snapshot: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return "", fmt.Errorf("schema snapshot: %w", err)
	}
	return string(b), nil
}

// snapshotVersionsLine starts the snapshot's line listing the migrations it holds.
const snapshotVersionsLine = "-- versions:"

// snapshotVersions returns the migration versions the snapshot holds.
func snapshotVersions(snapshot string) []string {
	for _, line := range strings.Split(snapshot, "\n") {
		if v, ok := strings.CutPrefix(line, snapshotVersionsLine); ok {
			return strings.Fields(v)
		}
	}
	return nil
}

// applySnapshot builds the schema from the gzipped snapshot when the
// database holds nothing at all, and returns the versions it recorded (none
// otherwise, or when the snapshot names a migration migs does not have).
func (d *DB) applySnapshot(ctx context.Context, gz []byte, migs []Migration) ([]string, error) {
	snapshot, err := readSnapshot(gz)
	if err != nil {
		return nil, err
	}
	versions := snapshotVersions(snapshot)
	known := map[string]bool{}
	for _, m := range migs {
		known[m.Version] = true
	}
	for _, v := range versions {
		if !known[v] {
			return nil, nil
		}
	}
	if len(versions) == 0 {
		return nil, nil
	}
	var applied []string
	err = d.inTx(ctx, func(q Querier) error {
		// Checked under the write lock: another process may be migrating.
		n, err := queryValue[int](ctx, q, `SELECT count(*) FROM sqlite_master`)
		if err != nil || n > 0 {
			return err
		}
		if _, err := q.conn().ExecContext(ctx, snapshot); err != nil {
			return fmt.Errorf("schema snapshot: %w", err)
		}
		for _, v := range versions {
			if _, err := exec(ctx, q, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
				return fmt.Errorf("schema snapshot: record version %s: %w", v, err)
			}
		}
		applied = versions
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}
