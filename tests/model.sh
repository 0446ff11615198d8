#!/usr/bin/env bash
# `aria-core model list|info|download|import|remove` end to end: the built-in
# catalog and its license gate, downloads from a local HTTP server on
# 127.0.0.1 (an interrupted transfer resumed, a wrong checksum, a file that
# is not GGUF), import and remove.
# usage: model.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR
set -u
ARIA=$1 PLUG=$2 SRC=$3
M="$SRC/../shared/models/stories260K.gguf"
T=$(mktemp -d /tmp/aria-model-XXXXXX)
srv_pid=""
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect_rc() {
    local want=$1 what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, want $want"; cat "$T/out" "$T/err"; fi
}
has() {
    if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $1:"; sed 's/^/    /' "$1"; fi
}
A=("$ARIA" --plugins "$PLUG" --data-dir "$T/data")
MD="$T/data/models"

# the catalog: 16 entries, every license through the gate
expect_rc 0 "model list" "${A[@]}" model list
[ "$(grep -cE ' (MIT|Apache-2.0|TII-Falcon-2.0) ' "$T/out")" = 16 ] && ok || bad "16 catalog entries"
has "$T/out" "bitnet-b1.58-2b-4t" "2B-4T in the catalog"
has "$T/out" "microsoft/bitnet-b1.58-2B-4T-gguf" "its source"
expect_rc 0 "model list --json" "${A[@]}" model list --json
if python3 - "$T/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
tiers = [e["tier"] for e in d["catalog"]]
assert len(tiers) == 16 and tiers.count("efficiency") == 8 and tiers.count("quality") == 5, tiers
assert d["installed"] == [], d["installed"]
PY
then ok; else bad "catalog JSON"; fi
expect_rc 0 "model info ID" "${A[@]}" model info falcon-e-1b-instruct
has "$T/out" "TII-Falcon-2.0" "catalog entry info"
expect_rc 1 "model info unknown" "${A[@]}" model info no-such-model
has "$T/err" "no such file, and no catalog entry" "unknown model info"

# the license gate, at load time, naming the entry
cat >"$T/cat.json" <<'EOF'
[{"id": "ok-model", "tier": "quality", "license": "MIT", "repo": "x/y", "file": "a.gguf"},
 {"id": "gemma-3-1b", "tier": "quality", "license": "Gemma", "repo": "google/gemma-3-1b-it", "file": "g.gguf"}]
EOF
expect_rc 1 "catalog with a gated license" "${A[@]}" --set "models.catalog=$T/cat.json" model list
has "$T/err" "cat.json: entry 2 'gemma-3-1b': license is not MIT, Apache-2.0 or TII-Falcon-2.0" "gate names the entry"
"$ARIA" --plugins "$PLUG" --data-dir "$T/gate" --api 127.0.0.1:0 --listen ws://127.0.0.1:0 --set "models.catalog=$T/cat.json" \
    >/dev/null 2>"$T/err" & gp=$!
for _ in $(seq 1 50); do kill -0 $gp 2>/dev/null || break; sleep 0.1; done
if kill -0 $gp 2>/dev/null; then bad "node started with a gated catalog"; kill -9 $gp; else ok; fi
wait $gp 2>/dev/null
has "$T/err" "entry 2 'gemma-3-1b'" "the node refuses the catalog"
printf '[{"id": "x",' >"$T/broken.json"
expect_rc 1 "malformed catalog" "${A[@]}" --set "models.catalog=$T/broken.json" model list
has "$T/err" "broken.json:1:" "catalog JSON error names file and line"

# downloads from 127.0.0.1: cut after 100000 bytes, then resumed
mkdir -p "$T/www"
cp "$M" "$T/www/story.gguf"
head -c 300000 /dev/urandom >"$T/www/junk.gguf"
python3 "$SRC/tests/tools/httpserve.py" "$T/www" --cut-once 100000 >"$T/port" &
srv_pid=$!
for _ in $(seq 1 50); do [ -s "$T/port" ] && break; sleep 0.1; done
U="http://127.0.0.1:$(cat "$T/port")"
want=$(sha256sum "$M" | cut -d' ' -f1)
expect_rc 1 "interrupted download" "${A[@]}" model download "$U/story.gguf"
has "$T/err" "run the same command again to resume" "interruption says how to resume"
[ ! -e "$MD/story.gguf" ] && ok || bad "a half download was installed"
[ "$(stat -c %s "$MD/story.gguf.verify.part" 2>/dev/null)" = 100000 ] && ok || bad "partial bytes kept"
expect_rc 0 "resumed download" "${A[@]}" model download "$U/story.gguf" --sha256 "$want"
has "$T/out" "(resumed)" "resumed"
has "$T/out" "sha256 $want (verified)" "checksum verified"
cmp -s "$M" "$MD/story.gguf" && ok || bad "downloaded file differs"
[ ! -e "$MD/story.gguf.verify.part" ] && ok || bad "part file left behind"
expect_rc 1 "download over an installed model" "${A[@]}" model download "$U/story.gguf"
has "$T/err" "already installed" "no overwrite"
# wrong checksum: refused, nothing installed, nothing kept
cp "$M" "$T/www/story2.gguf"
expect_rc 1 "cut again (new file)" "${A[@]}" model download "$U/story2.gguf" --sha256 "$(printf '0%.0s' $(seq 64))"
expect_rc 1 "wrong checksum" "${A[@]}" model download "$U/story2.gguf" --sha256 "$(printf '0%.0s' $(seq 64))"
has "$T/err" "expected 0000" "checksum mismatch named"
[ ! -e "$MD/story2.gguf" ] && [ ! -e "$MD/story2.gguf.verify.part" ] && ok || bad "bad download kept"
# not a GGUF file
expect_rc 1 "cut junk" "${A[@]}" model download "$U/junk.gguf"
expect_rc 1 "junk download" "${A[@]}" model download "$U/junk.gguf"
has "$T/err" "not a valid GGUF file" "junk refused"
[ ! -e "$MD/junk.gguf" ] && ok || bad "junk installed"
expect_rc 1 "404" "${A[@]}" model download "$U/missing.gguf"
has "$T/err" "404" "404 reported"
expect_rc 2 "bad --sha256" "${A[@]}" model download "$U/story.gguf" --sha256 xyz
expect_rc 2 "neither ID nor URL" "${A[@]}" model download frobnicator

# import and remove
expect_rc 0 "import" "${A[@]}" model import "$M" --as tiny-story.gguf
has "$T/out" "sha256 $want" "import checksum"
cmp -s "$M" "$MD/tiny-story.gguf" && ok || bad "imported file differs"
expect_rc 1 "import junk" "${A[@]}" model import "$T/www/junk.gguf" --as junk2.gguf
has "$T/err" "not a valid GGUF file" "import validates"
[ ! -e "$MD/junk2.gguf" ] && ok || bad "junk imported"
expect_rc 1 "import twice" "${A[@]}" model import "$M" --as tiny-story.gguf
expect_rc 2 "import outside the dir" "${A[@]}" model import "$M" --as ../evil.gguf
expect_rc 0 "list shows installed" "${A[@]}" model list
has "$T/out" "tiny-story.gguf" "installed listed"
expect_rc 0 "remove" "${A[@]}" model remove tiny-story
[ ! -e "$MD/tiny-story.gguf" ] && ok || bad "removed file still there"
expect_rc 1 "remove missing" "${A[@]}" model remove tiny-story
has "$T/err" "No such file" "remove missing says so"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
