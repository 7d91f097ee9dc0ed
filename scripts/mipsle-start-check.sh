#!/usr/bin/env bash
# Starts the mipsle binary under qemu-user with a faked Ingenic kernel release string
# (Go 1.26.3/1.26.4 crashed parsing such strings at start-up), serves once, and checks
# /api/health answers. Prints the start-up time.
set -euo pipefail
bin="$1"; qemu="$2"; uname_r="$3"
command -v "$qemu" >/dev/null || { echo "mipsle-start: $qemu not installed (apt-get install qemu-user-static)"; exit 1; }
"$qemu" -r "$uname_r" "$bin" version
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/lightnvr.ini" <<INI
[general]
pid_file = $work/lightnvr.pid
log_file =
[storage]
path = $work/recordings
[database]
path = $work/lightnvr.db
[models]
path = $work/models
[web]
port = $port
bind_ip = 127.0.0.1
password = start-check-password
[go2rtc]
enabled = false
INI
start=$(date +%s.%N)
"$qemu" -r "$uname_r" "$bin" -c "$work/lightnvr.ini" serve > "$work/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if curl -fsS "http://127.0.0.1:$port/api/health" > "$work/health.json" 2>/dev/null; then
    end=$(date +%s.%N)
    echo "mipsle-start: healthy after $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') s under $qemu -r $uname_r"
    grep -q '"healthy":true' "$work/health.json" || { echo "unexpected health: $(cat "$work/health.json")"; exit 1; }
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || echo "?")
    echo "mipsle-start: qemu process RSS ${rss} kB (includes the emulator)"
    kill -TERM "$pid"; wait "$pid" || true; pid=""
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "mipsle-start: lightnvr exited early:"; cat "$work/out.log"; exit 1
  fi
  sleep 0.1
done
echo "mipsle-start: no healthy answer within 60 s:"; cat "$work/out.log"; exit 1
