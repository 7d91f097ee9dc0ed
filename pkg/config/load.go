package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/ini.v1"
)

// SearchPaths is where Load looks when given no path, in order; the first
// readable file wins (LightNVR's order).
var SearchPaths = []string{
	"./lightnvr.ini",
	"/etc/lightnvr/lightnvr.ini",
	"./config/lightnvr.ini",
}

// EnvPrefix starts every environment override.
const EnvPrefix = "LIGHTNVR_"

// iniOptions is the syntax we read: inline comments need a space before ;
// or # (like inih, so "a=b;c" keeps its ;), "quoted" values may contain
// anything, and a trailing backslash is part of the value, not a
// continuation (inih has none, and Windows-style paths end in one).
var iniOptions = ini.LoadOptions{
	IgnoreContinuation:        true,
	SpaceBeforeInlineComment:  true,
	UnescapeValueDoubleQuotes: true,
}

// origin is where a value came from.
type origin struct {
	file string
	line int    // 1-based, 0 if unknown
	env  string // variable name when set from the environment
}

func (o origin) String() string {
	switch {
	case o.env != "":
		return o.env
	case o.line > 0:
		return fmt.Sprintf("%s:%d", o.file, o.line)
	case o.file != "":
		return o.file
	}
	return ""
}

// Load reads the configuration from path, or when path is "" from the first
// readable file of SearchPaths (none → defaults). Environment overrides are
// applied on top, then the result is validated. All problems are reported
// together (errors.Join); on error the returned *Config is nil.
func Load(path string) (*Config, error) {
	return load(path, SearchPaths, os.Environ())
}

func load(path string, search []string, environ []string) (*Config, error) {
	c := Default()
	var errs []error
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		data = b
	} else {
		for _, p := range search {
			if b, err := os.ReadFile(p); err == nil {
				path, data = p, b
				break
			}
		}
	}
	if path != "" {
		c.path = path
		errs = append(errs, c.parse(path, data)...)
	}
	errs = append(errs, c.applyEnv(environ)...)
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse reads INI text as if it were the file name (used for messages); no
// environment is applied. It exists for tools and tests that hold the text
// in memory.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	c.path = name
	errs := c.parse(name, data)
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

var streamSection = regexp.MustCompile(`^stream(\.|$)`)

// parse applies the INI text to c, returning every syntax and type error.
func (c *Config) parse(name string, data []byte) []error {
	ly, serr := scan(data)
	if serr != nil {
		var se *scanError
		if errors.As(serr, &se) {
			return []error{fmt.Errorf("%s:%d: %s", name, se.line, se.msg)}
		}
		return []error{fmt.Errorf("%s: %w", name, serr)}
	}
	f, err := ini.LoadSources(iniOptions, data)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", name, err)}
	}
	var errs []error
	for _, s := range f.Sections() {
		sec := s.Name()
		known := bySection[sec] != nil
		if !known {
			switch {
			case sec == defaultSection:
				for _, k := range s.Keys() {
					c.warn("%s:%d: %s: key outside any section ignored", name, ly.lineOf(sec, k.Name()), k.Name())
				}
			case streamSection.MatchString(sec):
				c.warn("%s: [%s]: ignored: streams are configured in the database", name, sec)
			default:
				c.warn("%s: [%s]: unknown section (kept on save)", name, sec)
			}
			continue
		}
		// A key given under two names (key and alias): the later line wins,
		// as it would in inih.
		keys := s.Keys()
		sort.SliceStable(keys, func(i, j int) bool {
			return ly.lineOf(sec, keys[i].Name()) < ly.lineOf(sec, keys[j].Name())
		})
		for _, k := range keys {
			line := ly.lineOf(sec, k.Name())
			fd := lookupField(sec, k.Name())
			if fd == nil {
				c.warn("%s:%d: [%s] %s: unknown key (kept on save)", name, line, sec, k.Name())
				continue
			}
			if err := fd.set(c, k.Value()); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: [%s] %s: %w", name, line, sec, k.Name(), err))
				continue
			}
			c.setOrigin(fd, origin{file: name, line: line})
			if raw := ly.rawValue(sec, k.Name()); strings.HasPrefix(raw, ";") || strings.HasPrefix(raw, "#") {
				// inih reads it the same way; say so, it is rarely meant
				c.warn("%s:%d: [%s] %s: value %q starts with a comment sign; a comment needs a value (or \"\") before it", name, line, sec, k.Name(), k.Value())
			}
		}
	}
	return errs
}

func (c *Config) warn(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

func (c *Config) setOrigin(f *field, o origin) {
	if c.origin == nil {
		c.origin = map[string]origin{}
	}
	c.origin[f.id()] = o
}

// envNames maps every accepted variable name (without the prefix) to its
// field: LightNVR's historical names and SECTION_KEY for every key and alias.
// Built by init (after the field table).
var envNames map[string]*field

func buildEnvNames() map[string]*field {
	m := map[string]*field{}
	add := func(n string, f *field) {
		if g, dup := m[n]; dup && g != f {
			panic("config: environment name " + n + " is ambiguous")
		}
		m[n] = f
	}
	for _, f := range fields {
		for _, k := range f.names() {
			add(f.genericEnv(k), f)
		}
		for _, e := range f.env {
			add(e, f)
		}
	}
	return m
}

// applyEnv applies LIGHTNVR_* variables. They win over the file: on an
// appliance or in a container the environment is the operator's last word.
// Empty variables count as unset.
func (c *Config) applyEnv(environ []string) []error {
	type hit struct{ name, val string }
	byField := map[*field][]hit{}
	var names []string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) || v == "" {
			continue
		}
		f := envNames[strings.TrimPrefix(k, EnvPrefix)]
		if f == nil {
			c.warn("%s: unknown configuration variable ignored", k)
			continue
		}
		byField[f] = append(byField[f], hit{k, v})
	}
	var errs []error
	for _, f := range fields {
		hits := byField[f]
		if len(hits) == 0 {
			continue
		}
		sort.Slice(hits, func(i, j int) bool { return hits[i].name < hits[j].name })
		names = names[:0]
		for _, h := range hits {
			names = append(names, h.name)
		}
		first := hits[0]
		conflict := slices.ContainsFunc(hits[1:], func(h hit) bool { return h.val != first.val })
		if conflict {
			errs = append(errs, fmt.Errorf("%s: [%s] %s: conflicting values", strings.Join(names, ", "), f.section, f.key))
			continue
		}
		if err := f.set(c, first.val); err != nil {
			errs = append(errs, fmt.Errorf("%s: [%s] %s: %w", first.name, f.section, f.key, err))
			continue
		}
		c.setOrigin(f, origin{env: first.name})
		if c.pinned == nil {
			c.pinned = map[string]string{}
		}
		c.pinned[f.id()] = f.format(c)
	}
	return errs
}
