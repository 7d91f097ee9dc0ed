// Command nvr-testgate reads `go test -json` on standard input and decides
// whether the run counts: every failed test fails it, and so does every
// skipped test that is not on the allowlist. A skip is how a test says it could
// not run (a missing tool, a refused mount); unnoticed, it turns a suite that
// proved nothing into a green `ok`.
//
// It prints each package's result line, the whole output of failed tests and
// of skipped ones, and a last line "gotest: N passed, N failed, N skipped".
//
// The allowlist has one skip a line, "package-path TestName reason…"; the test
// name may be a subtest path and a trailing "/*" takes every subtest. Blank
// lines and lines starting with '#' are ignored. A line without a reason is an
// error: an allowed skip must say why it is allowed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// allowed is one allowlist entry.
type allowed struct {
	pkg, test, reason string
	used              bool
}

func main() {
	allowFile := flag.String("allow", "", "allowlist of skips that do not fail the run")
	flag.Parse()
	var list []*allowed
	if *allowFile != "" {
		var err error
		if list, err = readAllowlist(*allowFile); err != nil {
			fmt.Fprintln(os.Stderr, "nvr-testgate:", err)
			os.Exit(2)
		}
	}
	r, err := gate(os.Stdin, os.Stdout, list)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nvr-testgate:", err)
		os.Exit(2)
	}
	if !r.ok() {
		os.Exit(1)
	}
}

func readAllowlist(path string) ([]*allowed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read allowlist: %w", err)
	}
	var out []*allowed
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("%s:%d: want \"package TestName reason\", got %q", path, i+1, line)
		}
		out = append(out, &allowed{pkg: f[0], test: f[1], reason: strings.Join(f[2:], " ")})
	}
	return out, nil
}

func (a *allowed) matches(pkg, test string) bool {
	if a.pkg != pkg {
		return false
	}
	if p, ok := strings.CutSuffix(a.test, "/*"); ok {
		return test == p || strings.HasPrefix(test, p+"/")
	}
	return a.test == test
}

// result counts tests (subtests included) and remembers what sinks the run.
type result struct {
	passed, failed, skipped int
	// badSkips are skips not on the allowlist, as "package Test".
	badSkips []string
	// failedPkgs are packages that failed without a failing test (build
	// errors, a panic in TestMain, a timeout).
	failedPkgs []string
	// ran are the packages the run covered, so an allowlist entry for a
	// package left out of this run is not called stale.
	ran map[string]bool
}

func (r *result) ok() bool {
	return r.failed == 0 && len(r.badSkips) == 0 && len(r.failedPkgs) == 0
}

func gate(in io.Reader, out io.Writer, list []*allowed) (*result, error) {
	r := &result{ran: map[string]bool{}}
	// Output is kept per test until it ends, so only failures and skips print.
	buf := map[string]*strings.Builder{}
	testFailedIn := map[string]bool{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Build errors and other lines the go command prints itself.
			fmt.Fprintln(out, string(line))
			continue
		}
		if e.Package != "" {
			r.ran[e.Package] = true
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "output":
			if e.Test == "" {
				if printPackageLine(e.Output) {
					fmt.Fprint(out, e.Output)
				}
				continue
			}
			b := buf[key]
			if b == nil {
				b = &strings.Builder{}
				buf[key] = b
			}
			b.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" && !testFailedIn[e.Package] {
					r.failedPkgs = append(r.failedPkgs, e.Package)
				}
				continue
			}
			text := ""
			if b := buf[key]; b != nil {
				text = b.String()
				delete(buf, key)
			}
			switch e.Action {
			case "pass":
				r.passed++
			case "fail":
				r.failed++
				testFailedIn[e.Package] = true
				fmt.Fprint(out, text)
			case "skip":
				r.skipped++
				if a := findAllowed(list, e.Package, e.Test); a != nil {
					a.used = true
					fmt.Fprintf(out, "--- SKIP (allowed: %s): %s %s\n", a.reason, e.Package, e.Test)
					continue
				}
				r.badSkips = append(r.badSkips, key)
				fmt.Fprint(out, text)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return r, fmt.Errorf("read go test output: %w", err)
	}
	report(out, r, list)
	if r.passed+r.failed == 0 && r.ok() {
		return r, errors.New("no test ran")
	}
	return r, nil
}

func findAllowed(list []*allowed, pkg, test string) *allowed {
	for _, a := range list {
		if a.matches(pkg, test) {
			return a
		}
	}
	return nil
}

// printPackageLine keeps the go command's per-package summary ("ok  pkg 1.2s",
// "FAIL pkg", "?  pkg [no test files]") and panics or timeouts reported
// outside any test; the rest of package-level output is test framework noise.
func printPackageLine(s string) bool {
	return !strings.HasPrefix(s, "PASS") && !strings.HasPrefix(s, "=== ") && strings.TrimSpace(s) != ""
}

func report(out io.Writer, r *result, list []*allowed) {
	sort.Strings(r.badSkips)
	if len(r.badSkips) > 0 {
		fmt.Fprintln(out, "\nThese tests were skipped: each one could not run, so what it checks was not checked.")
		fmt.Fprintln(out, "Install what they need, or add them to the allowlist with the reason:")
		for _, s := range r.badSkips {
			fmt.Fprintln(out, "  SKIPPED", s)
		}
	}
	for _, p := range r.failedPkgs {
		fmt.Fprintln(out, "FAILED PACKAGE (no single test failed: build error, panic or timeout):", p)
	}
	for _, a := range list {
		if !a.used && r.ran[a.pkg] {
			fmt.Fprintf(out, "note: allowed skip %s %s did not happen; the allowlist may be stale\n", a.pkg, a.test)
		}
	}
	fmt.Fprintf(out, "gotest: %d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
}
