#!/bin/sh
# Buildroot post-image script (BR2_ROOTFS_POST_IMAGE_SCRIPT), $1 = images dir,
# $2 = flash layout (nor16m | nand128m, from BR2_ROOTFS_POST_SCRIPT_ARGS).
# Builds the U-Boot env image, on NOR the app image (the lightnvr post-build.sh
# set aside, packed as Buildroot packs the rootfs), and the whole-flash image
# with genimage.
set -eu
images="$1"
layout="${2:-nand128m}"
board_dir="$(dirname "$0")"
case "$layout" in
nor16m) envsize=0x10000; envtxt="$board_dir/uboot/uboot-env-nor.txt"; envbin=uboot-env-nor.bin; redundant="-r" ;;
nand128m) envsize=0x20000; envtxt="$board_dir/uboot/uboot-env-nand.txt"; envbin=uboot-env-nand.bin; redundant="-r" ;;
*) echo "post-image: unknown layout $layout" >&2; exit 1 ;;
esac
"$HOST_DIR/bin/mkenvimage" $redundant -s "$envsize" -o "$images/$envbin" "$envtxt"
if [ "$layout" = nor16m ]; then
	# shellcheck disable=SC2046 # the arguments are words
	"$HOST_DIR/bin/mksquashfs" "$images/app" "$images/app.squashfs" -noappend -all-root \
		$("$board_dir/squashfs-args.sh" "$BR2_CONFIG")
fi
support/scripts/genimage.sh -c "$board_dir/genimage-$layout.cfg"
ls -l "$images"/flash-*.bin "$images"/*.squashfs
