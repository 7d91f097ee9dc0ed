package ota

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// probe tells MTD char devices (MEMGETINFO answers) and UBI volumes (a
// /sys/class/ubi entry) from files and block devices.
func (d *device) probe() error {
	var info unix.MtdInfo
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), unix.MEMGETINFO, uintptr(unsafe.Pointer(&info))); e == 0 {
		d.kind, d.capacity, d.eraseSize = kindMTD, int64(info.Size), int64(info.Erasesize)
		return nil
	}
	name := filepath.Base(d.f.Name())
	if raw, err := os.ReadFile(filepath.Join("/sys/class/ubi", name, "data_bytes")); err == nil && strings.HasPrefix(name, "ubi") && strings.Contains(name, "_") {
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil {
			return fmt.Errorf("ubi volume size: %w", err)
		}
		d.kind, d.capacity = kindUBI, n
		return nil
	}
	return d.probeFile()
}

// prepare readies [off, off+n) for writing: erase on raw flash, announce the
// new size to UBI (the volume update is then atomic), nothing on files.
func (d *device) prepare(off, n int64) error {
	switch d.kind {
	case kindMTD:
		start := off - off%d.eraseSize
		end := off + n
		if r := end % d.eraseSize; r != 0 {
			end += d.eraseSize - r
		}
		for at := start; at < end; at += d.eraseSize {
			ei := unix.EraseInfo{Start: uint32(at), Length: uint32(d.eraseSize)}
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), unix.MEMERASE, uintptr(unsafe.Pointer(&ei))); e != 0 {
				return fmt.Errorf("erase at %#x: %w", at, e)
			}
		}
	case kindUBI:
		if off != 0 {
			return fmt.Errorf("a UBI volume is written whole")
		}
		size := n
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), ubiIOCVOLUP(runtime.GOARCH), uintptr(unsafe.Pointer(&size))); e != 0 {
			return fmt.Errorf("UBI volume update: %w", e)
		}
	}
	return nil
}

// ubiIOCVOLUP is _IOW('O', 0, __s64). x/sys has no UBI constants and the
// write-direction bits differ between architectures.
func ubiIOCVOLUP(goarch string) uintptr {
	dir := uintptr(1) << 30
	switch goarch {
	case "mips", "mipsle", "mips64", "mips64le", "ppc64", "ppc64le":
		dir = uintptr(4) << 29
	}
	return dir | 8<<16 | uintptr('O')<<8
}
