#!/usr/bin/env bash
# firmware-rootfs.sh BOARD OUT_DIR LIGHTNVR_BIN GO2RTC_BIN VERSION
# Assembles the firmware root filesystem without Buildroot: busybox-static for
# mipsel (downloaded, unpacked, never installed), our mipsle binaries and
# rootfs-overlay/, with the board's console and root password applied. The result
# is what `make firmware` packs into squashfs and what the qemu test boots.
set -euo pipefail
board="$1"; out="$(realpath -m "$2")"; lightnvr="$(realpath "$3")"; go2rtc="$(realpath "$4")"; version="$5"
root="$(cd "$(dirname "$0")/.." && pwd)"
board_dir="$root/board/$board"
[ -f "$board_dir/board.env" ] || { echo "rootfs: unknown board $board (no board/$board/board.env)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$board_dir/board.env"
ROOT_PASSWORD="${ROOT_PASSWORD_OVERRIDE:-$ROOT_PASSWORD}"
for f in "$lightnvr" "$go2rtc"; do
  [ -x "$f" ] || { echo "rootfs: $f missing (make mipsle go2rtc)" >&2; exit 1; }
  file -b "$f" | grep -q 'MIPS' || { echo "rootfs: $f is not a MIPS binary" >&2; exit 1; }
done
command -v qemu-mipsel-static >/dev/null || { echo "rootfs: qemu-mipsel-static missing (apt-get install qemu-user-static)" >&2; exit 1; }

cache="$root/build/cache/deb"
bb_deb="$("$root/scripts/firmware-fetch-deb.sh" "$cache" busybox-static:mipsel)"

rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$bb_deb" "$tmp/bb"

cd "$out"
mkdir -p bin sbin usr/bin usr/sbin lib etc root dev proc sys run tmp var data mnt
chmod 0700 root; chmod 1777 tmp
install -m 0755 "$tmp/bb/bin/busybox" bin/busybox
# One link per applet, where busybox itself says it belongs.
qemu-mipsel-static bin/busybox --list-full | while read -r applet; do
  [ "$applet" = "bin/busybox" ] && continue
  [ -e "$applet" ] && continue
  mkdir -p "$(dirname "$applet")"
  rel="$(realpath --relative-to="$(dirname "$applet")" bin/busybox)"
  ln -s "$rel" "$applet"
done
[ -e init ] || ln -s bin/busybox init

install -m 0755 "$lightnvr" usr/bin/lightnvr
install -m 0755 "$go2rtc" usr/bin/go2rtc

cp -a "$root/rootfs-overlay/." .
if [ -d "$board_dir/rootfs-overlay" ]; then cp -a "$board_dir/rootfs-overlay/." .; fi
sed -i "s/@CONSOLE@/${CONSOLE}/g" etc/inittab
# A board whose slots are whole root filesystems names them in its ota.ini.
if [ -f "$board_dir/ota.ini" ]; then cat "$board_dir/ota.ini" >> etc/lightnvr/lightnvr.ini; fi
ln -sf /run/resolv.conf etc/resolv.conf
ln -sf /proc/mounts etc/mtab

if [ -n "${ROOT_PASSWORD:-}" ]; then
  hash="$(openssl passwd -1 "$ROOT_PASSWORD")"
else
  hash='*'
fi
printf 'root:%s:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\nnvr:*:19000:0:99999:7:::\n' "$hash" > etc/shadow
chmod 0600 etc/shadow

cat > etc/lightnvr-release <<REL
LightNVR ${version} (${BOARD_NAME:-$board})
VERSION=${version}
BOARD=${board}
BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
REL

echo "rootfs: $out for $board ($(du -sh . | cut -f1)): busybox $(dpkg-deb -f "$bb_deb" Version), lightnvr $(stat -c %s usr/bin/lightnvr) B, go2rtc $(stat -c %s usr/bin/go2rtc) B"
