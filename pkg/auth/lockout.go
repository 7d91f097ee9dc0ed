package auth

import (
	"context"
	"fmt"
	"time"
)

// Login throttling has three parts, so that nobody can keep a user out by
// failing on purpose while guessing stays slow:
//
//   - per (user, address): MaxAttempts failures within Window lock that
//     address out for that user. An attacker locks only himself out.
//   - per address, over all users (in memory): 4× MaxAttempts failures lock
//     the address out; spraying many names from one place stops too.
//   - per user, from everywhere: once MaxAttempts failures have piled up,
//     attempts from addresses the user has never logged in from must wait
//     their turn, one per backoff interval that doubles with every further
//     failure up to backoffMax. Guessing from many addresses is therefore
//     limited to about one guess per backoffMax, while the owner, logging in
//     from an address they used before (or from loopback), never waits.
//
// The per-user state is in SQLite (login_failures), so the console, which is
// another process, can clear it with `lightnvr user unlock`.
const (
	globalAddress   = "*" // login_failures.address of the per-user row
	unknownAddress  = "-" // requests without an IP (never from the network)
	backoffBase     = time.Second
	backoffMax      = 30 * time.Second
	knownAddressTTL = 90 * 24 * time.Hour
)

func lockKey(username string) string { return userKey(username)[len("u:"):] }

func addressOf(c Client) string {
	if a := c.ipString(); a != "" {
		return a
	}
	return unknownAddress
}

// backoff is the interval between attempts once a user has n failures.
func (s *Service) backoff(n int) time.Duration {
	over := n - s.opt.MaxAttempts
	if over < 0 {
		return 0
	}
	if over >= 5 {
		return backoffMax
	}
	return min(backoffBase<<over, backoffMax)
}

// checkRate refuses a login attempt while the client address is locked out
// (for this user or for everyone) or while the user's global backoff says
// it is not this address's turn yet.
func (s *Service) checkRate(ctx context.Context, username string, c Client) error {
	if !s.opt.RateLimit {
		return nil
	}
	now := s.now()
	if c.IP.IsValid() {
		if wait := s.ipFails.blockedFor(ipKey(c.IP), now); wait > 0 {
			return &RateLimitedError{RetryAfter: wait}
		}
	}
	key, addr := lockKey(username), addressOf(c)
	f, ok, err := s.db.LoginFailure(ctx, key, addr)
	if err != nil {
		return err
	}
	window := int64(s.opt.Window / time.Second)
	if ok && f.Failures >= s.opt.MaxAttempts && now.Unix() < f.FirstAt+window {
		return &RateLimitedError{RetryAfter: time.Duration(f.FirstAt+window-now.Unix()) * time.Second}
	}
	return s.takeTurn(ctx, key, c, now)
}

// takeTurn applies the user's global backoff to an address the user has not
// logged in from.
func (s *Service) takeTurn(ctx context.Context, key string, c Client, now time.Time) error {
	g, ok, err := s.db.LoginFailure(ctx, key, globalAddress)
	if err != nil {
		return err
	}
	window := int64(s.opt.Window / time.Second)
	if !ok || g.Failures < s.opt.MaxAttempts || g.LastAt+window <= now.Unix() {
		return nil
	}
	trusted, err := s.trustedAddress(ctx, key, c, now)
	if err != nil || trusted {
		return err
	}
	if wait := g.NextAt - now.Unix(); wait > 0 {
		return &RateLimitedError{RetryAfter: time.Duration(wait) * time.Second}
	}
	gap := s.backoff(g.Failures)
	won, err := s.db.SetLoginNextAt(ctx, key, globalAddress, now.Add(gap).Unix(), now.Unix())
	if err != nil {
		return err
	}
	if !won {
		return &RateLimitedError{RetryAfter: gap}
	}
	return nil
}

// trustedAddress: loopback, or an address the user logged in from lately.
func (s *Service) trustedAddress(ctx context.Context, key string, c Client, now time.Time) (bool, error) {
	if !c.IP.IsValid() {
		return false, nil
	}
	if c.IP.IsLoopback() {
		return true, nil
	}
	return s.db.KnownLoginAddress(ctx, key, c.IP.String(), now.Add(-knownAddressTTL).Unix())
}

// recordFailure counts a failed attempt for the address and for the user.
func (s *Service) recordFailure(ctx context.Context, username string, c Client, why string) {
	s.log.Warn("login failed", "user", username, "client", c.ipString(), "reason", why)
	if !s.opt.RateLimit {
		return
	}
	if err := s.countFailure(ctx, username, c); err != nil {
		s.log.Error("record failed login", "user", username, "err", err)
	}
}

func (s *Service) countFailure(ctx context.Context, username string, c Client) error {
	now := s.now()
	if c.IP.IsValid() {
		s.ipFails.fail(ipKey(c.IP), now)
	}
	key, window := lockKey(username), int64(s.opt.Window/time.Second)
	if _, err := s.db.AddLoginFailure(ctx, key, addressOf(c), now.Unix(), window, false); err != nil {
		return err
	}
	g, err := s.db.AddLoginFailure(ctx, key, globalAddress, now.Unix(), window, true)
	if err != nil {
		return err
	}
	if gap := s.backoff(g.Failures); gap > 0 {
		// Every failure restarts the wait, so a guess that got its turn
		// is followed by a longer pause.
		if _, err := s.db.SetLoginNextAt(ctx, key, globalAddress, now.Add(gap).Unix(), now.Add(gap).Unix()); err != nil {
			return err
		}
	}
	// Logins are rare; pruning here keeps the table small without a timer.
	return s.db.PruneLoginFailures(ctx, now.Unix()-window)
}

// loginOK forgets the address's failures for the user and remembers the
// address as one the user logs in from.
func (s *Service) loginOK(ctx context.Context, username string, c Client) {
	if !s.opt.RateLimit {
		return
	}
	key := lockKey(username)
	if _, err := s.db.DeleteLoginFailures(ctx, key, addressOf(c)); err != nil {
		s.log.Warn("clear failed logins", "user", username, "err", err)
	}
	if c.IP.IsValid() {
		if err := s.db.AddKnownLoginAddress(ctx, key, c.IP.String(), s.now().Unix()); err != nil {
			s.log.Warn("remember login address", "user", username, "err", err)
		}
	}
}

// ClearLockout forgets a user's failed logins from every address; it
// reports whether there were any. The console uses it too: the state is in
// the database, so a running daemon sees the change at once.
func (s *Service) ClearLockout(ctx context.Context, username string) (bool, error) {
	n, err := s.db.DeleteLoginFailures(ctx, lockKey(username), "")
	if err != nil {
		return false, fmt.Errorf("clear lockout of %q: %w", username, err)
	}
	return n > 0, nil
}
