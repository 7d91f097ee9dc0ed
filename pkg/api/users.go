package api

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
)

// usersHandler serves the user accounts.
type usersHandler struct {
	failer
	svc *auth.Service
}

// Self-or-admin routes (viewer access) let any authenticated caller reach the
// handler, which checks that the target is the caller or the caller is an admin.
var userRoutes = []endpoint[*usersHandler]{
	{"GET", "/api/auth/users", auth.AccessAdmin, (*usersHandler).handleListUsers},
	{"POST", "/api/auth/users", auth.AccessAdmin, (*usersHandler).handleCreateUser},
	{"GET", "/api/auth/users/{id}", auth.AccessAdmin, (*usersHandler).handleGetUser},
	{"PUT", "/api/auth/users/{id}", auth.AccessViewer, (*usersHandler).handleUpdateUser},
	{"DELETE", "/api/auth/users/{id}", auth.AccessAdmin, (*usersHandler).handleDeleteUser},
	{"POST", "/api/auth/users/{id}/api-key", auth.AccessViewer, (*usersHandler).handleGenerateAPIKey},
	{"PUT", "/api/auth/users/{id}/password", auth.AccessViewer, (*usersHandler).handleChangePassword},
	{"PUT", "/api/auth/users/{id}/password-lock", auth.AccessAdmin, (*usersHandler).handlePasswordLock},
	{"POST", "/api/auth/users/{id}/login-lockout/clear", auth.AccessAdmin, (*usersHandler).handleClearLockout},
	{"POST", "/api/auth/users/{id}/totp/setup", auth.AccessViewer, (*usersHandler).handleTOTPSetup},
	{"POST", "/api/auth/users/{id}/totp/verify", auth.AccessViewer, (*usersHandler).handleTOTPVerify},
	{"POST", "/api/auth/users/{id}/totp/disable", auth.AccessViewer, (*usersHandler).handleTOTPDisable},
	{"GET", "/api/auth/users/{id}/totp/status", auth.AccessViewer, (*usersHandler).handleTOTPStatus},
}

// userJSON is LightNVR's user object. The API key is never returned (only
// its hash is stored); has_api_key says whether one exists.
type userJSON struct {
	ID                   int64   `json:"id"`
	Username             string  `json:"username"`
	Email                string  `json:"email"`
	Role                 int     `json:"role"`
	RoleName             string  `json:"role_name"`
	CreatedAt            int64   `json:"created_at"`
	UpdatedAt            int64   `json:"updated_at"`
	LastLogin            int64   `json:"last_login"`
	IsActive             bool    `json:"is_active"`
	PasswordChangeLocked bool    `json:"password_change_locked"`
	TOTPEnabled          bool    `json:"totp_enabled"`
	HasAPIKey            bool    `json:"has_api_key"`
	AllowedTags          *string `json:"allowed_tags"`
	AllowedLoginCIDRs    *string `json:"allowed_login_cidrs"`
}

func toUserJSON(u *auth.User) userJSON {
	return userJSON{
		ID: u.ID, Username: u.Username, Email: u.Email, Role: int(u.Role), RoleName: u.Role.String(),
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLogin: u.LastLogin, IsActive: u.IsActive,
		PasswordChangeLocked: u.PasswordChangeLocked, TOTPEnabled: u.TOTPEnabled, HasAPIKey: u.HasAPIKey,
		AllowedTags: u.AllowedTags, AllowedLoginCIDRs: u.AllowedLoginCIDRs,
	}
}

// roleField accepts a role as LightNVR's number or as its name.
type roleField struct{ auth.Role }

func (r *roleField) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		if !auth.Role(n).Valid() {
			return fmt.Errorf("role %d is not 0 (admin), 1 (user), 2 (viewer) or 3 (api)", n)
		}
		r.Role = auth.Role(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("role must be a number or a role name")
	}
	role, err := auth.ParseRole(s)
	if err != nil {
		return err
	}
	r.Role = role
	return nil
}

// nullableString tells "absent" (set false), null (set, val nil) and a string apart.
type nullableString struct {
	set bool
	val *string
}

func (n *nullableString) UnmarshalJSON(b []byte) error {
	n.set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.val = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a string or null")
	}
	n.val = &s
	return nil
}

type createUserRequest struct {
	Username          string         `json:"username"`
	Password          string         `json:"password"`
	Email             string         `json:"email"`
	Role              *roleField     `json:"role"`
	IsActive          *bool          `json:"is_active"`
	AllowedTags       nullableString `json:"allowed_tags"`
	AllowedLoginCIDRs nullableString `json:"allowed_login_cidrs"`
	// LightNVR's Add User form offers the lock.
	PasswordChangeLocked bool `json:"password_change_locked"`
}

// updateUserRequest also names the read-only fields of the user object, so a
// client that sends back what it read is not refused for them.
type updateUserRequest struct {
	Username          *string        `json:"username"`
	Email             *string        `json:"email"`
	Password          *string        `json:"password"`
	Role              *roleField     `json:"role"`
	IsActive          *bool          `json:"is_active"`
	AllowedTags       nullableString `json:"allowed_tags"`
	AllowedLoginCIDRs nullableString `json:"allowed_login_cidrs"`

	ID                   json.RawMessage `json:"id"`
	RoleName             json.RawMessage `json:"role_name"`
	CreatedAt            json.RawMessage `json:"created_at"`
	UpdatedAt            json.RawMessage `json:"updated_at"`
	LastLogin            json.RawMessage `json:"last_login"`
	PasswordChangeLocked json.RawMessage `json:"password_change_locked"`
	TOTPEnabled          json.RawMessage `json:"totp_enabled"`
	APIKey               json.RawMessage `json:"api_key"`
	HasAPIKey            json.RawMessage `json:"has_api_key"`
}

type changePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

type passwordLockRequest struct {
	Locked *bool `json:"locked"`
}

type totpVerifyRequest struct {
	Code string `json:"code"`
}

// targetUser parses {id} and checks that the caller may act on it: itself,
// or anyone when admin (admin-only routes pass trivially). It answers
// 400/403 itself.
func targetUser(ctx *fasthttp.RequestCtx) (int64, *auth.Principal, bool) {
	id, ok := pathID(ctx, "user")
	if !ok {
		return 0, nil, false
	}
	p := PrincipalOf(ctx)
	if p.Role != auth.RoleAdmin && p.UserID != id {
		writeError(ctx, fasthttp.StatusForbidden, "Forbidden: you may only manage your own account")
		return 0, nil, false
	}
	return id, p, true
}

// replyUser answers with the user a service call returned, or its error.
func (h *usersHandler) replyUser(ctx *fasthttp.RequestCtx) func(*auth.User, error) {
	return func(u *auth.User, err error) {
		if err != nil {
			h.fail(ctx, "auth request", err)
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, toUserJSON(u))
	}
}

// optionalBody decodes a JSON body when there is one; these POSTs need none.
func optionalBody(ctx *fasthttp.RequestCtx, v any) error {
	if len(bytes.TrimSpace(ctx.PostBody())) == 0 {
		return nil
	}
	return decodeJSON(ctx, v)
}

func (h *usersHandler) handleListUsers(ctx *fasthttp.RequestCtx) {
	us, err := h.svc.ListUsers(requestContext(ctx))
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	out := make([]userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, toUserJSON(u))
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"users": out})
}

func (h *usersHandler) handleCreateUser(ctx *fasthttp.RequestCtx) {
	var req createUserRequest
	if !readJSON(ctx, &req) {
		return
	}
	n := auth.NewUser{Username: req.Username, Password: req.Password, Email: req.Email, Role: auth.RoleUser, Active: true,
		AllowedTags: req.AllowedTags.val, AllowedLoginCIDRs: req.AllowedLoginCIDRs.val}
	if req.Role != nil {
		n.Role = req.Role.Role
	}
	if req.IsActive != nil {
		n.Active = *req.IsActive
	}
	u, err := h.svc.CreateUser(requestContext(ctx), n)
	if err == nil && req.PasswordChangeLocked {
		u, err = h.svc.SetPasswordLock(requestContext(ctx), u.ID, true)
	}
	h.replyUser(ctx)(u, err)
}

func (h *usersHandler) handleGetUser(ctx *fasthttp.RequestCtx) {
	id, _, ok := targetUser(ctx)
	if !ok {
		return
	}
	h.replyUser(ctx)(h.svc.GetUser(requestContext(ctx), id))
}

func (h *usersHandler) handleUpdateUser(ctx *fasthttp.RequestCtx) {
	id, p, ok := targetUser(ctx)
	if !ok {
		return
	}
	var req updateUserRequest
	if !readJSON(ctx, &req) {
		return
	}
	cur, err := h.svc.GetUser(requestContext(ctx), id)
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	// LightNVR's Edit User form sends "" for "leave blank to keep current".
	if req.Password != nil && *req.Password == "" {
		req.Password = nil
	}
	upd := auth.UserUpdate{Username: req.Username, Email: req.Email}
	if p.Role != auth.RoleAdmin {
		// A non-admin edits only their name and e-mail; sending back the
		// unchanged values of the other fields is fine.
		if req.Password != nil || (req.Role != nil && req.Role.Role != cur.Role) || (req.IsActive != nil && *req.IsActive != cur.IsActive) ||
			(req.AllowedTags.set && !sameOptString(req.AllowedTags.val, cur.AllowedTags)) ||
			(req.AllowedLoginCIDRs.set && !sameOptString(req.AllowedLoginCIDRs.val, cur.AllowedLoginCIDRs)) {
			writeError(ctx, fasthttp.StatusForbidden, "Forbidden: only an admin may change password, role, is_active, allowed_tags or allowed_login_cidrs here")
			return
		}
	} else {
		upd.Password = req.Password
		if req.Role != nil {
			upd.Role = &req.Role.Role
		}
		upd.Active = req.IsActive
		upd.SetAllowedTags, upd.AllowedTags = req.AllowedTags.set, req.AllowedTags.val
		upd.SetAllowedLoginCIDRs, upd.AllowedLoginCIDRs = req.AllowedLoginCIDRs.set, req.AllowedLoginCIDRs.val
	}
	h.replyUser(ctx)(h.svc.UpdateUser(requestContext(ctx), id, upd))
}

func sameOptString(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func (h *usersHandler) handleDeleteUser(ctx *fasthttp.RequestCtx) {
	id, _, ok := targetUser(ctx)
	if !ok {
		return
	}
	if err := h.svc.DeleteUser(requestContext(ctx), id, PrincipalOf(ctx).UserID); err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "User deleted successfully"})
}

func (h *usersHandler) handleGenerateAPIKey(ctx *fasthttp.RequestCtx) {
	id, p, ok := targetUser(ctx)
	if !ok {
		return
	}
	// LightNVR: admins for anyone, and role "user" for themselves.
	if p.Role != auth.RoleAdmin && p.Role != auth.RoleUser {
		writeError(ctx, fasthttp.StatusForbidden, "Forbidden: only admins and users may generate API keys")
		return
	}
	key, err := h.svc.GenerateAPIKey(requestContext(ctx), id)
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "api_key": key})
}

func (h *usersHandler) handleChangePassword(ctx *fasthttp.RequestCtx) {
	id, p, ok := targetUser(ctx)
	if !ok {
		return
	}
	var req changePasswordRequest
	if !readJSON(ctx, &req) {
		return
	}
	if req.NewPassword == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "new_password is required")
		return
	}
	// An admin resets other people's passwords without the old one; for
	// their own they prove it like everyone else, so a stolen session
	// cannot take the account over.
	byAdmin := p.Role == auth.RoleAdmin && p.UserID != id
	if !byAdmin && req.OldPassword == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "old_password is required")
		return
	}
	if err := h.svc.ChangePassword(requestContext(ctx), id, req.OldPassword, req.NewPassword, byAdmin, p.SessionID, requestClient(ctx, h.svc)); err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true})
}

func (h *usersHandler) handlePasswordLock(ctx *fasthttp.RequestCtx) {
	id, _, ok := targetUser(ctx)
	if !ok {
		return
	}
	var req passwordLockRequest
	if !readJSON(ctx, &req) {
		return
	}
	if req.Locked == nil {
		writeError(ctx, fasthttp.StatusBadRequest, "locked (true or false) is required")
		return
	}
	h.replyUser(ctx)(h.svc.SetPasswordLock(requestContext(ctx), id, *req.Locked))
}

func (h *usersHandler) handleClearLockout(ctx *fasthttp.RequestCtx) {
	id, _, ok := targetUser(ctx)
	if !ok {
		return
	}
	u, err := h.svc.GetUser(requestContext(ctx), id)
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	cleared, err := h.svc.ClearLockout(requestContext(ctx), u.Username)
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	msg := "No login lockout was active"
	if cleared {
		msg = "Login lockout cleared"
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "cleared": cleared, "message": msg})
}

func (h *usersHandler) handleTOTPSetup(ctx *fasthttp.RequestCtx) {
	id, _, ok := targetUser(ctx)
	if !ok {
		return
	}
	secret, uri, err := h.svc.TOTPSetup(requestContext(ctx), id)
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "secret": secret, "otpauth_uri": uri,
		"message": "Scan the QR code with your authenticator app, then verify with a code"})
}

func (h *usersHandler) handleTOTPVerify(ctx *fasthttp.RequestCtx) {
	id, _, ok := targetUser(ctx)
	if !ok {
		return
	}
	var req totpVerifyRequest
	if !readJSON(ctx, &req) {
		return
	}
	if req.Code == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "code is required")
		return
	}
	if err := h.svc.TOTPVerify(requestContext(ctx), id, req.Code); err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "TOTP enabled"})
}

// totpDisableRequest proves the caller is the user: either field will do.
type totpDisableRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

// handleTOTPDisable turns a user's TOTP off. An admin may do it for another
// user without proof (as they may reset that user's password); everyone
// acting on their own account proves it with the password or a current code.
func (h *usersHandler) handleTOTPDisable(ctx *fasthttp.RequestCtx) {
	id, p, ok := targetUser(ctx)
	if !ok {
		return
	}
	var req totpDisableRequest
	if err := optionalBody(ctx, &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	var err error
	if p.Role == auth.RoleAdmin && p.UserID != id {
		err = h.svc.TOTPDisable(requestContext(ctx), id)
	} else {
		err = h.svc.TOTPDisableProven(requestContext(ctx), id, req.Password, req.Code, requestClient(ctx, h.svc))
	}
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "TOTP disabled"})
}

func (h *usersHandler) handleTOTPStatus(ctx *fasthttp.RequestCtx) {
	id, _, ok := targetUser(ctx)
	if !ok {
		return
	}
	enabled, configured, err := h.svc.TOTPStatus(requestContext(ctx), id)
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"totp_enabled": enabled, "totp_configured": configured})
}
