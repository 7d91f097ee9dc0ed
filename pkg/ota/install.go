package ota

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Env variables this package reads and writes; bootslot, upgrade_available,
// bootcount and bootlimit are shared with U-Boot's bootcmd (docs/ota.md).
const (
	varBootSlot  = "bootslot"
	varUpgrade   = "upgrade_available"
	varBootCount = "bootcount"
	varBootLimit = "bootlimit"
	varTarget    = "ota_target"
	varVersion   = "ota_version_" // + slot
	varFloor     = "ota_floor_"   // + slot
)

// System is one device's A/B layout: where the env lives and which partition
// holds each image target in each slot.
type System struct {
	Board string
	Env   *EnvStore
	// Slots maps "a" and "b" to target name → partition path.
	Slots map[string]map[string]string
	// KeysFile holds the rotated key list; "" keeps the built-in keys only.
	KeysFile string
	// CmdlineFile is read for lightnvr.slot=, the slot the kernel was booted
	// from; "" means /proc/cmdline. Without it the env's bootslot is used.
	CmdlineFile string
	// Progress, when set, is told how many image bytes are written so far.
	Progress func(written, total int64)
}

func otherSlot(s string) string {
	if s == "a" {
		return "b"
	}
	return "a"
}

// RunningSlot is the slot this system booted from, and whether the kernel
// command line said so; otherwise it is the env's bootslot, which an update
// installed but not yet booted has already changed.
func (s *System) RunningSlot(env *Env) (string, bool) {
	path := s.CmdlineFile
	if path == "" {
		path = "/proc/cmdline"
	}
	if raw, err := os.ReadFile(path); err == nil {
		for _, f := range strings.Fields(string(raw)) {
			if v, ok := strings.CutPrefix(f, "lightnvr.slot="); ok && (v == "a" || v == "b") {
				return v, true
			}
		}
	}
	if v := env.Get(varBootSlot); v == "b" {
		return v, false
	}
	return "a", false
}

// Install checks a bundle stream and writes it into the inactive slot, then
// points the next boot at that slot under the boot counter. On any error the
// running slot and the env are as they were (the inactive slot may hold a
// partial image, which nothing boots).
func (s *System) Install(r io.Reader) (*Manifest, error) {
	keys, err := LoadKeyRing(s.KeysFile)
	if err != nil {
		return nil, err
	}
	b, err := Open(r, keys)
	if err != nil {
		return nil, err
	}
	env, err := s.Env.Read()
	if err != nil {
		return nil, err
	}
	running, known := s.RunningSlot(env)
	if !known && env.Get(varUpgrade) == "1" {
		return nil, refuse("cannot tell the running slot (no lightnvr.slot= on the kernel command line) while an update is pending: reboot first")
	}
	target := otherSlot(running)
	m := &b.Manifest
	devs, err := s.admit(m, env, running, target)
	if err != nil {
		return nil, err
	}
	// A pending update not yet booted points bootslot at the slot about to be
	// rewritten: point it back first so a power cut now boots the running slot.
	if env.Get(varBootSlot) != running {
		if err := s.Env.Update(map[string]string{varBootSlot: running, varUpgrade: "0", varBootCount: "0"}); err != nil {
			return nil, err
		}
	}
	if err := s.writeImages(b, devs); err != nil {
		return nil, err
	}
	if len(m.Keys) > 0 {
		if err := installKeys(s.KeysFile, m.Keys); err != nil {
			return nil, err
		}
	}
	err = s.Env.Update(map[string]string{
		varBootSlot: target, varUpgrade: "1", varBootCount: "0", varTarget: target,
		varVersion + target: m.Version, varFloor + target: m.MinVersion,
	})
	return m, err
}

// admit refuses a bundle for this device before any byte is written.
func (s *System) admit(m *Manifest, env *Env, running, target string) (map[string]string, error) {
	if m.Board != s.Board {
		return nil, refuse("wrong board: bundle is for %q, this device is %q", m.Board, s.Board)
	}
	if floor := env.Get(varFloor + running); floor != "" && CompareVersions(m.Version, floor) < 0 {
		return nil, refuse("downgrade: version %s is below %s, the minimum the running firmware allows", m.Version, floor)
	}
	if len(m.Keys) > 0 && s.KeysFile == "" {
		return nil, refuse("the bundle rotates keys but this device has no [ota] keys_file")
	}
	devs := map[string]string{}
	for _, im := range m.Images {
		path, ok := s.Slots[target][im.Target]
		if !ok {
			return nil, refuse("image %q targets %q, which slot %s does not have", im.Name, im.Target, target)
		}
		d, err := openDevice(path)
		if err != nil {
			return nil, err
		}
		capacity := d.capacity
		d.f.Close()
		if im.Size > capacity {
			return nil, refuse("not enough space: image %q is %d bytes, %s holds %d", im.Name, im.Size, path, capacity)
		}
		devs[im.Target] = path
	}
	return devs, nil
}

func (s *System) writeImages(b *Reader, devs map[string]string) error {
	pr := &progress{report: s.Progress}
	for _, im := range b.Manifest.Images {
		pr.total += im.Size
	}
	for {
		im, ir, err := b.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		pr.r = ir
		if err := writeOne(devs[im.Target], im, ir, pr); err != nil {
			return err
		}
	}
}

// progress counts image bytes as they stream to flash, for the upload's
// progress bar.
type progress struct {
	r              io.Reader
	written, total int64
	report         func(written, total int64)
}

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.written += int64(n)
	if p.report != nil && n > 0 {
		p.report(p.written, p.total)
	}
	return n, err
}

// writeOne streams one image from src (which reads ir) to its partition,
// then checks the stream (ir) and reads the partition back.
func writeOne(path string, im *Image, ir *ImageReader, src io.Reader) error {
	d, err := openDevice(path)
	if err != nil {
		return err
	}
	werr := d.writeImage(src, im.Size)
	cerr := d.f.Close()
	if err := ir.Check(); err != nil {
		return err
	}
	if werr != nil || cerr != nil {
		return fmt.Errorf("write %s: %w", path, errors.Join(werr, cerr))
	}
	back, err := hashPrefix(path, im.Size)
	if err != nil {
		return fmt.Errorf("read back %s: %w", path, err)
	}
	want, _ := hex.DecodeString(im.SHA256)
	if !bytes.Equal(back, want) {
		return fmt.Errorf("verify after write: %s does not read back image %q", path, im.Name)
	}
	return nil
}

// CompareVersions orders dotted versions ("1.10.0" > "1.9.2"); a leading v is
// ignored, numeric parts compare as numbers, others as text.
func CompareVersions(a, b string) int {
	pa := strings.FieldsFunc(strings.TrimPrefix(a, "v"), versionSep)
	pb := strings.FieldsFunc(strings.TrimPrefix(b, "v"), versionSep)
	for i := 0; i < len(pa) || i < len(pb); i++ {
		x, y := "0", "0"
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if c := comparePart(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func versionSep(r rune) bool { return r == '.' || r == '-' || r == '+' }

func comparePart(x, y string) int {
	nx, ex := strconv.ParseUint(x, 10, 64)
	ny, ey := strconv.ParseUint(y, 10, 64)
	switch {
	case ex == nil && ey == nil && nx < ny:
		return -1
	case ex == nil && ey == nil && nx > ny:
		return 1
	case ex == nil && ey == nil:
		return 0
	}
	return strings.Compare(x, y)
}
