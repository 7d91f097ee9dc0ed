// Package ingenica1_test checks the A1's 16 MiB NOR layout against the real
// firmware: the partitions in genimage-nor16m.cfg fill the flash exactly, the
// U-Boot env names the same partitions, and the squashfs images packed from
// the real mipsle binaries (bin/mipsle, `make mipsle go2rtc`), as Buildroot
// packs them, fit their partitions.
package ingenica1_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"lightnvr/pkg/testkit"
)

const (
	norBytes   = 16 << 20
	flashImage = "flash-nor16m.bin"
)

// partition is one `partition NAME { image = ... size = ... }` of the flash image.
type partition struct {
	name, image string
	size        int64
}

// TestNOR16MImagesFit builds rootfs.squashfs and app.squashfs the way the
// Buildroot NOR build does (post-build.sh splits lightnvr off with
// nor16m-app.sh; the compression is the defconfig's) and fails when an image
// outgrows the partition genimage would write it to.
func TestNOR16MImagesFit(t *testing.T) {
	root := testkit.RepoRoot(t)
	board := filepath.Join(root, "board", "ingenic-a1")
	parts, flashSize := readLayout(t, filepath.Join(board, "genimage-nor16m.cfg"))
	checkFillsFlash(t, parts, flashSize)
	checkMtdparts(t, parts, filepath.Join(board, "uboot", "uboot-env-nor.txt"))

	built := buildImages(t, root, board)
	t.Logf("16 MiB NOR, %d partitions:", len(parts))
	for _, p := range parts {
		got, ok := built[p.image]
		if !ok {
			t.Logf("  %-7s %6d KiB  %s (not built here)", p.name, p.size>>10, orEmpty(p.image))
			continue
		}
		t.Logf("  %-7s %6d KiB  %s %d KiB, %d KiB free", p.name, p.size>>10, p.image, got>>10, (p.size-got)>>10)
		if got > p.size {
			t.Errorf("%s is %d bytes, over the %d bytes of partition %s by %d", p.image, got, p.size, p.name, got-p.size)
		}
	}
	for image := range built {
		if !hasImage(parts, image) {
			t.Errorf("%s is built but no partition of %s holds it", image, flashImage)
		}
	}
}

func orEmpty(image string) string {
	if image == "" {
		return "(empty)"
	}
	return image
}

func hasImage(parts []partition, image string) bool {
	for _, p := range parts {
		if p.image == image {
			return true
		}
	}
	return false
}

// checkFillsFlash: the partitions add up to the flash, which is 16 MiB, and
// each starts on an erase block; both A/B slots are the same size.
func checkFillsFlash(t *testing.T, parts []partition, flashSize int64) {
	t.Helper()
	if flashSize != norBytes {
		t.Errorf("flash type is %d bytes, want 16 MiB (%d)", flashSize, norBytes)
	}
	var sum int64
	sizes := map[string]int64{}
	for _, p := range parts {
		sum += p.size
		sizes[p.name] = p.size
		if p.size <= 0 || p.size%(64<<10) != 0 {
			t.Errorf("partition %s: %d bytes is not a whole number of 64 KiB erase blocks", p.name, p.size)
		}
	}
	if sum != norBytes {
		t.Errorf("partitions of %s add up to %d bytes, want exactly 16 MiB (%d): %+v", flashImage, sum, norBytes, parts)
	}
	if sizes["app_a"] == 0 || sizes["app_a"] != sizes["app_b"] {
		t.Errorf("app slots: app_a %d bytes, app_b %d bytes, want two equal slots", sizes["app_a"], sizes["app_b"])
	}
}

// checkMtdparts: the kernel learns the layout from mtdparts in the U-Boot env,
// so it must name the genimage partitions in order with their sizes (the last
// one as "-", the rest of the flash).
func checkMtdparts(t *testing.T, parts []partition, envFile string) {
	t.Helper()
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^mtdparts=[^:]+:(.*)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s: no mtdparts", envFile)
	}
	var want []string
	for i, p := range parts {
		size := fmt.Sprintf("%dk", p.size>>10)
		if p.size%(1<<20) == 0 {
			size = fmt.Sprintf("%dm", p.size>>20)
		}
		if i == len(parts)-1 {
			size = "-"
		}
		want = append(want, size+"("+p.name+")")
	}
	if got := string(m[1]); got != strings.Join(want, ",") {
		t.Errorf("%s: mtdparts %s, genimage says %s", filepath.Base(envFile), got, strings.Join(want, ","))
	}
}

// buildImages assembles the firmware root from the real binaries, splits it
// for NOR and packs both images; it returns each image's size by file name.
func buildImages(t *testing.T, root, board string) map[string]int64 {
	t.Helper()
	for _, tool := range []string{"mksquashfs", "qemu-mipsel-static", "dpkg-deb", "file", "openssl"} {
		testkit.Need(t, tool)
	}
	for _, bin := range []string{"lightnvr", "go2rtc"} {
		if _, err := os.Stat(filepath.Join(root, "bin", "mipsle", bin)); err != nil {
			testkit.Missing(t, "bin/mipsle/"+bin+" is missing: run `make mipsle go2rtc`")
		}
	}
	dir := t.TempDir()
	rootfs, app := filepath.Join(dir, "rootfs"), filepath.Join(dir, "app")
	run(t, root, filepath.Join(root, "scripts", "firmware-rootfs.sh"), "ingenic-a1", rootfs,
		"bin/mipsle/lightnvr", "bin/mipsle/go2rtc", "nor16m-test")
	run(t, root, filepath.Join(board, "nor16m-app.sh"), rootfs, app)
	args := strings.Fields(run(t, root, filepath.Join(board, "squashfs-args.sh"),
		filepath.Join(root, "buildroot", "configs", "ingenic_a1_lightnvr_defconfig")))
	sizes := map[string]int64{}
	for image, tree := range map[string]string{"rootfs.squashfs": rootfs, "app.squashfs": app} {
		out := filepath.Join(dir, image)
		run(t, root, "mksquashfs", append([]string{tree, out, "-noappend", "-all-root", "-quiet", "-no-progress"}, args...)...)
		st, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		sizes[image] = st.Size()
	}
	t.Logf("packed with mksquashfs %s (the defconfig's rootfs compression)", strings.Join(args, " "))
	return sizes
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// readLayout parses a genimage config (libconfuse syntax: sections
// `kind [title] { ... }`, `key = value` options) and returns the partitions of
// flashImage in order and the size of its flash type (pebsize × numpebs).
func readLayout(t *testing.T, path string) ([]partition, int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	top, err := parseSections(tokenize(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	img := find(top, "image", flashImage)
	if img == nil {
		t.Fatalf("%s: no image %s", path, flashImage)
	}
	var parts []partition
	for _, s := range img.children {
		if s.kind != "partition" {
			continue
		}
		size, err := parseSize(s.options["size"])
		if err != nil {
			t.Fatalf("%s: partition %s: %v", path, s.title, err)
		}
		parts = append(parts, partition{name: s.title, image: s.options["image"], size: size})
	}
	flash := find(top, "flash", img.options["flashtype"])
	if flash == nil {
		t.Fatalf("%s: no flash %q", path, img.options["flashtype"])
	}
	peb, err1 := parseSize(flash.options["pebsize"])
	n, err2 := parseSize(flash.options["numpebs"])
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: flash %s: pebsize %v, numpebs %v", path, flash.title, err1, err2)
	}
	return parts, peb * n
}

type section struct {
	kind, title string
	options     map[string]string
	children    []*section
}

func find(list []*section, kind, title string) *section {
	for _, s := range list {
		if s.kind == kind && s.title == title {
			return s
		}
	}
	return nil
}

var tokenRe = regexp.MustCompile(`"[^"]*"|[{}=]|[^\s{}="]+`)

// tokenize splits the config into words, quoted strings (unquoted here) and
// the punctuation { } =, dropping # comments.
func tokenize(text string) []string {
	var toks []string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		toks = append(toks, tokenRe.FindAllString(line, -1)...)
	}
	return toks
}

// parseSections reads sections and options until the end or a closing brace.
func parseSections(toks []string) ([]*section, error) {
	p := &parser{toks: toks}
	top, err := p.body(&section{options: map[string]string{}})
	if err == nil && p.i < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.i])
	}
	return top.children, err
}

type parser struct {
	toks []string
	i    int
}

func (p *parser) next() string {
	if p.i >= len(p.toks) {
		return ""
	}
	p.i++
	return p.toks[p.i-1]
}

func (p *parser) peek() string {
	if p.i >= len(p.toks) {
		return ""
	}
	return p.toks[p.i]
}

func (p *parser) body(s *section) (*section, error) {
	for p.peek() != "" && p.peek() != "}" {
		key := p.next()
		switch p.peek() {
		case "=":
			p.next()
			s.options[key] = strings.Trim(p.next(), `"`)
		case "{":
			p.next()
			child, err := p.block(key, "")
			if err != nil {
				return s, err
			}
			s.children = append(s.children, child)
		default:
			title := strings.Trim(p.next(), `"`)
			if p.next() != "{" {
				return s, fmt.Errorf("section %s %s: want {", key, title)
			}
			child, err := p.block(key, title)
			if err != nil {
				return s, err
			}
			s.children = append(s.children, child)
		}
	}
	return s, nil
}

func (p *parser) block(kind, title string) (*section, error) {
	s, err := p.body(&section{kind: kind, title: title, options: map[string]string{}})
	if err != nil {
		return s, err
	}
	if p.next() != "}" {
		return s, fmt.Errorf("section %s %s: missing }", kind, title)
	}
	return s, nil
}

// parseSize reads genimage sizes: a number with an optional k/K, M or G suffix.
func parseSize(v string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "K"), strings.HasSuffix(v, "k"):
		mult, v = 1<<10, v[:len(v)-1]
	case strings.HasSuffix(v, "M"):
		mult, v = 1<<20, v[:len(v)-1]
	case strings.HasSuffix(v, "G"):
		mult, v = 1<<30, v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", v, err)
	}
	return n * mult, nil
}
