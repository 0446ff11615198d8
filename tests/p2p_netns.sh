#!/usr/bin/env bash
# The peer network across network namespaces, with real addresses and a
# link that goes down. Needs root (ip netns, veth); elsewhere it prints
# "SKIP: why" and "0 passed, 0 failed" and exits 0.
#
# Three namespaces of this test's own (names with its pid), joined by veth
# pairs; nothing leaves them:
#     A 10.250.1.1 ---- 10.250.1.2 B 10.250.2.2 ---- 10.250.2.3 C
# B routes between its two links. B serves ../shared/models/stories260K.gguf
# and listens on ws://10.250.1.2:7700 and ws://10.250.2.2:7700; C listens on
# ws://0.0.0.0:7700 and dials B; A dials ws://10.250.1.2:7700 (its
# bootstrap) and learns of C from B, at C's own address (the wildcard host
# of C's listen URL replaced by the address C connects from). Each API
# listens on 127.0.0.1 inside its namespace. Checks: A has B and C ready and
# answers the golden greedy text through B; with A's link down (in B's
# namespace) A holds B and C dead after peer_timeout_s (3 s, pings every
# 1 s) and logs why, while B and C stay connected; with the link up again A
# redials B by itself (backoff), learns C again and serves again.
# usage: p2p_netns.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR
set -u
ARIA=$1 PLUG=$2 SRC=$3
M="$SRC/../shared/models/stories260K.gguf"
G="$SRC/../shared/golden/stories260K.greedy-from-bos.200.txt"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }
skip() { echo "SKIP: $*"; echo "0 passed, 0 failed"; exit 0; }

# ---- only where namespaces may be made --------------------------------------
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces (uid $(id -u))"
command -v ip >/dev/null || skip "no ip command (Debian package iproute2)"
command -v curl >/dev/null || skip "no curl"
T=$(mktemp -d /tmp/aria-p2p-netns-XXXXXX)
pids=() nss=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
NA=aria-a-$$ NB=aria-b-$$ NC=aria-c-$$
for n in "$NA" "$NB" "$NC"; do
    ip netns add "$n" 2>"$T/err" || skip "ip netns add $n failed: $(head -1 "$T/err")"
    nss+=("$n")
    ip -n "$n" link set lo up || skip "cannot bring lo up in $n"
done
ip -n "$NA" link add vab type veth peer name vba netns "$NB" 2>"$T/err" &&
    ip -n "$NC" link add vcb type veth peer name vbc netns "$NB" 2>>"$T/err" ||
    skip "cannot create veth pairs: $(head -1 "$T/err")"
{
    ip -n "$NA" addr add 10.250.1.1/24 dev vab &&
    ip -n "$NB" addr add 10.250.1.2/24 dev vba &&
    ip -n "$NB" addr add 10.250.2.2/24 dev vbc &&
    ip -n "$NC" addr add 10.250.2.3/24 dev vcb &&
    for d in "$NA vab" "$NB vba" "$NB vbc" "$NC vcb"; do ip -n ${d% *} link set ${d#* } up || exit 1; done &&
    ip -n "$NA" route add default via 10.250.1.2 &&
    ip -n "$NC" route add default via 10.250.2.2 &&
    ip netns exec "$NB" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
} 2>"$T/err" || { bad "setting up the namespaces' network: $(cat "$T/err")"; finish; }
ok
[ -f "$M" ] || { bad "$M missing"; finish; }

LIVE="--set network.ping_interval_s=1 --set network.peer_timeout_s=3"
# start NAME NS [args...]: a node in NS; its API port and id from the log
start() {
    local n=$1 ns=$2; shift 2
    ip netns exec "$ns" "$ARIA" --plugins "$PLUG" --data-dir "$T/$n" --api 127.0.0.1:0 \
        --threads 1 --name "$n" --log-level debug $LIVE "$@" >"$T/$n.out" 2>"$T/$n.log" &
    pids+=($!)
    eval "PID_$n=$! NS_$n=$ns"
    for _ in $(seq 1 100); do grep -qs "node.*ready" "$T/$n.log" && break; sleep 0.1; done
    eval "API_$n=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/$n.log" | head -1 | sed 's|http://||')"
    eval "ID_$n=$(grep -o 'node id [0-9a-f]*' "$T/$n.log" | head -1 | cut -d' ' -f3)"
    grep -q "listening on ws://" "$T/$n.log" && ok || { bad "node $n did not start"; cat "$T/$n.log"; finish; }
}
# api NODE PATH [curl args...]: an HTTP request to NODE's API, in its namespace
api() {
    local n=$1 path=$2 ns a; shift 2
    eval "ns=\$NS_$n a=\$API_$n"
    ip netns exec "$ns" curl -s -m 60 "$@" "http://$a$path"
}
# ready NODE ID: NODE's /peers lists ID as ready
ready() {
    api "$1" /peers | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
sys.exit(0 if any(p["id"] == sys.argv[1] and p["state"] == "ready" for p in d) else 1)' "$2" 2>/dev/null
}
# wait_ready NODE ID TENTHS / wait_gone NODE ID TENTHS
wait_ready() { for _ in $(seq 1 "$3"); do ready "$1" "$2" && return 0; sleep 0.1; done; return 1; }
wait_gone() { for _ in $(seq 1 "$3"); do ready "$1" "$2" || return 0; sleep 0.1; done; return 1; }
has() { # file text description
    if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in:"; tail -c 3000 "$1" | sed 's/^/    /'; echo; fi
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }
golden() {
    api A /v1/completions -D "$T/h" -o "$T/b" -H "Content-Type: application/json" \
        --data-binary '{"model":"stories260K.gguf","prompt":"","max_tokens":40,"temperature":0}'
    if python3 - "$T/b" "$G" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
got, want = r["choices"][0]["text"], open(sys.argv[2]).read()
assert r["usage"]["completion_tokens"] == 40, r["usage"]
assert len(got) > 40 and got == want[:len(got)], (got[:80], want[:80])
PY
    then ok; else bad "$1: the greedy text through A is not the golden start"; cat "$T/h"; head -c 600 "$T/b"; echo; fi
}

start B "$NB" --listen ws://10.250.1.2:7700,ws://10.250.2.2:7700 --model "$M"
has "$T/B.log" "listening on ws://10.250.1.2:7700" "B listens on its address towards A"
has "$T/B.log" "listening on ws://10.250.2.2:7700" "B listens on its address towards C"
start C "$NC" --listen ws://0.0.0.0:7700 --bootstrap ws://10.250.2.2:7700
wait_ready B "$ID_C" 100 && ok || { bad "C did not join B"; tail -20 "$T/C.log"; }
start A "$NA" --listen ws://0.0.0.0:7700 --bootstrap ws://10.250.1.2:7700
wait_ready A "$ID_B" 100 && ok || { bad "A did not get B ready across the namespaces"; tail -20 "$T/A.log"; finish; }
B12=$(echo "$ID_B" | cut -c1-12) C12=$(echo "$ID_C" | cut -c1-12)
api A /peers >"$T/peers.json"
has "$T/peers.json" '"url":"ws://10.250.1.2:7700"' "A reached B at 10.250.1.2"
has "$T/A.log" "(B, 10.250.1.2:7700) ready: " "A logged B ready"
has "$T/B.log" "(A, 10.250.1.1:" "B saw A come from A's own address"
# peer exchange across the namespaces: C's wildcard listen host is replaced by
# the address B saw C connect from, and A dials C there (routed by B)
wait_ready A "$ID_C" 100 && ok || { bad "A did not reach C through B's peer list"; tail -20 "$T/A.log"; }
has "$T/A.log" "dialing $C12 at ws://10.250.2.3:7700 (learned from $B12)" "A learned C's real address from B"
golden "across the namespaces"
has "$T/B.log" "(for a peer)" "B served the request"

# ---- A's link down: A holds its peers dead after peer_timeout_s ---------------
ip -n "$NB" link set vba down || bad "ip link set vba down"
t0=$(now)
wait_gone A "$ID_B" 150 && ok || bad "A still shows B ready 15 s after its link went down"
dead=$(since "$t0")
within "$dead" 1.5 8 && ok || bad "A held B dead ${dead} s after the link went down, want about 3 s (1.5..8)"
for _ in $(seq 1 50); do grep -qF "(B, 10.250.1.2:7700) gone: " "$T/A.log" && break; sleep 0.1; done
has "$T/A.log" "(B, 10.250.1.2:7700) gone: no traffic for " "A's log says why B is dead"
wait_gone A "$ID_C" 100 && ok || bad "A still shows C ready with its link down"
has "$T/A.log" "(C, 10.250.2.3:7700) gone: no traffic for " "A's log says why C is dead"
for _ in $(seq 1 100); do grep -F "(A, 10.250.1.1:" "$T/B.log" | grep -q " gone: " && break; sleep 0.1; done
grep -F "(A, 10.250.1.1:" "$T/B.log" | grep -qF " gone: no traffic for " && ok || bad "B did not hold A dead"
ready B "$ID_C" && ok || bad "B lost C although only A's link went down"
ready C "$ID_B" && ok || bad "C lost B although only A's link went down"

# ---- the link up again: A redials B by itself and learns C again --------------
ip -n "$NB" link set vba up || bad "ip link set vba up"
t0=$(now)
wait_ready A "$ID_B" 600 && ok || { bad "A did not get B ready within 60 s of the link coming back"; tail -20 "$T/A.log"; }
echo "    (B ready again $(since "$t0") s after the link came up)"
[ "$(grep -cF "(B, 10.250.1.2:7700) ready: " "$T/A.log")" -ge 2 ] && ok || bad "A did not log B ready again"
wait_ready A "$ID_C" 300 && ok || { bad "A did not get C back after the link came up"; tail -20 "$T/A.log"; }
golden "after the link came back"
for n in A B C; do eval "kill -0 \$PID_$n" 2>/dev/null && ok || bad "node $n died"; done

finish
