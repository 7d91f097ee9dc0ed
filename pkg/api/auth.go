package api

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
)

// maxLoginBody bounds login request bodies well below the general JSON limit:
// they are read before anyone is authenticated.
const maxLoginBody = 16 << 10

// loginPageHandler serves what the login page needs before there is a user
// service to ask: its settings and logging out.
type loginPageHandler struct {
	failer
	web config.WebConfig
	// endSession ends the session of a token (a no-op without users).
	endSession func(ctx context.Context, token string) error
}

var loginPageRoutes = []endpoint[*loginPageHandler]{
	{"GET", "/api/auth/login/config", auth.AccessPublic, (*loginPageHandler).handleLoginConfig},
	{"POST", "/api/auth/logout", auth.AccessPublic, (*loginPageHandler).handleLogout},
	{"GET", "/logout", auth.AccessPublic, (*loginPageHandler).handleLogoutPage},
}

// authHandler serves logging in and the caller's own sessions and devices.
type authHandler struct {
	failer
	svc *auth.Service
	web config.WebConfig
}

var authRoutes = []endpoint[*authHandler]{
	{"POST", "/api/auth/login/totp", auth.AccessPublic, (*authHandler).handleLoginTOTP},
	{"POST", "/api/auth/login", auth.AccessPublic, (*authHandler).handleLogin},
	{"GET", "/api/auth/verify", auth.AccessViewer, (*authHandler).handleVerify},
	{"GET", "/api/auth/sessions", auth.AccessViewer, (*authHandler).handleListSessions},
	{"DELETE", "/api/auth/sessions/{id}", auth.AccessViewer, (*authHandler).handleDeleteSession},
	{"GET", "/api/auth/trusted-devices", auth.AccessViewer, (*authHandler).handleListTrustedDevices},
	{"DELETE", "/api/auth/trusted-devices/{id}", auth.AccessViewer, (*authHandler).handleDeleteTrustedDevice},
}

// errNoUsers answers the user routes while there is no user service.
const errNoUsers = "user management is not available"

func (h *loginPageHandler) handleLoginConfig(ctx *fasthttp.RequestCtx) {
	w := h.web
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"force_mfa_on_login":          w.ForceMFAOnLogin,
		"remember_device_enabled":     w.TrustedDeviceDays > 0,
		"auth_timeout_hours":          w.AuthTimeoutHours,
		"auth_absolute_timeout_hours": w.AuthAbsoluteTimeoutHours,
		"trusted_device_days":         w.TrustedDeviceDays,
	})
}

type loginRequest struct {
	Username       string `json:"username"`
	Password       string `json:"password"`
	TOTPCode       string `json:"totp_code"`
	RememberDevice bool   `json:"remember_device"`
}

type loginTOTPRequest struct {
	TOTPToken      string `json:"totp_token"`
	Code           string `json:"code"`
	RememberDevice bool   `json:"remember_device"`
}

func isFormRequest(ctx *fasthttp.RequestCtx) bool {
	return bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/x-www-form-urlencoded"))
}

// decodeLoginJSON is decodeJSON with the smaller pre-authentication limit.
func decodeLoginJSON(ctx *fasthttp.RequestCtx, v any) error {
	if len(ctx.PostBody()) > maxLoginBody {
		return errors.New("request body too large")
	}
	return decodeJSON(ctx, v)
}

func (h *authHandler) handleLogin(ctx *fasthttp.RequestCtx) {
	// Login CSRF: a foreign page must not log the browser into another account.
	if !originMatchesHost(ctx) {
		writeError(ctx, fasthttp.StatusForbidden, "cross-origin request refused")
		return
	}
	form := isFormRequest(ctx)
	var req loginRequest
	if form {
		args := ctx.PostArgs()
		req.Username, req.Password = string(args.Peek("username")), string(args.Peek("password"))
	} else if err := decodeLoginJSON(ctx, &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if !h.svc.Options().Enabled {
		h.loginSucceeded(ctx, &auth.LoginResult{}, form)
		return
	}
	if req.Username == "" || req.Password == "" {
		if form {
			redirect(ctx, "/login.html?error=1")
			return
		}
		writeError(ctx, fasthttp.StatusBadRequest, "username and password are required")
		return
	}
	res, err := h.svc.Login(requestContext(ctx), auth.LoginRequest{
		Username: req.Username, Password: req.Password, TOTPCode: req.TOTPCode,
		RememberDevice: req.RememberDevice && !form,
		TrustedDevice:  string(ctx.Request.Header.Cookie(cookieTrustedDevice)),
		Client:         requestClient(ctx, h.svc),
	})
	if err != nil {
		h.loginFailed(ctx, err, form)
		return
	}
	if res.TOTPRequired {
		if form {
			// Two-step login needs the JavaScript page.
			redirect(ctx, "/login.html?totp_required=1")
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"totp_required": true, "totp_token": res.MFAToken})
		return
	}
	h.loginSucceeded(ctx, res, form)
}

func (h *authHandler) handleLoginTOTP(ctx *fasthttp.RequestCtx) {
	if !originMatchesHost(ctx) {
		writeError(ctx, fasthttp.StatusForbidden, "cross-origin request refused")
		return
	}
	var req loginTOTPRequest
	if err := decodeLoginJSON(ctx, &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if req.TOTPToken == "" || req.Code == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "totp_token and code are required")
		return
	}
	res, err := h.svc.LoginTOTP(requestContext(ctx), req.TOTPToken, req.Code, req.RememberDevice, requestClient(ctx, h.svc))
	if err != nil {
		h.loginFailed(ctx, err, false)
		return
	}
	h.loginSucceeded(ctx, res, false)
}

// loginFailed answers a failed login: the form gets redirects back to the
// login page, JSON callers the mapped error.
func (h *authHandler) loginFailed(ctx *fasthttp.RequestCtx, err error, form bool) {
	var rl *auth.RateLimitedError
	switch {
	case form && errors.As(err, &rl):
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(max(int(rl.RetryAfter/time.Second), 1)))
		redirect(ctx, "/login.html?error=rate_limited")
	case form && badLogin(err):
		redirect(ctx, "/login.html?error=1")
	default:
		h.fail(ctx, "login", err)
	}
}

func badLogin(err error) bool {
	return errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrInvalidTOTP) || errors.Is(err, auth.ErrMFATokenInvalid)
}

func (h *authHandler) loginSucceeded(ctx *fasthttp.RequestCtx, res *auth.LoginResult, form bool) {
	secure := requestIsHTTPS(ctx, h.svc)
	if res.SessionToken != "" {
		setCookie(ctx, cookieSession, res.SessionToken, res.SessionMaxAge, secure)
	}
	if res.TrustedDevice != "" {
		setCookie(ctx, cookieTrustedDevice, res.TrustedDevice, res.TrustedDeviceMaxAge, secure)
	}
	if form {
		redirect(ctx, "/index.html")
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "redirect": "/index.html"})
}

// handleLogoutPage is LightNVR's logout link. A GET must not end the
// session (link prefetchers, previews and <img src> on foreign pages would
// log people out), so it only leads to the login page, whose script logs
// out with POST /api/auth/logout (LightNVR's page and ours both do).
func (h *loginPageHandler) handleLogoutPage(ctx *fasthttp.RequestCtx) {
	redirect(ctx, "/login.html?logout=true")
}

func (h *loginPageHandler) handleLogout(ctx *fasthttp.RequestCtx) {
	if !originMatchesHost(ctx) {
		writeError(ctx, fasthttp.StatusForbidden, "cross-origin request refused")
		return
	}
	if tok := ctx.Request.Header.Cookie(cookieSession); len(tok) > 0 {
		if err := h.endSession(requestContext(ctx), string(tok)); err != nil {
			h.log.Error("logout", "err", err)
		}
	}
	expireCookie(ctx, cookieSession)
	expireCookie(ctx, cookieTrustedDevice)
	const target = "/login.html?logout=true"
	if bytes.Contains(ctx.Request.Header.Peek("Accept"), []byte("application/json")) || len(ctx.Request.Header.Peek("X-Requested-With")) > 0 {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "redirect": target})
		return
	}
	redirect(ctx, target)
}

func (h *authHandler) handleVerify(ctx *fasthttp.RequestCtx) {
	p := PrincipalOf(ctx)
	w := h.web
	out := map[string]any{
		"authenticated":               true,
		"username":                    p.Username,
		"role":                        p.Role.String(),
		"role_id":                     int(p.Role),
		"auth_enabled":                w.AuthEnabled,
		"auth_timeout_hours":          w.AuthTimeoutHours,
		"auth_absolute_timeout_hours": w.AuthAbsoluteTimeoutHours,
		"trusted_device_days":         w.TrustedDeviceDays,
	}
	switch p.Method {
	case auth.MethodNone:
		writeJSON(ctx, fasthttp.StatusOK, out)
		return
	case auth.MethodDemo:
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"authenticated": false, "demo_mode": true, "username": p.Username, "role": p.Role.String()})
		return
	}
	u, err := h.svc.GetUser(requestContext(ctx), p.UserID)
	if err != nil {
		h.fail(ctx, "auth request", err)
		return
	}
	out["id"] = u.ID
	out["email"] = u.Email
	out["is_active"] = u.IsActive
	out["password_change_locked"] = u.PasswordChangeLocked
	out["totp_enabled"] = u.TOTPEnabled
	out["auth_method"] = p.Method
	writeJSON(ctx, fasthttp.StatusOK, out)
}

type sessionJSON struct {
	ID             int64  `json:"id"`
	CreatedAt      int64  `json:"created_at"`
	LastActivityAt int64  `json:"last_activity_at"`
	IdleExpiresAt  int64  `json:"idle_expires_at"`
	ExpiresAt      int64  `json:"expires_at"`
	IPAddress      string `json:"ip_address"`
	UserAgent      string `json:"user_agent"`
	Current        bool   `json:"current"`
}

type trustedDeviceJSON struct {
	ID         int64  `json:"id"`
	CreatedAt  int64  `json:"created_at"`
	LastUsedAt int64  `json:"last_used_at"`
	ExpiresAt  int64  `json:"expires_at"`
	IPAddress  string `json:"ip_address"`
	UserAgent  string `json:"user_agent"`
	Current    bool   `json:"current"`
}

func (h *authHandler) handleListSessions(ctx *fasthttp.RequestCtx) {
	p := PrincipalOf(ctx)
	out := []sessionJSON{}
	if p.UserID != 0 {
		rows, err := h.svc.Sessions(requestContext(ctx), p.UserID)
		if err != nil {
			h.fail(ctx, "auth request", err)
			return
		}
		for _, r := range rows {
			out = append(out, sessionJSON{ID: r.ID, CreatedAt: r.CreatedAt, LastActivityAt: r.LastActivityAt, IdleExpiresAt: r.IdleExpiresAt,
				ExpiresAt: r.ExpiresAt, IPAddress: r.IPAddress, UserAgent: r.UserAgent, Current: r.ID == p.SessionID})
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"sessions": out})
}

func pathID(ctx *fasthttp.RequestCtx, what string) (int64, bool) {
	id, err := strconv.ParseInt(Param(ctx, "id"), 10, 64)
	if err != nil || id <= 0 {
		writeErrorf(ctx, fasthttp.StatusBadRequest, "invalid %s id %q", what, Param(ctx, "id"))
		return 0, false
	}
	return id, true
}

// deleteOwn deletes one of the caller's own sessions or trusted devices, the
// {id} one, with del; ok is false once the error reply has been written.
func (h *authHandler) deleteOwn(ctx *fasthttp.RequestCtx, what string, del func(context.Context, int64, int64) error) (int64, bool) {
	id, ok := pathID(ctx, what)
	if !ok {
		return 0, false
	}
	if err := del(requestContext(ctx), PrincipalOf(ctx).UserID, id); err != nil {
		h.fail(ctx, "auth request", err)
		return 0, false
	}
	return id, true
}

func (h *authHandler) handleDeleteSession(ctx *fasthttp.RequestCtx) {
	id, ok := h.deleteOwn(ctx, "session", h.svc.DeleteSession)
	if !ok {
		return
	}
	if id == PrincipalOf(ctx).SessionID {
		expireCookie(ctx, cookieSession)
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true})
}

func (h *authHandler) handleListTrustedDevices(ctx *fasthttp.RequestCtx) {
	p := PrincipalOf(ctx)
	out := []trustedDeviceJSON{}
	if p.UserID != 0 {
		rows, err := h.svc.TrustedDevices(requestContext(ctx), p.UserID)
		if err != nil {
			h.fail(ctx, "auth request", err)
			return
		}
		cur := ""
		if c := ctx.Request.Header.Cookie(cookieTrustedDevice); len(c) > 0 {
			cur = auth.HashToken(string(c))
		}
		for _, r := range rows {
			out = append(out, trustedDeviceJSON{ID: r.ID, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt,
				IPAddress: r.IPAddress, UserAgent: r.UserAgent, Current: cur != "" && r.TokenHash == cur})
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"trusted_devices": out})
}

func (h *authHandler) handleDeleteTrustedDevice(ctx *fasthttp.RequestCtx) {
	if _, ok := h.deleteOwn(ctx, "trusted device", h.svc.DeleteTrustedDevice); ok {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true})
	}
}

// redirect answers 302 with a relative Location, as LightNVR does (fasthttp's
// Redirect would make it absolute from the Host header, which a proxy may rewrite).
func redirect(ctx *fasthttp.RequestCtx, location string) {
	ctx.Response.Header.Set("Location", location)
	ctx.SetStatusCode(fasthttp.StatusFound)
}

// userMessage is the reply text for an auth error: LightNVR's wording where
// its clients may show or match it.
func userMessage(err error) string {
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return "Invalid credentials"
	case errors.Is(err, auth.ErrInvalidTOTP):
		return "Invalid TOTP code"
	case errors.Is(err, auth.ErrMFATokenInvalid):
		return "Invalid or expired MFA token. Please login again."
	case errors.Is(err, auth.ErrPasswordLocked):
		return "Password changes are locked for this user"
	case errors.Is(err, auth.ErrWrongPassword):
		return "Current password is incorrect"
	}
	return err.Error()
}
