#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
# usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Seeds: the real GGUF files in ../shared, copied into a scratch corpus.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
secs=${1:-60}
out=$(mktemp -d /tmp/aria-fuzz-XXXXXX)
trap 'rm -rf "$out"' EXIT
cflags=(-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$src/sdk/include")
clang "${cflags[@]}" "$here/fuzz_gguf.c" "$src/sdk/src/gguf.c" "$src/sdk/src/err.c" \
    "$src/sdk/src/quant.c" -lm -o "$out/fuzz_gguf"
mkdir -p "$out/corpus"
for f in "$src/../shared/models/"*.gguf "$src/../shared/vocab/"*.gguf; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 4000000 ] && cp "$f" "$out/corpus/"
done
echo "fuzz_gguf: ${secs}s from $(ls "$out/corpus" | wc -l) seeds"
"$out/fuzz_gguf" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" 2>"$out/log" || { grep -B2 -A40 -E "ERROR|SUMMARY|crash" "$out/log" | head -80; echo "0 passed, 1 failed"; exit 1; }
grep -E "stat::number_of_executed_units|Done" "$out/log" | tail -2
echo "fuzz: 1 passed, 0 failed"
