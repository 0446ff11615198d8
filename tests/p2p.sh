#!/usr/bin/env bash
# The peer-to-peer network end to end: three real nodes on 127.0.0.1.
# B and C serve ../shared/models/stories260K.gguf and a random bitnet-large
# model (slow enough at one thread to be killed mid-stream); A serves
# nothing, dials B only and learns of C by peer exchange. A answers OpenAI
# requests through its peers; when the serving peer is killed mid-stream,
# the other continues and the text is the uninterrupted one; with no peer
# left the client gets a clear error. Then a misbehaving peer (p2p_probe)
# sends forged, stale, replayed, oversized and garbage handshakes and
# frames, each refused with its reason while the node keeps serving.
# usage: p2p.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR P2P_PROBE
set -u
ARIA=$1 PLUG=$2 SRC=$3 PROBE=$4
M="$SRC/../shared/models/stories260K.gguf"
G="$SRC/../shared/golden/stories260K.greedy-from-bos.200.txt"
T=$(mktemp -d /tmp/aria-p2p-XXXXXX)
. "$SRC/tests/lib.sh"
trap cleanup EXIT

[ -f "$M" ] || { bad "$M missing"; finish; }
"$ARIA" bench --shape bitnet-large --type TQ2_0 --write "$T/big.gguf" >/dev/null 2>&1 ||
    bad "writing the random bitnet-large model"

# ready_peers NODE N: waits until NODE's /peers lists N ready peers
ready_peers() {
    local api; eval "api=\$API_$1"
    for _ in $(seq 1 100); do
        [ "$(curl -s "http://$api/peers" | grep -o '"state":"ready"' | wc -l)" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

start B --model "$M" --model "$T/big.gguf"
start C --model "$M" --model "$T/big.gguf" --bootstrap "$WS_B"
ready_peers B 1 && ok || bad "C did not join B"
start A --bootstrap "$WS_B"
ready_peers A 2 && ok || { bad "A did not reach both B and C"; curl -s "http://$API_A/peers"; }
has "$T/A.log" "(learned from" "A learned of C from B (peer exchange)"
curl -s "http://$API_A/peers" >"$T/peers.json"
has "$T/peers.json" "\"id\":\"$ID_B\"" "A's table has B by its key-derived id"
has "$T/peers.json" "\"id\":\"$ID_C\"" "A's table has C"
has "$T/peers.json" '"stories260K.gguf"' "peers advertise their models"

# capabilities change: a model copied into B's models directory is served
# by B and advertised again (CAPS) to A; removed, it is withdrawn
# peer_models NODE ID: the models NODE's table lists for peer ID
peer_models() {
    local api; eval "api=\$API_$1"
    curl -s "http://$api/peers" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if p["id"] == sys.argv[1]: print(" ".join(sorted(p["models"])))' "$2"
}
mkdir -p "$T/B/models"
cp "$M" "$T/B/models/extra.gguf"
for _ in $(seq 1 80); do peer_models A "$ID_B" | grep -q extra.gguf && break; sleep 0.1; done
if peer_models A "$ID_B" | grep -q extra.gguf; then ok; else bad "A did not learn of B's new model"; peer_models A "$ID_B"; fi
has "$T/A.log" "now serves 3 model(s)" "A logged B's CAPS"
curl -s -o "$T/b" -H "Content-Type: application/json" "http://$API_A/v1/completions" \
    --data-binary '{"model":"extra.gguf","prompt":"","max_tokens":8,"temperature":0}'
has "$T/b" '"completion_tokens":8' "A reaches the new model on B"
rm "$T/B/models/extra.gguf"
for _ in $(seq 1 80); do peer_models A "$ID_B" | grep -q extra.gguf || break; sleep 0.1; done
if peer_models A "$ID_B" | grep -q extra.gguf; then bad "B's removed model is still advertised"; else ok; fi
has "$T/B.log" "extra.gguf left" "B logged the removal"

# the golden greedy text, through A, which has no model
curl -s -D "$T/h" -o "$T/b" -H "Content-Type: application/json" "http://$API_A/v1/completions" \
    --data-binary '{"model":"stories260K.gguf","prompt":"","max_tokens":200,"temperature":0}'
has "$T/h" "200 OK" "remote completion status"
has "$T/h" "peer=" "X-Aria-Route names the peer"
if python3 - "$T/b" "$G" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
got, want = r["choices"][0]["text"], open(sys.argv[2]).read()
assert r["usage"]["completion_tokens"] == 200, r["usage"]
assert got == want[:len(got)] and len(got) > 100, (got[:80], want[:80])
PY
then ok; else bad "remote greedy text is not the golden text"; head -c 600 "$T/b"; echo; fi

# the router picks a peer's model for "auto"; chat streams through A
curl -s -D "$T/h" -o "$T/b" -H "Content-Type: application/json" "http://$API_A/v1/chat/completions" \
    --data-binary '{"model":"auto","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":20,"temperature":0}'
has "$T/h" "200 OK" "auto-routed chat"
has "$T/h" "reason=" "router decision header"
curl -s -o "$T/b" -H "Content-Type: application/json" "http://$API_A/v1/chat/completions" \
    --data-binary '{"model":"stories260K.gguf","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":20,"temperature":0}'
curl -sN -o "$T/sse" -H "Content-Type: application/json" "http://$API_A/v1/chat/completions" \
    --data-binary '{"model":"stories260K.gguf","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":20,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}'
if python3 - "$T/b" "$T/sse" <<'PY'
import json, sys
full = json.load(open(sys.argv[1]))["choices"][0]["message"]["content"]
text, usage, done = "", None, False
for line in open(sys.argv[2]):
    line = line.strip()
    if not line.startswith("data: "): continue
    if line == "data: [DONE]": done = True; continue
    c = json.loads(line[6:])
    if c.get("usage"): usage = c["usage"]
    for ch in c["choices"]: text += ch["delta"].get("content") or ""
assert done and usage and usage["completion_tokens"] == 20, (done, usage)
assert text == full, (text, full)
PY
then ok; else bad "streamed chat through a peer differs from the non-streamed one"; head -c 800 "$T/sse"; fi

# the uninterrupted greedy answer of the big model (served by a peer)
BIG='{"model":"big.gguf","prompt":"Once upon a time","max_tokens":120,"temperature":0'
curl -s -o "$T/ref.json" -H "Content-Type: application/json" "http://$API_A/v1/completions" \
    --data-binary "$BIG}"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["usage"]["completion_tokens"])' \
    "$T/ref.json" >"$T/ref.n" 2>&1
has "$T/ref.n" "120" "reference completion of the big model"

# kill the serving peer mid-stream: the other continues, same text
curl -sN -D "$T/kh" -o "$T/kill.sse" -H "Content-Type: application/json" \
    "http://$API_A/v1/completions" --data-binary "$BIG,\"stream\":true}" &
cpid=$!
for _ in $(seq 1 200); do [ "$(grep -c '^data: {' "$T/kill.sse" 2>/dev/null || true)" -ge 10 ] 2>/dev/null && break; sleep 0.02; done
victim=$(grep -o 'peer=[0-9a-f]*' "$T/kh" | cut -d= -f2)
if [ "$victim" = "$ID_B" ]; then kill -9 "$PID_B"; survivor=C; elif [ "$victim" = "$ID_C" ]; then kill -9 "$PID_C"; survivor=B; else survivor=""; fi
[ -n "$survivor" ] && ok || bad "no serving peer in the route header: $(cat "$T/kh")"
wait $cpid
if python3 - "$T/ref.json" "$T/kill.sse" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))["choices"][0]["text"]
text, n, done = "", 0, False
for line in open(sys.argv[2]):
    line = line.strip()
    if line == "data: [DONE]": done = True; continue
    if not line.startswith("data: {"): continue
    c = json.loads(line[6:])
    assert "error" not in c, c
    for ch in c["choices"]: text += ch.get("text") or ""
assert done, "stream not finished"
assert text == want, (len(text), len(want), text[-60:], want[-60:])
PY
then ok; else bad "after the kill the stream did not finish with the uninterrupted text"; tail -c 600 "$T/kill.sse"; fi
has "$T/A.log" "failed" "A logged the peer failure"
has "$T/A.log" "continuing on the next peer" "A continued on the other peer"

# cancellation reaches the peer: a client that leaves frees the peer's slot
eval "sapi=\$API_$survivor"
timeout 0.5 curl -sN -o /dev/null -H "Content-Type: application/json" \
    "http://$API_A/v1/completions" --data-binary '{"model":"big.gguf","prompt":"x","max_tokens":4000,"temperature":0,"stream":true}'
for _ in $(seq 1 50); do grep -q "(for a peer).*cancelled" "$T/$survivor.log" && break; sleep 0.1; done
has "$T/$survivor.log" "(for a peer)" "the survivor served the request"
has "$T/$survivor.log" "cancelled" "the cancel reached the peer"

# the last peer killed mid-stream: the stream ends with an error event
curl -sN -o "$T/last.sse" -H "Content-Type: application/json" \
    "http://$API_A/v1/completions" --data-binary "$BIG,\"stream\":true}" &
cpid=$!
for _ in $(seq 1 200); do [ "$(grep -c '^data: {' "$T/last.sse" 2>/dev/null || true)" -ge 10 ] 2>/dev/null && break; sleep 0.02; done
eval "kill -9 \$PID_$survivor"
wait $cpid
has "$T/last.sse" '"error":{"message":"peer ' "the stream ends with an error naming the peer"
has "$T/last.sse" "data: [DONE]" "and is closed properly"
for _ in $(seq 1 50); do ready_peers A 1 || break; sleep 0.1; done
curl -s -D "$T/h" -o "$T/b" -H "Content-Type: application/json" "http://$API_A/v1/completions" \
    --data-binary '{"model":"stories260K.gguf","prompt":"x","max_tokens":5}'
has "$T/h" "404" "no peer serves the model any more: 404"
has "$T/b" "does not exist on this node or its peers" "404 message"

# a misbehaving peer, against C's successor: a fresh node D with a model
start D --model "$M"
for mode in forged:"bad signature" stale:"stale" version:"unknown major protocol version 3" \
            idmismatch:"does not match its public key" early:"before the handshake finished" \
            junk:"not JSON" replay:"replayed HELLO"; do
    m=${mode%%:*} want=${mode#*:}
    "$PROBE" "$WS_D" "$m" >"$T/probe.out" 2>&1
    has "$T/probe.out" "closed: " "$m: the node closed the connection"
    has "$T/probe.out" "$want" "$m: the reason"
    has "$T/D.log" "$want" "$m: the node logged the reason"
done
for m in oversize badframe rawtcp; do
    "$PROBE" "$WS_D" "$m" >"$T/probe.out" 2>&1
    has "$T/probe.out" "closed: " "$m: the transport closed the connection"
done
"$PROBE" "$WS_D" good >"$T/probe.out" 2>&1
has "$T/probe.out" "ready $ID_D" "after all that, a good peer still completes the handshake"
curl -s -o "$T/b" -H "Content-Type: application/json" "http://$API_D/v1/completions" \
    --data-binary '{"model":"stories260K.gguf","prompt":"","max_tokens":8,"temperature":0}'
has "$T/b" '"completion_tokens":8' "the node still serves"
kill -0 "$PID_D" 2>/dev/null && ok || bad "node D died"

# identity: the key file is 0600 and the id stays across restarts
perm=$(stat -c %a "$T/D/identity.key")
[ "$perm" = 600 ] && ok || bad "identity.key mode $perm, want 600"
kill -TERM "$PID_D"; wait "$PID_D" 2>/dev/null
old=$ID_D
start D --model "$M"
[ "$ID_D" = "$old" ] && ok || bad "node id changed across restarts ($old -> $ID_D)"
chmod 644 "$T/D/identity.key"
kill -TERM "$PID_D"; wait "$PID_D" 2>/dev/null
"$ARIA" --plugins "$PLUG" --data-dir "$T/D" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 \
    >"$T/o" 2>"$T/e"
has "$T/e" "identity.key: mode 644 lets others read the secret key" "a readable key is refused"

finish
