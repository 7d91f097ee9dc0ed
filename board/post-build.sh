# The Buildroot post-build steps every board shares, sourced by
# board/<board>/post-build.sh (BR2_ROOTFS_POST_BUILD_SCRIPT) with board_dir set
# and $1 = the target dir. Does to the Buildroot target what
# scripts/firmware-rootfs.sh does to build/rootfs: the board's console in
# inittab, the root password (locked when empty), the release file.
target="$1"
board="$(basename "$board_dir")"
. "$board_dir/board.env"
ROOT_PASSWORD="${ROOT_PASSWORD_OVERRIDE:-$ROOT_PASSWORD}"
sed -i "s/@CONSOLE@/${CONSOLE}/g" "$target/etc/inittab"
ln -sf /run/resolv.conf "$target/etc/resolv.conf"
mkdir -p "$target/data" "$target/run"
if [ -n "$ROOT_PASSWORD" ]; then
	hash="$(openssl passwd -1 "$ROOT_PASSWORD")"
	sed -i "s|^root:[^:]*:|root:${hash}:|" "$target/etc/shadow"
else
	sed -i 's|^root:[^:]*:|root:*:|' "$target/etc/shadow"
fi
version="$(cat "$BR2_EXTERNAL_NVR_PATH/../VERSION" 2>/dev/null || git -C "$BR2_EXTERNAL_NVR_PATH/.." describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)"
cat > "$target/etc/lightnvr-release" <<REL
LightNVR ${version} (${BOARD_NAME})
VERSION=${version}
BOARD=${board}
BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
REL
