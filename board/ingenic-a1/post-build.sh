#!/bin/sh
# Buildroot post-build script (BR2_ROOTFS_POST_BUILD_SCRIPT), $1 = target dir:
# the steps every board shares (board/post-build.sh), then the A1's own.
set -eu
board_dir="$(dirname "$0")"
. "$board_dir/../post-build.sh"
# Docs and headers have no place on 16 MiB of flash.
rm -rf "$target/usr/share/man" "$target/usr/share/doc" "$target/usr/include"
