# tests/lib.sh — what the end-to-end node tests share: counting checks,
# starting real nodes on 127.0.0.1 and talking to them. Source it after
# setting ARIA (aria-core), PLUG (the plugin directory) and T (a temporary
# directory the caller removes); `cleanup` kills what `start` started.
pids=()
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# has FILE TEXT DESCRIPTION: FILE contains TEXT
has() {
    if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in:"; tail -c 3000 "$1" | sed 's/^/    /'; echo; fi
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
# start NAME [args...]: a node (one thread, debug log in $T/NAME.log);
# sets PID_NAME, API_NAME (host:port), WS_NAME (its peer URL), ID_NAME
start() {
    local n=$1; shift
    "$ARIA" --plugins "$PLUG" --data-dir "$T/$n" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 \
        --threads 1 --name "$n" --log-level debug "$@" >"$T/$n.out" 2>"$T/$n.log" &
    pids+=($!)
    eval "PID_$n=$!"
    for _ in $(seq 1 200); do grep -q "node.*ready" "$T/$n.log" && break; sleep 0.1; done
    eval "API_$n=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/$n.log" | head -1 | sed 's|http://||')"
    eval "WS_$n=$(grep -o 'listening on ws://127.0.0.1:[0-9]*' "$T/$n.log" | head -1 | sed 's|listening on ||')"
    eval "ID_$n=$(grep -o 'node id [0-9a-f]*' "$T/$n.log" | head -1 | cut -d' ' -f3)"
    local ws; eval "ws=\$WS_$n"
    [ -n "$ws" ] && ok || { bad "node $n did not start"; cat "$T/$n.log"; finish; }
}
# stop NAME: SIGTERM, and a clean exit (under ASan: no leak)
stop() {
    local p rc; eval "p=\$PID_$1"; kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; rc=$?
    [ "$rc" = 0 ] && ok || { bad "node $1 exited with status $rc on SIGTERM"; tail -n 30 "$T/$1.log"; }
}
kill9() { local p; eval "p=\$PID_$1"; kill -9 "$p"; wait "$p" 2>/dev/null; }
# ready NODE PEER...: waits until NODE's /peers lists every PEER as ready
ready() {
    local api n ids=(); eval "api=\$API_$1"; shift
    for n in "$@"; do eval "ids+=(\$ID_$n)"; done
    for _ in $(seq 1 150); do
        curl -s "http://$api/peers" | python3 -c '
import json, sys
ready = {p["id"] for p in json.load(sys.stdin)["data"] if p["state"] == "ready"}
sys.exit(0 if set(sys.argv[1:]) <= ready else 1)' "${ids[@]}" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# post NODE PATH BODY OUT: a request; headers in OUT.h, body in OUT
post() {
    local api; eval "api=\$API_$1"
    curl -s -D "$4.h" -o "$4" -H "Content-Type: application/json" "http://$api$2" --data-binary "$3"
}
# get NODE PATH OUT
get() { local api; eval "api=\$API_$1"; curl -s -o "$3" "http://$api$2"; }
# wait_log NODE TEXT [COUNT] [SECONDS]: until NODE's log holds TEXT COUNT times
wait_log() {
    local n=${3:-1} s=${4:-30}
    for _ in $(seq 1 $((s * 10))); do
        [ "$(grep -cF -- "$2" "$T/$1.log")" -ge "$n" ] && return 0
        sleep 0.1
    done
    return 1
}
