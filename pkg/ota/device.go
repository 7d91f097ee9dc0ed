package ota

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sort"
)

// device is a slot partition or env copy opened for writing. The same code
// path serves a raw MTD char device (erase before write), a UBI volume (one
// atomic volume update) and a block device or plain file (tests).
type device struct {
	f    *os.File
	kind deviceKind
	// capacity is how many bytes the partition holds.
	capacity  int64
	eraseSize int64
}

type deviceKind int

const (
	kindFile deviceKind = iota
	kindMTD
	kindUBI
)

func openDevice(path string) (*device, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	d := &device{f: f}
	if err := d.probe(); err != nil {
		f.Close()
		return nil, fmt.Errorf("probe %s: %w", path, err)
	}
	return d, nil
}

// probeFile sizes a regular file or block device by seeking to its end.
func (d *device) probeFile() error {
	n, err := d.f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	d.kind, d.capacity = kindFile, n
	return nil
}

// writeImage replaces the first size bytes of the partition with r's bytes.
func (d *device) writeImage(r io.Reader, size int64) error {
	if err := d.prepare(0, size); err != nil {
		return err
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	n, err := io.CopyBuffer(d.f, io.LimitReader(r, size), buf)
	if err != nil {
		return err
	}
	if n != size {
		return io.ErrUnexpectedEOF
	}
	return d.f.Sync()
}

func readAt(path string, off int64, buf []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.ReadAt(buf, off)
	return err
}

// writeAt writes one env copy (erasing first on raw flash).
func writeAt(path string, off int64, buf []byte) error {
	d, err := openDevice(path)
	if err != nil {
		return err
	}
	defer d.f.Close()
	if err := d.prepare(off, int64(len(buf))); err != nil {
		return err
	}
	if _, err := d.f.WriteAt(buf, off); err != nil {
		return err
	}
	return d.f.Sync()
}

// hashPrefix reads back the first size bytes of path: the verify-after-write.
func hashPrefix(path string, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, size))
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, fmt.Errorf("read back %d of %d bytes", n, size)
	}
	return h.Sum(nil), nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
