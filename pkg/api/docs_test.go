package api

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"lightnvr/pkg/config"
)

// docHeading is how docs/api.md documents an endpoint: a heading holding
// "METHOD /path/{param}" and its access level in brackets.
var docHeading = regexp.MustCompile("^#{2,4} `?(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (/[^ `]*)`?(?: +\\[([a-z]+)\\])?")

// TestDocsListEveryRoute fails when docs/api.md and the route table differ:
// a served route without its heading, a heading for a route we do not serve,
// or a documented access level that is not the registered one.
func TestDocsListEveryRoute(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // "METHOD /path" → access
	for line := range strings.SplitSeq(string(b), "\n") {
		m := docHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := m[1] + " " + m[2]
		if _, dup := documented[key]; dup {
			t.Errorf("docs/api.md documents %s twice", key)
		}
		documented[key] = m[3]
	}
	srv, err := New(Deps{Config: config.Default()})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	var missing []string
	for _, r := range srv.Routes() {
		key := r.Method + " " + r.Pattern
		served[key] = true
		access, ok := documented[key]
		if !ok {
			missing = append(missing, key+" ["+r.Access.String()+"]")
			continue
		}
		if access != r.Access.String() {
			t.Errorf("docs/api.md: %s is documented as [%s], served as [%s]", key, access, r.Access)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("docs/api.md lacks a heading for the served route %s", m)
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("docs/api.md documents %s, which is not served", key)
		}
	}
}
