#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
# usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Seeds: the real GGUF files in ../shared, copied into a scratch corpus.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
secs=${1:-60}
out=$(mktemp -d /tmp/aria-fuzz-XXXXXX)
trap 'rm -rf "$out"' EXIT
cflags=(-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$src/sdk/include")
clang "${cflags[@]}" "$here/fuzz_gguf.c" "$src/sdk/src/gguf.c" "$src/sdk/src/err.c" \
    "$src/sdk/src/quant.c" -lm -o "$out/fuzz_gguf"
mkdir -p "$out/corpus"
for f in "$src/../shared/models/"*.gguf "$src/../shared/vocab/"*.gguf; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 4000000 ] && cp "$f" "$out/corpus/"
done
echo "fuzz_gguf: ${secs}s from $(ls "$out/corpus" | wc -l) seeds"
"$out/fuzz_gguf" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" 2>"$out/log" || { grep -B2 -A40 -E "ERROR|SUMMARY|crash" "$out/log" | head -80; echo "0 passed, 1 failed"; exit 1; }
grep -E "stat::number_of_executed_units|Done" "$out/log" | tail -2

# the peer protocol: frames and messages (seeds: one message of each type)
clang "${cflags[@]}" -I"$src/core" -I"$src/plugins/transport-ws" "$here/fuzz_proto.c" \
    "$src/core/proto.c" "$src/core/identity.c" "$src/core/ledger_json.c" "$src/sdk/src/ledger.c" \
    "$src/sdk/src/err.c" \
    $(pkg-config --cflags --libs jansson libsodium) -o "$out/fuzz_proto"
mkdir -p "$out/pcorpus"
i=0
for m in '{"type":"hello","body":"{\"proto\":\"2.0\",\"id\":\"00\",\"pk\":\"00\",\"nonce\":\"00\",\"ts\":1,\"seq\":1,\"models\":[{\"id\":\"m\",\"layers\":[0,2],\"n_layers\":2}]}","sig":"00"}' \
         '{"type":"auth","sig":"00"}' '{"type":"peers","peers":[{"id":"0","pk":"0","url":"ws://1.2.3.4:5"}]}' \
         '{"type":"infer","rid":"a-1","endpoint":"chat","request":{"messages":[]},"resume":[1,2]}' \
         '{"type":"token","rid":"a","text":"x","token":3,"lp":{}}' \
         '{"type":"done","rid":"a","finish":"stop","prompt_tokens":1,"completion_tokens":2}' \
         '{"type":"error","rid":"a","status":429,"message":"m","code":"c"}' \
         '{"type":"load","active":1,"slots":2,"queue":0}' '{"type":"bye","reason":"r"}' \
         '{"type":"ledger_record","record":{"id":"00000000000000000000000000000000","query_hash":"0000000000000000000000000000000000000000000000000000000000000000","output_hash":"0000000000000000000000000000000000000000000000000000000000000000","model_hash":"0000000000000000000000000000000000000000000000000000000000000000","model_id":"m.gguf","tokens_in":1,"tokens_out":2,"energy_mj":3,"energy_source":"estimated","latency_us":4,"timestamp_ms":5,"seed":"6","stages":[{"node":"0000000000000000000000000000000000000000000000000000000000000000","sig":"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000","first":0,"end":5}]}}' \
         '{"type":"block_header","block":{"height":1,"first_seq":1,"last_seq":4,"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","merkle_root":"0000000000000000000000000000000000000000000000000000000000000000","hash":"0000000000000000000000000000000000000000000000000000000000000000","sealer":"0000000000000000000000000000000000000000000000000000000000000000","sig":"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000","timestamp_ms":5}}' \
         '{"type":"ledger_replay","id":"00000000000000000000000000000000","prompt":[1,2],"max_tokens":2,"sampling":{"seed":"0"}}'; do
    i=$((i + 1))
    printf '%s' "$m" >"$out/pcorpus/msg$i"
    python3 -c 'import sys,struct; d=sys.argv[1].encode(); sys.stdout.buffer.write(bytes([0,0,0,0])+struct.pack("<I",len(d))+d)' "$m" >"$out/pcorpus/frame$i"
done
echo "fuzz_proto: ${secs}s from $(ls "$out/pcorpus" | wc -l) seeds"
"$out/fuzz_proto" -max_total_time="$secs" -max_len=16384 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/pcorpus" 2>"$out/plog" || { grep -B2 -A40 -E "ERROR|SUMMARY|crash" "$out/plog" | head -80; echo "0 passed, 1 failed"; exit 1; }
grep -E "stat::number_of_executed_units|Done" "$out/plog" | tail -2
echo "fuzz: 2 passed, 0 failed"
