package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SystemSetting reads one value of system_settings; ok is false when the key
// has no row.
func SystemSetting(ctx context.Context, q Querier, key string) (value string, ok bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT value FROM system_settings WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read system setting %q: %w", key, err)
	}
	return value, true, nil
}

// SetSystemSetting inserts or replaces one value of system_settings and
// stamps its updated_at.
func SetSystemSetting(ctx context.Context, q Querier, key, value string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO system_settings (key, value, updated_at) VALUES (?, ?, strftime('%s', 'now'))
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value)
	if err != nil {
		return fmt.Errorf("write system setting %q: %w", key, err)
	}
	return nil
}

// DeleteSystemSetting removes one key of system_settings; a missing key is
// not an error.
func DeleteSystemSetting(ctx context.Context, q Querier, key string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM system_settings WHERE key = ?`, key); err != nil {
		return fmt.Errorf("delete system setting %q: %w", key, err)
	}
	return nil
}
