package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOTAVerifyCommand builds a bundle with the CLI (keygen, pack) and checks
// that verify exits 0 on it and refuses, with a reason and a non-zero exit, a
// tampered copy, a wrong board and another key.
func TestOTAVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"-c", filepath.Join(dir, "none.ini")}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	priv, other := filepath.Join(dir, "dev.key"), filepath.Join(dir, "other.key")
	code, pub := cli("ota", "keygen", priv)
	if code != 0 {
		t.Fatalf("keygen: %d %s", code, pub)
	}
	pub = strings.TrimSpace(pub)
	if code, out := cli("ota", "keygen", other); code != 0 {
		t.Fatalf("keygen: %s", out)
	}
	rootfs := filepath.Join(dir, "rootfs.squashfs")
	if err := os.WriteFile(rootfs, bytes.Repeat([]byte("squashfs"), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "update.bundle")
	if code, out := cli("ota", "pack", "-key", priv, "-version", "1.3.0", "-board", "ingenic-a1-nor", "-o", bundle, "rootfs="+rootfs); code != 0 {
		t.Fatalf("pack: %s", out)
	}
	code, out := cli("ota", "verify", "-pubkey", pub, "-board", "ingenic-a1-nor", bundle)
	if code != 0 || !strings.Contains(out, "ok: version 1.3.0") {
		t.Fatalf("verify good bundle: exit %d\n%s", code, out)
	}
	data, _ := os.ReadFile(bundle)
	data[len(data)-1] ^= 1
	tampered := filepath.Join(dir, "tampered.bundle")
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		t.Fatal(err)
	}
	otherPack := filepath.Join(dir, "other.bundle")
	if code, out := cli("ota", "pack", "-key", other, "-version", "1.3.0", "-board", "ingenic-a1-nor", "-o", otherPack, "rootfs="+rootfs); code != 0 {
		t.Fatalf("pack: %s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-pubkey", pub, tampered}, "sha256 mismatch"},
		{[]string{"-pubkey", pub, "-board", "ingenic-t31", bundle}, "wrong board"},
		{[]string{"-pubkey", pub, otherPack}, "unknown key"},
	} {
		code, out := cli(append([]string{"ota", "verify"}, c.args...)...)
		if code == 0 || !strings.Contains(out, "bundle refused: ") || !strings.Contains(out, c.want) {
			t.Errorf("verify %v: exit %d, want a refusal mentioning %q:\n%s", c.args, code, c.want, out)
		}
	}
}
