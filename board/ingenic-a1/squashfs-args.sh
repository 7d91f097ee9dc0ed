#!/bin/sh
# squashfs-args.sh CONFIG: prints the mksquashfs compression arguments a
# Buildroot configuration (.config or defconfig) gives its rootfs, so that the
# app image (post-image.sh) and the size test (nor16m_test.go) pack exactly as
# Buildroot packs rootfs.squashfs.
set -eu
config="$1"
comp=gzip
for c in lz4 lzo lzma xz zstd; do
	up=$(echo "$c" | tr a-z A-Z)
	grep -q "^BR2_TARGET_ROOTFS_SQUASHFS4_${up}=y" "$config" && comp=$c
done
bs=128K
for b in 4K 8K 16K 32K 64K 128K 256K 512K 1024K; do
	grep -q "^BR2_TARGET_ROOTFS_SQUASHFS_BS_${b}=y" "$config" && bs=$b
done
echo "-comp $comp -b $bs"
