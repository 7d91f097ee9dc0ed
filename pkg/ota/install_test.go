package ota

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func TestInstallWritesInactiveSlotThenFlipsEnv(t *testing.T) {
	key := newKey(t)
	s := newTestSystem(t, key)
	kernel, rootfs := randomBytes(t, 100_000), randomBytes(t, 200_001)
	bundle := s.bundle(t, key, Manifest{Release: Release{Version: "1.2.0", MinVersion: "1.1.0"}}, map[string][]byte{"kernel": kernel, "rootfs": rootfs})
	before := s.snapshot(t)
	var progress int64
	s.Progress = func(w, total int64) { progress = w }

	m, err := s.Install(bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "1.2.0" || progress != int64(len(kernel)+len(rootfs)) {
		t.Fatalf("manifest %q, progress %d", m.Version, progress)
	}
	for part, want := range map[string][]byte{"kernel": kernel, "rootfs": rootfs} {
		got := readFile(t, s.Slots["b"][part])
		if !bytes.Equal(got[:len(want)], want) || len(got) != slotSize {
			t.Errorf("slot b %s does not hold the image (or changed size: %d)", part, len(got))
		}
		if !bytes.Equal(readFile(t, s.Slots["a"][part]), before[s.Slots["a"][part]]) {
			t.Errorf("running slot a %s changed", part)
		}
	}
	env, err := s.Env.Read()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"bootslot": "b", "upgrade_available": "1", "bootcount": "0", "ota_version_b": "1.2.0", "ota_floor_b": "1.1.0"} {
		if got := env.Get(k); got != want {
			t.Errorf("env %s=%q, want %q", k, got, want)
		}
	}
	st, _ := s.Status()
	if st.Result != "reboot-pending" {
		t.Errorf("before reboot: result %q", st.Result)
	}
	// U-Boot boots b and counts; the daemon stays healthy and marks it good.
	s.boot("b")
	if err := s.Env.Update(map[string]string{"bootcount": "1"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Status(); st.Result != "trial" || st.BootCount != 1 || st.Running != "b" {
		t.Errorf("on trial: %+v", st)
	}
	if ok, err := s.MarkGood(); !ok || err != nil {
		t.Fatalf("MarkGood: %v %v", ok, err)
	}
	env, _ = s.Env.Read()
	if env.Get("upgrade_available") != "0" || env.Get("bootcount") != "0" || env.Get("bootslot") != "b" {
		t.Errorf("after MarkGood: upgrade_available=%q bootcount=%q", env.Get("upgrade_available"), env.Get("bootcount"))
	}
	if st, _ := s.Status(); st.Result != "good" || st.Versions["b"] != "1.2.0" {
		t.Errorf("after MarkGood: %+v", st)
	}
	if ok, _ := s.MarkGood(); ok {
		t.Error("a second MarkGood wrote the env again")
	}
}

func TestRollbackIsReported(t *testing.T) {
	key := newKey(t)
	s := newTestSystem(t, key)
	if _, err := s.Install(bytes.NewReader(s.bundle(t, key, Manifest{Release: Release{Version: "2.0"}}, map[string][]byte{"kernel": {1, 2, 3}}))); err != nil {
		t.Fatal(err)
	}
	// What altbootcmd does past bootlimit: back to a, counting off.
	if err := s.Env.Update(map[string]string{"bootslot": "a", "upgrade_available": "0", "bootcount": "0"}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Status()
	if err != nil || st.Result != "rolled-back" || st.ResultVersion != "2.0" {
		t.Fatalf("after rollback: %+v %v", st, err)
	}
	if ok, _ := s.MarkGood(); ok {
		t.Error("MarkGood wrote the env on a slot that is not on trial")
	}
}

func TestRefusalsLeaveRunningSystemUntouched(t *testing.T) {
	key, stranger := newKey(t), newKey(t)
	images := func(t *testing.T) map[string][]byte {
		return map[string][]byte{"kernel": randomBytes(t, 5000), "rootfs": randomBytes(t, 9000)}
	}
	cases := []struct {
		name string
		make func(t *testing.T, s *testSystem) []byte
		want string
	}{
		{"bad signature", func(t *testing.T, s *testSystem) []byte {
			b := s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, images(t))
			headerEnd := bytes.Index(b, []byte(`]}`)) + 2
			b[headerEnd+3] ^= 0x40 // inside the signature
			return b
		}, "bad signature"},
		{"tampered manifest", func(t *testing.T, s *testSystem) []byte {
			return bytes.Replace(s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, images(t)), []byte(`"1.0"`), []byte(`"9.0"`), 1)
		}, "bad signature"},
		{"unknown key", func(t *testing.T, s *testSystem) []byte {
			return s.bundle(t, stranger, Manifest{Release: Release{Version: "1.0"}}, images(t))
		}, "unknown key"},
		{"no trusted key", func(t *testing.T, s *testSystem) []byte {
			writeFile(t, s.KeysFile, nil) // and bakedKeys is empty in tests
			return s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, images(t))
		}, "trusts no signing key"},
		{"wrong board", func(t *testing.T, s *testSystem) []byte {
			return s.bundle(t, key, Manifest{Release: Release{Version: "1.0", Board: "other-board"}}, images(t))
		}, "wrong board"},
		{"downgrade", func(t *testing.T, s *testSystem) []byte {
			if err := s.Env.Update(map[string]string{"ota_floor_a": "1.5"}); err != nil {
				t.Fatal(err)
			}
			return s.bundle(t, key, Manifest{Release: Release{Version: "1.4.9"}}, images(t))
		}, "downgrade"},
		{"truncated download", func(t *testing.T, s *testSystem) []byte {
			b := s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, images(t))
			return b[:len(b)-100]
		}, "truncated download"},
		{"truncated header", func(t *testing.T, s *testSystem) []byte {
			return s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, images(t))[:50]
		}, "truncated manifest"},
		{"not enough space", func(t *testing.T, s *testSystem) []byte {
			return s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, map[string][]byte{"rootfs": randomBytes(t, slotSize+1)})
		}, "not enough space"},
		{"sha mismatch", func(t *testing.T, s *testSystem) []byte {
			b := s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, images(t))
			b[len(b)-10] ^= 1
			return b
		}, "sha256 mismatch"},
		{"trailing data", func(t *testing.T, s *testSystem) []byte {
			return append(s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, images(t)), 0)
		}, "trailing data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestSystem(t, key)
			b := c.make(t, s)
			before := s.snapshot(t)
			_, err := s.Install(bytes.NewReader(b))
			var ref *Refusal
			if !errors.As(err, &ref) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Install: %v, want a refusal mentioning %q", err, c.want)
			}
			for path, data := range s.snapshot(t) {
				if !bytes.Equal(data, before[path]) {
					t.Errorf("%s changed after the refusal", path)
				}
			}
			// verify (no install) refuses the same bundles for the signature,
			// key, stream and hash checks.
			if _, err := Verify(bytes.NewReader(b), mustKeys(t, s)); err == nil && !strings.Contains("wrong board downgrade not enough space", c.want) {
				t.Errorf("Verify accepted a bundle Install refuses for %q", c.want)
			}
		})
	}
}

func mustKeys(t *testing.T, s *testSystem) *KeyRing {
	k, err := LoadKeyRing(s.KeysFile)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyRotation(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	s := newTestSystem(t, oldKey)
	rotate := s.bundle(t, oldKey, Manifest{Release: Release{Version: "1.1"}, Keys: []string{pubB64(newK)}}, map[string][]byte{"kernel": {1}})
	if _, err := s.Install(bytes.NewReader(rotate)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Install(bytes.NewReader(s.bundle(t, oldKey, Manifest{Release: Release{Version: "1.2"}}, map[string][]byte{"kernel": {2}}))); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("old key after rotation: %v, want unknown key", err)
	}
	if _, err := s.Install(bytes.NewReader(s.bundle(t, newK, Manifest{Release: Release{Version: "1.2"}}, map[string][]byte{"kernel": {2}}))); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
}

// TestOpenReadsOnlyTheHeader shows the images are streamed: Open answers
// while the images have not even been sent.
func TestOpenReadsOnlyTheHeader(t *testing.T) {
	key := newKey(t)
	s := newTestSystem(t, key)
	b := s.bundle(t, key, Manifest{Release: Release{Version: "1.0"}}, map[string][]byte{"rootfs": randomBytes(t, 200_000)})
	pr, pw := io.Pipe()
	headerLen := len(b) - 200_000
	go func() { _, _ = pw.Write(b[:headerLen]) }()
	r, err := Open(pr, NewKeyRing(key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Manifest.Images[0].Size != 200_000 {
		t.Fatalf("manifest: %+v", r.Manifest)
	}
	pw.Close()
}

// TestPendingUpdateWithoutSlotOnCmdline: when the kernel does not say which
// slot it booted, an update installed but not yet booted is neither confirmed
// (that would disarm the rollback before the new slot ever ran) nor written
// over (the env's bootslot may name the running slot's partner or itself).
func TestPendingUpdateWithoutSlotOnCmdline(t *testing.T) {
	key := newKey(t)
	s := newTestSystem(t, key)
	if _, err := s.Install(bytes.NewReader(s.bundle(t, key, Manifest{Release: Release{Version: "5.0"}}, map[string][]byte{"kernel": {5}}))); err != nil {
		t.Fatal(err)
	}
	noErr(t, os.WriteFile(s.CmdlineFile, []byte("console=ttyS1\n"), 0o644))
	if ok, err := s.MarkGood(); ok || err != nil {
		t.Fatalf("MarkGood on an unbooted update: %v %v", ok, err)
	}
	before := s.snapshot(t)
	_, err := s.Install(bytes.NewReader(s.bundle(t, key, Manifest{Release: Release{Version: "5.1"}}, map[string][]byte{"kernel": {6}})))
	if err == nil || !strings.Contains(err.Error(), "cannot tell the running slot") {
		t.Fatalf("second install: %v", err)
	}
	for path, data := range s.snapshot(t) {
		if !bytes.Equal(data, before[path]) {
			t.Errorf("%s changed", path)
		}
	}
}
