#!/usr/bin/env bash
# bench/api.sh — the API under load: starts a node serving MODEL (default
# ../shared/models/stories260K.gguf) with room for 256 waiting requests, and
# runs bench/api-load.mjs against it (medians of 3 runs per figure).
# usage: bench/api.sh [BUILD_DIR] [SECONDS] [MODEL]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
secs=${2:-5}
model=${3:-$here/../shared/models/stories260K.gguf}
command -v node >/dev/null || { echo "bench/api.sh: needs node (18+)" >&2; exit 2; }
T=$(mktemp -d)
"$build/aria-core" --plugins "$build/plugins" --data-dir "$T" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 \
    --model "$model" --set api.queue_depth=1024 --set api.slots_per_model=2 --log-level info \
    2>"$T/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 1 100); do grep -q "ready" "$T/log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/log" | head -1)
[ -n "$port" ] || { sleep 1; port=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/log" | head -1); }
node "$here/bench/api-load.mjs" "$port/v1" "$(basename "$model")" "$secs"
