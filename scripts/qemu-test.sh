#!/usr/bin/env bash
# qemu-test.sh: build the qemu Malta firmware from bin/mipsle/{lightnvr,go2rtc},
# prepare the board (kernel, initramfs, fresh data disk) and run the appliance test
# (boot, web UI, login, stream, recordings, serial console diag, poweroff) and
# the power-cut test (qemu killed while two streams record, five times).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version="${VERSION:-0.0.0-dev}"
for tool in qemu-system-mipsel qemu-mipsel-static mksquashfs mkfs.ext4 e2fsck debugfs cpio ffmpeg ffprobe; do
  command -v "$tool" >/dev/null || {
    echo "qemu-test: $tool missing (apt-get install qemu-system-mips qemu-user-static squashfs-tools e2fsprogs cpio ffmpeg)" >&2
    exit 1
  }
done
scripts/firmware-rootfs.sh qemu-malta build/rootfs/qemu-malta bin/mipsle/lightnvr bin/mipsle/go2rtc "$version"
scripts/firmware-image.sh build/rootfs/qemu-malta build/firmware/qemu-malta/rootfs.squashfs
scripts/qemu-malta-prepare.sh build/qemu-malta
LIGHTNVR_QEMU_IMAGES="$root/build" LIGHTNVR_QEMU_CONSOLE_LOG="$root/build/qemu-malta/console.log" \
  go test -count=1 -v -timeout 25m ./board/qemu-malta/qemutest/
