#!/bin/sh
# Buildroot post-build for qemu Malta: same steps as the A1's, with this board's env.
set -eu
board_dir="$(dirname "$0")"
. "$board_dir/board.env"
target="$1"
sed -i "s/@CONSOLE@/${CONSOLE}/g" "$target/etc/inittab"
ln -sf /run/resolv.conf "$target/etc/resolv.conf"
mkdir -p "$target/data" "$target/run"
hash="$(openssl passwd -1 "$ROOT_PASSWORD")"
sed -i "s|^root:[^:]*:|root:${hash}:|" "$target/etc/shadow"
printf 'LightNVR %s (%s)\nBOARD=qemu-malta\n' "$(git -C "$BR2_EXTERNAL_NVR_PATH/.." describe --tags --always 2>/dev/null || echo 0.0.0-dev)" "$BOARD_NAME" > "$target/etc/lightnvr-release"
