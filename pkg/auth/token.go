package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// tokenAlphabet is LightNVR's token alphabet: tokens stay valid cookie and
// header values without escaping, and its clients expect alphanumerics.
const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// TokenLen is the length of session, MFA, trusted-device tokens and API keys:
// 32 characters of 62 is ~190 bits of entropy, LightNVR's format.
const TokenLen = 32

// maxTokenLen bounds what we hash from a client: anything longer is not ours.
const maxTokenLen = 256

// NewToken returns a random alphanumeric token of TokenLen characters.
func NewToken() string {
	var b [TokenLen]byte
	var buf [64]byte
	n := 0
	for n < TokenLen {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails (it panics first)
		for _, c := range buf {
			// 248 = 4*62: rejecting the rest keeps every character equally likely.
			if c < 248 && n < TokenLen {
				b[n] = tokenAlphabet[c%62]
				n++
			}
		}
	}
	return string(b[:])
}

// HashToken is how a token is stored: SHA-256, lowercase hex. Tokens are
// random and long, so a fast hash is enough; nothing is salted because the
// hash is the lookup key.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// plausibleToken rejects values that cannot be one of our tokens before any
// database lookup.
func plausibleToken(s string) bool {
	if len(s) < 16 || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Credentials are what a request's Authorization header carries.
type Credentials struct {
	// Scheme is "basic", "bearer" or "" (no or unusable header).
	Scheme   string
	Username string
	Password string
	Token    string
}

// ParseAuthorization reads an Authorization header value. Anything it cannot
// use yields a zero Credentials; it never fails loudly, because a bad header
// simply means "not authenticated".
func ParseAuthorization(h string) Credentials {
	h = strings.TrimSpace(h)
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || len(h) > 4096 {
		return Credentials{}
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return Credentials{}
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" {
			return Credentials{}
		}
		return Credentials{Scheme: "basic", Username: user, Password: pass}
	case "bearer":
		if rest == "" || strings.ContainsAny(rest, " \t") {
			return Credentials{}
		}
		return Credentials{Scheme: "bearer", Token: rest}
	}
	return Credentials{}
}

func nowUnix() int64 { return time.Now().Unix() }
