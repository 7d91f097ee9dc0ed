package ota

import (
	"errors"
	"fmt"
	"strings"

	"lightnvr/pkg/config"
)

// ErrOff means [ota] env_config is empty: this system takes no updates.
var ErrOff = errors.New("OTA is not configured ([ota] env_config is empty)")

// FromConfig builds the System [ota] describes.
func FromConfig(c config.OTAConfig) (*System, error) {
	if c.EnvConfig == "" {
		return nil, ErrOff
	}
	env, err := ParseEnvConfig(c.EnvConfig)
	if err != nil {
		return nil, err
	}
	s := &System{Board: c.Board, Env: env, KeysFile: c.KeysFile, CmdlineFile: c.CmdlineFile, Slots: map[string]map[string]string{}}
	for slot, spec := range map[string]string{"a": c.SlotA, "b": c.SlotB} {
		if s.Slots[slot], err = parseSlot(spec); err != nil {
			return nil, fmt.Errorf("[ota] slot_%s: %w", slot, err)
		}
	}
	return s, nil
}

// parseSlot reads "kernel=/dev/mtd3,rootfs=/dev/mtd4".
func parseSlot(spec string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not target=path", pair)
		}
		out[k] = v
	}
	return out, nil
}
