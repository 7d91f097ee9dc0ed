package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"lightnvr/pkg/db"
)

// User is a user as the API shows it: never a password hash, API key or TOTP secret.
type User struct {
	ID                   int64
	Username             string
	Email                string
	Role                 Role
	CreatedAt            int64
	UpdatedAt            int64
	LastLogin            int64
	IsActive             bool
	PasswordChangeLocked bool
	TOTPEnabled          bool
	HasAPIKey            bool
	AllowedTags          *string
	AllowedLoginCIDRs    *string
}

func publicUser(u *db.User) *User {
	return &User{
		ID: u.ID, Username: u.Username, Email: u.Email, Role: Role(u.Role),
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLogin: u.LastLogin,
		IsActive: u.IsActive, PasswordChangeLocked: u.PasswordChangeLocked, TOTPEnabled: u.TOTPEnabled,
		HasAPIKey: u.APIKeyHash != "", AllowedTags: u.AllowedTags, AllowedLoginCIDRs: u.AllowedLoginCIDRs,
	}
}

// MinPasswordLen is LightNVR's minimum.
const MinPasswordLen = 8

// ValidateUsername applies LightNVR's 3–32 characters, restricted to
// characters that are safe in URLs, logs and the console.
func ValidateUsername(name string) error {
	if len(name) < 3 || len(name) > 32 {
		return inputErr("username must be 3 to 32 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return inputErr("username may only contain letters, digits and . _ - @")
		}
	}
	return nil
}

// ValidatePassword checks a new password.
func ValidatePassword(pw string) error {
	if len(pw) < MinPasswordLen {
		return inputErr("password must be at least %d characters", MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return inputErr("password must be at most %d characters", MaxPasswordLen)
	}
	return nil
}

func normalizeCIDRs(p *string) (*string, error) {
	if p == nil {
		return nil, nil
	}
	n, err := NormalizeCIDRList(*p)
	if err != nil {
		return nil, inputErr("allowed_login_cidrs: %v", err)
	}
	if n == "" {
		return nil, nil
	}
	return &n, nil
}

func normalizeTags(p *string) *string {
	if p == nil {
		return nil
	}
	var tags []string
	for _, t := range strings.Split(*p, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return nil
	}
	s := strings.Join(tags, ",")
	return &s
}

func notFound(err error) error {
	if errors.Is(err, db.ErrUserNotFound) || errors.Is(err, db.ErrSessionNotFound) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

// NewUser is what creating a user takes.
type NewUser struct {
	Username          string
	Password          string
	Email             string
	Role              Role
	Active            bool
	AllowedTags       *string
	AllowedLoginCIDRs *string
}

// CreateUser validates and stores a new user.
func (s *Service) CreateUser(ctx context.Context, n NewUser) (*User, error) {
	if err := ValidateUsername(n.Username); err != nil {
		return nil, err
	}
	if err := ValidatePassword(n.Password); err != nil {
		return nil, err
	}
	if !n.Role.Valid() {
		return nil, inputErr("role must be 0 (admin), 1 (user), 2 (viewer) or 3 (api)")
	}
	cidrs, err := normalizeCIDRs(n.AllowedLoginCIDRs)
	if err != nil {
		return nil, err
	}
	h, err := s.hash(ctx, n.Password)
	if err != nil {
		return nil, err
	}
	u := &db.User{
		Username: n.Username, PasswordHash: h, Role: int(n.Role), Email: strings.TrimSpace(n.Email),
		IsActive: n.Active, AllowedTags: normalizeTags(n.AllowedTags), AllowedLoginCIDRs: cidrs,
	}
	if _, err := s.db.InsertUser(ctx, u, s.now().Unix()); err != nil {
		if errors.Is(err, db.ErrUsernameTaken) {
			// 400, as LightNVR answers a taken name on create.
			return nil, inputErr("username %q already exists (names are not case-sensitive)", n.Username)
		}
		return nil, err
	}
	s.log.Info("user created", "user", u.Username, "role", n.Role.String())
	return publicUser(u), nil
}

// GetUser returns one user.
func (s *Service) GetUser(ctx context.Context, id int64) (*User, error) {
	return publicFound(s.db.UserByID(ctx, id))
}

// GetUserByName returns one user by username.
func (s *Service) GetUserByName(ctx context.Context, name string) (*User, error) {
	return publicFound(s.db.UserByUsername(ctx, name))
}

// publicFound is the public view of a user lookup's result, a missing user
// reported as ErrNotFound.
func publicFound(u *db.User, err error) (*User, error) {
	if err != nil {
		return nil, notFound(err)
	}
	return publicUser(u), nil
}

// ListUsers returns every user.
func (s *Service) ListUsers(ctx context.Context) ([]*User, error) {
	us, err := s.db.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*User, len(us))
	for i, u := range us {
		out[i] = publicUser(u)
	}
	return out, nil
}

// UserUpdate holds the fields to change; nil leaves a field alone. For the
// two restriction lists, Set* says whether to write the (possibly nil = no
// restriction) value.
type UserUpdate struct {
	Username             *string
	Email                *string
	Role                 *Role
	Active               *bool
	Password             *string
	SetAllowedTags       bool
	AllowedTags          *string
	SetAllowedLoginCIDRs bool
	AllowedLoginCIDRs    *string
}

// UpdateUser applies upd to user id. Authorisation (who may change what) is
// the caller's business; the service only keeps the last admin in place.
func (s *Service) UpdateUser(ctx context.Context, id int64, upd UserUpdate) (*User, error) {
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return nil, notFound(err)
	}
	wasAdmin := Role(u.Role) == RoleAdmin && u.IsActive
	if upd.Username != nil && *upd.Username != u.Username {
		if err := ValidateUsername(*upd.Username); err != nil {
			return nil, err
		}
		u.Username = *upd.Username
	}
	if upd.Email != nil {
		u.Email = strings.TrimSpace(*upd.Email)
	}
	if upd.Role != nil {
		if !upd.Role.Valid() {
			return nil, inputErr("role must be 0 (admin), 1 (user), 2 (viewer) or 3 (api)")
		}
		u.Role = int(*upd.Role)
	}
	if upd.Active != nil {
		u.IsActive = *upd.Active
	}
	if upd.SetAllowedTags {
		u.AllowedTags = normalizeTags(upd.AllowedTags)
	}
	if upd.SetAllowedLoginCIDRs {
		if u.AllowedLoginCIDRs, err = normalizeCIDRs(upd.AllowedLoginCIDRs); err != nil {
			return nil, err
		}
	}
	if upd.Password != nil {
		if err := ValidatePassword(*upd.Password); err != nil {
			return nil, err
		}
	}
	if wasAdmin && (Role(u.Role) != RoleAdmin || !u.IsActive) {
		if err := s.keepOneAdmin(ctx); err != nil {
			return nil, err
		}
	}
	now := s.now().Unix()
	if err := s.db.UpdateUserProfile(ctx, u, now); err != nil {
		if errors.Is(err, db.ErrUsernameTaken) {
			return nil, &ConflictError{Msg: fmt.Sprintf("username %q already exists (names are not case-sensitive)", u.Username)}
		}
		return nil, notFound(err)
	}
	if upd.Password != nil {
		if err := s.setPassword(ctx, u.ID, *upd.Password, 0); err != nil {
			return nil, err
		}
	}
	if !u.IsActive {
		if err := s.db.DeleteUserSessions(ctx, u.ID, 0); err != nil {
			return nil, err
		}
	}
	return s.GetUser(ctx, id)
}

// ConflictError is a change that collides with existing data (409).
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

func (s *Service) keepOneAdmin(ctx context.Context) error {
	n, err := s.db.CountActiveUsersWithRole(ctx, int(RoleAdmin))
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// DeleteUser removes user id; actorID is who asks (an admin cannot delete
// themself, and the last admin stays).
func (s *Service) DeleteUser(ctx context.Context, id, actorID int64) error {
	if id == actorID {
		return inputErr("you cannot delete your own account")
	}
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return notFound(err)
	}
	if Role(u.Role) == RoleAdmin && u.IsActive {
		if err := s.keepOneAdmin(ctx); err != nil {
			return err
		}
	}
	if err := s.db.DeleteUser(ctx, id); err != nil {
		return notFound(err)
	}
	s.log.Info("user deleted", "user", u.Username)
	return nil
}

// ChangePassword sets a new password. A user changing their own password
// (byAdmin false) must give the current one and is refused while the
// account's password is locked; an admin is not. Wrong current passwords
// count as failed logins from c. Every other session of the user ends;
// keepSession (the caller's own session, 0 for none) stays.
func (s *Service) ChangePassword(ctx context.Context, id int64, oldPassword, newPassword string, byAdmin bool, keepSession int64, c Client) error {
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return notFound(err)
	}
	if err := ValidatePassword(newPassword); err != nil {
		return err
	}
	if !byAdmin {
		if u.PasswordChangeLocked {
			return ErrPasswordLocked
		}
		if err := s.checkPassword(ctx, u, oldPassword, c, "password change"); err != nil {
			return err
		}
	}
	return s.setPassword(ctx, id, newPassword, keepSession)
}

// checkPassword re-authenticates a signed-in user with their password,
// under the same throttling as a login. ErrWrongPassword when it does not match.
func (s *Service) checkPassword(ctx context.Context, u *db.User, password string, c Client, what string) error {
	if err := s.checkRate(ctx, u.Username, c); err != nil {
		return err
	}
	ok, _, err := s.verify(ctx, u.PasswordHash, u.Salt, password)
	if err != nil && !errors.Is(err, errBadHash) {
		return err
	}
	if !ok {
		s.recordFailure(ctx, u.Username, c, what+": wrong current password")
		return ErrWrongPassword
	}
	return nil
}

// SetPassword sets a password without any check (console tool, bootstrap).
func (s *Service) SetPassword(ctx context.Context, id int64, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	return s.setPassword(ctx, id, password, 0)
}

func (s *Service) setPassword(ctx context.Context, id int64, password string, keepSession int64) error {
	h, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	if err := s.db.SetUserPassword(ctx, id, h, "", s.now().Unix()); err != nil {
		return notFound(err)
	}
	if err := s.db.DeleteUserSessions(ctx, id, keepSession); err != nil {
		return err
	}
	if err := s.db.DeleteUserTrustedDevices(ctx, id); err != nil {
		return err
	}
	s.forgetInitialPassword(ctx, id)
	return nil
}

// forgetInitialPassword removes the file holding the generated first-boot
// password once the user it names has a new one: a stale copy of a
// password would only mislead, and a live one must not outlast its use.
func (s *Service) forgetInitialPassword(ctx context.Context, id int64) {
	file := s.opt.InitialPasswordFile
	if file == "" {
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return // none, or not ours to read: nothing to forget
	}
	name, _, _ := strings.Cut(string(b), ":")
	u, err := s.db.UserByID(ctx, id)
	if err != nil || u.Username != name {
		return
	}
	if err := os.Remove(file); err != nil {
		s.log.Warn("remove the initial admin password file", "file", file, "err", err)
		return
	}
	s.log.Info("removed the initial admin password file: the password was changed", "user", name, "file", file)
}

// SetPasswordLock sets whether the user may change their own password.
func (s *Service) SetPasswordLock(ctx context.Context, id int64, locked bool) (*User, error) {
	if err := s.db.SetUserPasswordLocked(ctx, id, locked, s.now().Unix()); err != nil {
		return nil, notFound(err)
	}
	return s.GetUser(ctx, id)
}

// SetActive enables or disables a user; disabling ends their sessions.
func (s *Service) SetActive(ctx context.Context, id int64, active bool) error {
	a := active
	_, err := s.UpdateUser(ctx, id, UserUpdate{Active: &a})
	return err
}

// GenerateAPIKey replaces the user's API key and returns the new key. Only
// its hash is stored, so this is the one time it can be shown.
func (s *Service) GenerateAPIKey(ctx context.Context, id int64) (string, error) {
	key := NewToken()
	if err := s.db.SetUserAPIKeyHash(ctx, id, HashToken(key), s.now().Unix()); err != nil {
		return "", notFound(err)
	}
	return key, nil
}

// TOTPSetup stores a new, not yet enabled secret and returns it with its URI.
func (s *Service) TOTPSetup(ctx context.Context, id int64) (secret, uri string, err error) {
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return "", "", notFound(err)
	}
	if u.TOTPEnabled {
		return "", "", inputErr("TOTP is already enabled; disable it first")
	}
	secret, uri, err = newTOTPSecret(u.Username)
	if err != nil {
		return "", "", err
	}
	if err := s.db.SetUserTOTP(ctx, id, secret, false, s.now().Unix()); err != nil {
		return "", "", notFound(err)
	}
	return secret, uri, nil
}

// TOTPVerify enables TOTP once the user proves their app has the secret.
func (s *Service) TOTPVerify(ctx context.Context, id int64, code string) error {
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return notFound(err)
	}
	if u.TOTPSecret == "" {
		return ErrTOTPNotConfigured
	}
	if err := s.checkTOTP(ctx, u, code); err != nil {
		return err
	}
	// SetUserTOTP resets the step; keep the one just used burnt.
	if err := s.db.SetUserTOTP(ctx, id, u.TOTPSecret, true, s.now().Unix()); err != nil {
		return notFound(err)
	}
	step, _ := matchTOTP(u.TOTPSecret, code, s.now())
	_, err = s.db.AdvanceTOTPStep(ctx, id, step)
	return err
}

// TOTPDisable turns TOTP off and forgets the secret and trusted devices.
// Callers decide whether proof is needed (the console needs none); see
// TOTPDisableProven for a user acting on their own account.
func (s *Service) TOTPDisable(ctx context.Context, id int64) error {
	if err := s.db.SetUserTOTP(ctx, id, "", false, s.now().Unix()); err != nil {
		return notFound(err)
	}
	return s.db.DeleteUserTrustedDevices(ctx, id)
}

// TOTPDisableProven turns TOTP off once the caller proves to be the user:
// with the current password or a current TOTP code, so a stolen session
// alone cannot strip the second factor. Wrong proofs count as failed logins.
func (s *Service) TOTPDisableProven(ctx context.Context, id int64, password, code string, c Client) error {
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return notFound(err)
	}
	switch {
	case password != "":
		if err := s.checkPassword(ctx, u, password, c, "totp disable"); err != nil {
			return err
		}
	case code != "" && u.TOTPSecret != "":
		if err := s.checkRate(ctx, u.Username, c); err != nil {
			return err
		}
		if err := s.checkTOTP(ctx, u, code); err != nil {
			s.recordFailure(ctx, u.Username, c, "totp disable: wrong totp code")
			return err
		}
	default:
		return inputErr("turning TOTP off needs your current password or a current TOTP code")
	}
	return s.TOTPDisable(ctx, id)
}

// TOTPStatus reports whether TOTP is enabled and whether a secret is stored.
func (s *Service) TOTPStatus(ctx context.Context, id int64) (enabled, configured bool, err error) {
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return false, false, notFound(err)
	}
	return u.TOTPEnabled, u.TOTPSecret != "", nil
}

// Sessions lists the user's live sessions.
func (s *Service) Sessions(ctx context.Context, userID int64) ([]*db.Session, error) {
	return s.db.ListUserSessions(ctx, userID, s.now().Unix(), maxListRows)
}

// DeleteSession ends one of the user's sessions.
func (s *Service) DeleteSession(ctx context.Context, userID, sessionID int64) error {
	return notFound(s.db.DeleteSession(ctx, sessionID, userID))
}

// TrustedDevices lists the user's trusted devices.
func (s *Service) TrustedDevices(ctx context.Context, userID int64) ([]*db.TrustedDevice, error) {
	return s.db.ListTrustedDevices(ctx, userID, s.now().Unix(), maxListRows)
}

// DeleteTrustedDevice forgets one of the user's trusted devices.
func (s *Service) DeleteTrustedDevice(ctx context.Context, userID, deviceID int64) error {
	return notFound(s.db.DeleteTrustedDevice(ctx, deviceID, userID))
}
