package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
)

// layout is where things are in an INI text. ini.v1 gives values but no
// positions; this scanner follows the same syntax (with the load options in
// iniOptions) so that errors can name a line and Save can edit a value in
// place, leaving every other byte of the file as it was.
type layout struct {
	lines []string // each with its line ending
	bom   int      // length of a leading byte-order mark on lines[0]
	// keys maps section → key → its last occurrence (the one that wins).
	keys map[string]map[string]keyPos
	// tail maps section → index of the last line of its last occurrence that
	// is a header or part of a key, where new keys are appended after.
	tail map[string]int
	crlf bool
	// fragile is a last line `key = """` without a line ending (see append).
	fragile *keyPos
}

// keyPos locates one key = value.
type keyPos struct {
	line    int // 0-based index of the key's first line
	endLine int // last line of the value (> line for a multi-line quoted value)
	// [valStart, valEnd) is the raw value text in lines[line] (for a
	// multi-line value valEnd is the end of the line content and the value
	// continues to endLine).
	valStart, valEnd int
}

const defaultSection = "DEFAULT"

// scanError is a syntax error at a line (1-based).
type scanError struct {
	line int
	msg  string
}

func (e *scanError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

func splitLines(data []byte) []string {
	var out []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, string(data))
			break
		}
		out = append(out, string(data[:i+1]))
		data = data[i+1:]
	}
	return out
}

// content strips the line ending.
func content(l string) string {
	l = strings.TrimSuffix(l, "\n")
	return strings.TrimSuffix(l, "\r")
}

func scan(data []byte) (*layout, error) {
	ly := &layout{
		lines: splitLines(data),
		keys:  map[string]map[string]keyPos{},
		tail:  map[string]int{},
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		ly.bom = 3
	} else if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		ly.bom = 2
	}
	ly.crlf = len(ly.lines) > 0 && strings.HasSuffix(ly.lines[0], "\r\n")
	sec := defaultSection
	for i := 0; i < len(ly.lines); i++ {
		full := ly.lines[i]
		if i == 0 {
			full = full[ly.bom:]
		}
		// ini.v1 looks at each line with its line ending; so do we, then
		// drop the ending for the value text.
		l := strings.TrimLeftFunc(full, unicode.IsSpace)
		lead := len(ly.lines[i]) - len(l)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if l[0] == '[' {
			end := strings.LastIndexByte(l, ']')
			if end < 0 {
				return ly, &scanError{i + 1, "unclosed section header"}
			}
			sec = l[1:end]
			if sec == "" {
				return ly, &scanError{i + 1, "empty section name"}
			}
			ly.tail[sec] = i
			continue
		}
		name, off, err := keyName(l)
		if err != nil {
			return ly, &scanError{i + 1, err.Error()}
		}
		vs := lead + off // value text starts after the delimiter
		rest := content(l[off:])
		trimmed := strings.TrimLeftFunc(rest, unicode.IsSpace)
		vs += len(rest) - len(trimmed)
		pos := keyPos{line: i, endLine: i, valStart: vs}
		var q string
		switch {
		case strings.HasPrefix(trimmed, `"""`) && (len(trimmed) > 3 || hasEOL(ly.lines[i])):
			// ini.v1 tests the length with the line ending included.
			q = `"""`
		case trimmed != "" && trimmed[0] == '`':
			q = "`"
		case trimmed != "" && trimmed[0] == '"':
			q = `"`
		}
		switch {
		case q != "":
			if p := strings.LastIndex(trimmed[len(q):], q); p >= 0 {
				pos.valEnd = vs + len(q) + p + len(q)
				// ini.v1 ignores the rest of the line. Keep it on save only
				// if it reads as a comment; else it belongs to the value we
				// replace.
				after := ly.lines[i][pos.valEnd:len(content(ly.lines[i]))]
				if t := strings.TrimLeftFunc(after, unicode.IsSpace); t != "" && (len(t) == len(after) || (t[0] != ';' && t[0] != '#')) {
					pos.valEnd += len(after)
				}
				break
			}
			// ini.v1 reads on until a line holding the closing quote.
			j := i + 1
			for ; j < len(ly.lines); j++ {
				if strings.Contains(content(ly.lines[j]), q) {
					break
				}
			}
			if j == len(ly.lines) {
				return ly, &scanError{i + 1, "value quote " + q + " is never closed"}
			}
			pos.valEnd = len(content(ly.lines[i]))
			pos.endLine = j
			i = j
		default:
			v := strings.TrimRightFunc(trimmed, unicode.IsSpace)
			c := strings.Index(v, " #")
			if c < 0 {
				c = strings.Index(v, " ;")
			}
			if c >= 0 {
				v = strings.TrimRightFunc(v[:c], unicode.IsSpace)
			}
			pos.valEnd = vs + len(v)
		}
		if trimmed == `"""` && pos.endLine == pos.line && !hasEOL(ly.lines[pos.line]) {
			ly.fragile = &pos
		}
		if ly.keys[sec] == nil {
			ly.keys[sec] = map[string]keyPos{}
		}
		ly.keys[sec][name] = pos
		ly.tail[sec] = pos.endLine
	}
	return ly, nil
}

func hasEOL(l string) bool { return strings.HasSuffix(l, "\n") }

// keyName reads "key =" the way ini.v1 does (delimiters = and :, optional
// quoting of the name) and returns the name and the offset after the
// delimiter.
func keyName(l string) (string, int, error) {
	var q string
	switch l[0] {
	case '"':
		if len(l) > 6 && l[:3] == `"""` {
			q = `"""`
		} else {
			q = `"`
		}
	case '`':
		q = "`"
	}
	if q != "" {
		p := strings.Index(l[len(q):], q)
		if p < 0 {
			return "", 0, fmt.Errorf("key name quote %s is never closed", q)
		}
		p += len(q)
		d := strings.IndexAny(l[p+len(q):], "=:")
		if d < 0 {
			return "", 0, fmt.Errorf("expected key = value")
		}
		name := strings.TrimSpace(l[len(q):p])
		if name == "" {
			return "", 0, fmt.Errorf("empty key name")
		}
		return name, p + d + len(q) + 1, nil
	}
	d := strings.IndexAny(l, "=:")
	if d < 0 {
		return "", 0, fmt.Errorf("expected key = value")
	}
	name := strings.TrimSpace(l[:d])
	if name == "" {
		return "", 0, fmt.Errorf("empty key name")
	}
	return name, d + 1, nil
}

// lineOf returns the 1-based line of a key (0 if absent).
func (ly *layout) lineOf(section, key string) int {
	if p, ok := ly.keys[section][key]; ok {
		return p.line + 1
	}
	return 0
}

// rawValue is the value text of a single-line key as written in the file.
func (ly *layout) rawValue(section, key string) string {
	p, ok := ly.keys[section][key]
	if !ok || p.endLine != p.line {
		return ""
	}
	return ly.lines[p.line][p.valStart:p.valEnd]
}
