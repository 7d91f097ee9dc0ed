package db

import (
	"context"
	"errors"
	"fmt"
)

// ErrSessionNotFound is returned when no sessions or trusted_devices row matches.
var ErrSessionNotFound = errors.New("session not found")

// Session is one row of sessions. TokenHash is what the token column holds:
// the SHA-256 (hex) of the cookie value, never the value itself. Times are
// Unix seconds.
type Session struct {
	ID             int64
	UserID         int64
	TokenHash      string
	CreatedAt      int64
	ExpiresAt      int64
	LastActivityAt int64
	IdleExpiresAt  int64
	IPAddress      string
	UserAgent      string
}

const sessionColumns = `id, user_id, token, created_at, expires_at, COALESCE(last_activity_at, created_at),
	COALESCE(idle_expires_at, expires_at), COALESCE(ip_address, ''), COALESCE(user_agent, '')`

func scanSession(r rowScanner) (*Session, error) {
	var s Session
	err := r.Scan(&s.ID, &s.UserID, &s.TokenHash, &s.CreatedAt, &s.ExpiresAt, &s.LastActivityAt, &s.IdleExpiresAt, &s.IPAddress, &s.UserAgent)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// InsertSession stores s and sets its ID.
func (d *DB) InsertSession(ctx context.Context, s *Session) error {
	id, err := insert(ctx, d, `INSERT INTO sessions (user_id, token, created_at, expires_at, last_activity_at, idle_expires_at, ip_address, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.UserID, s.TokenHash, s.CreatedAt, s.ExpiresAt, s.LastActivityAt, s.IdleExpiresAt, s.IPAddress, s.UserAgent)
	if err != nil {
		return fmt.Errorf("insert session for user %d: %w", s.UserID, err)
	}
	s.ID = id
	return nil
}

// SessionByTokenHash returns the session whose token column equals tokenHash.
func (d *DB) SessionByTokenHash(ctx context.Context, tokenHash string) (*Session, error) {
	return queryRow(ctx, d, scanSession, "read session", ErrSessionNotFound,
		`SELECT `+sessionColumns+` FROM sessions WHERE token = ?`, tokenHash)
}

// TouchSession records activity: the new idle deadline, client address and agent.
func (d *DB) TouchSession(ctx context.Context, id, now, idleExpiresAt int64, ip, userAgent string) error {
	_, err := d.pool.ExecContext(ctx, `UPDATE sessions SET last_activity_at = ?, idle_expires_at = ?, ip_address = ?, user_agent = ? WHERE id = ?`,
		now, idleExpiresAt, ip, userAgent, id)
	if err != nil {
		return fmt.Errorf("touch session %d: %w", id, err)
	}
	return nil
}

// ListUserSessions returns the user's sessions still valid at now, newest activity first.
func (d *DB) ListUserSessions(ctx context.Context, userID, now int64, limit int) ([]*Session, error) {
	return queryAll(ctx, d, fmt.Sprintf("list sessions of user %d", userID), scanSession, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND expires_at >= ? AND COALESCE(idle_expires_at, expires_at) >= ?
		ORDER BY COALESCE(last_activity_at, created_at) DESC, id DESC LIMIT ?`, userID, now, now, limit)
}

// DeleteSession removes session id if it belongs to userID (userID 0: any owner).
func (d *DB) DeleteSession(ctx context.Context, id, userID int64) error {
	n, err := exec(ctx, d, `DELETE FROM sessions WHERE id = ? AND (? = 0 OR user_id = ?)`, id, userID, userID)
	return affectedOne(n, err, fmt.Sprintf("delete session %d", id))
}

// DeleteSessionByTokenHash removes the session with that token hash, if any.
func (d *DB) DeleteSessionByTokenHash(ctx context.Context, tokenHash string) error {
	if _, err := d.pool.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete session by token: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of userID except exceptID (0: none kept).
func (d *DB) DeleteUserSessions(ctx context.Context, userID, exceptID int64) error {
	if _, err := d.pool.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id != ?`, userID, exceptID); err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past either deadline and trusted
// devices past theirs, and returns how many rows went.
func (d *DB) DeleteExpiredSessions(ctx context.Context, now int64) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM sessions WHERE expires_at < ?1 OR COALESCE(idle_expires_at, expires_at) < ?1`,
		`DELETE FROM trusted_devices WHERE expires_at < ?1`,
	} {
		n, err := exec(ctx, d, q, now)
		if err != nil {
			return total, fmt.Errorf("delete expired sessions: %w", err)
		}
		total += n
	}
	return total, nil
}

func affectedOne(n int64, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrSessionNotFound)
	}
	return nil
}

// TrustedDevice is one row of trusted_devices; TokenHash is the SHA-256 (hex)
// of the trusted_device cookie.
type TrustedDevice struct {
	ID         int64
	UserID     int64
	TokenHash  string
	IPAddress  string
	UserAgent  string
	CreatedAt  int64
	LastUsedAt int64
	ExpiresAt  int64
}

const trustedDeviceColumns = `id, user_id, token, COALESCE(ip_address, ''), COALESCE(user_agent, ''), created_at,
	COALESCE(last_used_at, created_at), expires_at`

func scanTrustedDevice(r rowScanner) (*TrustedDevice, error) {
	var t TrustedDevice
	if err := r.Scan(&t.ID, &t.UserID, &t.TokenHash, &t.IPAddress, &t.UserAgent, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt); err != nil {
		return nil, err
	}
	return &t, nil
}

// InsertTrustedDevice stores t and sets its ID.
func (d *DB) InsertTrustedDevice(ctx context.Context, t *TrustedDevice) error {
	id, err := insert(ctx, d, `INSERT INTO trusted_devices (user_id, token, ip_address, user_agent, created_at, last_used_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.UserID, t.TokenHash, t.IPAddress, t.UserAgent, t.CreatedAt, t.LastUsedAt, t.ExpiresAt)
	if err != nil {
		return fmt.Errorf("insert trusted device for user %d: %w", t.UserID, err)
	}
	t.ID = id
	return nil
}

// TrustedDeviceByTokenHash returns the trusted device with that token hash.
func (d *DB) TrustedDeviceByTokenHash(ctx context.Context, tokenHash string) (*TrustedDevice, error) {
	return queryRow(ctx, d, scanTrustedDevice, "read trusted device", ErrSessionNotFound,
		`SELECT `+trustedDeviceColumns+` FROM trusted_devices WHERE token = ?`, tokenHash)
}

// TouchTrustedDevice records a use of the device.
func (d *DB) TouchTrustedDevice(ctx context.Context, id, now int64, ip, userAgent string) error {
	if _, err := d.pool.ExecContext(ctx, `UPDATE trusted_devices SET last_used_at = ?, ip_address = ?, user_agent = ? WHERE id = ?`, now, ip, userAgent, id); err != nil {
		return fmt.Errorf("touch trusted device %d: %w", id, err)
	}
	return nil
}

// ListTrustedDevices returns the user's unexpired trusted devices, most recently used first.
func (d *DB) ListTrustedDevices(ctx context.Context, userID, now int64, limit int) ([]*TrustedDevice, error) {
	return queryAll(ctx, d, fmt.Sprintf("list trusted devices of user %d", userID), scanTrustedDevice,
		`SELECT `+trustedDeviceColumns+` FROM trusted_devices
		WHERE user_id = ? AND expires_at >= ? ORDER BY COALESCE(last_used_at, created_at) DESC, id DESC LIMIT ?`, userID, now, limit)
}

// DeleteTrustedDevice removes device id if it belongs to userID (userID 0: any owner).
func (d *DB) DeleteTrustedDevice(ctx context.Context, id, userID int64) error {
	n, err := exec(ctx, d, `DELETE FROM trusted_devices WHERE id = ? AND (? = 0 OR user_id = ?)`, id, userID, userID)
	return affectedOne(n, err, fmt.Sprintf("delete trusted device %d", id))
}

// DeleteUserTrustedDevices removes every trusted device of userID.
func (d *DB) DeleteUserTrustedDevices(ctx context.Context, userID int64) error {
	if _, err := d.pool.ExecContext(ctx, `DELETE FROM trusted_devices WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete trusted devices of user %d: %w", userID, err)
	}
	return nil
}
