#!/usr/bin/env bash
# qemu-malta-prepare.sh OUT_DIR: the parts of the emulated board that are not the
# firmware: Debian bookworm's Malta kernel (mipsel; downloaded, unpacked, never
# installed), an initramfs holding the kernel modules the board needs plus a tiny
# /init that switches to the squashfs root (of the slot bootsel picks when the
# machine has an env disk), and an empty ext4 data disk labelled
# like the appliance's recordings disk.
set -euo pipefail
out="$(realpath -m "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/build/cache/deb"
fetch="$root/scripts/firmware-fetch-deb.sh"
mkdir -p "$out"

# The meta package names the current kernel ABI (it moves with security updates).
"$fetch" "$cache" busybox-static:mipsel >/dev/null
kpkg="$(apt-cache depends linux-image-4kc-malta:mipsel 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {sub(":mipsel","",$2); print $2; exit}')"
[ -n "$kpkg" ] || { apt-get update -qq; kpkg="$(apt-cache depends linux-image-4kc-malta:mipsel | awk '/Depends: linux-image-[0-9]/ {sub(":mipsel","",$2); print $2; exit}')"; }
[ -n "$kpkg" ] || { echo "qemu-prepare: no linux-image-*-4kc-malta:mipsel in the apt lists" >&2; exit 1; }
kdeb="$("$fetch" "$cache" "$kpkg:mipsel")"
bbdeb="$("$fetch" "$cache" busybox-static:mipsel)"
# bootsel, the board's boot loader stand-in, runs in the initramfs (mipsle, static).
board="$root/board/qemu-malta"
(cd "$root" && CGO_ENABLED=0 GOARCH=mipsle GOMIPS=softfloat go build -trimpath -ldflags "-s -w" -o "$out/bootsel" ./board/qemu-malta/bootsel)
stamp="$out/.prepared-$(basename "$kdeb")-$(basename "$bbdeb")-$(sha256sum "$0" "$board/initramfs-init" "$out/bootsel" "$board/rootfs-overlay/etc/fw_env.config" | sha256sum | cut -c1-12)"
if [ -f "$stamp" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ]; then
  echo "qemu-prepare: $out up to date ($kpkg)"
else
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  dpkg-deb -x "$kdeb" "$tmp/k"
  dpkg-deb -x "$bbdeb" "$tmp/bb"
  kver="${kpkg#linux-image-}"
  mods="$tmp/k/lib/modules/$kver/kernel"
  # Needed: virtio disks (root squashfs + data ext4), pcnet network (virtio
  # for the memory test, whose streams stall the pcnet), softdog.
  want="virtio_blk virtio_pci squashfs crc32c_generic ext4 pcnet32 virtio_net softdog"
  ir="$tmp/ir"
  mkdir -p "$ir/bin" "$ir/lib/modules" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/newroot"
  : > "$ir/lib/modules/load.order"
  declare -A done_mod=()
  path_of() { find "$mods" -name "$1.ko" -print -quit; }
  add() {
    local m="$1" f deps d
    [ -n "${done_mod[$m]:-}" ] && return 0
    f="$(path_of "$m")"
    if [ -z "$f" ]; then
      grep -q "/$m.ko\$" "$tmp/k/lib/modules/$kver/modules.builtin" && return 0
      echo "qemu-prepare: module $m not in $kpkg" >&2; exit 1
    fi
    deps="$(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | head -n1)"
    for d in ${deps//,/ }; do add "$d"; done
    cp "$f" "$ir/lib/modules/$m.ko"
    echo "$m" >> "$ir/lib/modules/load.order"
    done_mod[$m]=1
  }
  for m in $want; do add "$m"; done
  install -m 0755 "$tmp/bb/bin/busybox" "$ir/bin/busybox"
  for a in sh mount umount insmod switch_root usleep cat mkdir echo; do ln -s busybox "$ir/bin/$a"; done
  install -m 0755 "$board/initramfs-init" "$ir/init"
  install -m 0755 "$out/bootsel" "$ir/bin/bootsel"
  install -D -m 0644 "$board/rootfs-overlay/etc/fw_env.config" "$ir/etc/fw_env.config"
  (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz"
  cp "$tmp/k/boot/vmlinuz-$kver" "$out/vmlinuz"
  rm -f "$out"/.prepared-*
  touch "$stamp"
  echo "qemu-prepare: $kpkg, modules: $(tr '\n' ' ' < "$ir/lib/modules/load.order")"
fi
# A fresh recordings disk for every run: sparse, so 1 GiB costs nothing until written.
rm -f "$out/data.img"
truncate -s 1G "$out/data.img"
mkfs.ext4 -q -F -L nvrdata -m 1 -i 1048576 "$out/data.img"
# A never-booted copy for tests that need a disk of their own (the power-cut test).
cp --sparse=always "$out/data.img" "$out/blank-data.img"
echo "qemu-prepare: $out ready (vmlinuz, initramfs.cpio.gz $(stat -c %s "$out/initramfs.cpio.gz") B, data.img)"
