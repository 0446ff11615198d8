#!/usr/bin/env bash
# The peer protocol over wss:// (TLS), on 127.0.0.1 only. At test time the
# openssl command line makes a throwaway CA, a node certificate signed by it
# (subjectAltName IP:127.0.0.1) and an unrelated self-signed certificate.
# (a) B listens on wss:// with [network] tls_cert/tls_key and serves
#     ../shared/models/stories260K.gguf; A dials it with tls_ca = the CA:
#     the handshake completes and a greedy completion through A is the
#     golden text. A node without tls_ca (no verification) connects too.
# (b) A2 with tls_ca = the unrelated certificate refuses B: no ready peer,
#     and its log says why (the transport's failed-dial line), retrying.
# (c) a wss:// listener without tls_cert/tls_key, or with an unreadable
#     one, is one clear error line at start and a non-zero exit (no crash).
# (d) plain ws:// p2p_probe modes, plain HTTP, HTTPS without the WebSocket
#     upgrade and idle half-open connections against the wss port do not
#     harm B: a new peer still completes its handshake, B still serves.
# usage: p2p_tls.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR P2P_PROBE
set -u
ARIA=$1 PLUG=$2 SRC=$3 PROBE=$4
M="$SRC/../shared/models/stories260K.gguf"
G="$SRC/../shared/golden/stories260K.greedy-from-bos.200.txt"
T=$(mktemp -d /tmp/aria-p2p-tls-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
has() { # file text description
    if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in:"; tail -c 3000 "$1" | sed 's/^/    /'; echo; fi
}
hasnt() { # file text description
    if grep -qF -- "$2" "$1"; then bad "$3: '$2' in:"; grep -F -- "$2" "$1" | head -5 | sed 's/^/    /'; else ok; fi
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

[ -f "$M" ] || { bad "$M missing"; finish; }
command -v openssl >/dev/null || { bad "the openssl command is needed"; finish; }

# ---- certificates, made now and thrown away with $T --------------------------
P="$T/pki"
mkdir -p "$P"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
{
    openssl req -x509 $ec -keyout "$P/ca.key" -out "$P/ca.pem" -days 2 \
        -subj "/CN=aria p2p_tls test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req $ec -keyout "$P/node.key" -out "$P/node.csr" -subj "/CN=127.0.0.1" &&
    printf '%s\n' "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$P/node.ext" &&
    openssl x509 -req -in "$P/node.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial \
        -out "$P/node.pem" -days 2 -extfile "$P/node.ext" &&
    openssl req $ec -keyout "$P/wrong.key" -out "$P/wrong.csr" -subj "/CN=wrong.example" &&
    printf '%s\n' "subjectAltName=DNS:wrong.example" "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$P/wrong.ext" &&
    openssl x509 -req -in "$P/wrong.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial \
        -out "$P/wrong.pem" -days 2 -extfile "$P/wrong.ext" &&
    openssl req -x509 $ec -keyout "$P/other.key" -out "$P/other.pem" -days 2 \
        -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1"
} >"$T/openssl.log" 2>&1 || { bad "openssl could not make the certificates"; cat "$T/openssl.log"; finish; }
openssl verify -CAfile "$P/ca.pem" "$P/node.pem" >"$T/v" 2>&1 && ok ||
    { bad "the node certificate does not verify against the CA"; cat "$T/v"; }
openssl verify -CAfile "$P/other.pem" "$P/node.pem" >"$T/v" 2>&1 &&
    bad "the node certificate verifies against the unrelated one" || ok
chmod 600 "$P"/*.key

# start NAME LISTEN [args...]: a node whose API and peer URLs the log tells
start() {
    local n=$1 l=$2; shift 2
    "$ARIA" --plugins "$PLUG" --data-dir "$T/$n" --api 127.0.0.1:0 --listen "$l" \
        --threads 1 --name "$n" --log-level debug "$@" >"$T/$n.out" 2>"$T/$n.log" &
    pids+=($!)
    eval "PID_$n=$!"
    for _ in $(seq 1 100); do grep -qs "node.*ready" "$T/$n.log" && break; sleep 0.1; done
    eval "API_$n=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/$n.log" | head -1 | sed 's|http://||')"
    eval "URL_$n=$(grep -o 'listening on wss*://127.0.0.1:[0-9]*' "$T/$n.log" | head -1 | sed 's|listening on ||')"
    eval "ID_$n=$(grep -o 'node id [0-9a-f]*' "$T/$n.log" | head -1 | cut -d' ' -f3)"
    local u; eval "u=\$URL_$n"
    [ -n "$u" ] && ok || { bad "node $n did not start"; cat "$T/$n.log"; finish; }
}
# nready NODE: how many ready peers NODE's /peers lists
nready() {
    local api; eval "api=\$API_$1"
    curl -s -m 5 "http://$api/peers" | grep -o '"state":"ready"' | wc -l
}
# ready_peers NODE N [TENTHS]: waits (10 s unless told) for N ready peers
ready_peers() {
    for _ in $(seq 1 "${3:-100}"); do
        [ "$(nready "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# golden NODE WHAT: a 40-token greedy completion through NODE is the golden start
golden() {
    local api; eval "api=\$API_$1"
    curl -s -m 60 -D "$T/h" -o "$T/b" -H "Content-Type: application/json" "http://$api/v1/completions" \
        --data-binary '{"model":"stories260K.gguf","prompt":"","max_tokens":40,"temperature":0}'
    if python3 - "$T/b" "$G" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
got, want = r["choices"][0]["text"], open(sys.argv[2]).read()
assert r["usage"]["completion_tokens"] == 40, r["usage"]
assert len(got) > 40 and got == want[:len(got)], (got[:80], want[:80])
PY
    then ok; else bad "$2: the greedy text through $1 is not the golden start"; cat "$T/h"; head -c 600 "$T/b"; echo; fi
}

# ---- (a) wss:// with a CA-signed certificate, verified ------------------------
start B wss://127.0.0.1:0 --model "$M" \
    --set network.tls_cert="$P/node.pem" --set network.tls_key="$P/node.key"
case "$URL_B" in wss://127.0.0.1:*) ok ;; *) bad "B does not say it listens on wss://: $URL_B" ;; esac
start A ws://127.0.0.1:0 --bootstrap "$URL_B" --set network.tls_ca="$P/ca.pem"
ready_peers A 1 && ok || { bad "A (tls_ca = the CA) did not get B ready over wss://"; tail -20 "$T/A.log"; }
curl -s "http://$API_A/peers" >"$T/peers.json"
has "$T/peers.json" "\"id\":\"$ID_B\"" "A's table has B by its id"
has "$T/peers.json" "\"url\":\"$URL_B\"" "A reached B at its wss:// URL"
has "$T/A.log" "(B, 127.0.0.1:${URL_B##*:}) ready" "A logged B ready"
golden A "over wss://"
has "$T/B.log" "(for a peer)" "B served the request for A"
# no tls_ca: the peer's certificate is not verified (docs/protocol.md 1)
start A3 ws://127.0.0.1:0 --bootstrap "$URL_B"
ready_peers A3 1 && ok || { bad "A3 (no tls_ca) did not connect to B"; tail -20 "$T/A3.log"; }
kill -TERM "$PID_A3"; wait "$PID_A3" 2>/dev/null

# ---- (b) a CA that did not sign B's certificate: B is refused -----------------
start A2 ws://127.0.0.1:0 --bootstrap "$URL_B" --set network.tls_ca="$P/other.pem"
ready_peers A2 1 40 && { bad "A2 (tls_ca = an unrelated certificate) accepted B"; cat "$T/A2.log"; } || ok
for _ in $(seq 1 100); do
    [ "$(grep -c "dial $URL_B: .*; will retry" "$T/A2.log")" -ge 2 ] && break; sleep 0.1
done
# the transport logs the failed dial with nng's reason for a TLS failure
if grep -qE "warn  transport-ws: dial $URL_B: (Cryptographic error|Peer could not be authenticated) \(TLS: .*; will retry" "$T/A2.log"
then ok; else bad "A2's log does not say the TLS handshake with B failed:"; grep -E 'peers|transport' "$T/A2.log" | tail -8; fi
has "$T/A2.log" "peers: connection failed: " "A2's peer layer logged the failed connection"
[ "$(grep -c "dial $URL_B: .*; will retry" "$T/A2.log")" -ge 2 ] && ok ||
    bad "A2 did not retry the bootstrap dial (with backoff)"
hasnt "$T/A2.log" "ready: " "A2 has no ready peer"
[ "$(nready A2)" = 0 ] && ok || bad "A2's /peers lists a ready peer"
hasnt "$T/B.log" "(A2," "B never had A2 as a peer"
kill -TERM "$PID_A2"; wait "$PID_A2" 2>/dev/null

# ---- (b2) a certificate the CA signed, for another name: refused too ----------
start W wss://127.0.0.1:0 --model "$M" \
    --set network.tls_cert="$P/wrong.pem" --set network.tls_key="$P/wrong.key"
start A4 ws://127.0.0.1:0 --bootstrap "$URL_W" --set network.tls_ca="$P/ca.pem"
ready_peers A4 1 40 && { bad "A4 accepted a certificate for wrong.example at 127.0.0.1"; tail -20 "$T/A4.log"; } || ok
for _ in $(seq 1 50); do grep -q "dial $URL_W: " "$T/A4.log" && break; sleep 0.1; done
has "$T/A4.log" "dial $URL_W: " "A4 logged why it cannot reach W"
hasnt "$T/W.log" "(A4," "W never had A4 as a peer"
kill -TERM "$PID_A4" "$PID_W"; wait "$PID_A4" "$PID_W" 2>/dev/null

# ---- (c) wss:// listeners without a usable certificate: refused at start ------
# refused NAME WANT [args...]: the node exits non-zero (no crash) with one line
refused() {
    local n=$1 want=$2; shift 2
    timeout 30 "$ARIA" --plugins "$PLUG" --data-dir "$T/$n" --api 127.0.0.1:0 \
        --listen wss://127.0.0.1:0 --threads 1 --name "$n" "$@" >"$T/$n.out" 2>"$T/$n.log"
    local rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ]; then ok; else bad "$n: exit status $rc, want a non-zero exit without a crash or hang"; fi
    has "$T/$n.log" "$want" "$n: the reason"
    [ "$(grep -cF -- "$want" "$T/$n.log")" = 1 ] && ok || bad "$n: the reason is not said exactly once"
    [ "$(grep -c '^aria-core: ' "$T/$n.log")" = 1 ] && ok ||
        { bad "$n: want exactly one 'aria-core: ' error line:"; grep -E '^(aria-core|error)' "$T/$n.log"; }
    grep "^aria-core: " "$T/$n.log" | grep -qF "[network] listen wss://127.0.0.1:0: " && ok ||
        bad "$n: the error line does not name the listen URL"
    hasnt "$T/$n.log" "listening on wss://" "$n: no wss:// listener"
}
refused C1 "wss:// needs [network] tls_cert and tls_key"
refused C2 "wss:// needs [network] tls_cert and tls_key" --set network.tls_cert="$P/node.pem"
refused C3 "wss:// needs [network] tls_cert and tls_key" --set network.tls_key="$P/node.key"
refused C4 "/missing.pem / key $P/node.key: cannot read" \
    --set network.tls_cert="$T/missing.pem" --set network.tls_key="$P/node.key"
refused C5 "key $P/other.key: the key is not the certificate's" \
    --set network.tls_cert="$P/node.pem" --set network.tls_key="$P/other.key"
printf 'not a certificate\n' >"$P/junk.pem"
refused C6 "the certificate does not parse" \
    --set network.tls_cert="$P/junk.pem" --set network.tls_key="$P/node.key"

# ---- (d) no TLS against the wss:// port does not harm B -----------------------
PORT_B=${URL_B##*:}
for m in good early junk oversize badframe rawtcp; do
    # (in a subshell: p2p_probe sometimes aborts in nng_fini after a failed
    # dial, and its shell's "Aborted" notice goes to the file, not the log)
    (timeout 30 "$PROBE" "ws://127.0.0.1:$PORT_B" "$m"; exit $?) >"$T/probe.$m" 2>&1
    hasnt "$T/probe.$m" "ready " "plain ws:// probe ($m) on the wss:// port"
done
curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT_B/" # plain HTTP: no answer
code=$(curl -s -m 5 --cacert "$P/ca.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT_B/")
[ "$code" -ge 400 ] 2>/dev/null && ok || bad "HTTPS without the WebSocket upgrade: HTTP $code, want a 4xx"
kill -0 "$PID_B" 2>/dev/null && ok || bad "B died"
# idle connections held open (plain TCP, and TLS without a WebSocket request)
# must not block B's listener: a new peer still gets through meanwhile
exec 7<>"/dev/tcp/127.0.0.1/$PORT_B" && ok || bad "cannot open an idle TCP connection to B"
mkfifo "$T/fifo" && exec 8<>"$T/fifo" # a stdin that stays open and silent
openssl s_client -quiet -connect "127.0.0.1:$PORT_B" <&8 >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
start A4 ws://127.0.0.1:0 --bootstrap "$URL_B" --set network.tls_ca="$P/ca.pem"
ready_peers A4 1 && ok || { bad "A4 did not reach B while idle connections were open"; tail -10 "$T/A4.log"; }
exec 7>&- 8>&-
ready_peers A 1 && ok || bad "A lost B"
golden A "after the non-TLS traffic"
kill -0 "$PID_B" 2>/dev/null && ok || bad "B died"

finish
