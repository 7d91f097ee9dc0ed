#!/usr/bin/env bash
# firmware-bundle.sh BOARD ROOTFS_DIR OUT_DIR LIGHTNVR KEY VERSION [MIN_VERSION]
# Packs BOARD's firmware images from ROOTFS_DIR (made by firmware-rootfs.sh)
# into OUT_DIR and signs the OTA bundle OUT_DIR/lightnvr-update.bundle with the
# private key KEY, using LIGHTNVR (a build for this host) as the packer. The
# bundle holds what an update writes into a slot: with the board's
# FLASH_LAYOUT=nor16m the app image (lightnvr, split off by nor16m-app.sh);
# with nand128m the whole root filesystem with the UBI layout's OTA settings,
# and the kernel when UIMAGE names one (a Buildroot build's uImage; without it
# an update leaves the slot's kernel as it is); otherwise the whole root
# filesystem. FLASH_LAYOUT in the environment overrides the board's.
# Bundle format and keys: docs/ota.md.
set -euo pipefail
board="$1"; rootfs="$2"; out="$3"; lightnvr="$4"; key="$5"; version="$6"; min="${7:-}"
root="$(cd "$(dirname "$0")/.." && pwd)"
board_dir="$root/board/$board"
[ -f "$board_dir/board.env" ] || { echo "bundle: unknown board $board (no board/$board/board.env)" >&2; exit 1; }
layout="${FLASH_LAYOUT:-}"
# shellcheck disable=SC1091
. "$board_dir/board.env"
FLASH_LAYOUT="${layout:-${FLASH_LAYOUT:-}}"
[ -r "$key" ] || { echo "bundle: signing key $key missing (lightnvr ota keygen)" >&2; exit 1; }
mkdir -p "$out"
case "${FLASH_LAYOUT:-}" in
nor16m)
	rm -rf "$out/app"
	"$board_dir/nor16m-app.sh" "$rootfs" "$out/app"
	"$root/scripts/firmware-image.sh" "$rootfs" "$out/rootfs.squashfs"
	# shellcheck disable=SC2046 # the arguments are words
	mksquashfs "$out/app" "$out/app.squashfs" -noappend -all-root -quiet -no-progress \
		$("$board_dir/squashfs-args.sh" "$root/buildroot/configs/$DEFCONFIG") >/dev/null
	images=("app=$out/app.squashfs")
	;;
nand128m)
	"$board_dir/ota-settings.sh" "$rootfs" nand128m
	"$root/scripts/firmware-image.sh" "$rootfs" "$out/rootfs.squashfs"
	images=("rootfs=$out/rootfs.squashfs")
	if [ -n "${UIMAGE:-}" ]; then
		cp "$UIMAGE" "$out/uImage"
		images+=("kernel=$out/uImage")
	fi
	;;
"")
	"$root/scripts/firmware-image.sh" "$rootfs" "$out/rootfs.squashfs"
	images=("rootfs=$out/rootfs.squashfs")
	;;
*) echo "bundle: board $board: unknown FLASH_LAYOUT $FLASH_LAYOUT" >&2; exit 1 ;;
esac
"$lightnvr" ota pack -key "$key" -version "$version" -board "$board" ${min:+-min-version "$min"} \
	-o "$out/lightnvr-update.bundle" "${images[@]}"
echo "bundle: $out/lightnvr-update.bundle $(stat -c %s "$out/lightnvr-update.bundle") bytes: ${images[*]#*=}, version $version for $board"
