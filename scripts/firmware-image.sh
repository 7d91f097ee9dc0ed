#!/usr/bin/env bash
# firmware-image.sh ROOTFS_DIR OUT.squashfs: pack the rootfs as the firmware's
# read-only root (xz, 256 KiB blocks: the best ratio for Go binaries) and print its size.
set -euo pipefail
rootfs="$1"; out="$2"
command -v mksquashfs >/dev/null || { echo "firmware: mksquashfs missing (apt-get install squashfs-tools)" >&2; exit 1; }
[ -x "$rootfs/bin/busybox" ] || { echo "firmware: $rootfs is not a rootfs (make rootfs)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
rm -f "$out"
mksquashfs "$rootfs" "$out" -comp xz -b 256K -all-root -noappend -quiet -no-progress >/dev/null
size=$(stat -c %s "$out")
echo "firmware: $out $size bytes ($(awk -v s="$size" 'BEGIN{printf "%.2f", s/1048576}') MiB) from $(du -sb "$rootfs" | cut -f1) bytes of rootfs"
