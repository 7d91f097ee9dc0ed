package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"lightnvr/pkg/config"
	"lightnvr/pkg/record"
)

// Swap file support, as LightNVR's [memory] use_swap: a board with little
// RAM gets a swap file on the data disk. Off by default. The file counts
// against the disk like recordings do, so it is only created when the disk
// keeps its free-space floor afterwards.

// swapMagic ends the first page of a Linux swap area (mkswap's version 1).
const swapMagic = "SWAPSPACE2"

// SetUpSwap creates the swap file [memory] asks for (or reuses a valid one
// of the right size) and enables it. It returns the file's path, "" when
// use_swap is off. The file is kept when enabling it fails (swapon needs
// root and a filesystem that supports swap files).
func (c *Controller) SetUpSwap(mem config.MemoryConfig) (string, error) {
	path, err := c.prepareSwap(mem)
	if err != nil || path == "" {
		return path, err
	}
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return path, fmt.Errorf("swap file %s: %w", path, err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(p)), 0, 0); errno != 0 && errno != unix.EBUSY {
		return path, fmt.Errorf("enable swap file %s: %w", path, errno)
	}
	return path, nil
}

// swapPath is [memory] swap_file, or swap in the data directory.
func (c *Controller) swapPath(mem config.MemoryConfig) string {
	if mem.SwapFile != "" {
		return mem.SwapFile
	}
	return filepath.Join(c.cfg.Dir, "swap")
}

// prepareSwap decides and creates: nothing when use_swap is off, the
// existing file when it is a swap area of the asked size, otherwise a new
// one if the disk has room for it above its floor.
func (c *Controller) prepareSwap(mem config.MemoryConfig) (string, error) {
	if !mem.UseSwap {
		return "", nil
	}
	page := int64(os.Getpagesize())
	size := mem.SwapSize / page * page
	if size < 10*page {
		return "", fmt.Errorf("swap_size %d: at least ten pages (%d bytes)", mem.SwapSize, 10*page)
	}
	path := c.swapPath(mem)
	if isSwapArea(path, size, page) {
		return path, nil
	}
	sp, err := statSpace(filepath.Dir(path))
	if err != nil {
		return "", fmt.Errorf("swap file %s: %w", path, err)
	}
	// A file being replaced still takes its space while the new one is
	// written beside it.
	if free := int64(sp.Free) - size; free < int64(c.floorBytes(sp)) {
		return "", fmt.Errorf("swap file %s of %d MiB would leave %d MiB free, below the %g%% floor: not created",
			path, size>>20, max(free, 0)>>20, c.floorPct())
	}
	if err := writeSwapArea(path, size, page); err != nil {
		return "", err
	}
	return path, nil
}

// isSwapArea reports whether path is a file of size bytes carrying a swap
// signature for this page size.
func isSwapArea(path string, size, page int64) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	b := make([]byte, len(swapMagic))
	_, err = f.ReadAt(b, page-int64(len(swapMagic)))
	return err == nil && string(b) == swapMagic
}

// writeSwapArea writes a swap area of size bytes (zeros: a swap file must
// not be sparse) with mkswap's header, durably, and puts it at path.
func writeSwapArea(path string, size, page int64) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create swap file: %w", err)
	}
	err = fillSwapArea(f, size, page)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = record.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return fmt.Errorf("create swap file %s: %w", path, err)
	}
	return nil
}

func fillSwapArea(f *os.File, size, page int64) error {
	zero := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zero)) {
		if _, err := f.Write(zero[:min(int64(len(zero)), size-off)]); err != nil {
			return err
		}
	}
	// The version 1 header after 1024 boot bytes: version, last page,
	// bad pages (none); the signature ends the first page.
	hdr := make([]byte, 12)
	binary.NativeEndian.PutUint32(hdr[0:], 1)
	binary.NativeEndian.PutUint32(hdr[4:], uint32(size/page-1))
	if _, err := f.WriteAt(hdr, 1024); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(swapMagic), page-int64(len(swapMagic))); err != nil {
		return err
	}
	return f.Sync()
}
