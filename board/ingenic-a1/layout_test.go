package ingenica1_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// checkMtdparts: the kernel learns the layout from mtdparts in the U-Boot env,
// so it must name the genimage partitions in order with their sizes (the last
// one as "-", the rest of the flash).
func checkMtdparts(t *testing.T, parts []partition, envFile string) {
	t.Helper()
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	var mtdparts string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "mtdparts="); ok {
			_, mtdparts, _ = strings.Cut(v, ":")
		}
	}
	if mtdparts == "" {
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
	if mtdparts != strings.Join(want, ",") {
		t.Errorf("%s: mtdparts %s, genimage says %s", envFile, mtdparts, strings.Join(want, ","))
	}
}

// mtdDevice is the kernel's name for the i-th partition of mtdparts.
func mtdDevice(i int) string { return fmt.Sprintf("mtd%d", i) }

// readLayout parses a genimage config (libconfuse syntax: sections
// `kind [title] { ... }`, `key = value` options) and returns the partitions of
// the flash image in order and the size of its flash type (pebsize × numpebs).
func readLayout(t *testing.T, path, image string) ([]partition, int64) {
	t.Helper()
	top := readGenimage(t, path)
	parts, img := imagePartitions(t, path, top, image)
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

func readGenimage(t *testing.T, path string) []*section {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	top, err := parseSections(tokenize(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return top
}

// imagePartitions returns the partitions of image in order (for a ubi image,
// its volumes, numbered in this order); one without a size (an autoresize
// volume) has size 0.
func imagePartitions(t *testing.T, path string, top []*section, image string) ([]partition, *section) {
	t.Helper()
	img := find(top, "image", image)
	if img == nil {
		t.Fatalf("%s: no image %s", path, image)
	}
	var parts []partition
	for _, s := range img.children {
		if s.kind != "partition" {
			continue
		}
		var size int64
		if v, ok := s.options["size"]; ok {
			var err error
			if size, err = parseSize(v); err != nil {
				t.Fatalf("%s: partition %s: %v", path, s.title, err)
			}
		}
		parts = append(parts, partition{name: s.title, image: s.options["image"], size: size})
	}
	return parts, img
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

// tokenize splits the config into words, quoted strings (unquoted here) and
// the punctuation { } =, dropping # comments.
func tokenize(text string) []string {
	var toks []string
	word := func(end int, start *int) {
		if *start >= 0 {
			toks = append(toks, text[*start:end])
			*start = -1
		}
	}
	start := -1
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"':
			word(i, &start)
			j := strings.IndexByte(text[i+1:], '"')
			if j < 0 {
				j = len(text) - i - 1
			}
			toks = append(toks, text[i+1:i+1+j])
			i += j + 1
		case c == '#':
			word(i, &start)
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '{' || c == '}' || c == '=':
			word(i, &start)
			toks = append(toks, string(c))
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			word(i, &start)
		case start < 0:
			start = i
		}
	}
	word(len(text), &start)
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
			s.options[key] = p.next()
		case "{":
			p.next()
			child, err := p.block(key, "")
			if err != nil {
				return s, err
			}
			s.children = append(s.children, child)
		default:
			title := p.next()
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
