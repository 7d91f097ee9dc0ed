#!/usr/bin/env bash
# qemu-test.sh: build the qemu Malta firmware from bin/mipsle/{lightnvr,go2rtc},
# prepare the board (kernel, initramfs, fresh data disk) and run the appliance test
# (boot, web UI, login, stream, recordings, serial console diag, poweroff) and
# the A/B update test (signed bundles, boot counter, watchdog rollback) and the
# power-cut test (qemu killed while two streams record, five times) and the
# memory test (N streams recorded with the board's memory for a while).
# QEMU_TEST_RUN picks which (go test -run; `make qemu-test` runs the first two,
# `make qemu-powercut` the power cuts, `make qemu-scale` the memory test);
# LIGHTNVR_QEMU_POWER_CUTS=N cuts the power during N installs instead of one;
# QEMU_TEST_TIMEOUT (25m) is go test's -timeout, for longer memory runs.
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
# The OTA test's bundles, packed and signed by the script `make firmware` runs:
# "good" is this system one version up, and forbids going back below itself;
# "broken" is one whose lightnvr exits at start, so nothing feeds the watchdog.
ota=build/qemu-malta/ota
rm -rf "$ota"
mkdir -p "$ota"
cp -a build/rootfs/qemu-malta "$ota/rootfs-good"
sed -i "s|$version|$version.2|g" "$ota/rootfs-good/etc/lightnvr-release"
scripts/firmware-bundle.sh qemu-malta "$ota/rootfs-good" "$ota/good" bin/lightnvr "${OTA_KEY:-build/ota-dev.key}" "$version.2" "$version.2"
cp -a build/rootfs/qemu-malta "$ota/rootfs-broken"
sed -i "s|$version|$version.1|g" "$ota/rootfs-broken/etc/lightnvr-release"
printf '#!/bin/sh\necho "lightnvr: this build exits at start" >&2\nexit 1\n' > "$ota/rootfs-broken/usr/bin/lightnvr"
rm "$ota/rootfs-broken/usr/bin/go2rtc" # not needed to fail; a smaller image packs faster
scripts/firmware-bundle.sh qemu-malta "$ota/rootfs-broken" "$ota/broken" bin/lightnvr "${OTA_KEY:-build/ota-dev.key}" "$version.1"
rm -rf "$ota"/rootfs-*
LIGHTNVR_QEMU_IMAGES="$root/build" LIGHTNVR_QEMU_CONSOLE_LOG="$root/build/qemu-malta/console.log" \
  go test -count=1 -v -timeout "${QEMU_TEST_TIMEOUT:-25m}" ${QEMU_TEST_RUN:+-run "$QEMU_TEST_RUN"} ./board/qemu-malta/qemutest/

