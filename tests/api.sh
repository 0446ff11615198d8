#!/usr/bin/env bash
# The OpenAI-compatible API end to end, with curl: a real node serving
# ../shared/models/stories260K.gguf and a random bitnet-large model (slow
# enough at one thread to hold a slot), with API keys, a 64 KiB body limit,
# one slot per model and no queue. Every error path has a case here.
# usage: api.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR
set -u
ARIA=$1 PLUG=$2 SRC=$3
M="$SRC/../shared/models/stories260K.gguf"
G="$SRC/../shared/golden/stories260K.greedy-from-bos.200.txt"
T=$(mktemp -d /tmp/aria-api-XXXXXX)
node_pid=""
cleanup() { [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
has() { # file text description
    if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in:"; head -c 2000 "$1" | sed 's/^/    /'; echo; fi
}
hasnt() {
    if grep -qF -- "$2" "$1"; then bad "$3: '$2' unexpected in $1"; else ok; fi
}
status() { # want description: checks the status line of $T/h
    local got; got=$(head -1 "$T/h" | tr -d '\r' | cut -d' ' -f2)
    if [ "$got" = "$1" ]; then ok; else bad "$2: HTTP $got, want $1"; cat "$T/h" "$T/b" 2>/dev/null | head -20; fi
}
KEY="Authorization: Bearer test-key-2"
req() { # METHOD PATH [curl args...]: headers to $T/h, body to $T/b
    local m=$1 p=$2; shift 2
    curl -s -X "$m" -D "$T/h" -o "$T/b" -H "$KEY" "$@" "http://$ADDR$p"
}
post() { # PATH JSON
    req POST "$1" -H "Content-Type: application/json" --data-binary "$2"
}

[ -f "$M" ] || { echo "api: $M missing"; echo "0 passed, 1 failed"; exit 1; }
"$ARIA" bench --shape bitnet-large --type TQ2_0 --write "$T/big.gguf" >/dev/null 2>&1 ||
    bad "writing the random bitnet-large model"

"$ARIA" --plugins "$PLUG" --data-dir "$T/data" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 --threads 1 \
    --model "$M" --model "$T/big.gguf" \
    --set api.api_keys=test-key-1,test-key-2 --set api.max_body_kb=64 \
    --set api.slots_per_model=1 --set api.queue_depth=0 --log-level info \
    >"$T/node.out" 2>"$T/node.log" &
node_pid=$!
for _ in $(seq 1 100); do grep -q "ready" "$T/node.log" && break; sleep 0.1; done
ADDR=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/node.log" | head -1 | sed 's|http://||')
[ -n "$ADDR" ] && ok || { bad "node did not start"; cat "$T/node.log"; exit 1; }

# health needs no key; everything else does
curl -s -D "$T/h" -o "$T/b" "http://$ADDR/health"
status 200 "health"
has "$T/b" '"status":"ok"' "health body"
curl -s -D "$T/h" -o "$T/b" "http://$ADDR/v1/models"
status 401 "no key"
has "$T/b" '"code":"invalid_api_key"' "401 error object"
curl -s -D "$T/h" -o "$T/b" -H "Authorization: Bearer wrong" "http://$ADDR/v1/models"
status 401 "wrong key"
req GET /v1/models
status 200 "models"
has "$T/b" '"id":"stories260K.gguf"' "models lists the --model file"
has "$T/b" '"id":"big.gguf"' "models lists the second file"
has "$T/b" '"efficiency"' "the ternary model is in the efficiency tier"
req GET /v1/models/stories260K.gguf
status 200 "one model"
req GET /v1/models/nope.gguf
status 404 "one unknown model"

# greedy completion from BOS is the golden text
post /v1/completions '{"model":"stories260K.gguf","prompt":"","max_tokens":200,"temperature":0}'
status 200 "completion"
if python3 - "$T/b" "$G" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
want = open(sys.argv[2]).read()
got = r["choices"][0]["text"]
assert r["object"] == "text_completion", r
assert r["usage"]["completion_tokens"] == 200, r["usage"]
assert r["choices"][0]["finish_reason"] == "length", r
assert got == want, (got[-80:], want[-80:])
PY
then ok; else bad "greedy completion is not the golden text"; fi
has "$T/h" "X-Aria-Route: class=none; model=stories260K.gguf; reason=requested by name" "route header"

# chat, not streamed, seeded: the same seed gives the same answer
body='{"model":"stories260K.gguf","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":24,"temperature":0.8,"seed":42,"logprobs":true,"top_logprobs":3}'
post /v1/chat/completions "$body"
status 200 "chat"
cp "$T/b" "$T/chat1"
post /v1/chat/completions "$body"
if python3 - "$T/chat1" "$T/b" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
c = a["choices"][0]
assert a["object"] == "chat.completion" and c["message"]["role"] == "assistant", a
assert c["message"]["content"] == b["choices"][0]["message"]["content"], "seed"
lp = c["logprobs"]["content"]
assert len(lp) == a["usage"]["completion_tokens"] == 24, len(lp)
assert all(len(e["top_logprobs"]) == 3 and e["logprob"] <= 0 for e in lp), lp[0]
PY
then ok; else bad "chat answer, seed or logprobs"; fi

# streamed chat with usage in the last chunk
post /v1/chat/completions '{"model":"stories260K.gguf","messages":[{"role":"user","content":"Hi"}],"max_tokens":8,"stream":true,"stream_options":{"include_usage":true}}'
status 200 "stream"
has "$T/h" "Content-Type: text/event-stream" "SSE content type"
if python3 - "$T/b" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n\n") if l.strip()]
assert lines[-1] == "data: [DONE]", lines[-1]
chunks = [json.loads(l[6:]) for l in lines[:-1]]
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
assert chunks[-2]["choices"][0]["finish_reason"] == "length"
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 8
PY
then ok; else bad "SSE chunks"; fi

# streamed completion with a stop string
post /v1/completions '{"model":"stories260K.gguf","prompt":"Once upon a time","max_tokens":60,"temperature":0,"stop":["Lily"],"stream":true}'
status 200 "stream completion"
has "$T/b" '"finish_reason":"stop"' "stop string ends the stream"
hasnt "$T/b" 'Lily' "the stop string is not sent"

# errors
post /v1/chat/completions '{"model": "stories260K.gguf", "messages": ['
status 400 "malformed JSON"
has "$T/b" "not valid JSON" "malformed JSON message"
has "$T/b" '"type":"invalid_request_error"' "error type"
post /v1/chat/completions '[1,2]'
status 400 "not an object"
post /v1/chat/completions '{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}'
status 404 "unknown model"
has "$T/b" '"code":"model_not_found"' "unknown model code"
post /v1/chat/completions '{"messages":[]}'
status 400 "empty messages"
has "$T/b" '"param":"messages"' "empty messages param"
post /v1/chat/completions '{"messages":[{"role":"wizard","content":"x"}]}'
status 400 "bad role"
post /v1/chat/completions '{"model":"stories260K.gguf","messages":[{"role":"user","content":"x"}],"n":2}'
status 400 "n=2"
has "$T/b" '"param":"n"' "n param"
post /v1/chat/completions '{"model":"stories260K.gguf","messages":[{"role":"user","content":"x"}],"temperature":5}'
status 400 "temperature out of range"
has "$T/b" '"param":"temperature"' "temperature param"
post /v1/completions '{"model":"stories260K.gguf","prompt":"x","max_tokens":0}'
status 400 "max_tokens 0"
post /v1/completions '{"model":"stories260K.gguf","prompt":"x","stop":[1]}'
status 400 "bad stop"
long=$(python3 -c 'print("{\"model\":\"stories260K.gguf\",\"prompt\":\"" + "the cat sat on a mat and " * 1200 + "\"}")')
post /v1/completions "$long"
status 400 "context overflow"
has "$T/b" '"code":"context_length_exceeded"' "context overflow code"
huge=$(python3 -c 'print("{\"prompt\":\"" + "x" * 70000 + "\"}")')
post /v1/completions "$huge"
status 413 "body too large"
has "$T/b" '"code":"request_too_large"' "413 code"
req GET /v1/chat/completions
status 405 "wrong method"
req GET /v1/nothing
status 404 "unknown path"

# the router: "auto" classifies and says why in a header
post /v1/chat/completions '{"model":"auto","messages":[{"role":"user","content":"Write a python function that reverses a list"}],"max_tokens":1}'
status 200 "auto model"
has "$T/h" "X-Aria-Route: class=code;" "router class in header"

# one slot and no queue: a second request while a long one runs gets 429;
# a client that disconnects cancels its generation and frees the slot
curl -s -N -H "$KEY" -H "Content-Type: application/json" "http://$ADDR/v1/chat/completions" \
    --data-binary '{"model":"big.gguf","messages":[{"role":"user","content":"x"}],"max_tokens":3000,"stream":true}' \
    >"$T/bg" 2>&1 &
bg=$!
for _ in $(seq 1 100); do grep -q "delta" "$T/bg" 2>/dev/null && break; sleep 0.1; done
has "$T/bg" '"delta"' "long stream started"
post /v1/chat/completions '{"model":"big.gguf","messages":[{"role":"user","content":"y"}],"max_tokens":1}'
status 429 "queue full"
has "$T/b" '"code":"rate_limit_exceeded"' "429 code"
kill "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
for _ in $(seq 1 50); do grep -q "cancelled (client gone)" "$T/node.log" && break; sleep 0.1; done
has "$T/node.log" "cancelled (client gone)" "disconnect cancels the generation"
post /v1/chat/completions '{"model":"big.gguf","messages":[{"role":"user","content":"y"}],"max_tokens":1}'
status 200 "the slot is free again after the cancel"

# metrics
req GET /metrics
status 200 "metrics"
has "$T/h" "text/plain; version=0.0.4" "Prometheus content type"
has "$T/b" 'aria_completion_tokens_total{model="stories260K.gguf"}' "tokens per model"
has "$T/b" 'aria_errors_total{model="big.gguf",kind="queue_full"} 1' "429 counted"
has "$T/b" 'aria_errors_total{model="big.gguf",kind="cancelled"} 1' "cancel counted"
has "$T/b" 'aria_errors_total{model="",kind="unauthorized"} 2' "401s counted"
has "$T/b" 'aria_errors_total{model="",kind="too_large"} 1' "413 counted"
if python3 - "$T/b" <<'PY'
import sys
for line in open(sys.argv[1]):
    if line.startswith('aria_requests_total{model="stories260K.gguf"}'):
        assert float(line.split()[-1]) >= 5, line
        sys.exit(0)
sys.exit(1)
PY
then ok; else bad "requests counted"; fi

kill -TERM "$node_pid"
wait "$node_pid"; rc=$?
if [ "$rc" = 0 ]; then ok; else bad "node exit $rc after SIGTERM"; grep -v "^info" "$T/node.log" | tail -40; fi
node_pid=""
has "$T/node.log" "stopped" "clean stop"

# several models, LRU: room for one big model only, so loading the second
# unloads the first (the least recently used)
cp "$T/big.gguf" "$T/big2.gguf"
"$ARIA" --plugins "$PLUG" --data-dir "$T/d3" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 --threads 1 \
    --model "$T/big.gguf" --model "$T/big2.gguf" --set models.ctx_size=256 \
    --set models.max_memory_mb=400 >/dev/null 2>"$T/lru.log" &
node_pid=$!
for _ in $(seq 1 100); do grep -q "ready" "$T/lru.log" && break; sleep 0.1; done
ADDR=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/lru.log" | head -1 | sed 's|http://||')
KEY="X-None: 1"
post /v1/completions '{"model":"big.gguf","prompt":"a","max_tokens":2}'
status 200 "first big model"
post /v1/completions '{"model":"big2.gguf","prompt":"a","max_tokens":2}'
status 200 "second big model"
has "$T/lru.log" "unloading big.gguf (least recently used) to make room for big2.gguf" "LRU unload"
req GET /v1/models
if python3 - "$T/b" <<'PY'
import json, sys
d = {m["id"]: m["aria"]["loaded"] for m in json.load(open(sys.argv[1]))["data"]}
assert d == {"big.gguf": False, "big2.gguf": True}, d
PY
then ok; else bad "loaded flags after LRU"; fi
req GET /metrics
has "$T/b" 'aria_model_unloads_total{model="big.gguf"} 1' "LRU unload counted"
has "$T/b" 'aria_model_loads_total{model="big2.gguf"} 1' "load counted"
kill -TERM "$node_pid"; wait "$node_pid"; node_pid=""

# a model that cannot fit [models] max_memory_mb: 503, the reason named
"$ARIA" --plugins "$PLUG" --data-dir "$T/d4" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 --model "$T/big.gguf" \
    --set models.max_memory_mb=16 >/dev/null 2>"$T/mem.log" &
node_pid=$!
for _ in $(seq 1 100); do grep -q "ready" "$T/mem.log" && break; sleep 0.1; done
ADDR=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/mem.log" | head -1 | sed 's|http://||')
post /v1/completions '{"model":"big.gguf","prompt":"a","max_tokens":2}'
status 503 "model larger than max_memory_mb"
has "$T/b" "max_memory_mb 16" "503 names the limit"
has "$T/b" '"type":"server_error"' "503 error type"
kill -TERM "$node_pid"; wait "$node_pid"; node_pid=""

# a bad --model is one clear line
"$ARIA" --plugins "$PLUG" --data-dir "$T/d2" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 --model "$T/none.gguf" \
    >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 2 ] && ok || bad "missing --model exit $rc"
has "$T/err" "--model $T/none.gguf: No such file or directory" "missing --model line"

# a layer range ([models] layers): held for pipelines, not answered alone,
# advertised with its range; a range past the model's last layer is refused
"$ARIA" --plugins "$PLUG" --data-dir "$T/d5" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 --model "$M" \
    --set models.layers=stories260K.gguf:0-1 --log-level info >/dev/null 2>"$T/part.log" &
node_pid=$!
for _ in $(seq 1 100); do grep -q "ready" "$T/part.log" && break; sleep 0.1; done
ADDR=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/part.log" | head -1 | sed 's|http://||')
has "$T/part.log" "layers 0-1 of 5, for pipelines" "the range is logged"
req GET /v1/models
if grep -q stories260K "$T/b"; then bad "a layer range is listed as a model: $(cat "$T/b")"; else ok; fi
post /v1/completions '{"model":"stories260K.gguf","prompt":"a","max_tokens":2}'
status 503 "the first layers alone cannot answer"
has "$T/b" "holds layers 0..1 of 5, and the rest is not available: no node holds layers 2..4 of 5" \
    "the missing layers are named"
has "$T/b" '"code":"model_not_available"' "the error code"
kill -TERM "$node_pid"; wait "$node_pid"; node_pid=""
"$ARIA" --plugins "$PLUG" --data-dir "$T/d6" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 --model "$M" \
    --set models.layers=stories260K.gguf:3-9 >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 2 ] && ok || bad "a range past the last layer: exit $rc"
has "$T/err" "[models] layers stories260K.gguf:3-9: the model has 5 layers (0-4)" "the bad range is named"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
