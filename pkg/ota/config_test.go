package ota

import (
	"errors"
	"path/filepath"
	"testing"

	"lightnvr/pkg/config"
)

func TestFromConfig(t *testing.T) {
	if _, err := FromConfig(config.OTAConfig{}); !errors.Is(err, ErrOff) {
		t.Fatalf("empty env_config: %v, want ErrOff", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fw_env.config")
	writeFile(t, cfg, []byte("/dev/mtd1 0x0 0x10000 0x10000\n/dev/mtd2 0x0 0x10000 0x10000\n"))
	s, err := FromConfig(config.OTAConfig{EnvConfig: cfg, Board: "b", SlotA: "kernel=/dev/mtd3, rootfs=/dev/mtd4", SlotB: "kernel=/dev/mtd5,rootfs=/dev/mtd6"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Slots["a"]["rootfs"] != "/dev/mtd4" || s.Slots["b"]["kernel"] != "/dev/mtd5" || len(s.Env.Copies) != 2 || s.Env.Copies[1].Size != 0x10000 {
		t.Fatalf("parsed %+v %+v", s.Slots, s.Env.Copies)
	}
	if _, err := FromConfig(config.OTAConfig{EnvConfig: cfg, SlotA: "kernel", SlotB: "x=y"}); err == nil {
		t.Fatal("a slot without target=path was accepted")
	}
}
