package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// LoginFailure is one row of login_failures. Times are Unix seconds.
type LoginFailure struct {
	UserKey  string
	Address  string
	Failures int
	FirstAt  int64
	LastAt   int64
	NextAt   int64
}

// LoginFailure returns the row for (userKey, address); ok is false when
// there is none.
func (d *DB) LoginFailure(ctx context.Context, userKey, address string) (f LoginFailure, ok bool, err error) {
	err = d.pool.QueryRowContext(ctx, `SELECT user_key, address, failures, first_at, last_at, next_at
		FROM login_failures WHERE user_key = ? AND address = ?`, userKey, address).
		Scan(&f.UserKey, &f.Address, &f.Failures, &f.FirstAt, &f.LastAt, &f.NextAt)
	if errors.Is(err, sql.ErrNoRows) {
		return LoginFailure{}, false, nil
	}
	if err != nil {
		return LoginFailure{}, false, fmt.Errorf("read login failures of %q from %q: %w", userKey, address, err)
	}
	return f, true, nil
}

// staleExpr is true for a stored row whose window has passed (every SET
// expression of an upsert sees the row as it was before the update).
const staleExpr = `(CASE WHEN ?5 THEN last_at ELSE first_at END) + ?4 <= ?3`

// AddLoginFailure counts one failure for (userKey, address) at now and
// returns the updated row. A row whose staleAt lies at or before now starts
// over at one; staleAt is computed by SQL from the row as
// first_at + window (fixed window) or last_at + window (sliding).
func (d *DB) AddLoginFailure(ctx context.Context, userKey, address string, now, window int64, sliding bool) (LoginFailure, error) {
	f := LoginFailure{UserKey: userKey, Address: address}
	err := d.pool.QueryRowContext(ctx, `INSERT INTO login_failures (user_key, address, failures, first_at, last_at, next_at)
		VALUES (?1, ?2, 1, ?3, ?3, 0)
		ON CONFLICT (user_key, address) DO UPDATE SET
			failures = CASE WHEN `+staleExpr+` THEN 1 ELSE failures + 1 END,
			first_at = CASE WHEN `+staleExpr+` THEN ?3 ELSE first_at END,
			next_at  = CASE WHEN `+staleExpr+` THEN 0 ELSE next_at END,
			last_at  = ?3
		RETURNING failures, first_at, last_at, next_at`,
		userKey, address, now, window, sliding).Scan(&f.Failures, &f.FirstAt, &f.LastAt, &f.NextAt)
	if err != nil {
		return LoginFailure{}, fmt.Errorf("count login failure of %q from %q: %w", userKey, address, err)
	}
	return f, nil
}

// SetLoginNextAt sets when the next attempt for (userKey, address) may run,
// only if the stored time is at most ifAtMost. It reports whether it did: two
// attempts racing for the same turn cannot both win it.
func (d *DB) SetLoginNextAt(ctx context.Context, userKey, address string, next, ifAtMost int64) (bool, error) {
	n, err := exec(ctx, d, `UPDATE login_failures SET next_at = ?
		WHERE user_key = ? AND address = ? AND next_at <= ?`, next, userKey, address, ifAtMost)
	if err != nil {
		return false, fmt.Errorf("set next login time of %q: %w", userKey, err)
	}
	return n == 1, nil
}

// DeleteLoginFailures forgets the failures of userKey from address, or from
// everywhere when address is "". It returns how many rows went.
func (d *DB) DeleteLoginFailures(ctx context.Context, userKey, address string) (int64, error) {
	q, args := `DELETE FROM login_failures WHERE user_key = ?`, []any{userKey}
	if address != "" {
		q, args = q+` AND address = ?`, append(args, address)
	}
	n, err := exec(ctx, d, q, args...)
	if err != nil {
		return 0, fmt.Errorf("clear login failures of %q: %w", userKey, err)
	}
	return n, nil
}

// PruneLoginFailures drops rows whose last failure is older than before.
func (d *DB) PruneLoginFailures(ctx context.Context, before int64) error {
	if _, err := d.pool.ExecContext(ctx, `DELETE FROM login_failures WHERE last_at < ?`, before); err != nil {
		return fmt.Errorf("prune login failures: %w", err)
	}
	return nil
}

// maxKnownAddresses bounds login_known_addresses per user.
const maxKnownAddresses = 16

// AddKnownLoginAddress records a successful login of userKey from address,
// keeping only the most recent addresses.
func (d *DB) AddKnownLoginAddress(ctx context.Context, userKey, address string, now int64) error {
	if _, err := d.pool.ExecContext(ctx, `INSERT INTO login_known_addresses (user_key, address, last_success_at) VALUES (?, ?, ?)
		ON CONFLICT (user_key, address) DO UPDATE SET last_success_at = excluded.last_success_at`, userKey, address, now); err != nil {
		return fmt.Errorf("record login address of %q: %w", userKey, err)
	}
	_, err := d.pool.ExecContext(ctx, `DELETE FROM login_known_addresses WHERE user_key = ?1 AND address NOT IN
		(SELECT address FROM login_known_addresses WHERE user_key = ?1 ORDER BY last_success_at DESC LIMIT ?2)`,
		userKey, maxKnownAddresses)
	if err != nil {
		return fmt.Errorf("trim login addresses of %q: %w", userKey, err)
	}
	return nil
}

// KnownLoginAddress reports whether userKey logged in from address at or after since.
func (d *DB) KnownLoginAddress(ctx context.Context, userKey, address string, since int64) (bool, error) {
	n, err := queryValue[int](ctx, d, `SELECT count(*) FROM login_known_addresses
		WHERE user_key = ? AND address = ? AND last_success_at >= ?`, userKey, address, since)
	if err != nil {
		return false, fmt.Errorf("look up login address of %q: %w", userKey, err)
	}
	return n > 0, nil
}
