#!/usr/bin/env bash
# bench/pipeline.sh — generation speed of one model split across nodes on
# loopback, against the same model on one node, in the same script.
#
# Writes a random-weight model of a real shape (default bitnet-2b4t, TQ2_0:
# 30 layers, 2560 wide), then starts three separate networks:
#   1 stage : W holds the whole model
#   2 stages: A2 holds layers 0-14, B2 15-29
#   3 stages: A3 holds 0-9, B3 10-19, C3 20-29
# and, RUNS times in turn, streams one greedy completion from each (the
# same prompt) and times the tokens as they arrive: seconds per token from
# the first token to the last. Reports the median of each, tokens/s, the
# ratio to one node, and the overhead per token per hop: (median seconds
# per token of the pipeline - one node's) / hops, where a pipeline of k
# stages makes k hops per token (stage to stage, and the last back to the
# first). Frames are f16 unless ACTIVATIONS=f32. Every node gives peers all
# its cores ([consent] cpu_percent = 100): stages are peers' work, and the
# default 50 would run them on half the threads.
#
# usage: bench/pipeline.sh [BUILD_DIR] [RUNS] [TOKENS] [SHAPE] [THREADS]
# (KEEP=1 keeps the nodes' logs and the model in the printed directory)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
runs=${2:-5}
ntok=${3:-48}
shape=${4:-bitnet-2b4t}
threads=${5:-2}
act=${ACTIVATIONS:-f16}
aria="$build/aria-core"
[ -x "$aria" ] || { echo "bench/pipeline.sh: no $aria (build first)" >&2; exit 2; }
T=$(mktemp -d /tmp/aria-bench-pipe-XXXXXX)
[ -z "${KEEP:-}" ] || echo "bench/pipeline.sh: logs and model kept in $T" >&2
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT

echo "writing a random $shape model (TQ2_0) ..." >&2
"$aria" bench --shape "$shape" --type TQ2_0 --write "$T/m.gguf" >/dev/null
M="$T/m.gguf"
nl=$("$aria" --plugins "$build/plugins" model info "$M" | sed -n 's/^shape *\([0-9]*\) layers.*/\1/p')
width=$("$aria" --plugins "$build/plugins" model info "$M" | sed -n 's/.*embedding \([0-9]*\).*/\1/p')
[ -n "$nl" ] || { echo "bench/pipeline.sh: cannot read the model's depth" >&2; exit 1; }

# start NAME [args...]: a node; sets API_NAME and WS_NAME
start() {
    local n=$1; shift
    "$aria" --plugins "$build/plugins" --data-dir "$T/$n" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 \
        --threads "$threads" --name "$n" --log-level info --model "$M" \
        --set models.activations="$act" --set consent.cpu_percent=100 "$@" >/dev/null 2>"$T/$n.log" &
    pids+=($!)
    for _ in $(seq 1 200); do grep -q "node.*ready" "$T/$n.log" && break; sleep 0.1; done
    eval "API_$n=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/$n.log" | head -1)"
    eval "WS_$n=$(grep -o 'listening on ws://127.0.0.1:[0-9]*' "$T/$n.log" | head -1 | sed 's|listening on ||')"
}
r() { echo "m.gguf:$1"; }
h2=$((nl / 2)); t1=$((nl / 3)); t2=$((2 * nl / 3))
start W
start B2 --set models.layers="$(r $h2-$((nl - 1)))"
start A2 --set models.layers="$(r 0-$((h2 - 1)))" --bootstrap "$WS_B2"
start C3 --set models.layers="$(r $t2-$((nl - 1)))"
start B3 --set models.layers="$(r $t1-$((t2 - 1)))" --bootstrap "$WS_C3"
start A3 --set models.layers="$(r 0-$((t1 - 1)))" --bootstrap "$WS_C3"
# wait until the heads see their peers
for n in A2:1 A3:2; do
    api=API_${n%%:*}; want=${n##*:}
    for _ in $(seq 1 100); do
        [ "$(curl -s "${!api}/peers" | grep -o '"state":"ready"' | wc -l)" -ge "$want" ] && break
        sleep 0.1
    done
done

# one timed stream: prints seconds per token (first to last) and the route
timed() {
    python3 - "$1/v1/completions" "$ntok" <<'PY'
import json, sys, time, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
body = json.dumps({"model": "m.gguf", "prompt": "The quick brown fox jumps over the lazy dog",
                   "max_tokens": n, "temperature": 0, "stream": True}).encode()
req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
stamps, text = [], ""
with urllib.request.urlopen(req, timeout=600) as r:
    route = r.headers.get("X-Aria-Route", "")
    for line in r:
        line = line.strip()
        if not line.startswith(b"data: {"):
            continue
        ev = json.loads(line[6:])
        if "error" in ev:
            sys.exit("error: " + ev["error"]["message"])
        if ev["choices"] and ev["choices"][0].get("text"):
            stamps.append(time.perf_counter())
            text += ev["choices"][0]["text"]
if len(stamps) < 8:
    sys.exit("too few tokens: %d" % len(stamps))
print("%.6f %s" % ((stamps[-1] - stamps[0]) / (len(stamps) - 1), route.split("pipeline=")[-1] if "pipeline=" in route else "whole"))
PY
}
timed "$API_W" >/dev/null; timed "$API_A2" >/dev/null; timed "$API_A3" >/dev/null # warm up
# the head's own account of the last request: ms per hop beyond the stages' compute
hop() { sleep 0.2; grep -o 'overhead [0-9.]* ms per hop' "$T/$1.log" | tail -1 | cut -d' ' -f2; }
declare -a s1 s2 s3 o2 o3
for i in $(seq 1 "$runs"); do
    s1+=("$(timed "$API_W" | cut -d' ' -f1)")
    s2+=("$(timed "$API_A2" | cut -d' ' -f1)"); o2+=("$(hop A2)")
    s3+=("$(timed "$API_A3" | cut -d' ' -f1)"); o3+=("$(hop A3)")
    echo "run $i/$runs: ${s1[-1]} ${s2[-1]} ${s3[-1]} s/token; ${o2[-1]} ${o3[-1]} ms/hop" >&2
done
route2=$(timed "$API_A2" | cut -d' ' -f2)
route3=$(timed "$API_A3" | cut -d' ' -f2)
python3 - "$shape" "$width" "$nl" "$act" "$threads" "$runs" "$ntok" "$route2" "$route3" \
    "${s1[*]}" "${s2[*]}" "${s3[*]}" "${o2[*]}" "${o3[*]}" <<'PY'
import statistics, sys
shape, width, nl, act, threads, runs, ntok, r2, r3 = sys.argv[1:10]
s = [sorted(map(float, a.split())) for a in sys.argv[10:13]]
m = [statistics.median(x) for x in s]
hop = [statistics.median(map(float, a.split())) for a in sys.argv[13:15]]
print(f"pipeline bench: {shape} ({nl} layers, {width} wide), TQ2_0, {act} frames, "
      f"{threads} threads per node, {ntok} tokens, medians of {runs} runs, loopback")
print(f"  2 stages: {r2}")
print(f"  3 stages: {r3}")
print("overhead per hop: end to end = (ms/token - one node's) / hops; measured = the head's")
print("round trip through the other stages less their compute time (frames carry it), / hops")
print(f"{'':10} {'ms/token':>9} {'tok/s':>7} {'vs 1 node':>9} {'hops':>4} {'end to end':>10} {'measured':>9}")
for k, v in enumerate(m, 1):
    if k == 1:
        print(f"1 stage   {v*1e3:9.2f} {1/v:7.2f} {1.0:9.3f} {0:4d} {'-':>10} {'-':>9}")
        continue
    over = (v - m[0]) / k * 1e3
    print(f"{k} stages  {v*1e3:9.2f} {1/v:7.2f} {m[0]/v:9.3f} {k:4d} {over:8.3f}ms {hop[k-2]:7.3f}ms")
PY
