package go2rtc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The override file is the machine admin's: a stream it defines is theirs,
// with whatever source they need (an exec: pipeline, #raw arguments), which
// the API never accepts. lightnvr neither registers a stream of that name nor
// deletes one: go2rtc keeps the override's definition, and a database stream
// of the same name records what that pipeline delivers.

// OverrideStreams returns the names of the streams ConfigDir/override.yaml
// defines; none when there is no such file.
func (s Settings) OverrideStreams() (map[string]bool, error) {
	if s.ConfigDir == "" {
		return nil, nil
	}
	path := filepath.Join(s.ConfigDir, OverrideFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read go2rtc override %s: %w", path, err)
	}
	names := map[string]bool{}
	for _, n := range OverrideStreamNames(data) {
		names[n] = true
	}
	return names, nil
}

// OverrideStreamNames lists the keys of the top-level `streams:` map of a
// go2rtc YAML file. It reads the block style go2rtc's own files use (one key
// a line, indented under `streams:`), and the flow style `streams: {a: …}` is
// not read: a name it misses is only managed by lightnvr as usual.
func OverrideStreamNames(yaml []byte) []string {
	var names []string
	in := false
	indent := -1
	sc := bufio.NewScanner(bytes.NewReader(yaml))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		body := strings.TrimLeft(line, " ")
		if body == "" || strings.HasPrefix(body, "#") {
			continue
		}
		depth := len(line) - len(body)
		if depth == 0 {
			in = strings.HasPrefix(body, "streams:")
			indent = -1
			continue
		}
		if !in {
			continue
		}
		if indent < 0 {
			indent = depth
		}
		if depth != indent || strings.HasPrefix(body, "- ") {
			continue
		}
		if name, ok := yamlKey(body); ok {
			names = append(names, name)
		}
	}
	return names
}

// yamlKey returns the key of a `key: value` or `key:` line, unquoted.
func yamlKey(s string) (string, bool) {
	if q := s[0]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 || !strings.HasPrefix(s[end+2:], ":") {
			return "", false
		}
		return s[1 : end+1], true
	}
	i := strings.Index(s, ":")
	if i <= 0 || (i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\t') {
		return "", false
	}
	return strings.TrimSpace(s[:i]), true
}
