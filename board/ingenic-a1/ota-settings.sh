#!/bin/sh
# ota-settings.sh TARGET_DIR LAYOUT: gives a root filesystem the OTA settings
# of a flash layout (nor16m | nand128m): the layout's env partitions as
# /etc/fw_env.config and its [ota] section (ota-LAYOUT.ini) appended to the
# default lightnvr.ini, unless that already has one. Run by nor16m-app.sh,
# post-build.sh and scripts/firmware-bundle.sh; running it again changes nothing.
set -eu
target="$1"
layout="$2"
board_dir="$(dirname "$0")"
case "$layout" in
nor16m) env=nor ;;
nand128m) env=nand ;;
*) echo "ota-settings: unknown layout $layout" >&2; exit 1 ;;
esac
install -D -m 0644 "$board_dir/uboot/fw_env-$env.config" "$target/etc/fw_env.config"
ini="$target/etc/lightnvr/lightnvr.ini"
if [ -f "$ini" ] && ! grep -q '^\[ota\]' "$ini"; then
	cat "$board_dir/ota-$layout.ini" >>"$ini"
fi
