// Package ota reads, checks and installs signed firmware bundles into the
// inactive slot of an A/B flash layout, and flips the U-Boot environment so the
// next boot tries the new slot under U-Boot's boot counter. docs/ota.md is the
// format and the contract with U-Boot.
package ota

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Magic opens every bundle; the trailing digit is the format version.
const Magic = "LNVROTA1"

// maxManifest bounds the manifest read into memory before its signature is
// checked: an untrusted length field must not decide how much RAM we take.
const maxManifest = 64 << 10

// Manifest describes a bundle. It is signed as the exact bytes that follow the
// header, so its JSON is never re-encoded before verification.
type Manifest struct {
	Release
	// KeyID names the signing key (see KeyID).
	KeyID  string  `json:"key_id"`
	Images []Image `json:"images"`
	// Keys, when present, is the new list of trusted public keys (base64) that
	// replaces the installed one once the images are written (key rotation).
	Keys []string `json:"keys,omitempty"`
}

// Release is what a bundle installs: its version, the board it is for and
// the anti-rollback floor (MinVersion) it sets once it runs.
type Release struct {
	Version    string `json:"version"`
	Board      string `json:"board"`
	MinVersion string `json:"min_version,omitempty"`
}

// Image is one payload, written to the partition named Target in the inactive slot.
type Image struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Refusal is a bundle the device will not install; Error is the message shown
// to the admin. Every check that rejects a bundle returns one.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "bundle refused: " + r.Reason }

func refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// KeyID names a public key in manifests: the first 8 bytes of its SHA-256, hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Reader walks a bundle stream: header and signature first (Open), then each
// image in manifest order (Next), hashing as it goes. It never holds an image
// in memory.
type Reader struct {
	r        *bufio.Reader
	Manifest Manifest
	next     int
}

// Open reads the header and manifest and checks the signature against keys.
// Nothing past the signature has been read when it returns.
func Open(r io.Reader, keys *KeyRing) (*Reader, error) {
	if len(keys.keys) == 0 {
		// A build without OTA public keys must say so, not look like a
		// wrong signature.
		return nil, refuse("this firmware trusts no signing key (built without OTA public keys, and no key file): it installs no bundle")
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, len(Magic)+4)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, refuse("truncated header: %v", err)
	}
	if string(head[:len(Magic)]) != Magic {
		return nil, refuse("not a lightnvr bundle (bad magic)")
	}
	n := binary.BigEndian.Uint32(head[len(Magic):])
	if n == 0 || n > maxManifest {
		return nil, refuse("manifest length %d out of range", n)
	}
	body := make([]byte, int(n)+ed25519.SignatureSize)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, refuse("truncated manifest: %v", err)
	}
	raw, sig := body[:n], body[n:]
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, refuse("manifest is not valid JSON: %v", err)
	}
	pub, ok := keys.lookup(m.KeyID)
	if !ok {
		return nil, refuse("signed by unknown key %q", m.KeyID)
	}
	if !ed25519.Verify(pub, signedBytes(raw), sig) {
		return nil, refuse("bad signature (key %s)", m.KeyID)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &Reader{r: br, Manifest: m}, nil
}

// signedBytes prefixes the manifest with the magic so a signature over some
// other ed25519-signed document can never pass as a bundle signature.
func signedBytes(manifest []byte) []byte {
	return append([]byte(Magic), manifest...)
}

func (m *Manifest) check() error {
	if m.Version == "" || m.Board == "" {
		return refuse("manifest lacks version or board")
	}
	if len(m.Images) == 0 {
		return refuse("manifest lists no images")
	}
	seen := map[string]bool{}
	for _, im := range m.Images {
		if im.Size < 0 || len(im.SHA256) != 64 || im.Target == "" {
			return refuse("image %q: bad size, sha256 or target", im.Name)
		}
		if seen[im.Target] {
			return refuse("two images target %q", im.Target)
		}
		seen[im.Target] = true
	}
	if _, err := ParseKeys(m.Keys); err != nil {
		return refuse("key list: %v", err)
	}
	return nil
}

// Next returns the next image and a reader of exactly its bytes. Reading it to
// EOF then calling Check tells whether the bytes match the manifest. Next
// returns io.EOF after the last image, once the stream has ended too.
func (b *Reader) Next() (*Image, *ImageReader, error) {
	if b.next >= len(b.Manifest.Images) {
		if _, err := b.r.ReadByte(); err != io.EOF {
			return nil, nil, refuse("trailing data after the last image")
		}
		return nil, nil, io.EOF
	}
	im := &b.Manifest.Images[b.next]
	b.next++
	h := sha256.New()
	return im, &ImageReader{im: im, r: io.TeeReader(io.LimitReader(b.r, im.Size), h), h: h}, nil
}

// ImageReader yields one image's bytes and hashes them on the way.
type ImageReader struct {
	im *Image
	r  io.Reader
	h  hash.Hash
	n  int64
}

func (ir *ImageReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	ir.n += int64(n)
	return n, err
}

// Check reports a short or corrupted image; call it after reading to EOF.
func (ir *ImageReader) Check() error {
	if ir.n != ir.im.Size {
		return refuse("truncated download: image %q has %d of %d bytes", ir.im.Name, ir.n, ir.im.Size)
	}
	return checkSum(ir.im, ir.h, "in the bundle")
}

func checkSum(im *Image, h hash.Hash, where string) error {
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, im.SHA256) {
		return refuse("sha256 mismatch for image %q %s: got %s, manifest says %s", im.Name, where, got, im.SHA256)
	}
	return nil
}

// Verify reads a whole bundle without installing it: signature, every image's
// length and hash, and nothing after the last image.
func Verify(r io.Reader, keys *KeyRing) (*Manifest, error) {
	b, err := Open(r, keys)
	if err != nil {
		return nil, err
	}
	for {
		_, ir, err := b.Next()
		if errors.Is(err, io.EOF) {
			return &b.Manifest, nil
		}
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(io.Discard, ir); err != nil {
			return nil, fmt.Errorf("read bundle: %w", err)
		}
		if err := ir.Check(); err != nil {
			return nil, err
		}
	}
}
