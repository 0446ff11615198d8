#!/usr/bin/env bash
# bench/ternary.sh — the ternary speed table of issue 4.
#
# Writes random-weight models of the bitnet-2b4t and bitnet-large shapes in
# each ternary type (same ternary weights in every type), runs
# `aria-core bench` on each at 1 and 2 threads (medians of RUNS runs), and
# prints one markdown table: prompt and generation tokens/s, the fraction of
# the memory-bandwidth roofline, peak RSS against file + KV cache + 64 MiB,
# and the ratio to llama.cpp c392e50's figures quoted in the issue (measured
# on a machine of this kind; llama.cpp never runs here).
#
# usage: bench/ternary.sh [BUILD_DIR] [RUNS]      (defaults: build, 3)
# env:   ARIA_BENCH_DIR  where the models go (default: a temporary directory,
#                        removed at the end; about 2.6 GB)
#        ARIA_BENCH_SHAPES / ARIA_BENCH_TYPES / ARIA_BENCH_THREADS to narrow it
set -euo pipefail
build=${1:-build}
runs=${2:-3}
core="$build/aria-core"
[ -x "$core" ] || { echo "bench/ternary.sh: $core not found (build first)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench/ternary.sh: needs python3 to read the JSON" >&2; exit 2; }
shapes=${ARIA_BENCH_SHAPES:-"bitnet-2b4t bitnet-large"}
types=${ARIA_BENCH_TYPES:-"I2_S TQ2_0 TQ1_0"}
threads=${ARIA_BENCH_THREADS:-"1 2"}
dir=${ARIA_BENCH_DIR:-}
if [ -z "$dir" ]; then
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
fi

# llama.cpp c392e50, 2 threads, from the issue: "shape type" -> "pp tg"
ref() {
    case "$1 $2" in
        "bitnet-2b4t TQ2_0") echo "36.7 17.7" ;;
        "bitnet-2b4t TQ1_0") echo "18.2 12.0" ;;
        "bitnet-large TQ2_0") echo "108 51.0" ;;
        *) echo "" ;;
    esac
}

echo "| shape | type | threads | prompt tok/s | gen tok/s | roofline | peak RSS MiB (bar) | vs llama.cpp pp / tg |"
echo "|---|---|---|---|---|---|---|---|"
for s in $shapes; do
    for t in $types; do
        f="$dir/$s-$t.gguf"
        [ -f "$f" ] || "$core" bench --shape "$s" --type "$t" --write "$f" >/dev/null 2>&1
        for th in $threads; do
            j=$("$core" --plugins "$build/plugins" --log-level error bench "$f" -t "$th" -r "$runs" --json)
            python3 - "$s" "$t" "$th" "$(ref "$s" "$t")" "$j" <<'EOF'
import json, sys
s, t, th, ref, j = sys.argv[1:6]
r = json.loads(j)
bar = r["file_mb"] + r["kv_mb"] + 64
vs = ""
if ref and th == "2":
    pp, tg = map(float, ref.split())
    vs = "%.2fx / %.2fx" % (r["pp_tok_s"] / pp, r["tg_tok_s"] / tg)
print("| %s | %s | %s | %.1f | %.1f | %.0f%% | %.0f (%s %.0f) | %s |" % (
    s, t, th, r["pp_tok_s"], r["tg_tok_s"], 100 * r["roofline_fraction"],
    r["peak_rss_mb"], "<=" if r["peak_rss_mb"] <= bar else "OVER", bar, vs))
EOF
        done
    done
done
