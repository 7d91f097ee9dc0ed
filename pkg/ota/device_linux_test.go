package ota

import "testing"

// TestUBIVolumeUpdateRequest pins UBI_IOCVOLUP, _IOW('O', 0, __s64), to the
// numbers the kernel headers give: 0x40084f00 where the write direction is
// bit 30 (x86, arm), 0x80084f00 where it is bit 31 (mips, powerpc). A wrong
// number makes the kernel answer ENOTTY and no NAND update could start; the
// volume update itself needs a UBI device (nandsim, as root), which tests
// here do not have.
func TestUBIVolumeUpdateRequest(t *testing.T) {
	for arch, want := range map[string]uintptr{
		"amd64": 0x40084f00, "arm64": 0x40084f00, "arm": 0x40084f00, "386": 0x40084f00,
		"mipsle": 0x80084f00, "mips": 0x80084f00, "ppc64le": 0x80084f00,
	} {
		if got := ubiIOCVOLUP(arch); got != want {
			t.Errorf("%s: UBI_IOCVOLUP = %#x, want %#x", arch, got, want)
		}
	}
}
