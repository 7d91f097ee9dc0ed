package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
)

// Errors returned by logins and user management. The API maps them to status
// codes and LightNVR's messages; their text is safe to show.
var (
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrInvalidTOTP        = errors.New("invalid TOTP code")
	ErrMFATokenInvalid    = errors.New("invalid or expired MFA token")
	ErrPasswordLocked     = errors.New("password changes are locked for this user")
	ErrWrongPassword      = errors.New("current password is incorrect")
	ErrTOTPNotConfigured  = errors.New("TOTP is not set up for this user")
	ErrLastAdmin          = errors.New("cannot remove, demote or disable the last active admin")
	ErrNotFound           = errors.New("not found")
)

// InputError is a request the service refuses for what it contains.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErr(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// Method values of Principal.Method.
const (
	MethodSession = "session"
	MethodBasic   = "basic"
	MethodAPIKey  = "api_key"
	MethodNone    = "none" // authentication disabled
	MethodDemo    = "demo" // demo mode: unauthenticated viewer
)

// Options configure a Service. OptionsFromConfig fills them from [web].
type Options struct {
	Enabled          bool
	DemoMode         bool
	IdleTimeout      time.Duration
	AbsoluteTimeout  time.Duration
	TrustedDeviceTTL time.Duration // 0 turns "remember this device" off
	ForceMFA         bool
	RateLimit        bool
	MaxAttempts      int // per user within Window; per client address it is 4× this
	Window           time.Duration
	TrustedProxies   []netip.Prefix
	Hash             HashParams
	// InitialPasswordFile is where Bootstrap leaves a generated admin
	// password; it is removed once that user's password is changed.
	InitialPasswordFile string
	// Now is the clock; tests move it to expire sessions.
	Now    func() time.Time
	Logger *slog.Logger
}

// OptionsFromConfig maps [web] keys onto Options.
func OptionsFromConfig(cfg *config.Config) (Options, error) {
	w := cfg.Web
	proxies, err := ParseCIDRList(w.TrustedProxyCIDRs)
	if err != nil {
		return Options{}, fmt.Errorf("[web] trusted_proxy_cidrs: %w", err)
	}
	idle := time.Duration(max(w.AuthTimeoutHours, 1)) * time.Hour
	abs := time.Duration(max(w.AuthAbsoluteTimeoutHours, 1)) * time.Hour
	return Options{
		Enabled:          w.AuthEnabled,
		DemoMode:         w.DemoMode,
		IdleTimeout:      idle,
		AbsoluteTimeout:  max(abs, idle),
		TrustedDeviceTTL: time.Duration(max(w.TrustedDeviceDays, 0)) * 24 * time.Hour,
		ForceMFA:         w.ForceMFAOnLogin,
		RateLimit:        w.LoginRateLimitEnabled,
		MaxAttempts:      max(w.LoginRateLimitMaxAttempts, 1),
		Window:           time.Duration(max(w.LoginRateLimitWindowSeconds, 10)) * time.Second,
		TrustedProxies:   proxies,
		Hash:             DefaultHashParams,
		// Bootstrap writes it beside the database (cmd/lightnvr serve).
		InitialPasswordFile: filepath.Join(filepath.Dir(cfg.Database.Path), InitialPasswordFile),
	}, nil
}

// Timing and size limits that are not configuration.
const (
	mfaTokenTTL         = 5 * time.Minute
	maxPendingMFA       = 256
	maxMFAAttempts      = 5
	sessionTouchEvery   = time.Minute
	maxConcurrentHashes = 2
	basicCacheTTL       = 5 * time.Minute
	maxBasicCache       = 64
	maxListRows         = 32
)

// Service holds the authentication state: the database, the failure tables,
// pending MFA logins and a small cache of verified Basic credentials.
type Service struct {
	db  *db.DB
	opt Options
	log *slog.Logger

	// ipFails counts failures per client address over all users; the
	// per-user counts are in the database (see lockout.go).
	ipFails *limiter

	// hashSlots caps concurrent argon2id runs: each holds Hash.Memory KiB.
	hashSlots chan struct{}
	freeing   atomic.Bool // a FreeOSMemory after hashing is under way
	// dummyHash is verified for unknown users so a login takes as long
	// whether or not the name exists.
	dummyOnce sync.Once
	dummyHash string

	mu      sync.Mutex
	pending map[string]*pendingMFA // by token hash

	basicMu     sync.Mutex
	basicSecret [32]byte
	basicCache  map[[32]byte]basicEntry
}

type pendingMFA struct {
	userID   int64
	expires  time.Time
	attempts int
}

type basicEntry struct {
	userID   int64
	pwHash   string
	verified time.Time
}

// New returns a Service over d. A zero Now means time.Now.
func New(d *db.DB, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Hash == (HashParams{}) {
		opt.Hash = DefaultHashParams
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 24 * time.Hour
	}
	if opt.AbsoluteTimeout < opt.IdleTimeout {
		opt.AbsoluteTimeout = max(opt.IdleTimeout, 168*time.Hour)
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 5
	}
	if opt.Window <= 0 {
		opt.Window = 5 * time.Minute
	}
	s := &Service{
		db:         d,
		opt:        opt,
		log:        opt.Logger.With("component", "auth"),
		ipFails:    newLimiter(max(4*opt.MaxAttempts, 20), opt.Window),
		hashSlots:  make(chan struct{}, maxConcurrentHashes),
		pending:    map[string]*pendingMFA{},
		basicCache: map[[32]byte]basicEntry{},
	}
	_, _ = rand.Read(s.basicSecret[:])
	if !opt.Enabled {
		s.log.Warn("authentication is disabled ([web] auth_enabled=false): every client on the network is an admin")
	} else if opt.DemoMode {
		s.log.Warn("demo mode is on ([web] demo_mode=true): anyone can view without logging in")
	}
	return s
}

// Options returns the effective options.
func (s *Service) Options() Options { return s.opt }

// Client is who is on the other end of a request.
type Client struct {
	IP        netip.Addr
	UserAgent string
}

func (c Client) ipString() string {
	if !c.IP.IsValid() {
		return ""
	}
	return c.IP.String()
}

// ClientIP applies the trusted proxies to a request's addresses (see ClientIP).
func (s *Service) ClientIP(peer netip.Addr, xForwardedFor, xRealIP string) netip.Addr {
	return ClientIP(peer, s.opt.TrustedProxies, xForwardedFor, xRealIP)
}

// TrustedProxy reports whether peer may speak for the client (X-Forwarded-*).
func (s *Service) TrustedProxy(peer netip.Addr) bool {
	return containsAddr(s.opt.TrustedProxies, peer)
}

// Anonymous is the caller of a request without credentials: nobody when
// authentication is on, an admin when it is off (LightNVR's behaviour), a
// viewer in demo mode.
func (s *Service) Anonymous() *Principal {
	switch {
	case !s.opt.Enabled:
		return &Principal{Username: "admin", Role: RoleAdmin, Method: MethodNone}
	case s.opt.DemoMode:
		return &Principal{Username: "demo", Role: RoleViewer, Method: MethodDemo}
	}
	return nil
}

func (s *Service) now() time.Time { return s.opt.Now() }

// verify runs VerifyPassword within the concurrency cap.
func (s *Service) verify(ctx context.Context, hash, salt, password string) (ok, rehash bool, err error) {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, false, ctx.Err()
	}
	defer s.releaseHash()
	return VerifyPassword(hash, salt, password, s.opt.Hash)
}

func (s *Service) hash(ctx context.Context, password string) (string, error) {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer s.releaseHash()
	return HashPassword(password, s.opt.Hash)
}

// releaseHash frees a hash slot. The last one out hands argon2id's working
// memory back to the OS: on a 256 MB appliance one login must not leave the
// resident size 19 MiB higher until the next GC cycle happens to return it.
func (s *Service) releaseHash() {
	<-s.hashSlots
	if len(s.hashSlots) == 0 && s.freeing.CompareAndSwap(false, true) {
		go func() {
			defer s.freeing.Store(false)
			debug.FreeOSMemory()
		}()
	}
}

// burnTime spends what a real password check costs, for unknown users.
func (s *Service) burnTime(ctx context.Context, password string) {
	s.dummyOnce.Do(func() {
		s.dummyHash, _ = HashPassword(NewToken(), s.opt.Hash)
	})
	_, _, _ = s.verify(ctx, s.dummyHash, "", password)
}

func userKey(username string) string { return "u:" + strings.ToLower(username) }
func ipKey(ip netip.Addr) string     { return "ip:" + ip.String() }

// allowedFrom reports whether u may act from c (users.allowed_login_cidrs).
func (s *Service) allowedFrom(u *db.User, c Client) bool {
	if u.AllowedLoginCIDRs == nil || strings.TrimSpace(*u.AllowedLoginCIDRs) == "" {
		return true
	}
	ps, err := ParseCIDRList(*u.AllowedLoginCIDRs)
	if err != nil {
		// A list we cannot read must not open the account to everyone.
		s.log.Error("unreadable allowed_login_cidrs; refusing the user", "user", u.Username, "err", err)
		return false
	}
	return c.IP.IsValid() && containsAddr(ps, c.IP)
}

func principalOf(u *db.User, method string) *Principal {
	p := &Principal{UserID: u.ID, Username: u.Username, Role: Role(u.Role), Method: method}
	if tags := normalizeTags(u.AllowedTags); tags != nil {
		p.AllowedTags = strings.Split(*tags, ",")
	}
	return p
}

// usable reports whether a stored user may authenticate at all from c.
func (s *Service) usable(u *db.User, c Client) bool {
	return u.IsActive && Role(u.Role).Valid() && s.allowedFrom(u, c)
}

// LoginRequest is one POST /api/auth/login.
type LoginRequest struct {
	Username string
	Password string
	TOTPCode string
	// RememberDevice asks for a trusted_device cookie once TOTP is passed.
	RememberDevice bool
	// TrustedDevice is the trusted_device cookie the client sent, if any.
	TrustedDevice string
	Client        Client
}

// LoginResult is a successful first step: either a session, or a pending MFA
// login (TOTPRequired with MFAToken).
type LoginResult struct {
	Principal     *Principal
	SessionToken  string
	SessionMaxAge time.Duration

	TOTPRequired bool
	MFAToken     string

	// TrustedDevice is a new trusted_device cookie value to set.
	TrustedDevice       string
	TrustedDeviceMaxAge time.Duration
}

// Login checks a username and password (and TOTP when the user has it) and
// opens a session. Errors: *RateLimitedError, ErrInvalidCredentials,
// ErrInvalidTOTP, or a wrapped internal error.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	if req.Username == "" || req.Password == "" || len(req.Username) > 64 || len(req.Password) > MaxPasswordLen {
		return nil, ErrInvalidCredentials
	}
	if err := s.checkRate(ctx, req.Username, req.Client); err != nil {
		s.log.Warn("login rate limited", "user", req.Username, "client", req.Client.ipString())
		return nil, err
	}
	u, err := s.db.UserByUsername(ctx, req.Username)
	if errors.Is(err, db.ErrUserNotFound) {
		s.burnTime(ctx, req.Password)
		s.recordFailure(ctx, req.Username, req.Client, "no such user")
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, rehash, err := s.verify(ctx, u.PasswordHash, u.Salt, req.Password)
	if err != nil && !errors.Is(err, errBadHash) {
		return nil, err
	}
	if !ok {
		s.recordFailure(ctx, req.Username, req.Client, "wrong password")
		return nil, ErrInvalidCredentials
	}
	if !s.usable(u, req.Client) {
		s.recordFailure(ctx, req.Username, req.Client, "inactive, bad role or address not allowed")
		return nil, ErrInvalidCredentials
	}
	if rehash {
		s.upgradeHash(ctx, u, req.Password)
	}
	res := &LoginResult{}
	if u.TOTPEnabled {
		trusted := s.trustedDeviceValid(ctx, u.ID, req.TrustedDevice, req.Client)
		switch {
		case trusted:
		case req.TOTPCode != "":
			if err := s.checkTOTP(ctx, u, req.TOTPCode); err != nil {
				s.recordFailure(ctx, req.Username, req.Client, "wrong totp code")
				return nil, err
			}
			if err := s.maybeTrustDevice(ctx, u.ID, req.RememberDevice, req.Client, res); err != nil {
				return nil, err
			}
		case s.opt.ForceMFA:
			s.recordFailure(ctx, req.Username, req.Client, "totp code missing")
			return nil, ErrInvalidCredentials
		default:
			res.TOTPRequired = true
			res.MFAToken = s.addPending(u.ID)
			return res, nil
		}
	}
	if err := s.openSession(ctx, u, req.Client, res); err != nil {
		return nil, err
	}
	s.loginOK(ctx, req.Username, req.Client)
	return res, nil
}

// LoginTOTP completes a two-step login with the MFA token from Login.
// Errors: ErrMFATokenInvalid, ErrInvalidTOTP, *RateLimitedError.
func (s *Service) LoginTOTP(ctx context.Context, mfaToken, code string, remember bool, c Client) (*LoginResult, error) {
	if !plausibleToken(mfaToken) {
		return nil, ErrMFATokenInvalid
	}
	key := HashToken(mfaToken)
	now := s.now()
	s.mu.Lock()
	p, ok := s.pending[key]
	if ok && !now.Before(p.expires) {
		delete(s.pending, key)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil, ErrMFATokenInvalid
	}
	u, err := s.db.UserByID(ctx, p.userID)
	if errors.Is(err, db.ErrUserNotFound) {
		return nil, ErrMFATokenInvalid
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkRate(ctx, u.Username, c); err != nil {
		return nil, err
	}
	if !s.usable(u, c) {
		return nil, ErrMFATokenInvalid
	}
	if !u.TOTPEnabled {
		return nil, ErrTOTPNotConfigured
	}
	if err := s.checkTOTP(ctx, u, code); err != nil {
		s.recordFailure(ctx, u.Username, c, "wrong totp code")
		s.mu.Lock()
		p.attempts++
		if p.attempts >= maxMFAAttempts {
			delete(s.pending, key)
		}
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Lock()
	delete(s.pending, key)
	s.mu.Unlock()
	res := &LoginResult{}
	if err := s.maybeTrustDevice(ctx, u.ID, remember, c, res); err != nil {
		return nil, err
	}
	if err := s.openSession(ctx, u, c, res); err != nil {
		return nil, err
	}
	s.loginOK(ctx, u.Username, c)
	return res, nil
}

func (s *Service) addPending(userID int64) string {
	tok := NewToken()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= maxPendingMFA {
		var oldestKey string
		var oldest time.Time
		for k, p := range s.pending {
			if !now.Before(p.expires) {
				delete(s.pending, k)
				continue
			}
			if oldestKey == "" || p.expires.Before(oldest) {
				oldestKey, oldest = k, p.expires
			}
		}
		if len(s.pending) >= maxPendingMFA {
			delete(s.pending, oldestKey)
		}
	}
	s.pending[HashToken(tok)] = &pendingMFA{userID: userID, expires: now.Add(mfaTokenTTL)}
	return tok
}

// checkTOTP validates code for u and burns its time step.
func (s *Service) checkTOTP(ctx context.Context, u *db.User, code string) error {
	step, ok := matchTOTP(u.TOTPSecret, code, s.now())
	if !ok {
		return ErrInvalidTOTP
	}
	fresh, err := s.db.AdvanceTOTPStep(ctx, u.ID, step)
	if err != nil {
		return err
	}
	if !fresh {
		return ErrInvalidTOTP // replayed code
	}
	return nil
}

func (s *Service) upgradeHash(ctx context.Context, u *db.User, password string) {
	h, err := s.hash(ctx, password)
	if err == nil {
		err = s.db.SetUserPassword(ctx, u.ID, h, "", s.now().Unix())
	}
	if err != nil {
		s.log.Error("re-hash password", "user", u.Username, "err", err)
		return
	}
	s.log.Info("password re-hashed with argon2id", "user", u.Username)
}

func (s *Service) openSession(ctx context.Context, u *db.User, c Client, res *LoginResult) error {
	now := s.now()
	tok := NewToken()
	row := &db.Session{
		UserID:         u.ID,
		TokenHash:      HashToken(tok),
		CreatedAt:      now.Unix(),
		ExpiresAt:      now.Add(s.opt.AbsoluteTimeout).Unix(),
		LastActivityAt: now.Unix(),
		IdleExpiresAt:  now.Add(s.opt.IdleTimeout).Unix(),
		IPAddress:      c.ipString(),
		UserAgent:      truncate(c.UserAgent, 256),
	}
	if err := s.db.InsertSession(ctx, row); err != nil {
		return err
	}
	if err := s.db.SetUserLastLogin(ctx, u.ID, now.Unix()); err != nil {
		s.log.Warn("record last login", "user", u.Username, "err", err)
	}
	// Logins are rare; sweeping here keeps the table small without a timer.
	if _, err := s.db.DeleteExpiredSessions(ctx, now.Unix()); err != nil {
		s.log.Warn("prune expired sessions", "err", err)
	}
	p := principalOf(u, MethodSession)
	p.SessionID = row.ID
	res.Principal = p
	res.SessionToken = tok
	res.SessionMaxAge = s.opt.AbsoluteTimeout
	s.log.Info("login", "user", u.Username, "client", c.ipString())
	return nil
}

func (s *Service) maybeTrustDevice(ctx context.Context, userID int64, remember bool, c Client, res *LoginResult) error {
	if !remember || s.opt.TrustedDeviceTTL <= 0 {
		return nil
	}
	now := s.now()
	tok := NewToken()
	err := s.db.InsertTrustedDevice(ctx, &db.TrustedDevice{
		UserID: userID, TokenHash: HashToken(tok), IPAddress: c.ipString(), UserAgent: truncate(c.UserAgent, 256),
		CreatedAt: now.Unix(), LastUsedAt: now.Unix(), ExpiresAt: now.Add(s.opt.TrustedDeviceTTL).Unix(),
	})
	if err != nil {
		return err
	}
	res.TrustedDevice = tok
	res.TrustedDeviceMaxAge = s.opt.TrustedDeviceTTL
	return nil
}

func (s *Service) trustedDeviceValid(ctx context.Context, userID int64, token string, c Client) bool {
	if s.opt.TrustedDeviceTTL <= 0 || !plausibleToken(token) {
		return false
	}
	t, err := s.db.TrustedDeviceByTokenHash(ctx, HashToken(token))
	if err != nil {
		return false
	}
	now := s.now().Unix()
	if t.UserID != userID || now > t.ExpiresAt {
		return false
	}
	if err := s.db.TouchTrustedDevice(ctx, t.ID, now, c.ipString(), truncate(c.UserAgent, 256)); err != nil {
		s.log.Warn("touch trusted device", "err", err)
	}
	return true
}

// AuthenticateSession resolves a session cookie. It returns nil (no error)
// for an unknown, expired or no longer usable session.
func (s *Service) AuthenticateSession(ctx context.Context, token string, c Client) (*Principal, error) {
	sess, found, err := lookupToken(ctx, token, s.db.SessionByTokenHash, db.ErrSessionNotFound)
	if !found {
		return nil, err
	}
	now := s.now()
	if now.Unix() > sess.ExpiresAt || now.Unix() > sess.IdleExpiresAt {
		if err := s.db.DeleteSession(ctx, sess.ID, 0); err != nil && !errors.Is(err, db.ErrSessionNotFound) {
			s.log.Warn("delete expired session", "err", err)
		}
		return nil, nil
	}
	u, found, err := lookup(ctx, sess.UserID, s.db.UserByID, db.ErrUserNotFound)
	if !found || !s.usable(u, c) {
		return nil, err
	}
	ip, ua := c.ipString(), truncate(c.UserAgent, 256)
	last := time.Unix(sess.LastActivityAt, 0)
	if now.Sub(last) >= sessionTouchEvery || sess.IdleExpiresAt <= now.Add(sessionTouchEvery).Unix() || ip != sess.IPAddress || ua != sess.UserAgent {
		if err := s.db.TouchSession(ctx, sess.ID, now.Unix(), now.Add(s.opt.IdleTimeout).Unix(), ip, ua); err != nil {
			s.log.Warn("touch session", "err", err)
		}
	}
	p := principalOf(u, MethodSession)
	p.SessionID = sess.ID
	return p, nil
}

// Logout ends the session whose cookie is token; unknown tokens are no error.
func (s *Service) Logout(ctx context.Context, token string) error {
	if !plausibleToken(token) {
		return nil
	}
	return s.db.DeleteSessionByTokenHash(ctx, HashToken(token))
}

// AuthenticateBasic checks HTTP Basic credentials. Failures count towards
// the login rate limit like a failed login, so Basic is no way around it.
// A successful check is remembered for a few minutes (keyed by a keyed hash
// of the credentials, never the password) so that scripts polling with Basic
// do not pay a full argon2id run on every request.
func (s *Service) AuthenticateBasic(ctx context.Context, username, password string, c Client) (*Principal, error) {
	if username == "" || len(username) > 64 || len(password) > MaxPasswordLen {
		return nil, nil
	}
	key := s.basicKey(username, password)
	now := s.now()
	s.basicMu.Lock()
	e, hit := s.basicCache[key]
	if hit && now.Sub(e.verified) > basicCacheTTL {
		delete(s.basicCache, key)
		hit = false
	}
	s.basicMu.Unlock()
	if hit {
		u, err := s.db.UserByID(ctx, e.userID)
		if err != nil && !errors.Is(err, db.ErrUserNotFound) {
			return nil, err
		}
		if err == nil && u.PasswordHash == e.pwHash && u.Username == username && s.usable(u, c) {
			return principalOf(u, MethodBasic), nil
		}
		s.basicMu.Lock()
		delete(s.basicCache, key)
		s.basicMu.Unlock()
	}
	if err := s.checkRate(ctx, username, c); err != nil {
		return nil, err
	}
	u, err := s.db.UserByUsername(ctx, username)
	if errors.Is(err, db.ErrUserNotFound) {
		s.burnTime(ctx, password)
		s.recordFailure(ctx, username, c, "basic: no such user")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ok, rehash, err := s.verify(ctx, u.PasswordHash, u.Salt, password)
	if err != nil && !errors.Is(err, errBadHash) {
		return nil, err
	}
	if !ok {
		s.recordFailure(ctx, username, c, "basic: wrong password")
		return nil, nil
	}
	if !s.usable(u, c) {
		return nil, nil
	}
	if rehash {
		s.upgradeHash(ctx, u, password)
		if u, err = s.db.UserByID(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	s.loginOK(ctx, u.Username, c)
	s.basicMu.Lock()
	if len(s.basicCache) >= maxBasicCache {
		clear(s.basicCache)
	}
	s.basicCache[key] = basicEntry{userID: u.ID, pwHash: u.PasswordHash, verified: now}
	s.basicMu.Unlock()
	return principalOf(u, MethodBasic), nil
}

func (s *Service) basicKey(username, password string) [32]byte {
	h := sha256.New()
	h.Write(s.basicSecret[:])
	h.Write([]byte(username))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// AuthenticateAPIKey resolves an API key (X-API-Key or Bearer).
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string, c Client) (*Principal, error) {
	u, found, err := lookupToken(ctx, key, s.db.UserByAPIKeyHash, db.ErrUserNotFound)
	if !found || !s.usable(u, c) {
		return nil, err
	}
	return principalOf(u, MethodAPIKey), nil
}

// lookup fetches the record that key names. A key that names none (get
// returns notFound) is no error, only found == false: to an authenticator
// it means "no principal", not a failure.
func lookup[K, T any](ctx context.Context, key K, get func(context.Context, K) (T, error), notFound error) (v T, found bool, err error) {
	v, err = get(ctx, key)
	if errors.Is(err, notFound) {
		return v, false, nil
	}
	return v, err == nil, err
}

// lookupToken is lookup by the hash of a presented token. A value that
// cannot be one of our tokens is not looked up at all.
func lookupToken[T any](ctx context.Context, token string, get func(context.Context, string) (T, error), notFound error) (v T, found bool, err error) {
	if !plausibleToken(token) {
		return v, false, nil
	}
	return lookup(ctx, HashToken(token), get, notFound)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
