#!/bin/sh
# Buildroot post-build script (BR2_ROOTFS_POST_BUILD_SCRIPT), $1 = target dir,
# $2 = flash layout (nor16m | nand128m, from BR2_ROOTFS_POST_SCRIPT_ARGS): the
# steps every board shares (board/post-build.sh), then the A1's own.
set -eu
board_dir="$(dirname "$0")"
. "$board_dir/../post-build.sh"
# Docs and headers have no place on 16 MiB of flash.
rm -rf "$target/usr/share/man" "$target/usr/share/doc" "$target/usr/include"
# NOR: lightnvr goes to the per-slot app image, which post-image.sh packs.
# NAND: the whole rootfs is the slot image; it gets the UBI layout's OTA settings.
if [ "${2:-nand128m}" = nor16m ]; then
	"$board_dir/nor16m-app.sh" "$target" "$BINARIES_DIR/app"
else
	"$board_dir/ota-settings.sh" "$target" "${2:-nand128m}"
fi
