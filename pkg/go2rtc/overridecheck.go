package go2rtc

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxOverrideBytes bounds the override text, as LightNVR does.
const MaxOverrideBytes = 64 << 10

// OverrideProblem is why an override text is not valid, where it is.
type OverrideProblem struct {
	Line           int      `json:"line"`
	Column         int      `json:"column"`
	Message        string   `json:"message"`
	DuplicateKeys  []string `json:"duplicate_keys,omitempty"`
	NonMappingRoot bool     `json:"non_mapping_root,omitempty"`
	ParseError     bool     `json:"parse_error,omitempty"`
}

func (p *OverrideProblem) String() string {
	return fmt.Sprintf("line %d, column %d: %s", p.Line, p.Column, p.Message)
}

// OverrideCheck is the verdict on an override text.
type OverrideCheck struct {
	Valid    bool             `json:"valid"`
	Error    *OverrideProblem `json:"error,omitempty"`
	Warnings []string         `json:"warnings"`
}

// go2rtcModules are the top-level keys go2rtc 1.9 reads.
var go2rtcModules = map[string]bool{
	"api": true, "rtsp": true, "webrtc": true, "streams": true, "ffmpeg": true, "log": true,
	"hass": true, "homekit": true, "publish": true, "preload": true, "srtp": true, "rtmp": true,
	"webtorrent": true, "ngrok": true, "exec": true, "mp4": true, "hls": true, "mjpeg": true,
	"onvif": true, "echo": true, "expr": true, "wyoming": true, "mqtt": true, "app": true,
}

// managedKeys are the keys lightnvr sets for go2rtc to keep working with it.
var managedKeys = map[string]string{
	"api.listen":      "lightnvr reaches go2rtc's API at the address it configured",
	"api.base_path":   "lightnvr's proxy and the browser use /go2rtc",
	"rtsp.listen":     "the recorder reads go2rtc's restream at the address lightnvr configured",
	"api.username":    "lightnvr's credentials file, loaded last, sets it",
	"api.password":    "lightnvr's credentials file, loaded last, sets it",
	"api.local_auth":  "lightnvr's credentials file, loaded last, sets it",
	"api.allow_paths": "lightnvr's credentials file, loaded last, sets it",
	"rtsp.username":   "lightnvr's credentials file, loaded last, sets it",
	"rtsp.password":   "lightnvr's credentials file, loaded last, sets it",
	"log.format":      "lightnvr reads go2rtc's output as JSON lines",
	"log.output":      "lightnvr reads go2rtc's output from stdout",
}

// CheckOverride checks an override text before go2rtc gets it: a mapping at
// the root, block YAML as go2rtc's own files are written (indentation with
// spaces, closed quotes and brackets, no key twice in one mapping). go2rtc
// has the last word: a text it refuses anyway is quarantined (see
// Supervisor). Warnings name keys go2rtc does not know and keys lightnvr sets.
func CheckOverride(text string) OverrideCheck {
	c := &overrideChecker{}
	c.run(text)
	out := OverrideCheck{Valid: c.err == nil, Error: c.err, Warnings: c.warnings}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	return out
}

type mappingLevel struct {
	indent int
	path   string // the key path of the mapping, "" at the root
	keys   map[string]bool
}

type overrideChecker struct {
	err      *OverrideProblem
	warnings []string
	levels   []mappingLevel
	// pending is the path of the last key: a mapping opened below it is its value.
	pending string
	// block is the indentation a block scalar's lines must exceed (-1: none).
	block int
}

func (c *overrideChecker) fail(line, col int, format string, args ...any) {
	c.err = &OverrideProblem{Line: line, Column: col, Message: fmt.Sprintf(format, args...), ParseError: true}
}

func (c *overrideChecker) run(text string) {
	if len(text) > MaxOverrideBytes {
		c.fail(1, 1, "the override is larger than %d bytes", MaxOverrideBytes)
		return
	}
	if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		c.fail(1, 1, "the override is not UTF-8 text")
		return
	}
	c.block = -1
	for i, raw := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if c.line(i+1, raw); c.err != nil {
			return
		}
	}
}

func (c *overrideChecker) line(n int, raw string) {
	body := strings.TrimLeft(raw, " ")
	indent := len(raw) - len(body)
	if strings.TrimSpace(body) == "" {
		return
	}
	if c.block >= 0 && indent > c.block {
		return // inside a block scalar
	}
	c.block = -1
	if strings.HasPrefix(body, "\t") {
		c.fail(n, indent+1, "a tab in the indentation (YAML indents with spaces)")
		return
	}
	if strings.HasPrefix(body, "#") || (indent == 0 && (body == "---" || body == "...")) {
		return
	}
	content, col, msg := stripComment(body)
	if msg != "" {
		c.fail(n, indent+col+1, "%s", msg)
		return
	}
	if strings.HasPrefix(content, "- ") || content == "-" {
		c.item(n, indent, content)
		return
	}
	c.entry(n, indent, content)
}

// item is a list entry; a `- key: value` opens a mapping of its own.
func (c *overrideChecker) item(n, indent int, content string) {
	if indent == 0 && len(c.levels) == 0 {
		c.err = &OverrideProblem{Line: n, Column: 1, Message: "the root must be a mapping (key: value), not a list", NonMappingRoot: true}
		return
	}
	c.pop(indent)
	rest := strings.TrimLeft(strings.TrimPrefix(content, "-"), " ")
	if _, _, ok := splitKey(rest); !ok {
		return
	}
	inner := indent + len(content) - len(rest)
	c.levels = append(c.levels, mappingLevel{indent: inner, path: c.pending + "[]", keys: map[string]bool{}})
	c.entry(n, inner, rest)
}

// entry is a `key: value` or `key:` line, or a plain continuation line.
func (c *overrideChecker) entry(n, indent int, content string) {
	key, value, ok := splitKey(content)
	if !ok {
		if indent == 0 {
			c.err = &OverrideProblem{Line: n, Column: 1, Message: "the root must be a mapping (key: value)", NonMappingRoot: true}
		}
		return // a plain scalar continued from the line before
	}
	popped := c.pop(indent)
	top := c.top()
	if top == nil || top.indent < indent {
		if popped && top != nil {
			c.fail(n, indent+1, "the indentation matches no mapping above it")
			return
		}
		path := c.pending
		if top == nil {
			path = ""
		}
		c.levels = append(c.levels, mappingLevel{indent: indent, path: path, keys: map[string]bool{}})
		top = c.top()
	}
	if top.keys[key] {
		c.err = &OverrideProblem{Line: n, Column: indent + 1, Message: fmt.Sprintf("the key %q appears twice in one mapping", key),
			DuplicateKeys: []string{key}, ParseError: true}
		return
	}
	top.keys[key] = true
	c.pending = strings.TrimPrefix(top.path+"."+key, ".")
	c.warn(c.pending)
	if v := strings.TrimSpace(value); strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">") {
		c.block = indent
	}
}

// pop closes the mappings indented deeper than indent; it reports whether it closed any.
func (c *overrideChecker) pop(indent int) bool {
	n := len(c.levels)
	for len(c.levels) > 0 && c.levels[len(c.levels)-1].indent > indent {
		c.levels = c.levels[:len(c.levels)-1]
	}
	return len(c.levels) < n
}

func (c *overrideChecker) top() *mappingLevel {
	if len(c.levels) == 0 {
		return nil
	}
	return &c.levels[len(c.levels)-1]
}

func (c *overrideChecker) warn(path string) {
	module, rest, nested := strings.Cut(path, ".")
	switch {
	case !nested && !go2rtcModules[module]:
		c.warnings = append(c.warnings, fmt.Sprintf("%s: go2rtc has no such section and ignores it", path))
	case managedKeys[path] != "":
		c.warnings = append(c.warnings, fmt.Sprintf("%s: %s; do not set it here", path, managedKeys[path]))
	case module == "streams" && nested && !strings.Contains(rest, "."):
		c.warnings = append(c.warnings, fmt.Sprintf("%s: a stream defined here is go2rtc's own; lightnvr neither registers nor deletes a go2rtc stream of that name", path))
	}
}

// splitKey splits `key: value` (or `key:`); quoted keys are unquoted.
func splitKey(s string) (key, value string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if q := s[0]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 || !strings.HasPrefix(s[end+2:], ":") {
			return "", "", false
		}
		rest := s[end+3:]
		if rest != "" && rest[0] != ' ' {
			return "", "", false
		}
		return s[1 : end+1], rest, true
	}
	if s[0] == '[' || s[0] == '{' {
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ') {
			return strings.TrimSpace(s[:i]), s[i+1:], i > 0
		}
	}
	return "", "", false
}

// stripComment cuts a line's comment off and checks that its quoted
// scalars and flow brackets close on the line. A quote or bracket opens one
// only where a YAML token starts (after "key: ", "- ", "[", "{" or ","):
// inside a plain scalar (an exec: command line) it is text.
func stripComment(s string) (content string, col int, msg string) {
	var quote byte
	quoteAt, depth, depthAt := 0, 0, 0
	prev := byte(0) // the last non-space byte before i outside quotes
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if quote != 0 {
			switch {
			case quote == '"' && ch == '\\':
				i++
			case ch == quote && quote == '\'' && i+1 < len(s) && s[i+1] == '\'':
				i++
			case ch == quote:
				quote, prev = 0, ch
			}
			continue
		}
		tokenStart := i == 0 || s[i-1] == ' ' || strings.IndexByte("[{,", s[i-1]) >= 0
		startsValue := prev == 0 || strings.IndexByte(":-[{,?", prev) >= 0
		switch {
		case ch == '#' && (i == 0 || s[i-1] == ' '):
			s = strings.TrimRight(s[:i], " ")
			i = len(s)
			continue
		case (ch == '"' || ch == '\'') && tokenStart && startsValue:
			quote, quoteAt = ch, i
			continue
		case (ch == '[' || ch == '{') && (depth > 0 || tokenStart && startsValue):
			if depth == 0 {
				depthAt = i
			}
			depth++
		case (ch == ']' || ch == '}') && depth > 0:
			depth--
		}
		if ch != ' ' {
			prev = ch
		}
	}
	switch {
	case quote != 0:
		return s, quoteAt, "a quoted string is not closed on its line"
	case depth > 0:
		return s, depthAt, "a [ or { is not closed on its line"
	}
	return s, 0, ""
}
