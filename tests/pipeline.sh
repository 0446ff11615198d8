#!/usr/bin/env bash
# Pipeline parallelism end to end: one model split by layers across real
# nodes on 127.0.0.1 ([models] layers). stories260K in three parts (A 0-1,
# B 2-3, C 4-4) gives the golden greedy text through its head A, and through
# D, which holds nothing and forwards to the head; streamed and non-streamed
# chat agree; f32 frames (decided by the driver) give the same text. A
# random ternary bitnet-large (24 layers) in three parts with f32 frames
# gives exactly one whole node's greedy text. A stage killed mid-stream with
# a replica of its layers: the pipeline is rebuilt, the positions replayed,
# the text unchanged; the replica killed too: the stream ends with an error
# event naming the missing layers, and the next request gets 503.
# usage: pipeline.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR
set -u
ARIA=$1 PLUG=$2 SRC=$3
M="$SRC/../shared/models/stories260K.gguf"
G="$SRC/../shared/golden/stories260K.greedy-from-bos.200.txt"
T=$(mktemp -d /tmp/aria-pipeline-XXXXXX)
. "$SRC/tests/lib.sh"
trap cleanup EXIT

[ -f "$M" ] || { bad "$M missing"; finish; }
[ -f "$G" ] || { bad "$G missing"; finish; }
"$ARIA" bench --shape bitnet-large --type TQ2_0 --write "$T/big.gguf" >/dev/null 2>&1 ||
    bad "writing the random bitnet-large model"

# text FILE: a completion's text and its completion_tokens, as JSON
text() {
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps([r["choices"][0]["text"], r["usage"]["completion_tokens"]]))' "$1" 2>&1
}
# sse_text FILE: the text of a streamed completion (fails on an error event
# or without [DONE])
sse_text() {
    python3 - "$1" <<'PY'
import json, sys
text, done, n = "", False, 0
for line in open(sys.argv[1]):
    line = line.strip()
    if line == "data: [DONE]": done = True; continue
    if not line.startswith("data: {"): continue
    c = json.loads(line[6:])
    assert "error" not in c, c
    for ch in c["choices"]:
        if ch.get("text"): text += ch["text"]; n += 1
assert done, "stream not finished"
print(json.dumps(text))
PY
}
# route FILE.h: the pipeline= part of X-Aria-Route
route() { tr -d '\r' <"$1" | sed -n 's/^X-Aria-Route:.*pipeline=\([^;]*\).*/\1/Ip'; }
# data_lines FILE: how many data events a stream file holds
data_lines() { local n; n=$(grep -c '^data: {' "$1" 2>/dev/null); echo "${n:-0}"; }

# ---------------------------------------------------------------- stories260K
S=stories260K.gguf
start C --model "$M" --set models.layers=$S:4-4
start B --model "$M" --set models.layers=$S:2-3 --bootstrap "$WS_C"
start A --model "$M" --set models.layers=$S:0-1 --bootstrap "$WS_B"
start D --bootstrap "$WS_A"
ready A B C D && ok || { bad "A did not reach B, C and D"; curl -s "http://$API_A/peers"; }
ready B A C D && ok || bad "B did not reach A, C and D"
ready C A B D && ok || bad "C did not reach A, B and D"
ready D A B C && ok || bad "D did not reach A, B and C"
curl -s "http://$API_A/peers" >"$T/peers.json"
if python3 - "$T/peers.json" "$ID_B" "$ID_C" "$ID_D" <<'PY'
import json, sys
t = {p["id"]: p for p in json.load(open(sys.argv[1]))["data"]}
b, c, d = (t[i] for i in sys.argv[2:5])
st = lambda p: [(s["model"], list(s["layers"]), s["n_layers"]) for s in p.get("stages", [])]
assert st(b) == [("stories260K.gguf", [2, 4], 5)], st(b)
assert st(c) == [("stories260K.gguf", [4, 5], 5)], st(c)
assert not st(d) and not d["models"], d
assert "stories260K.gguf" not in b["models"], b["models"]
PY
then ok; else bad "A's peer table does not list B's and C's layer ranges"; cat "$T/peers.json"; echo; fi

# golden_ok FILE: the golden greedy text, 200 tokens
golden_ok() {
    python3 - "$1" "$G" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
got, want = r["choices"][0]["text"], open(sys.argv[2]).read()
assert r["usage"]["completion_tokens"] == 200, r["usage"]
assert got == want[:len(got)] and len(got) > 100, (got[:80], want[:80])
PY
}
GOLD='{"model":"stories260K.gguf","prompt":"","max_tokens":200,"temperature":0}'
post A /v1/completions "$GOLD" "$T/a"
has "$T/a.h" "200 OK" "pipelined completion through the head"
want="self:0-1,${ID_B:0:12}:2-3,${ID_C:0:12}:4-4"
[ "$(route "$T/a.h")" = "$want" ] && ok || bad "route header: want pipeline=$want, got: $(tr -d '\r' <"$T/a.h" | grep -i x-aria-route)"
has "$T/A.log" "pipeline: $S: 3 stages $want (f16 frames)" "A logged the pipeline (f16 frames by default)"
golden_ok "$T/a" && ok || { bad "the pipelined greedy text is not the golden text"; head -c 600 "$T/a"; echo; }
has "$T/B.log" "layers 2..3 for ${ID_A:0:12}" "B ran its layers for A"

# through D, which holds no part of the model: forwarded to the head
post D /v1/completions "$GOLD" "$T/d"
has "$T/d.h" "200 OK" "completion through D (no model)"
has "$T/d.h" "peer=$ID_A" "D forwarded to the head A"
golden_ok "$T/d" && ok || { bad "the greedy text through D is not the golden text"; head -c 600 "$T/d"; echo; }

# chat through A, streamed and not
CHAT='{"model":"stories260K.gguf","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":30,"temperature":0'
post A /v1/chat/completions "$CHAT}" "$T/chat"
curl -sN -o "$T/chat.sse" -H "Content-Type: application/json" "http://$API_A/v1/chat/completions" \
    --data-binary "$CHAT,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
if python3 - "$T/chat" "$T/chat.sse" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
full = r["choices"][0]["message"]["content"]
text, usage, done = "", None, False
for line in open(sys.argv[2]):
    line = line.strip()
    if not line.startswith("data: "): continue
    if line == "data: [DONE]": done = True; continue
    c = json.loads(line[6:])
    assert "error" not in c, c
    if c.get("usage"): usage = c["usage"]
    for ch in c["choices"]: text += ch["delta"].get("content") or ""
assert done and usage and usage["completion_tokens"] == r["usage"]["completion_tokens"] > 0, (done, usage, r["usage"])
assert text == full and len(full) > 10, (text, full)
PY
then ok; else bad "streamed chat through the pipeline differs from the non-streamed one"; head -c 800 "$T/chat.sse"; echo; fi

# f32 frames: the driver decides, so A alone restarts with them
stop A
start A --model "$M" --set models.layers=$S:0-1 --set models.activations=f32 --bootstrap "$WS_B"
ready A B C && ok || bad "the restarted A did not reach B and C"
post A /v1/completions "$GOLD" "$T/a32"
has "$T/A.log" "pipeline: $S: 3 stages $want (f32 frames)" "A logged f32 frames"
golden_ok "$T/a32" && ok || { bad "the greedy text with f32 frames is not the golden text"; head -c 600 "$T/a32"; echo; }
for n in A B C D; do stop $n; done

# ------------------------------------------------- a random ternary model
# W holds the whole model alone: the reference. A', B', C' hold thirds, with
# f32 frames (f16 rounding flips near-tied argmaxes of random weights).
Bg=big.gguf F32="--set models.activations=f32"
NF=64 # failover tokens: enough that a kill lands mid-stream
start W --model "$T/big.gguf" --set models.layers=$Bg:0-23
HW='{"model":"big.gguf","prompt":"hello world","temperature":0'
post W /v1/completions "$HW,\"max_tokens\":48}" "$T/w48"
post W /v1/completions "$HW,\"max_tokens\":$NF}" "$T/wnf"
[ -z "$(route "$T/w48.h")" ] && ok || bad "W (whole model) ran a pipeline: $(cat "$T/w48.h")"
text "$T/w48" >"$T/w48.t"; text "$T/wnf" >"$T/wnf.t"
has "$T/w48.t" ', 48]' "the reference completion (48 tokens)"
has "$T/wnf.t" ", $NF]" "the reference completion ($NF tokens)"
stop W

start Cp --model "$T/big.gguf" --set models.layers=$Bg:16-23 $F32
start Bp --model "$T/big.gguf" --set models.layers=$Bg:8-15 $F32 --bootstrap "$WS_Cp"
start Ap --model "$T/big.gguf" --set models.layers=$Bg:0-7 $F32 --bootstrap "$WS_Bp"
ready Ap Bp Cp && ok || bad "A' did not reach B' and C'"
ready Bp Cp && ok || bad "B' did not reach C'"
post Ap /v1/completions "$HW,\"max_tokens\":48}" "$T/p48"
want="self:0-7,${ID_Bp:0:12}:8-15,${ID_Cp:0:12}:16-23"
[ "$(route "$T/p48.h")" = "$want" ] && ok || bad "route header: want pipeline=$want, got: $(cat "$T/p48.h")"
has "$T/Ap.log" "pipeline: $Bg: 3 stages $want (f32 frames)" "A' logged the pipeline"
text "$T/p48" >"$T/p48.t"
cmp -s "$T/p48.t" "$T/w48.t" && ok || { bad "the pipelined ternary text differs from one node's"; echo "  want $(cat "$T/w48.t")"; echo "  got  $(cat "$T/p48.t")"; }

# ------------------------------------------------------------------ failover
# B2' holds 8-15 too; the node serving 8-15 is killed mid-stream
start B2p --model "$T/big.gguf" --set models.layers=$Bg:8-15 $F32 --bootstrap "$WS_Ap"
ready Ap Bp B2p Cp && ok || bad "A' did not reach B2'"
ready B2p Cp && ok || bad "B2' did not reach C'"
# stream NAME: streams the failover request through A' into $T/NAME.sse in
# the background (pid in SPID), and waits for at least 5 token events
stream() {
    rm -f "$T/$1.sse" "$T/$1.h"
    curl -sN -D "$T/$1.h" -o "$T/$1.sse" -H "Content-Type: application/json" \
        "http://$API_Ap/v1/completions" --data-binary "$HW,\"max_tokens\":$NF,\"stream\":true}" &
    SPID=$!
    for _ in $(seq 1 1500); do [ "$(data_lines "$T/$1.sse")" -ge 5 ] && break; sleep 0.02; done
}
# mid NAME: the stream has tokens but has not finished
mid() {
    local n; n=$(data_lines "$T/$1.sse")
    if [ "$n" -ge 5 ] && ! grep -q '^data: \[DONE\]' "$T/$1.sse"; then ok; else
        bad "$1: the kill did not land mid-stream ($n events)"; fi
}
stream kill1
r=$(route "$T/kill1.h")
mid8=$(echo "$r" | tr ',' '\n' | sed -n 's/^\([0-9a-f]*\):8-15$/\1/p')
if [ "$mid8" = "${ID_Bp:0:12}" ]; then victim=Bp survivor=B2p
elif [ "$mid8" = "${ID_B2p:0:12}" ]; then victim=B2p survivor=Bp
else victim="" survivor=""; fi
if [ -n "$victim" ]; then
    ok
    mid kill1
    kill9 $victim
else
    bad "no node for layers 8-15 in the route header: $(cat "$T/kill1.h")"
fi
wait $SPID
sse_text "$T/kill1.sse" >"$T/kill1.t" 2>"$T/kill1.err"
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["choices"][0]["text"]))' \
    "$T/wnf" >"$T/wnf.text" 2>&1
cmp -s "$T/kill1.t" "$T/wnf.text" && ok || {
    bad "after the stage was lost the stream is not the uninterrupted text"
    echo "  want $(cat "$T/wnf.text")"; echo "  got  $(cat "$T/kill1.t" "$T/kill1.err")"; tail -c 600 "$T/kill1.sse"; echo; }
has "$T/Ap.log" "lost the stage of layers 8..15" "A' logged the lost stage"
has "$T/Ap.log" "rebuilding, replaying" "A' replayed the positions"
[ -n "$survivor" ] && eval "sid=\${ID_$survivor:0:12}" || sid=none
has "$T/Ap.log" "rebuilt as self:0-7,$sid:8-15,${ID_Cp:0:12}:16-23" "A' rebuilt on the replica"

# the replica killed too: nobody holds 8-15 any more
if [ -n "$survivor" ]; then
    stream kill2
    mid kill2
    kill9 $survivor
    wait $SPID
    if python3 - "$T/kill2.sse" <<'PY'
import json, sys
ev = [l.strip() for l in open(sys.argv[1]) if l.startswith("data: ")]
assert ev[-1] == "data: [DONE]", ev[-3:]
err = json.loads(ev[-2][6:])
m = err["error"]["message"]
assert "cannot be rebuilt" in m and "no node holds layers 8..15 of 24" in m, m
assert "the pipeline for big.gguf lost the stage of layers 8..15" in m, m
PY
    then ok; else bad "the stream did not end with the pipeline's error then [DONE]"; tail -c 1000 "$T/kill2.sse"; echo; fi
    post Ap /v1/completions "$HW,\"max_tokens\":8}" "$T/gone"
    has "$T/gone.h" " 503 " "a request with layers 8..15 missing: 503"
    has "$T/gone" '"code":"model_not_available"' "503 code"
    has "$T/gone" "holds layers 0..7 of 24, and the rest is not available: no node holds layers 8..15 of 24" "503 message"
fi

stop Ap; stop Cp
for f in "$T"/*.log; do
    if grep -qE 'Sanitizer|runtime error' "$f"; then
        bad "$(basename "$f"): a sanitizer report"; grep -E -A12 'Sanitizer|runtime error' "$f" | head -40
    else ok; fi
done
finish
