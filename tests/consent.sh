#!/usr/bin/env bash
# [consent] enforced, with real nodes on 127.0.0.1: peers' work on A runs on
# the share of the CPU cpu_percent gives (its CPU time over the request's
# wall time stays under 1.15 cores of 2 at 50%, measured from /proc); C
# accepts only completions from peers, so B routes chat nowhere and
# completions to C; C's own users are bound too once apply_to_local says
# so (403 naming task_types); E is outside its schedule, so B does not send
# it work; F gives peers no memory (max_ram_mb = 0), so its model is not
# offered to them.
# usage: consent.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR
set -u
ARIA=$1 PLUG=$2 SRC=$3
M="$SRC/../shared/models/stories260K.gguf"
T=$(mktemp -d /tmp/aria-consent-XXXXXX)
. "$SRC/tests/lib.sh"
trap cleanup EXIT
[ -f "$M" ] || { bad "$M missing"; finish; }
"$ARIA" bench --shape bitnet-large --type TQ2_0 --write "$T/big.gguf" >/dev/null 2>&1 ||
    bad "writing the random bitnet-large model"
NL="--set ledger.enabled=false"

# ---------------------------------------------------------------- CPU share
start A --model "$T/big.gguf" --threads 2 --set consent.cpu_percent=50 $NL
start B --bootstrap "$WS_A" $NL
ready B A && ok || bad "B did not reach A"
get B /peers "$T/peers.json"
python3 - "$T/peers.json" "$ID_A" <<'PY' && ok || { bad "A's HELLO as B sees it"; cat "$T/peers.json"; }
import json, sys
a = [p for p in json.load(open(sys.argv[1]))["data"] if p["id"] == sys.argv[2]][0]
k, hw = a["consent"], a["hw"]
assert k["cpu_percent"] == 50 and "utc_offset_min" in k and k["schedule"] == "always", k
assert isinstance(hw["accelerators"], list) and hw["threads_given"] == 2, hw
PY
cpu() { awk '{print $14 + $15}' "/proc/$PID_A/stat"; }
Q='{"model":"big.gguf","prompt":"hello","max_tokens":48,"temperature":0}'
post A /v1/completions "$Q" "$T/warm"
c0=$(cpu); t0=$(date +%s.%N)
post B /v1/completions "$Q" "$T/o1"
t1=$(date +%s.%N); c1=$(cpu)
grep -q '"completion_tokens":48' "$T/o1" && ok || bad "the peer's request failed: $(head -c 300 "$T/o1")"
ratio=$(python3 -c 'import os,sys; print((int(sys.argv[2]) - int(sys.argv[1])) / os.sysconf("SC_CLK_TCK") / (float(sys.argv[4]) - float(sys.argv[3])))' "$c0" "$c1" "$t0" "$t1")
echo "A's CPU for a peer's request: $ratio cores (cap: 1 of 2)"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.15 else 1)' "$ratio" && ok ||
    bad "peers' work used $ratio cores, over cpu_percent = 50 of 2 cores"

# ---------------------------------------------------------------- task types
start C --model "$M" --set consent.task_types=completion --bootstrap "$WS_B" $NL
ready B C && ok || bad "B did not reach C"
S='{"model":"stories260K.gguf","prompt":"Once","max_tokens":8,"temperature":0}'
post B /v1/completions "$S" "$T/c1"
grep -q '"completion_tokens":8' "$T/c1" && ok || bad "a completion through B to C: $(cat "$T/c1")"
post B /v1/chat/completions '{"model":"stories260K.gguf","messages":[{"role":"user","content":"Hi"}],"max_tokens":8}' "$T/c2"
grep -q '"error"' "$T/c2" && ok || bad "B sent chat to C, which accepts only completions: $(cat "$T/c2")"
[ "$(grep -c 'for a peer' "$T/C.log")" = 1 ] && ok || bad "C ran other peers' work than the completion"
# C's own users: free, until apply_to_local
post C /v1/chat/completions '{"model":"stories260K.gguf","messages":[{"role":"user","content":"Hi"}],"max_tokens":8}' "$T/c3"
grep -q '"choices"' "$T/c3" && ok || bad "C refused its own user: $(cat "$T/c3")"
stop C
start C2 --model "$M" --set consent.task_types=completion --set consent.apply_to_local=true $NL
post C2 /v1/chat/completions '{"model":"stories260K.gguf","messages":[{"role":"user","content":"Hi"}],"max_tokens":8}' "$T/c4"
grep -q '"code":"consent"' "$T/c4" && grep -q 'task_types = completion' "$T/c4" && grep -q '^HTTP/1.1 403' "$T/c4.h" && ok ||
    bad "apply_to_local: $(cat "$T/c4.h" "$T/c4")"
post C2 /v1/completions "$S" "$T/c5"
grep -q '"completion_tokens":8' "$T/c5" && ok || bad "C2 refused a completion: $(cat "$T/c5")"

# ---------------------------------------------------------------- schedule
# a one-hour window that starts two hours from now, local time
W=$(python3 -c 'import time; t = time.localtime(time.time() + 7200); print("%02d:00-%02d:00" % (t.tm_hour, (t.tm_hour + 1) % 24))')
start E --model "$M" --set "consent.schedule=$W" --bootstrap "$WS_B" $NL
ready B E && ok || bad "B did not reach E"
stop A
post B /v1/completions "$S" "$T/e1"
# C is gone, A holds another model: only E holds stories260K, and it is closed
grep -q '"error"' "$T/e1" && ok || bad "B sent work to E outside its schedule ($W): $(cat "$T/e1")"
grep -q "for a peer" "$T/E.log" && bad "E ran a peer's request outside its hours" || ok

# ---------------------------------------------------------------- memory
start F --model "$M" --set consent.max_ram_mb=0 $NL
start G --bootstrap "$WS_F" $NL
ready G F && ok || bad "G did not reach F"
get G /v1/models "$T/gm"
grep -q stories260K "$T/gm" && bad "F offers peers a model its consent gives no memory: $(cat "$T/gm")" || ok
post F /v1/completions "$S" "$T/f1"
grep -q '"completion_tokens":8' "$T/f1" && ok || bad "F refused its own user: $(cat "$T/f1")"
stop B
stop E
stop F
stop G
finish
