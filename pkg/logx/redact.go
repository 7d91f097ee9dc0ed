package logx

import (
	"log/slog"
	"net/url"
	"strings"
)

// Masked replaces a secret value.
const Masked = "***"

var secretKeys = [...]string{"password", "passwd", "secret", "token", "api_key", "apikey"}

// IsSecretKey reports whether an attribute key names a secret: one of
// password, passwd, secret, token, api_key (any case), alone or as the last
// word of a compound key such as mqtt_password or access-token.
func IsSecretKey(key string) bool {
	if len(key) < 5 {
		return false
	}
	k := strings.ToLower(key)
	for _, s := range secretKeys {
		if k == s {
			return true
		}
		if len(k) > len(s) && strings.HasSuffix(k, s) {
			switch k[len(k)-len(s)-1] {
			case '_', '-', '.':
				return true
			}
		}
	}
	return false
}

// Redact is a slog HandlerOptions.ReplaceAttr hook. It masks the values of
// secret keys (see IsSecretKey) and the password of any URL found in string
// and error values. Group attributes pass through; slog calls the hook for
// their members.
func Redact(_ []string, a slog.Attr) slog.Attr {
	v := a.Value
	if v.Kind() == slog.KindGroup {
		return a
	}
	if IsSecretKey(a.Key) {
		return slog.String(a.Key, Masked)
	}
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if strings.Contains(s, "://") {
			if r := RedactURL(s); r != s {
				return slog.String(a.Key, r)
			}
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			// url.Error and friends quote the full URL, password included.
			s := x.Error()
			if strings.Contains(s, "://") {
				if r := RedactURL(s); r != s {
					return slog.String(a.Key, r)
				}
			}
		case *url.URL:
			if x != nil {
				return slog.String(a.Key, x.Redacted())
			}
		case url.URL:
			return slog.String(a.Key, x.Redacted())
		}
	}
	return a
}

// RedactURL masks the password in every URL embedded in s:
// "rtsp://user:pass@host/x" becomes "rtsp://user:***@host/x". A user name
// without a password is kept. Camera passwords often contain unescaped
// reserved characters ('/', '#', '@'), so when the authority does not hold
// the '@' the whole word is searched for it; this may mask more than the
// password, never less.
func RedactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	rest := s
	changed := false
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			break
		}
		start := i + 3
		// The word ends at whitespace or a quote; the authority at the
		// first path, query or fragment delimiter inside it.
		wordEnd := start
		for wordEnd < len(rest) && !isWordStop(rest[wordEnd]) {
			wordEnd++
		}
		authEnd := start
		for authEnd < wordEnd && !isAuthStop(rest[authEnd]) {
			authEnd++
		}
		at := strings.LastIndexByte(rest[start:authEnd], '@')
		if at < 0 {
			at = strings.LastIndexByte(rest[start:wordEnd], '@')
		}
		if at >= 0 {
			userinfo := rest[start : start+at]
			if c := strings.IndexByte(userinfo, ':'); c >= 0 && userinfo[c+1:] != Masked {
				b.WriteString(rest[:start+c+1])
				b.WriteString(Masked)
				b.WriteString(rest[start+at : wordEnd])
				rest = rest[wordEnd:]
				changed = true
				continue
			}
		}
		b.WriteString(rest[:wordEnd])
		rest = rest[wordEnd:]
	}
	if !changed {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

func isWordStop(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '"', '\'', '<', '>', '`':
		return true
	}
	return false
}

func isAuthStop(c byte) bool {
	return c == '/' || c == '?' || c == '#'
}
