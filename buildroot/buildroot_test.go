// Package buildroot_test checks the external tree against Buildroot itself:
// the release kept beside the repository (../shared/tools) configures every
// defconfig and evaluates our package .mk files. Nothing is downloaded or
// built, so the check runs without network.
package buildroot_test

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"lightnvr/pkg/testkit"
)

const release = "buildroot-2026.05.1"

// TestDefconfigsAcceptedByBuildroot runs, for every defconfig, what a
// developer runs first: `make <name>_defconfig`, then `make <pkg>-show-info`
// for our two packages. Buildroot evaluates every enabled package's .mk on
// the second step, so a half-configured option (such as a U-Boot env image
// without its size) fails here, not on the first real build.
func TestDefconfigsAcceptedByBuildroot(t *testing.T) {
	root := testkit.RepoRoot(t)
	src := unpackRelease(t, root)
	defconfigs, err := filepath.Glob(filepath.Join(root, "buildroot", "configs", "*_defconfig"))
	if err != nil || len(defconfigs) == 0 {
		t.Fatalf("no defconfigs under buildroot/configs (%v)", err)
	}
	for _, path := range defconfigs {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, "_defconfig"), func(t *testing.T) {
			out := t.TempDir()
			brMake(t, src, "O="+out, "BR2_EXTERNAL="+filepath.Join(root, "buildroot"), name)
			checkKept(t, path, filepath.Join(out, ".config"))
			checkReferencedFiles(t, root, path)
			for _, pkg := range []string{"lightnvr", "go2rtc"} {
				checkShowInfo(t, brMake(t, src, "O="+out, pkg+"-show-info"), pkg)
			}
			checkOTAKeys(t, src, out, path)
			checkHostTools(t, src, out)
		})
	}
}

// unpackRelease unpacks the Buildroot release once for the whole test.
func unpackRelease(t *testing.T, root string) string {
	t.Helper()
	archive := filepath.Join(root, "..", "shared", "tools", release+".tar.xz")
	if _, err := os.Stat(archive); err != nil {
		testkit.Missing(t, "the Buildroot release is missing: "+err.Error())
	}
	for _, tool := range []string{"tar", "xz", "make", "gcc"} {
		testkit.Need(t, tool)
	}
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xJf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", archive, err, out)
	}
	return filepath.Join(dir, release)
}

// brMake runs make in the Buildroot tree and returns its standard output.
func brMake(t *testing.T, src string, args ...string) string {
	t.Helper()
	cmd := brCommand(src, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// brCommand prepares make in the Buildroot tree. The caller's make variables
// (MAKEFLAGS when run from `make test`) are dropped: they would override
// Buildroot's own.
func brCommand(src string, args ...string) *exec.Cmd {
	cmd := exec.Command("make", append([]string{"-s", "-C", src}, args...)...)
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// checkKept fails for every defconfig line Kconfig dropped: an unknown
// symbol, or one whose dependencies are not met (Buildroot drops both
// silently).
func checkKept(t *testing.T, defconfig, config string) {
	t.Helper()
	have := map[string]bool{}
	for _, line := range readLines(t, config) {
		have[line] = true
	}
	for _, line := range readLines(t, defconfig) {
		if line == "" || (strings.HasPrefix(line, "#") && !strings.HasSuffix(line, " is not set")) {
			continue
		}
		if !have[line] {
			t.Errorf("%s: %q is not in the resulting .config (unknown symbol or unmet dependency)", filepath.Base(defconfig), line)
		}
	}
}

var externalPath = regexp.MustCompile(`\$\(BR2_EXTERNAL_NVR_PATH\)/\.\./([^" ]+)`)

// checkReferencedFiles fails when a defconfig names a repository file that
// does not exist. dl/ holds the vendor sources a builder provides, build/
// what the repository's own make creates (the development OTA key).
func checkReferencedFiles(t *testing.T, root, defconfig string) {
	t.Helper()
	for _, line := range readLines(t, defconfig) {
		for _, m := range externalPath.FindAllStringSubmatch(line, -1) {
			if strings.HasPrefix(m[1], "dl/") || strings.HasPrefix(m[1], "build/") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
				t.Errorf("%s names %s: %v", filepath.Base(defconfig), m[1], err)
			}
		}
	}
}

// checkShowInfo checks that Buildroot knows the package as a target package.
func checkShowInfo(t *testing.T, out, pkg string) {
	t.Helper()
	var info map[string]struct {
		Type    string `json:"type"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("%s-show-info: not JSON: %v\n%s", pkg, err, out)
	}
	if p, ok := info[pkg]; !ok || p.Type != "target" || p.Version == "" {
		t.Errorf("%s-show-info: want a target package with a version, got %s", pkg, out)
	}
}

// checkOTAKeys checks that the OTA public key option reaches the package: the
// defconfig names a key list, and the list's keys are what the package links
// into lightnvr (LIGHTNVR_LDFLAGS, as Buildroot itself evaluates it).
func checkOTAKeys(t *testing.T, src, out, defconfig string) {
	t.Helper()
	const option = "BR2_PACKAGE_LIGHTNVR_OTA_PUBKEYS="
	named := false
	for _, line := range readLines(t, defconfig) {
		named = named || (strings.HasPrefix(line, option) && line != option+`""`)
	}
	if !named {
		t.Errorf("%s names no OTA key list (%s): its image would refuse every update", filepath.Base(defconfig), option)
	}
	var keys []string
	for range 2 {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, base64.StdEncoding.EncodeToString(pub))
	}
	file := filepath.Join(t.TempDir(), "ota-keys")
	if err := os.WriteFile(file, []byte(strings.Join(keys, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := brMake(t, src, "O="+out, "printvars", "VARS=LIGHTNVR_LDFLAGS", option+file)
	if want := "-X lightnvr/pkg/ota.bakedKeys=" + strings.Join(keys, ","); !strings.Contains(vars, want) {
		t.Errorf("with %s%s, want %q in the package's link flags, got:\n%s", option, file, want, vars)
	}
}

// checkHostTools runs Buildroot's own check of the build machine's tools, the
// ones a real build needs (CI installs them; elsewhere a gap skips).
func checkHostTools(t *testing.T, src, out string) {
	t.Helper()
	if msg, err := brCommand(src, "O="+out, "dependencies").CombinedOutput(); err != nil {
		testkit.Missing(t, "Buildroot's host tool check failed: "+strings.TrimSpace(string(msg)))
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return lines
}

// TestKernelPagesFitTheLinkAlignment keeps the appliance binary loadable:
// it is linked with segments aligned to fewer bytes than Go's mips default
// (scripts/mipsle-buildflags.sh), which only works on a kernel whose page
// size divides that alignment. Every kernel fragment we ship must pin such a
// page size rather than inherit whatever its base config picks.
func TestKernelPagesFitTheLinkAlignment(t *testing.T) {
	root := testkit.RepoRoot(t)
	out, err := exec.Command("sh", filepath.Join(root, "scripts", "mipsle-buildflags.sh"), "ld").Output()
	if err != nil {
		t.Fatalf("mipsle linker flags: %v", err)
	}
	m := regexp.MustCompile(`-R (0x[0-9a-fA-F]+|[0-9]+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("the mipsle linker flags %q set no segment alignment (-R)", out)
	}
	align, err := strconv.ParseInt(m[1], 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	fragments, err := filepath.Glob(filepath.Join(root, "board", "*", "linux*.fragment"))
	if err != nil || len(fragments) == 0 {
		t.Fatalf("no kernel fragments under board/ (%v)", err)
	}
	page := regexp.MustCompile(`^CONFIG_PAGE_SIZE_([0-9]+)KB=y$`)
	for _, f := range fragments {
		var size int64
		for _, line := range readLines(t, f) {
			if m := page.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				size, _ = strconv.ParseInt(m[1], 10, 64)
				size *= 1024
			}
		}
		if size == 0 || align%size != 0 {
			t.Errorf("%s: kernel page size %d bytes does not divide the binary's segment alignment %d (pin CONFIG_PAGE_SIZE_4KB=y)", f, size, align)
		}
	}
}
