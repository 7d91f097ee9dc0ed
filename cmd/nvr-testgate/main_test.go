package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run feeds test2json lines to gate and returns its result and output.
func run(t *testing.T, list []*allowed, lines ...string) (*result, string, error) {
	t.Helper()
	var out strings.Builder
	r, err := gate(strings.NewReader(strings.Join(lines, "\n")), &out, list)
	return r, out.String(), err
}

const (
	passA   = `{"Action":"pass","Package":"p/a","Test":"TestA"}`
	skipB   = `{"Action":"skip","Package":"p/a","Test":"TestB"}`
	skipOut = `{"Action":"output","Package":"p/a","Test":"TestB","Output":"    b_test.go:9: cannot mount a tmpfs\n"}`
	pkgOK   = `{"Action":"output","Package":"p/a","Output":"ok  \tp/a\t0.1s\n"}`
)

func TestSkipNotAllowedFailsTheRun(t *testing.T) {
	r, out, err := run(t, nil, passA, skipOut, skipB, pkgOK)
	if err != nil {
		t.Fatal(err)
	}
	if r.ok() {
		t.Fatal("a skip outside the allowlist passed the run")
	}
	for _, want := range []string{"SKIPPED p/a TestB", "cannot mount a tmpfs", "ok  \tp/a", "gotest: 1 passed, 0 failed, 1 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestAllowedSkipPasses(t *testing.T) {
	list := []*allowed{{pkg: "p/a", test: "TestB", reason: "needs the qemu images"}}
	r, out, err := run(t, list, passA, skipOut, skipB)
	if err != nil || !r.ok() {
		t.Fatalf("allowed skip failed the run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "allowed: needs the qemu images") {
		t.Errorf("the allowed skip is not reported with its reason:\n%s", out)
	}
}

func TestSubtestWildcard(t *testing.T) {
	list := []*allowed{{pkg: "p/a", test: "TestB/*", reason: "r"}}
	sub := `{"Action":"skip","Package":"p/a","Test":"TestB/one"}`
	other := `{"Action":"skip","Package":"p/a","Test":"TestBB"}`
	if r, out, _ := run(t, list, passA, sub); !r.ok() {
		t.Errorf("subtest not matched by TestB/*:\n%s", out)
	}
	if r, _, _ := run(t, list, passA, other); r.ok() {
		t.Error("TestB/* matched TestBB")
	}
}

func TestFailuresAndBrokenPackages(t *testing.T) {
	fail := []string{
		`{"Action":"output","Package":"p/a","Test":"TestA","Output":"    a_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"p/a","Test":"TestA"}`,
		`{"Action":"fail","Package":"p/a"}`,
	}
	r, out, _ := run(t, nil, fail...)
	if r.ok() || r.failed != 1 || !strings.Contains(out, "boom") || len(r.failedPkgs) != 0 {
		t.Errorf("failed test: %+v\n%s", r, out)
	}
	build := []string{
		`{"ImportPath":"p/b","Action":"build-output","Output":"b.go:1: syntax error\n"}`,
		`{"Action":"fail","Package":"p/b"}`,
		passA,
	}
	r, out, _ = run(t, nil, build...)
	if r.ok() || !strings.Contains(out, "syntax error") || !strings.Contains(out, "FAILED PACKAGE") {
		t.Errorf("build failure: %+v\n%s", r, out)
	}
}

func TestNoTestIsAnError(t *testing.T) {
	if _, _, err := run(t, nil, `{"Action":"output","Package":"p/a","Output":"?   \tp/a\t[no test files]\n"}`); err == nil {
		t.Error("a run without tests was accepted")
	}
}

func TestAllowlistNeedsAReason(t *testing.T) {
	p := filepath.Join(t.TempDir(), "allow")
	if err := os.WriteFile(p, []byte("# comment\n\np/a TestB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readAllowlist(p); err == nil {
		t.Error("an entry without a reason was accepted")
	}
	if err := os.WriteFile(p, []byte("p/a TestB needs qemu images\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := readAllowlist(p)
	if err != nil || len(list) != 1 || list[0].reason != "needs qemu images" {
		t.Errorf("%v %+v", err, list)
	}
}
