package ota

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func pubB64(k ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	noErr(t, err)
	return b
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// randomBytes stands in for a kernel or a rootfs image.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// testSystem is an A/B layout on plain files: four partitions of slotSize
// bytes, a redundant env of two files, and a kernel command line file.
type testSystem struct {
	*System
	dir string
}

const (
	slotSize = 256 << 10
	envSize  = 0x4000
)

func newTestSystem(t *testing.T, key ed25519.PrivateKey) *testSystem {
	t.Helper()
	dir := t.TempDir()
	s := &testSystem{dir: dir, System: &System{
		Board:       "test-board",
		KeysFile:    filepath.Join(dir, "keys"),
		CmdlineFile: filepath.Join(dir, "cmdline"),
		Slots:       map[string]map[string]string{"a": {}, "b": {}},
	}}
	for _, slot := range []string{"a", "b"} {
		for _, part := range []string{"kernel", "rootfs"} {
			p := filepath.Join(dir, part+"_"+slot)
			writeFile(t, p, bytes.Repeat([]byte{slot[0]}, slotSize))
			s.Slots[slot][part] = p
		}
	}
	cfg := filepath.Join(dir, "fw_env.config")
	writeFile(t, cfg, []byte(filepath.Join(dir, "env1")+" 0x0 0x4000\n"+filepath.Join(dir, "env2")+" 0x0 0x4000\n"))
	writeFile(t, filepath.Join(dir, "env1"), make([]byte, envSize))
	writeFile(t, filepath.Join(dir, "env2"), make([]byte, envSize))
	store, err := ParseEnvConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Create("bootslot=a", "upgrade_available=0", "bootcount=0", "bootlimit=3"); err != nil {
		t.Fatal(err)
	}
	s.Env = store
	writeFile(t, s.KeysFile, []byte(pubB64(key)+"\n"))
	s.boot("a")
	return s
}

// boot stands in for U-Boot starting the kernel of slot.
func (s *testSystem) boot(slot string) {
	_ = os.WriteFile(s.CmdlineFile, []byte("console=ttyS1 lightnvr.slot="+slot+"\n"), 0o644)
}

// bundle packs images (target name → bytes) into a signed bundle.
func (s *testSystem) bundle(t *testing.T, key ed25519.PrivateKey, m Manifest, images map[string][]byte) []byte {
	t.Helper()
	var pis []PackImage
	for _, target := range []string{"kernel", "rootfs"} {
		data, ok := images[target]
		if !ok {
			continue
		}
		p := filepath.Join(t.TempDir(), target+".img")
		writeFile(t, p, data)
		pis = append(pis, PackImage{Name: target + ".img", Target: target, Path: p})
	}
	if m.Board == "" {
		m.Board = s.Board
	}
	var buf bytes.Buffer
	if err := Pack(&buf, m, key, pis); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshot is every partition's and env copy's bytes, to prove a refusal
// changed nothing but the inactive slot.
func (s *testSystem) snapshot(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	for _, p := range s.Slots["a"] {
		out[p] = readFile(t, p)
	}
	for _, c := range s.Env.Copies {
		out[c.Path] = readFile(t, c.Path)
	}
	return out
}
