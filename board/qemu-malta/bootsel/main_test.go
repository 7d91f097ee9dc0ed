package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"lightnvr/pkg/ota"
)

// envFile makes a redundant env like the board's (two copies in one file)
// holding vars, and returns its fw_env.config.
func envFile(t *testing.T, vars ...string) (string, *ota.EnvStore) {
	t.Helper()
	dir := t.TempDir()
	disk := filepath.Join(dir, "env.img")
	if err := os.WriteFile(disk, make([]byte, 0x20000), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "fw_env.config")
	if err := os.WriteFile(conf, []byte(disk+" 0x0 0x10000\n"+disk+" 0x10000 0x10000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := ota.ParseEnvConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) > 0 {
		if err := store.Create(vars...); err != nil {
			t.Fatal(err)
		}
	}
	return conf, store
}

func boot(t *testing.T, conf string) string {
	t.Helper()
	var log bytes.Buffer
	slot, err := run(conf, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	return slot
}

func wantEnv(t *testing.T, store *ota.EnvStore, kv ...string) {
	t.Helper()
	env, err := store.Read()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(kv); i += 2 {
		if got := env.Get(kv[i]); got != kv[i+1] {
			t.Errorf("after boot: %s=%q, want %q", kv[i], got, kv[i+1])
		}
	}
}

func TestTrialThenRollbackPastBootlimit(t *testing.T) {
	conf, store := envFile(t, "bootslot=b", "upgrade_available=1", "bootcount=0", "bootlimit=2")
	for i, want := range []string{"1", "2"} {
		if slot := boot(t, conf); slot != "b" {
			t.Fatalf("boot %d: slot %s, want b (still within bootlimit)", i+1, slot)
		}
		wantEnv(t, store, "bootcount", want, "upgrade_available", "1", "bootslot", "b")
	}
	if slot := boot(t, conf); slot != "a" {
		t.Fatalf("boot 3 (bootcount 3 > bootlimit 2): slot %s, want a", slot)
	}
	wantEnv(t, store, "bootcount", "0", "upgrade_available", "0", "bootslot", "a")
	if slot := boot(t, conf); slot != "a" {
		t.Fatalf("boot after the fallback: slot %s, want a", slot)
	}
}

func TestConfirmedSlotIsNotCounted(t *testing.T) {
	conf, store := envFile(t, "bootslot=b", "upgrade_available=0", "bootcount=0", "bootlimit=1")
	for range 3 {
		if slot := boot(t, conf); slot != "b" {
			t.Fatalf("slot %s, want the confirmed b", slot)
		}
	}
	wantEnv(t, store, "bootcount", "0", "bootslot", "b")
}

func TestNoValidEnvBootsDefaultSlot(t *testing.T) {
	conf, _ := envFile(t)
	if slot := boot(t, conf); slot != "a" {
		t.Fatalf("blank env: slot %s, want U-Boot's default a", slot)
	}
}
