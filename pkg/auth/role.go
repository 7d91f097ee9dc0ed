// Package auth owns users, roles, password hashing, sessions, API keys and TOTP.
package auth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Role is a user's role, stored as LightNVR's integers so its databases keep working.
type Role int

// LightNVR's role numbers.
const (
	RoleAdmin  Role = 0
	RoleUser   Role = 1
	RoleViewer Role = 2
	RoleAPI    Role = 3
)

var roleNames = [...]string{"admin", "user", "viewer", "api"}

func (r Role) String() string {
	if r >= 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r >= RoleAdmin && r <= RoleAPI }

// ParseRole accepts a role name or its number, as LightNVR's API does.
func ParseRole(s string) (Role, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	for i, n := range roleNames {
		if s == n {
			return Role(i), nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && Role(n).Valid() {
		return Role(n), nil
	}
	return 0, fmt.Errorf("unknown role %q (want admin, user, viewer or api)", s)
}

// Access is what a route demands of its caller. Every route declares one; there is
// no implicit default, so a new route cannot be left open by accident.
type Access int

const (
	// AccessPublic needs no credentials (login, health, setup status).
	AccessPublic Access = iota + 1
	// AccessViewer needs any authenticated user.
	AccessViewer
	// AccessWriter needs a role that may change things: admin, user or api.
	AccessWriter
	// AccessOperator is for destructive actions a person must take: admin or user, not api keys.
	AccessOperator
	// AccessAdmin is for administrators only.
	AccessAdmin
)

func (a Access) String() string {
	switch a {
	case AccessPublic:
		return "public"
	case AccessViewer:
		return "viewer"
	case AccessWriter:
		return "writer"
	case AccessOperator:
		return "operator"
	case AccessAdmin:
		return "admin"
	}
	return "access(" + strconv.Itoa(int(a)) + ")"
}

// Allows reports whether a caller with role r may use a route demanding a.
func (r Role) Allows(a Access) bool {
	switch a {
	case AccessPublic:
		return true
	case AccessViewer:
		return r.Valid()
	case AccessWriter:
		return r == RoleAdmin || r == RoleUser || r == RoleAPI
	case AccessOperator:
		return r == RoleAdmin || r == RoleUser
	case AccessAdmin:
		return r == RoleAdmin
	}
	return false
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID   int64
	Username string
	Role     Role
	// Method says how the caller proved who they are: "session", "basic", "api_key" or "none"
	// (authentication disabled).
	Method string
	// SessionID is set when Method is "session", so logout can end exactly this session.
	SessionID int64
	// AllowedTags is users.allowed_tags split: nil when the user may see
	// every stream.
	AllowedTags []string
}

// MaySee reports whether the caller may see a stream with the given tags
// (its comma-separated tags column): an unrestricted caller sees all, a
// restricted one only streams sharing at least one tag (as LightNVR).
func (p *Principal) MaySee(streamTags string) bool {
	if p == nil || p.AllowedTags == nil {
		return true
	}
	for _, t := range strings.Split(streamTags, ",") {
		if t = strings.TrimSpace(t); t != "" && slices.Contains(p.AllowedTags, t) {
			return true
		}
	}
	return false
}
