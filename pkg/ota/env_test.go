package ota

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lightnvr/pkg/testkit"
)

// envImage builds an env copy byte by byte from the documented layout: CRC32
// (little-endian) of the data area, the flag byte when redundant, then
// "k=v\0...\0\0" padded to envSize.
func envImage(t *testing.T, redundant bool, flag byte, vars ...string) []byte {
	t.Helper()
	head := 4
	if redundant {
		head = 5
	}
	data := make([]byte, envSize-head)
	copy(data, strings.Join(vars, "\x00")+"\x00\x00")
	out := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	if redundant {
		out = append(out, flag)
	}
	return append(out, data...)
}

func TestEnvGoldenSingle(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "env")
	writeFile(t, img, envImage(t, false, 0, "bootslot=a", "bootcount=0"))
	cfg := filepath.Join(dir, "fw_env.config")
	writeFile(t, cfg, []byte(img+" 0 0x4000\n"))
	s, err := ParseEnvConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(map[string]string{"bootslot": "b", "upgrade_available": "1", "bootcount": ""}); err != nil {
		t.Fatal(err)
	}
	want := envImage(t, false, 0, "bootslot=b", "upgrade_available=1")
	if got := readFile(t, img); string(got) != string(want) {
		t.Fatalf("env image differs from the documented layout: first bytes %x, want %x", got[:40], want[:40])
	}
}

func TestEnvRedundantNewerFlagWins(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fw_env.config")
	e1, e2 := filepath.Join(dir, "e1"), filepath.Join(dir, "e2")
	writeFile(t, cfg, []byte(e1+" 0 0x4000\n"+e2+" 0 0x4000\n"))
	s, err := ParseEnvConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f1, f2 byte
		want   string
	}{{1, 2, "two"}, {7, 3, "one"}, {255, 0, "two"}, {0, 255, "one"}} {
		writeFile(t, e1, envImage(t, true, c.f1, "who=one"))
		writeFile(t, e2, envImage(t, true, c.f2, "who=two"))
		env, err := s.Read()
		if err != nil {
			t.Fatal(err)
		}
		if got := env.Get("who"); got != c.want {
			t.Errorf("flags %d/%d: read copy %q, want %q", c.f1, c.f2, got, c.want)
		}
	}
	// A torn copy (bad CRC) is ignored whatever its flag.
	bad := envImage(t, true, 9, "who=two")
	bad[10] ^= 1
	writeFile(t, e2, bad)
	writeFile(t, e1, envImage(t, true, 1, "who=one"))
	env, err := s.Read()
	if err != nil || env.Get("who") != "one" {
		t.Fatalf("torn copy: got %v %v, want the valid copy", env, err)
	}
	// A write goes to the other copy with the next flag, leaving the current one.
	if err := s.Update(map[string]string{"who": "new"}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, e2); got[4] != 2 || !strings.Contains(string(got), "who=new") {
		t.Fatalf("second copy after write: flag %d, want 2 and who=new", got[4])
	}
	if got := readFile(t, e1); !strings.Contains(string(got), "who=one") {
		t.Fatal("the current copy was overwritten")
	}
}

// TestEnvAgainstUBootTools checks the env code byte for byte against
// Debian's u-boot-tools: mkenvimage writes, we read; we write, fw_printenv
// reads; fw_setenv writes the redundant pair, we read the newer copy.
func TestEnvAgainstUBootTools(t *testing.T) {
	mkenv := testkit.Need(t, "mkenvimage")
	printenv := testkit.Need(t, "fw_printenv")
	setenv := testkit.Need(t, "fw_setenv")
	for _, redundant := range []bool{false, true} {
		dir := t.TempDir()
		txt := filepath.Join(dir, "env.txt")
		writeFile(t, txt, []byte("bootslot=a\nbootcount=0\nbootlimit=3\n"))
		e1, e2 := filepath.Join(dir, "e1"), filepath.Join(dir, "e2")
		args := []string{"-s", "0x4000", "-o", e1}
		conf := e1 + " 0x0 0x4000\n"
		if redundant {
			args = append([]string{"-r"}, args...)
			conf += e2 + " 0x0 0x4000\n"
		}
		run(t, mkenv, append(args, txt)...)
		if redundant {
			run(t, mkenv, "-r", "-s", "0x4000", "-o", e2, txt) // flag 1 on both: copy one wins
		}
		cfg := filepath.Join(dir, "fw_env.config")
		writeFile(t, cfg, []byte(conf))
		s, err := ParseEnvConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		env, err := s.Read()
		if err != nil || env.Get("bootlimit") != "3" {
			t.Fatalf("redundant=%v: reading mkenvimage output: %v %v", redundant, env, err)
		}
		if err := s.Update(map[string]string{"bootslot": "b", "upgrade_available": "1"}); err != nil {
			t.Fatal(err)
		}
		out := run(t, printenv, "-c", cfg)
		if !strings.Contains(out, "bootslot=b\n") || !strings.Contains(out, "upgrade_available=1\n") || !strings.Contains(out, "bootlimit=3\n") {
			t.Fatalf("redundant=%v: fw_printenv after our write:\n%s", redundant, out)
		}
		run(t, setenv, "-c", cfg, "bootcount", "2")
		env, err = s.Read()
		if err != nil || env.Get("bootcount") != "2" || env.Get("bootslot") != "b" {
			t.Fatalf("redundant=%v: after fw_setenv we read bootcount=%q bootslot=%q (%v)", redundant, env.Get("bootcount"), env.Get("bootslot"), err)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
