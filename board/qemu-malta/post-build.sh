#!/bin/sh
# Buildroot post-build for qemu Malta, $1 = target dir: the steps every board
# shares (board/post-build.sh), with this board's env.
set -eu
board_dir="$(dirname "$0")"
. "$board_dir/../post-build.sh"
