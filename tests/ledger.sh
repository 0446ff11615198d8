#!/usr/bin/env bash
# The provenance ledger end to end, with real nodes on 127.0.0.1 and
# stories260K: S serves completions and records each one (hashes, model
# file hash, its signature, energy labeled estimated), seals a block every
# 4 records and sends records and block headers to its peers; V, a
# validator re-running every record it receives (on 2 threads where S used
# 1), passes them all; a seeded request made twice gives the same output
# hash; `aria-core ledger verify|show|stats|export|rewards` read the
# databases; a node that lies about its output (tests/tools/ledger_liar.c)
# is caught, its reputation drops and its reward with it, its forged block
# header is refused; a two-stage
# pipeline's record carries both stages' signatures; a stored field changed
# behind the ledger's back is named by verify.
# usage: ledger.sh ARIA_CORE PLUGIN_DIR SOURCE_DIR LEDGER_LIAR
set -u
ARIA=$1 PLUG=$2 SRC=$3 LIAR=$4
M="$SRC/../shared/models/stories260K.gguf"
T=$(mktemp -d /tmp/aria-ledger-XXXXXX)
. "$SRC/tests/lib.sh"
trap cleanup EXIT
[ -f "$M" ] || { bad "$M missing"; finish; }
led() { local n=$1; shift; "$ARIA" --plugins "$PLUG" --data-dir "$T/$n" ledger "$@"; }
# jq-like: py FILE EXPR -- prints EXPR evaluated with j = the JSON in FILE
py() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

L="--set ledger.block_records=4 --set ledger.block_seconds=3600"
start V --model "$M" $L --set ledger.validator=true --set ledger.spot_check_rate=1 --threads 2
start S --model "$M" $L --bootstrap "$WS_V"
ready S V && ready V S && ok || bad "S and V did not connect"

# ---------------------------------------------------------------- records
Q='{"model":"stories260K.gguf","prompt":"Once upon a time","max_tokens":24,"temperature":0}'
R='{"model":"stories260K.gguf","prompt":"The cat","max_tokens":24,"temperature":0.9,"seed":7}'
post S /v1/completions "$Q" "$T/r1"
post S /v1/completions "$R" "$T/r2"
post S /v1/completions "$R" "$T/r3"
post S /v1/chat/completions '{"model":"stories260K.gguf","messages":[{"role":"user","content":"Hi"}],"max_tokens":16,"temperature":0}' "$T/r4"
post S /v1/completions '{"model":"stories260K.gguf","prompt":"A dog","max_tokens":16,"stream":true,"temperature":0}' "$T/r5"
grep -q '"text"' "$T/r1" && grep -q '"text"' "$T/r2" && ok || bad "the completions failed: $(cat "$T/r1")"
wait_log S "record 5," 1 10 && ok || bad "S did not record 5 inferences"
wait_log V "spot-check of" 5 60 && ok || { bad "V did not spot-check the 5 records"; tail -20 "$T/V.log"; }
[ "$(grep -c 'spot-check of.*: passed' "$T/V.log")" = 5 ] && ok ||
    { bad "V's spot-checks of an honest node did not all pass"; grep "spot-check" "$T/V.log"; }

led S verify >"$T/verify" 2>&1 && ok || bad "ledger verify on S failed: $(cat "$T/verify")"
has "$T/verify" "5 records, 1 block:" "S's verify"
led S show >"$T/show" 2>&1 && ok || bad "ledger show failed"
[ "$(grep -c 'stories260K.gguf' "$T/show")" = 5 ] && ok || { bad "show does not list 5 records"; cat "$T/show"; }
has "$T/show" "estimated" "show: the energy's label"
led S export "$T/export.jsonl" 2>"$T/export.err" && ok || bad "export failed: $(cat "$T/export.err")"
python3 - "$T/export.jsonl" "$ID_S" <<'PY' && ok || bad "S's export"
import json, sys, hashlib
lines = [json.loads(l) for l in open(sys.argv[1])]
recs = [l for l in lines if l["kind"] == "record"]
blocks = [l for l in lines if l["kind"] == "block"]
assert len(recs) == 5 and len(blocks) == 1, (len(recs), len(blocks))
assert [r["seq"] for r in recs] == [1, 2, 3, 4, 5]
for a, b in zip(recs, recs[1:]):
    assert b["prev_hash"] == a["hash"], "chain link"
for r in recs:
    assert len(r["stages"]) == 1 and r["stages"][0]["first"] == 0 and r["stages"][0]["end"] == 5
    # the node id is the first 20 bytes of SHA-256 of the public key
    assert hashlib.sha256(bytes.fromhex(r["stages"][0]["node"])).hexdigest()[:40] == sys.argv[2]
    assert r["energy_source"] == "estimated" and r["energy_mj"] >= 0
    assert r["tokens_out"] > 0 and r["latency_us"] > 0
# the same seeded request twice: the same output
assert recs[1]["output_hash"] == recs[2]["output_hash"] and recs[1]["seed"] == "7"
assert recs[1]["query_hash"] == recs[2]["query_hash"]
assert recs[0]["output_hash"] != recs[1]["output_hash"]
assert blocks[0]["first_seq"] == 1 and blocks[0]["last_seq"] == 4
PY
python3 - "$T/export.jsonl" "$M" <<'PY' && ok || bad "model_hash is not the model file's SHA-256"
import json, sys, hashlib
h = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
recs = [json.loads(l) for l in open(sys.argv[1]) if '"record"' in l]
assert all(r["model_hash"] == h for r in recs)
PY
led S stats --json >"$T/stats.json" 2>&1 && ok || bad "stats failed"
[ "$(py "$T/stats.json" 'j["records"]')" = 5 ] && ok || { bad "stats: records"; cat "$T/stats.json"; }
get S /metrics "$T/metrics"
has "$T/metrics" "aria_ledger_records_total 5" "S's metrics"
has "$T/metrics" 'aria_energy_millijoules_total{source="estimated"}' "S's energy metric"
get V /metrics "$T/vmetrics"
has "$T/vmetrics" 'aria_spot_checks_total{result="passed"} 5' "V's spot-check metric"
has "$T/vmetrics" "aria_ledger_peer_records_total 5" "V stored S's records"
get V /ledger/blocks "$T/vblocks"
python3 - "$T/vblocks" "$ID_S" <<'PY' && ok || { bad "V does not show S's block header"; cat "$T/vblocks"; }
import json, sys
j = json.load(open(sys.argv[1]))
assert any(b["from"] == sys.argv[2] and b["height"] == 1 for b in j["network"]), j
assert j["blocks"] and j["blocks"][0]["height"] >= 1  # V sealed its own block of S's records
PY

# ---------------------------------------------------------------- a liar
"$LIAR" "$PLUG" "$T/liar" "$WS_V" "$M" 2 8 >"$T/liar.out" 2>"$T/liar.log" &
LPID=$!
pids+=($LPID)
wait_log V "FAILED" 2 40 && ok || { bad "V did not catch the liar"; tail -30 "$T/V.log"; cat "$T/liar.out" "$T/liar.log"; }
has "$T/V.log" "reputation 0.25 after a failed spot-check" "the liar's reputation"
has "$T/V.log" "block header 7 refused: bad signature" "a forged block header"
wait "$LPID" && ok || { bad "the liar did not run: $(cat "$T/liar.out" "$T/liar.log")"; }
get V /metrics "$T/vmetrics"
has "$T/vmetrics" 'aria_spot_checks_total{result="failed"} 2' "V's failed spot-checks"
led V verify >"$T/vverify" 2>&1 && ok || bad "V's ledger does not verify: $(cat "$T/vverify")"
led V rewards --json >"$T/rewards.json" 2>&1 && ok || bad "rewards failed: $(cat "$T/rewards.json")"
python3 - "$T/rewards.json" "$ID_S" <<'PY' && ok || { bad "rewards"; cat "$T/rewards.json"; }
import json, sys
nodes = {n["node"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
s = nodes[sys.argv[2]]
liar = [n for k, n in nodes.items() if k != sys.argv[2]]
assert s["completed"] == 5 and s["pass_rate"] == 1.0, s
assert len(liar) == 1 and liar[0]["completed"] == 2 and liar[0]["pass_rate"] == 0.0, liar
assert liar[0]["quality"] < s["quality"], (s, liar)
for n in nodes.values():  # the formula, on what the ledger holds
    assert 0.5 <= n["efficiency"] <= 2.0 and 0 <= n["quality"] <= 1, n
    q = (n["uptime"] + n["latency_score"] + n["pass_rate"]) / 3
    assert abs(n["quality"] - q) < 1e-9, n
    assert abs(n["reward"] - n["completed"] * q * n["efficiency"]) < 1e-9, n
PY
led V export "$T/vexport.jsonl" 2>/dev/null
python3 - "$T/vexport.jsonl" <<'PY' && ok || bad "V's exported spot-checks"
import json, sys
checks = [json.loads(l) for l in open(sys.argv[1]) if '"check"' in l]
assert sum(c["passed"] for c in checks) == 5 and sum(not c["passed"] for c in checks) == 2, checks
PY

# ---------------------------------------------------------------- a pipeline
start P2 --model "$M" --set models.layers=stories260K.gguf:3-4
start P1 --model "$M" --set models.layers=stories260K.gguf:0-2 --bootstrap "$WS_P2"
ready P1 P2 && ok || bad "P1 and P2 did not connect"
post P1 /v1/completions "$Q" "$T/p1"
grep -q '"text"' "$T/p1" && ok || bad "the pipeline did not answer: $(cat "$T/p1")"
wait_log P1 "record 1," 1 10 && ok || { bad "P1 did not record the pipeline's inference"; grep ledger "$T/P1.log"; }
led P1 export "$T/pexport.jsonl" 2>/dev/null
python3 - "$T/pexport.jsonl" "$ID_P1" "$ID_P2" "$T/export.jsonl" <<'PY' && ok || { bad "the pipeline's record"; cat "$T/pexport.jsonl"; }
import json, sys, hashlib
r = [json.loads(l) for l in open(sys.argv[1]) if '"record"' in l]
assert len(r) == 1, r
st = r[0]["stages"]
ids = [hashlib.sha256(bytes.fromhex(s["node"])).hexdigest()[:40] for s in st]
assert ids == sys.argv[2:4], ids
assert [(s["first"], s["end"]) for s in st] == [(0, 3), (3, 5)], st
# the same greedy prompt as S's first record: the same output
s1 = [json.loads(l) for l in open(sys.argv[4]) if '"record"' in l][0]
assert r[0]["output_hash"] == s1["output_hash"] and r[0]["query_hash"] == s1["query_hash"]
PY
led P1 verify >"$T/pverify" 2>&1 && ok || bad "P1's ledger: $(cat "$T/pverify")"
get P2 /metrics "$T/p2metrics"
has "$T/p2metrics" "aria_ledger_peer_records_total 1" "P2 stored the record it signed"

# ---------------------------------------------------------------- tampering
stop S
python3 - "$T/S/ledger.db" <<'PY' || bad "cannot edit S's database"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE records SET tokens_out = tokens_out + 1 WHERE seq = 3")
db.commit()
PY
led S verify >"$T/verify2" 2>&1
[ $? = 1 ] && ok || bad "verify passed a tampered ledger: $(cat "$T/verify2")"
has "$T/verify2" "first bad record: 3" "verify names the tampered record"
led S verify --bogus >/dev/null 2>&1; [ $? = 2 ] && ok || bad "a bad option is not a usage error"
led S show --limit x >"$T/err" 2>&1; has "$T/err" "--limit needs a number" "a bad --limit"
"$ARIA" --plugins "$PLUG" --data-dir "$T/none" ledger verify >"$T/err" 2>&1
has "$T/err" "no ledger at" "verify without a ledger"
stop V
stop P1
stop P2
finish
