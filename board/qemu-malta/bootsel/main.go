// Command bootsel is the qemu Malta board's stand-in for U-Boot's slot choice.
// The board has no U-Boot, so its initramfs runs bootsel before switch_root:
// it reads the U-Boot environment named by an fw_env.config (through pkg/ota,
// the one reader and writer of that format), applies the boot counter exactly
// as the A1's env does (board/ingenic-a1/uboot/uboot-env-*.txt: countboot,
// then altbootcmd past bootlimit), saves the env the way saveenv would and
// prints the slot to boot ("a" or "b").
//
//	bootsel /etc/fw_env.config
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"lightnvr/pkg/ota"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bootsel FW_ENV_CONFIG")
		os.Exit(2)
	}
	slot, err := run(os.Args[1], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootsel:", err)
		os.Exit(1)
	}
	fmt.Println(slot)
}

func run(config string, log io.Writer) (string, error) {
	store, err := ota.ParseEnvConfig(config)
	if err != nil {
		return "", err
	}
	return choose(store, log)
}

// choose is U-Boot's bootcmd up to the kernel load:
//
//	countboot=if test ${upgrade_available} = 1; then setexpr bootcount ${bootcount} + 1; saveenv;
//	          if test ${bootcount} -gt ${bootlimit}; then run altbootcmd; fi; fi
//	altbootcmd=<switch bootslot>; setenv upgrade_available 0; setenv bootcount 0; saveenv; ...
//
// Counts are decimal here; U-Boot's setexpr works in hex, which reads the
// same below 10 (bootlimit is 1 on this board, 3 on the A1).
func choose(store *ota.EnvStore, log io.Writer) (string, error) {
	env, err := store.Read()
	if errors.Is(err, ota.ErrNoEnv) {
		// U-Boot boots its built-in default env: bootslot=a, nothing pending.
		fmt.Fprintln(log, "bootsel: no valid environment, booting slot a")
		return "a", nil
	}
	if err != nil {
		return "", err
	}
	slot := env.Get("bootslot")
	if slot != "b" {
		slot = "a"
	}
	if env.Get("upgrade_available") != "1" {
		fmt.Fprintf(log, "bootsel: slot %s\n", slot)
		return slot, nil
	}
	count, _ := strconv.Atoi(env.Get("bootcount"))
	count++
	if err := store.Update(map[string]string{"bootcount": strconv.Itoa(count)}); err != nil {
		return "", fmt.Errorf("save bootcount: %w", err)
	}
	limit, err := strconv.Atoi(env.Get("bootlimit"))
	// `test N -gt ""` is false in U-Boot's hush: no bootlimit, no fallback.
	if err != nil || count <= limit {
		fmt.Fprintf(log, "bootsel: slot %s on trial, bootcount %d of %s\n", slot, count, env.Get("bootlimit"))
		return slot, nil
	}
	old := slot
	slot = map[string]string{"a": "b", "b": "a"}[old]
	if err := store.Update(map[string]string{"bootslot": slot, "upgrade_available": "0", "bootcount": "0"}); err != nil {
		return "", fmt.Errorf("altbootcmd: %w", err)
	}
	fmt.Fprintf(log, "bootsel: slot %s failed %d boots (bootlimit %d): altbootcmd, back to slot %s\n", old, count, limit, slot)
	return slot, nil
}
