#!/usr/bin/env bash
# firmware-fetch-deb.sh CACHE_DIR PACKAGE[:ARCH]...: download Debian packages into
# CACHE_DIR without installing them (a mipsel busybox or kernel must never land on
# the host) and print each .deb's path. Enables the mipsel architecture in dpkg
# once, which apt needs to know the mipsel package lists.
set -euo pipefail
cache="$1"; shift
mkdir -p "$cache"
if ! dpkg --print-foreign-architectures | grep -qx mipsel; then
  echo "firmware-fetch: enabling the mipsel architecture for apt-get download" >&2
  dpkg --add-architecture mipsel
  apt-get update -qq >&2
fi
for pkg in "$@"; do
  name="${pkg%%:*}"
  arch="${pkg#*:}"; [ "$arch" = "$pkg" ] && arch="$(dpkg --print-architecture)"
  ver="$(apt-cache policy "$name:$arch" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
    apt-get update -qq >&2
    ver="$(apt-cache policy "$name:$arch" | awk '/Candidate:/ {print $2}')"
  fi
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "firmware-fetch: no candidate for $name:$arch" >&2; exit 1; }
  file="$cache/${name}_${ver//:/%3a}_${arch}.deb"
  if [ ! -s "$file" ]; then
    (cd "$cache" && apt-get download -qq "$name:$arch=$ver" 2>/dev/null) ||
      { echo "firmware-fetch: apt-get download $name:$arch=$ver failed" >&2; exit 1; }
  fi
  [ -s "$file" ] || { echo "firmware-fetch: $file missing after download" >&2; exit 1; }
  echo "$file"
done
