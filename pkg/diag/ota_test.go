package diag

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lightnvr/pkg/config"
	"lightnvr/pkg/ota"
)

// TestVersionShowsSlots: with [ota] configured, the version section shows
// both slots' versions and the boot counter, and warns after a rollback.
func TestVersionShowsSlots(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "env")
	cfgFile := filepath.Join(dir, "fw_env.config")
	if err := os.WriteFile(env, make([]byte, 0x1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, []byte(env+" 0 0x1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sys, err := ota.FromConfig(config.OTAConfig{EnvConfig: cfgFile, Board: "x", SlotA: "rootfs=/dev/null", SlotB: "rootfs=/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	sys.CmdlineFile = filepath.Join(dir, "no-cmdline")
	// Slot b was installed and U-Boot fell back to a after bootlimit.
	if err := sys.Env.Create("bootslot=a", "upgrade_available=0", "bootcount=0", "bootlimit=3",
		"ota_version_a=1.0.0", "ota_version_b=1.1.0", "ota_target=b"); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.opt.OTA = sys
	sec := Collect(context.Background(), f.opt).Section("version")
	var lines []string
	for _, it := range sec.Items {
		lines = append(lines, it.Key+": "+it.Value)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"slots: running a; a=1.0.0 b=1.1.0; next boot a; last update 1.1.0 rolled-back", "bootcount: 0 (limit 3, upgrade_available false)"} {
		if !strings.Contains(all, want) {
			t.Errorf("version section lacks %q:\n%s", want, all)
		}
	}
	if sec.Status != StatusWarn {
		t.Errorf("status %q after a rollback, want warn", sec.Status)
	}
}
