package ota

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// bakedKeys is the build's list of trusted public keys, base64, comma
// separated; the firmware build sets it with -ldflags "-X lightnvr/pkg/ota.bakedKeys=...".
var bakedKeys string

// KeyRing is the set of public keys a bundle may be signed with.
type KeyRing struct{ keys []ed25519.PublicKey }

// NewKeyRing trusts exactly keys.
func NewKeyRing(keys ...ed25519.PublicKey) *KeyRing { return &KeyRing{keys: keys} }

// LoadKeyRing returns the installed key list: the file written by the last
// key rotation when it exists, the keys baked into the binary otherwise.
func LoadKeyRing(file string) (*KeyRing, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err == nil {
			keys, err := ParseKeys(strings.Fields(string(data)))
			if err != nil {
				return nil, fmt.Errorf("key file %s: %w", file, err)
			}
			return NewKeyRing(keys...), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read key file: %w", err)
		}
	}
	keys, err := ParseKeys(strings.FieldsFunc(bakedKeys, func(r rune) bool { return r == ',' }))
	if err != nil {
		return nil, fmt.Errorf("built-in keys: %w", err)
	}
	return NewKeyRing(keys...), nil
}

// ParseKeys decodes base64 ed25519 public keys.
func ParseKeys(list []string) ([]ed25519.PublicKey, error) {
	out := make([]ed25519.PublicKey, 0, len(list))
	for _, s := range list {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%q is not a base64 ed25519 public key", s)
		}
		out = append(out, ed25519.PublicKey(b))
	}
	return out, nil
}

func (k *KeyRing) lookup(id string) (ed25519.PublicKey, bool) {
	for _, pub := range k.keys {
		if KeyID(pub) == id {
			return pub, true
		}
	}
	return nil, false
}

// installKeys replaces the key file with list, atomically: a power cut leaves
// either the old list or the new one.
func installKeys(file string, list []string) error {
	if file == "" {
		return errors.New("the bundle rotates keys but no key file is configured")
	}
	tmp := file + ".tmp"
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("key dir: %w", err)
	}
	if err := writeSynced(tmp, []byte(strings.Join(list, "\n")+"\n")); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("install key file: %w", err)
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
