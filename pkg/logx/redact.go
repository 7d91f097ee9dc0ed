package logx

import (
	"log/slog"
	"net/url"
	"regexp"
	"sort"
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
		if r := RedactURL(s); r != s {
			return slog.String(a.Key, r)
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			// url.Error and friends quote the full URL, password included.
			s := x.Error()
			if r := RedactURL(s); r != s {
				return slog.String(a.Key, r)
			}
		case *url.URL:
			if x != nil {
				return slog.String(a.Key, RedactURL(x.String()))
			}
		case url.URL:
			return slog.String(a.Key, RedactURL(x.String()))
		}
	}
	return a
}

// RedactURL is the one redactor of credentials in free text: log lines,
// error messages, go2rtc answers, stream sources shown to viewers and the
// diagnostics report all go through it. It masks
//   - the password of every URL, nested ones included ("ffmpeg:rtsp://u:pw@h",
//     "http://h/x?src=rtsp://u:pw@cam"): "rtsp://user:pass@host/x" becomes
//     "rtsp://user:***@host/x"; a user name without a password is kept;
//   - the value of password-like key=value pairs (password=, passwd=, pass=,
//     pwd=, secret=, token=, api_key=, apikey=, also prefixed as in
//     onvif_password=), in query strings and anywhere else.
//
// Camera passwords often hold unescaped reserved characters ('/', '#', '?',
// '@', '%', spaces), so a URL's password runs from the ':' after its user name
// to the last '@' before the end of the line or the next URL. This may mask
// more than the password (an '@' later on the line), never less.
func RedactURL(s string) string {
	var spans []span
	if strings.Contains(s, "://") {
		spans = userinfoSpans(s)
	}
	if strings.IndexByte(s, '=') >= 0 {
		spans = append(spans, paramSpans(s)...)
	}
	return mask(s, spans)
}

// span is a byte range [from, to) of a secret.
type span struct{ from, to int }

// mask replaces the union of spans with Masked. Both finders work on the
// original text, so a secret that holds the other's syntax ("pwd=a@b",
// "rtsp://u:x&pwd=y@h") is masked whole.
func mask(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); i++ {
		from, to := spans[i].from, spans[i].to
		for i+1 < len(spans) && spans[i+1].from <= to {
			i++
			to = max(to, spans[i].to)
		}
		if from < last {
			from = last
		}
		b.WriteString(s[last:from])
		b.WriteString(Masked)
		last = to
	}
	b.WriteString(s[last:])
	return b.String()
}

// userinfoSpans finds the password of every URL: from the ':' after the user
// name to the last '@' before the line or the next URL ends, since a password
// may hold '@', '/', '#', spaces and quotes, unescaped.
func userinfoSpans(s string) []span {
	var out []span
	pos := 0
	for {
		i := strings.Index(s[pos:], "://")
		if i < 0 {
			return out
		}
		start := pos + i + 3
		pos = start
		// The authority as the RFC has it: up to the first path, query or
		// fragment delimiter, whitespace or quote.
		authEnd := start
		for authEnd < len(s) && !isAuthStop(s[authEnd]) && !isWordStop(s[authEnd]) {
			authEnd++
		}
		colon := strings.IndexByte(s[start:authEnd], ':')
		if colon < 0 {
			continue
		}
		sep := start + colon + 1 // first byte of the password (or port)
		at := strings.LastIndexByte(s[sep:lineLimit(s, sep)], '@')
		if at < 0 || s[sep:sep+at] == Masked {
			continue
		}
		out = append(out, span{sep, sep + at})
		pos = sep + at
	}
}

// lineLimit is where the search for a URL's '@' ends: the end of the line or
// the start of the next URL ("scheme://"), whichever comes first.
func lineLimit(s string, from int) int {
	end := len(s)
	if n := strings.IndexAny(s[from:], "\r\n"); n >= 0 {
		end = from + n
	}
	if n := strings.Index(s[from:end], "://"); n >= 0 {
		// Back up over the next URL's scheme, so its userinfo is its own.
		j := from + n
		for j > from && isSchemeByte(s[j-1]) {
			j--
		}
		end = j
	}
	return end
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
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

// secretParam matches a password-like key and its '='. The key may carry a
// prefix word (onvif_password, mqtt-token).
var secretParam = regexp.MustCompile(`(?i)(?:^|[^a-z0-9])(?:[a-z0-9]+[_.-])?(?:password|passwd|pass|pwd|secret|token|api_key|apikey)=`)

// paramSpans finds the value after every password-like key=. The value runs
// to '&', whitespace, a quote or the end; a '#' does not end it, since camera
// passwords hold them.
func paramSpans(s string) []span {
	var out []span
	for _, l := range secretParam.FindAllStringIndex(s, -1) {
		end := l[1]
		for end < len(s) && s[end] != '&' && !isWordStop(s[end]) {
			end++
		}
		if v := s[l[1]:end]; v != "" && v != Masked {
			out = append(out, span{l[1], end})
		}
	}
	return out
}
