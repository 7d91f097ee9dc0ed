#!/usr/bin/env bash
# `make run`: a development NVR with everything under one data directory.
# First run writes a commented lightnvr.ini there; later runs reuse it (edit it freely).
set -euo pipefail
data="${1:-$PWD/data}"
mkdir -p "$data"
ini="$data/lightnvr.ini"
if [ ! -f "$ini" ]; then
  bin/lightnvr config dev-ini "$data" > "$ini.tmp"
  mv "$ini.tmp" "$ini"
  echo "Created $ini (development settings; data under $data)."
fi
demo=()
if command -v ffmpeg >/dev/null 2>&1; then
  demo=(--demo)
fi
# exec: Ctrl-C reaches lightnvr directly, which stops go2rtc and everything else in order.
exec bin/lightnvr -c "$ini" serve "${demo[@]}"
