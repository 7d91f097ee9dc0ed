package auth

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"lightnvr/pkg/config"
)

// The generated first-boot password is stored without the argon2id cost
// (none is paid at boot); its first login stores it with the service's
// parameters, and the file with it stays until the password is changed.
func TestGeneratedPasswordRehashedAtFirstLogin(t *testing.T) {
	ctx := context.Background()
	s, d, _ := newTestService(t, func(o *Options) { o.Hash = DefaultHashParams })
	dir := t.TempDir()
	if err := Bootstrap(ctx, d, config.Default(), dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	stored := func() string {
		t.Helper()
		u, err := d.UserByUsername(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		return u.PasswordHash
	}
	cheap := fmt.Sprintf("$m=%d,t=%d,", generatedHashParams.Memory, generatedHashParams.Time)
	if h := stored(); !strings.Contains(h, cheap) {
		t.Fatalf("generated password stored as %s, want parameters %s", h, cheap)
	}
	file := filepath.Join(dir, InitialPasswordFile)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, pw, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
	if _, err := s.Login(ctx, LoginRequest{Username: "admin", Password: pw, Client: Client{IP: netip.MustParseAddr("192.0.2.1")}}); err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}
	full := fmt.Sprintf("$m=%d,t=%d,", DefaultHashParams.Memory, DefaultHashParams.Time)
	if h := stored(); !strings.Contains(h, full) {
		t.Fatalf("after the first login the password is stored as %s, want parameters %s", h, full)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the re-hash at login removed %s: %v", file, err)
	}
}

// Creating the admin from [web] password runs a full argon2id hash at start;
// its working memory must go back to the OS, not stay resident while idle.
func TestBootstrapReturnsHashMemory(t *testing.T) {
	_, d, _ := newTestService(t, nil)
	cfg := config.Default()
	cfg.Web.Password = "configured-password"
	debug.FreeOSMemory()
	before := retainedHeap()
	if err := Bootstrap(context.Background(), d, cfg, t.TempDir(), io.Discard); err != nil {
		t.Fatal(err)
	}
	grew := int64(retainedHeap()) - int64(before)
	if limit := int64(DefaultHashParams.Memory) * 1024 / 2; grew > limit {
		t.Fatalf("heap held from the OS grew %d KiB over Bootstrap, want under %d KiB (argon2id's memory kept)", grew>>10, limit>>10)
	}
}

// retainedHeap is the heap memory the runtime holds from the OS.
func retainedHeap() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapSys - m.HeapReleased
}
