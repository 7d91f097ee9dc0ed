#!/usr/bin/env bash
# Runs every fuzz target of the module briefly (FUZZTIME each), so a new target
# is fuzzed in CI without anyone remembering to list it.
set -euo pipefail
fuzztime="${1:-5s}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
grep -rlE '^func Fuzz[A-Za-z0-9_]+\(' --include='*_test.go' pkg cmd | sort | while read -r file; do
  dir="./$(dirname "$file")"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "fuzz $dir $target ($fuzztime)"
    go test -run=NONE -fuzz="^${target}\$" -fuzztime="$fuzztime" "$dir" > "$log" 2>&1 || { cat "$log"; exit 1; }
  done
done
