package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocsListEveryKey keeps docs/config.md, the page of every key, in step
// with the struct: each section heading lists exactly its keys and aliases.
func TestDocsListEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`^### \[([a-z0-9_]+)\]`)
	row := regexp.MustCompile("^\\| `([a-z0-9_]+)`(?: \\(also `([a-z0-9_]+)`\\))? \\|")
	documented := map[string]bool{}
	sec := ""
	for line := range strings.SplitSeq(string(b), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			sec = m[1]
			continue
		}
		if strings.HasPrefix(line, "## ") {
			sec = ""
		}
		if m := row.FindStringSubmatch(line); m != nil && sec != "" {
			for _, k := range m[1:] {
				if k != "" {
					documented[sec+"."+k] = true
				}
			}
		}
	}
	var want []string
	for _, f := range fields {
		for _, n := range f.names() {
			want = append(want, f.section+"."+n)
		}
	}
	for _, k := range want {
		if !documented[k] {
			t.Errorf("docs/config.md does not document %s", k)
		}
	}
	for k := range documented {
		if !slices.Contains(want, k) {
			t.Errorf("docs/config.md documents %s, which the code does not know", k)
		}
	}
}
