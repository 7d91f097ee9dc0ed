#!/bin/sh
# nor16m-app.sh TARGET_DIR APP_DIR: splits a finished root filesystem for the
# 16 MiB NOR layout. lightnvr moves from TARGET_DIR/usr/bin into APP_DIR, the
# tree of the per-slot app image (app_a/app_b); /usr/bin/lightnvr becomes a link
# into /app, where S03app mounts the booted slot's app partition. It also gives
# the tree the layout's OTA settings (ota-settings.sh, ota-nor16m.ini). Run by
# post-build.sh (Buildroot), scripts/firmware-bundle.sh (`make firmware`) and
# the board's tests; running it again on a split tree leaves it as it is.
set -eu
target="$1"
app="$2"
board_dir="$(dirname "$0")"
mkdir -p "$app" "$target/app"
if [ -f "$target/usr/bin/lightnvr" ] && [ ! -L "$target/usr/bin/lightnvr" ]; then
	mv "$target/usr/bin/lightnvr" "$app/lightnvr"
fi
[ -x "$app/lightnvr" ] || { echo "nor16m-app: no lightnvr in $target/usr/bin or $app" >&2; exit 1; }
ln -sfn /app/lightnvr "$target/usr/bin/lightnvr"
"$board_dir/ota-settings.sh" "$target" nor16m
