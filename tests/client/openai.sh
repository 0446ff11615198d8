#!/usr/bin/env bash
# Runs openai.mjs (the official `openai` npm package) against a real node
# serving ../shared/models/stories260K.gguf. Installs the package from the
# npm registry (package-lock.json) the first time.
# usage: openai.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR
set -u
ARIA=$1 PLUG=$2 SRC=$3
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "FAIL: openai client test needs node and npm"; exit 1; }
if [ ! -d "$here/node_modules/openai" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) ||
        { echo "FAIL: npm ci in $here"; exit 1; }
fi
T=$(mktemp -d /tmp/aria-openai-XXXXXX)
node_pid=""
cleanup() { [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
"$ARIA" --plugins "$PLUG" --data-dir "$T/data" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 \
    --model "$SRC/../shared/models/stories260K.gguf" --set api.api_keys=sk-test \
    >"$T/out" 2>"$T/log" &
node_pid=$!
for _ in $(seq 1 100); do grep -q "ready" "$T/log" && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*/v1' "$T/log" | head -1)
[ -n "$url" ] || { echo "FAIL: node did not start"; cat "$T/log"; exit 1; }
node "$here/openai.mjs" "$url" sk-test "$SRC/../shared/golden/stories260K.greedy-from-bos.200.txt"
rc=$?
kill -TERM "$node_pid"; wait "$node_pid"; node_pid=""
exit $rc
