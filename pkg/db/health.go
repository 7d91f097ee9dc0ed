package db

import (
	"context"
	"fmt"
)

// SQLiteVersion is the version of the SQLite library serving the database.
func (d *DB) SQLiteVersion(ctx context.Context) (string, error) {
	v, err := queryValue[string](ctx, d, `SELECT sqlite_version()`)
	if err != nil {
		return "", fmt.Errorf("sqlite version of %s: %w", d.path, err)
	}
	return v, nil
}
