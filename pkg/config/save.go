package config

import (
	"errors"
	"fmt"
	"io/fs"
	"lightnvr/pkg/host"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"gopkg.in/ini.v1"
)

// Save writes the configuration to path ("" → the loaded file) by editing
// the file that is there now: only keys whose value differs are rewritten (in
// place, keeping the rest of their line), keys that are missing and not at
// their default are appended to their section, and everything else —
// comments, blank lines, order, unknown sections and keys — stays byte for
// byte. Keys set from the environment are left as the file has them, and
// [web] password is never written (it only seeds the first admin account).
// The write is atomic (temp file, fsync, rename, fsync dir) with mode 0600.
func (c *Config) Save(path string) error {
	if c.redacted {
		return errors.New("save config: refusing to save a redacted copy")
	}
	if path == "" {
		path = c.path
	}
	if path == "" {
		return errors.New("save config: no path")
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("save config %s: %w", path, err)
	}
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p // keep a symlinked config a symlink
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("save config: %w", err)
	}
	out, err := c.render(path, old)
	if err != nil {
		return fmt.Errorf("save config %s: %w", path, err)
	}
	if err := host.WriteFile(path, out, 0o600); err != nil {
		return fmt.Errorf("save config %s: %w", path, err)
	}
	return nil
}

// render applies c to the INI text old and returns the new text.
func (c *Config) render(name string, old []byte) ([]byte, error) {
	ly, err := scan(old)
	if err != nil {
		var se *scanError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s:%d: %s (not overwriting a file we cannot read)", name, se.line, se.msg)
		}
		return nil, err
	}
	f, err := ini.LoadSources(iniOptions, old)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (not overwriting a file we cannot read)", name, err)
	}
	def := Default()
	appends := map[string][]string{} // section → new lines
	for _, fd := range fields {
		if fd.id() == "web.password" {
			continue
		}
		cur := fd.format(c)
		if pin, ok := c.pinned[fd.id()]; ok && pin == cur {
			continue
		}
		// The name that wins in the file: the one on the latest line.
		name, pos, found := "", keyPos{}, false
		for _, n := range fd.names() {
			if p, ok := ly.keys[fd.section][n]; ok && (!found || p.line > pos.line) {
				name, pos, found = n, p, true
			}
		}
		if !found {
			if cur != fd.format(def) {
				appends[fd.section] = append(appends[fd.section], fd.key+" = "+encodeValue(cur))
			}
			continue
		}
		if v, err := fd.parse(f.Section(fd.section).Key(name).Value()); err == nil && reflect.DeepEqual(v.Interface(), fd.value(c).Interface()) {
			continue
		}
		ly.replace(pos, encodeValue(cur))
	}
	ly.append(appends)
	out := []byte(strings.Join(ly.lines, ""))
	if err := c.verify(name, f, out); err != nil {
		return nil, fmt.Errorf("%w (file left unchanged)", err)
	}
	return out, nil
}

// verify reads out back and checks that it holds c and every other key of
// the old file unchanged. INI quoting has corners; a save must never turn a
// working file into a different configuration.
func (c *Config) verify(name string, old *ini.File, out []byte) error {
	back := Default()
	if errs := back.parse(name, out); len(errs) > 0 {
		return fmt.Errorf("saved text would not read back: %w", errors.Join(errs...))
	}
	for _, fd := range fields {
		if _, pinned := c.pinned[fd.id()]; pinned || fd.id() == "web.password" {
			continue
		}
		if a, b := fd.format(back), fd.format(c); a != b {
			return fmt.Errorf("[%s] %s would read back as %q, not %q", fd.section, fd.key, a, b)
		}
	}
	nf, err := ini.LoadSources(iniOptions, out)
	if err != nil {
		return fmt.Errorf("saved text would not read back: %w", err)
	}
	for _, s := range old.Sections() {
		for _, k := range s.Keys() {
			if fd := lookupField(s.Name(), k.Name()); fd != nil && fd.id() != "web.password" {
				continue
			}
			ns, err := nf.GetSection(s.Name())
			if err != nil || !ns.HasKey(k.Name()) || ns.Key(k.Name()).Value() != k.Value() {
				return fmt.Errorf("[%s] %s would not be kept as it was", s.Name(), k.Name())
			}
		}
	}
	return nil
}

// replace puts enc where the value of pos is, keeping the key, the
// delimiter and any inline comment.
func (ly *layout) replace(pos keyPos, enc string) {
	l := ly.lines[pos.line]
	prefix, suffix := l[:pos.valStart], l[pos.valEnd:]
	if pos.endLine > pos.line {
		// a multi-line quoted value collapses to one line; ini.v1 ignores
		// whatever followed its closing quote
		end := ly.lines[pos.endLine]
		suffix = end[len(content(end)):]
		for i := pos.line + 1; i <= pos.endLine; i++ {
			ly.lines[i] = ""
		}
	}
	if enc == "" && strings.TrimSpace(content(suffix)) != "" {
		enc = `""` // an empty value before an inline comment must be quoted
	}
	if strings.HasPrefix(enc, `"`) && strings.Contains(content(suffix), `"`) {
		// ini.v1 would take the comment's quote for the closing one
		suffix = suffix[len(content(suffix)):]
	}
	if enc == "" {
		prefix = strings.TrimRight(prefix, " \t")
	} else if pos.valStart == pos.valEnd && !strings.HasSuffix(prefix, " ") {
		prefix += " "
	}
	ly.lines[pos.line] = prefix + enc + suffix
}

// append adds new keys at the end of their section, or new sections at the
// end of the file, in struct order.
func (ly *layout) append(add map[string][]string) {
	eol := "\n"
	if ly.crlf {
		eol = "\r\n"
	}
	if len(add) == 0 {
		return
	}
	if n := len(ly.lines); n > 0 && !strings.HasSuffix(ly.lines[n-1], "\n") {
		if ly.fragile != nil {
			// `key = """` on a last line without a newline reads as the
			// value "; with a newline it would open a multi-line value.
			ly.replace(*ly.fragile, encodeValue(`"`))
		}
		ly.lines[n-1] += eol
	}
	var inserts []struct {
		at   int
		text string
	}
	for _, sec := range sections {
		lines := add[sec]
		if len(lines) == 0 {
			continue
		}
		text := strings.Join(lines, eol) + eol
		if at, ok := ly.tail[sec]; ok {
			inserts = append(inserts, struct {
				at   int
				text string
			}{at, text})
			continue
		}
		head := "[" + sec + "]" + eol
		if n := len(ly.lines); n > 0 && strings.TrimSpace(ly.lines[n-1]) != "" {
			head = eol + head
		}
		ly.lines = append(ly.lines, head+text)
	}
	// Attach to the line after which they go; joining keeps indexes stable.
	sort.SliceStable(inserts, func(i, j int) bool { return inserts[i].at < inserts[j].at })
	for _, in := range inserts {
		ly.lines[in.at] += in.text
	}
}

// encodeValue writes v so that our reader gives v back: plain when that is
// unambiguous, else in double quotes with " escaped.
func encodeValue(v string) string {
	if v == "" {
		return ""
	}
	plain := strings.TrimFunc(v, unicode.IsSpace) == v &&
		!strings.ContainsAny(v[:1], "\"'`") &&
		!strings.ContainsAny(v[len(v)-1:], "\"'`") &&
		!strings.Contains(v, " #") && !strings.Contains(v, " ;") &&
		!strings.HasPrefix(v, "#") && !strings.HasPrefix(v, ";")
	if plain {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
}
