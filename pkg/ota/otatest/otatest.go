// Package otatest makes file-backed A/B layouts and signed bundles for
// tests of the OTA install path.
package otatest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"lightnvr/pkg/ota"
)

// Files writes files (slot partitions, env images, a fw_env.config naming
// them ...) into dir and returns the U-Boot env that dir's fw_env.config
// describes, created holding vars.
func Files(t testing.TB, dir string, files map[string][]byte, vars ...string) *ota.EnvStore {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env, err := ota.ParseEnvConfig(filepath.Join(dir, "fw_env.config"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Create(vars...); err != nil {
		t.Fatal(err)
	}
	return env
}

// Bundle signs, with key, a bundle of version for board holding one
// rootfs image of n random bytes; it returns the bundle and the image.
func Bundle(t testing.TB, key ed25519.PrivateKey, board, version string, n int) (bundle, img []byte) {
	t.Helper()
	img = make([]byte, n)
	if _, err := rand.Read(img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rootfs.img")
	if err := os.WriteFile(p, img, 0o600); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ota.Pack(&b, ota.Manifest{Release: ota.Release{Version: version, Board: board}}, key,
		[]ota.PackImage{{Name: "rootfs", Target: "rootfs", Path: p}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), img
}
