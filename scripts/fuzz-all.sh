#!/usr/bin/env bash
# Runs every fuzz target of the module briefly (FUZZTIME each), so a new target
# is fuzzed in CI without anyone remembering to list it.
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime runs out while a worker is mid-call (Go
# issue 75804, fixed in Go 1.27): no input failed and none was written. Such
# a run is repeated once; a second one, or any other failure, fails the script.
set -euo pipefail
fuzztime="${1:-5s}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# deadline_race: the run failed only because the fuzz time ran out.
deadline_race() {
  grep -q '^    context deadline exceeded$' "$log" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

fuzz() {
  go test -run=NONE -fuzz="^$2\$" -fuzztime="$fuzztime" "$1" > "$log" 2>&1
}

grep -rlE '^func Fuzz[A-Za-z0-9_]+\(' --include='*_test.go' pkg cmd | sort | while read -r file; do
  dir="./$(dirname "$file")"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "fuzz $dir $target ($fuzztime)"
    fuzz "$dir" "$target" && continue
    if deadline_race; then
      echo "fuzz $dir $target: the fuzz time ran out mid-call (no failing input); once more"
      fuzz "$dir" "$target" && continue
    fi
    cat "$log"
    exit 1
  done
done
