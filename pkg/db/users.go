package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUserNotFound is returned when no users row matches.
var ErrUserNotFound = errors.New("user not found")

// ErrUsernameTaken is returned when an insert or rename hits the unique username.
var ErrUsernameTaken = errors.New("username already exists")

// User is one row of users. Timestamps are Unix seconds (LightNVR's format);
// NULL text columns read as "" except the two restriction lists, where NULL
// (unrestricted) and "" differ, so those are pointers.
type User struct {
	ID       int64
	Username string
	// PasswordHash is either LightNVR's hex PBKDF2 digest (Salt holds its hex
	// salt) or a PHC string that carries its own salt (Salt is then "").
	PasswordHash string
	Salt         string
	// Role is LightNVR's integer, -1 when the stored text is not a number.
	Role                 int
	Email                string
	CreatedAt            int64
	UpdatedAt            int64
	LastLogin            int64
	IsActive             bool
	APIKeyHash           string
	PasswordChangeLocked bool
	TOTPSecret           string
	TOTPEnabled          bool
	TOTPLastStep         int64
	AllowedTags          *string
	AllowedLoginCIDRs    *string
}

const userColumns = `id, username, password_hash, salt, role, COALESCE(email, ''), created_at, updated_at,
	COALESCE(last_login, 0), COALESCE(is_active, 1), COALESCE(api_key_hash, ''), COALESCE(password_change_locked, 0),
	COALESCE(totp_secret, ''), COALESCE(totp_enabled, 0), COALESCE(totp_last_step, 0), allowed_tags, allowed_login_cidrs`

func scanUser(r rowScanner) (*User, error) {
	var u User
	var role string
	var tags, cidrs sql.NullString
	if err := r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Salt, &role, &u.Email, &u.CreatedAt, &u.UpdatedAt,
		&u.LastLogin, &u.IsActive, &u.APIKeyHash, &u.PasswordChangeLocked,
		&u.TOTPSecret, &u.TOTPEnabled, &u.TOTPLastStep, &tags, &cidrs); err != nil {
		return nil, err
	}
	u.Role = -1
	if n, err := strconv.Atoi(strings.TrimSpace(role)); err == nil {
		u.Role = n
	}
	if tags.Valid {
		u.AllowedTags = &tags.String
	}
	if cidrs.Valid {
		u.AllowedLoginCIDRs = &cidrs.String
	}
	return &u, nil
}

func (d *DB) queryUser(ctx context.Context, what, where string, args ...any) (*User, error) {
	u, err := scanUser(d.pool.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", what, ErrUserNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read user %s: %w", what, err)
	}
	return u, nil
}

// UserByID returns the user with id.
func (d *DB) UserByID(ctx context.Context, id int64) (*User, error) {
	return d.queryUser(ctx, "id "+strconv.FormatInt(id, 10), `id = ?`, id)
}

// UserByUsername returns the user named username (exact match).
func (d *DB) UserByUsername(ctx context.Context, username string) (*User, error) {
	return d.queryUser(ctx, strconv.Quote(username), `username = ?`, username)
}

// UserByAPIKeyHash returns the user whose API key hashes to keyHash.
func (d *DB) UserByAPIKeyHash(ctx context.Context, keyHash string) (*User, error) {
	if keyHash == "" {
		return nil, fmt.Errorf("empty api key hash: %w", ErrUserNotFound)
	}
	return d.queryUser(ctx, "by api key", `api_key_hash = ?`, keyHash)
}

// ListUsers returns every user ordered by id.
func (d *DB) ListUsers(ctx context.Context) ([]*User, error) {
	return queryAll(ctx, d, "list users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY id`)
}

// CountUsers returns how many users exist.
func (d *DB) CountUsers(ctx context.Context) (int, error) {
	n, err := queryValue[int](ctx, d, `SELECT count(*) FROM users`)
	if err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CountActiveUsersWithRole counts active users holding role.
func (d *DB) CountActiveUsersWithRole(ctx context.Context, role int) (int, error) {
	n, err := queryValue[int](ctx, d, `SELECT count(*) FROM users WHERE trim(role) = ? AND COALESCE(is_active, 1) != 0`,
		strconv.Itoa(role))
	if err != nil {
		return 0, fmt.Errorf("count users with role %d: %w", role, err)
	}
	return n, nil
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// InsertUser adds u (ID, CreatedAt and UpdatedAt are set from the row) and
// returns its id. now is Unix seconds.
func (d *DB) InsertUser(ctx context.Context, u *User, now int64) (int64, error) {
	id, err := insert(ctx, d, `INSERT INTO users (username, password_hash, salt, role, email, created_at, updated_at,
		is_active, api_key, api_key_hash, password_change_locked, allowed_tags, allowed_login_cidrs)
		VALUES (?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, NULL, NULLIF(?, ''), ?, ?, ?)`,
		u.Username, u.PasswordHash, u.Salt, strconv.Itoa(u.Role), u.Email, now, now,
		u.IsActive, u.APIKeyHash, u.PasswordChangeLocked, u.AllowedTags, u.AllowedLoginCIDRs)
	if isUniqueViolation(err) {
		return 0, fmt.Errorf("insert user %q: %w", u.Username, ErrUsernameTaken)
	}
	if err != nil {
		return 0, fmt.Errorf("insert user %q: %w", u.Username, err)
	}
	u.ID, u.CreatedAt, u.UpdatedAt = id, now, now
	return id, nil
}

// UpdateUserProfile writes the editable profile columns of u.
func (d *DB) UpdateUserProfile(ctx context.Context, u *User, now int64) error {
	return d.execUser(ctx, u.ID, "update user", `UPDATE users SET username = ?, email = NULLIF(?, ''), role = ?, is_active = ?,
		allowed_tags = ?, allowed_login_cidrs = ?, updated_at = ? WHERE id = ?`,
		u.Username, u.Email, strconv.Itoa(u.Role), u.IsActive, u.AllowedTags, u.AllowedLoginCIDRs, now, u.ID)
}

// SetUserPassword replaces the password hash and salt.
func (d *DB) SetUserPassword(ctx context.Context, id int64, hash, salt string, now int64) error {
	return d.execUser(ctx, id, "set password", `UPDATE users SET password_hash = ?, salt = ?, updated_at = ? WHERE id = ?`, hash, salt, now, id)
}

// SetUserAPIKeyHash replaces the API key (by its hash; "" removes it) and
// clears any plaintext key LightNVR left behind.
func (d *DB) SetUserAPIKeyHash(ctx context.Context, id int64, keyHash string, now int64) error {
	return d.execUser(ctx, id, "set api key", `UPDATE users SET api_key_hash = NULLIF(?, ''), api_key = NULL, updated_at = ? WHERE id = ?`, keyHash, now, id)
}

// SetUserPasswordLocked sets password_change_locked.
func (d *DB) SetUserPasswordLocked(ctx context.Context, id int64, locked bool, now int64) error {
	return d.execUser(ctx, id, "set password lock", `UPDATE users SET password_change_locked = ?, updated_at = ? WHERE id = ?`, locked, now, id)
}

// SetUserActive sets is_active.
func (d *DB) SetUserActive(ctx context.Context, id int64, active bool, now int64) error {
	return d.execUser(ctx, id, "set active", `UPDATE users SET is_active = ?, updated_at = ? WHERE id = ?`, active, now, id)
}

// SetUserTOTP stores the TOTP secret ("" clears it) and whether it is enabled.
func (d *DB) SetUserTOTP(ctx context.Context, id int64, secret string, enabled bool, now int64) error {
	return d.execUser(ctx, id, "set totp", `UPDATE users SET totp_secret = NULLIF(?, ''), totp_enabled = ?, totp_last_step = 0, updated_at = ? WHERE id = ?`,
		secret, enabled, now, id)
}

// AdvanceTOTPStep records step as the last TOTP time step used, only if it is
// newer than the stored one. It reports false when the step was already used,
// which makes each code single-use even under concurrent logins.
func (d *DB) AdvanceTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	n, err := exec(ctx, d, `UPDATE users SET totp_last_step = ? WHERE id = ? AND COALESCE(totp_last_step, 0) < ?`, step, id, step)
	if err != nil {
		return false, fmt.Errorf("advance totp step of user %d: %w", id, err)
	}
	return n == 1, nil
}

// SetUserLastLogin records a successful login.
func (d *DB) SetUserLastLogin(ctx context.Context, id, now int64) error {
	return d.execUser(ctx, id, "set last login", `UPDATE users SET last_login = ? WHERE id = ?`, now, id)
}

// DeleteUser removes the user; sessions and trusted devices go with it (ON DELETE CASCADE).
func (d *DB) DeleteUser(ctx context.Context, id int64) error {
	return d.execUser(ctx, id, "delete user", `DELETE FROM users WHERE id = ?`, id)
}

func (d *DB) execUser(ctx context.Context, id int64, what, q string, args ...any) error {
	n, err := exec(ctx, d, q, args...)
	if isUniqueViolation(err) {
		return fmt.Errorf("%s %d: %w", what, id, ErrUsernameTaken)
	}
	if err != nil {
		return fmt.Errorf("%s %d: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %d: %w", what, id, ErrUserNotFound)
	}
	return nil
}

// PlaintextAPIKey is an API key LightNVR stored in clear, awaiting conversion.
type PlaintextAPIKey struct {
	UserID int64
	Key    string
}

// PlaintextAPIKeys lists the users whose api_key column still holds a key in clear.
func (d *DB) PlaintextAPIKeys(ctx context.Context) ([]PlaintextAPIKey, error) {
	return queryAll(ctx, d, "list plaintext api keys", scanFields(func(k *PlaintextAPIKey) []any { return []any{&k.UserID, &k.Key} }), `SELECT id, api_key FROM users WHERE api_key IS NOT NULL AND api_key != ''`)
}
