package ota

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// PackImage is one file to put in a bundle.
type PackImage struct {
	Name, Target, Path string
}

// Pack writes a bundle signed with priv: m's version, board, min_version and
// keys, with the images read from disk (hashed in a first pass, copied in a
// second, so neither pass holds an image in memory).
func Pack(w io.Writer, m Manifest, priv ed25519.PrivateKey, images []PackImage) error {
	m.KeyID = KeyID(priv.Public().(ed25519.PublicKey))
	m.Images = nil
	for _, pi := range images {
		im, err := describe(pi)
		if err != nil {
			return err
		}
		m.Images = append(m.Images, im)
	}
	if err := m.check(); err != nil {
		return err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	head := binary.BigEndian.AppendUint32([]byte(Magic), uint32(len(raw)))
	head = append(append(head, raw...), ed25519.Sign(priv, signedBytes(raw))...)
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	for _, pi := range images {
		if err := copyFile(w, pi.Path); err != nil {
			return err
		}
	}
	return nil
}

func describe(pi PackImage) (Image, error) {
	h := sha256.New()
	if err := copyFile(h, pi.Path); err != nil {
		return Image{}, err
	}
	st, err := os.Stat(pi.Path)
	if err != nil {
		return Image{}, fmt.Errorf("stat image: %w", err)
	}
	return Image{Name: pi.Name, Target: pi.Target, Size: st.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("copy image %s: %w", path, err)
	}
	return nil
}
