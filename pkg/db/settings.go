package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// SystemSetting reads one value of system_settings; ok is false when the key
// has no row.
func SystemSetting(ctx context.Context, q Querier, key string) (value string, ok bool, err error) {
	err = q.conn().QueryRowContext(ctx, `SELECT value FROM system_settings WHERE key = ?`, key).Scan(&value)
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
	_, err := q.conn().ExecContext(ctx, `INSERT INTO system_settings (key, value, updated_at) VALUES (?, ?, strftime('%s', 'now'))
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value)
	if err != nil {
		return fmt.Errorf("write system setting %q: %w", key, err)
	}
	return nil
}

// DeleteSystemSetting removes one key of system_settings; a missing key is
// not an error.
func DeleteSystemSetting(ctx context.Context, q Querier, key string) error {
	if _, err := q.conn().ExecContext(ctx, `DELETE FROM system_settings WHERE key = ?`, key); err != nil {
		return fmt.Errorf("delete system setting %q: %w", key, err)
	}
	return nil
}

// system_settings keys of the first-run wizard (LightNVR's).
const (
	settingSetupComplete    = "setup_complete"
	settingSetupCompletedAt = "setup_completed_at"
)

// SetupStatus is the state of the first-run wizard. CompletedAt (Unix
// seconds) is 0 unless Complete.
type SetupStatus struct {
	Complete    bool
	CompletedAt int64
}

// ReadSetupStatus reads the wizard's state; no row means not done.
func ReadSetupStatus(ctx context.Context, q Querier) (SetupStatus, error) {
	var st SetupStatus
	v, _, err := SystemSetting(ctx, q, settingSetupComplete)
	if err != nil {
		return st, err
	}
	st.Complete = v == "1" || v == "true"
	at, ok, err := SystemSetting(ctx, q, settingSetupCompletedAt)
	if err != nil {
		return st, err
	}
	if ok && st.Complete {
		st.CompletedAt, _ = strconv.ParseInt(at, 10, 64)
	}
	return st, nil
}

// SetSetupComplete marks the wizard done at now (Unix seconds) or not
// done, in one transaction. Marking a finished wizard finished again keeps
// the first time.
func SetSetupComplete(ctx context.Context, d *DB, complete bool, now int64) error {
	err := d.inTx(ctx, func(q Querier) error {
		if !complete {
			if err := SetSystemSetting(ctx, q, settingSetupComplete, "0"); err != nil {
				return err
			}
			return DeleteSystemSetting(ctx, q, settingSetupCompletedAt)
		}
		st, err := ReadSetupStatus(ctx, q)
		if err != nil {
			return err
		}
		at := now
		if st.Complete && st.CompletedAt > 0 {
			at = st.CompletedAt
		}
		if err := SetSystemSetting(ctx, q, settingSetupComplete, "1"); err != nil {
			return err
		}
		return SetSystemSetting(ctx, q, settingSetupCompletedAt, strconv.FormatInt(at, 10))
	})
	if err != nil {
		return fmt.Errorf("write setup status: %w", err)
	}
	return nil
}
