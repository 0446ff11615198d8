#!/usr/bin/env bash
# The NEON kernel variants, cross-compiled for aarch64 and checked against
# the scalar variant under qemu-aarch64 (no ARM machine needed).
# usage: tests/neon.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cc=aarch64-linux-gnu-gcc
command -v $cc >/dev/null && command -v qemu-aarch64 >/dev/null || {
    echo "neon: needs gcc-aarch64-linux-gnu and qemu-user"; echo "0 passed, 1 failed"; exit 1; }
out=$(mktemp -d /tmp/aria-neon-XXXXXX)
trap 'rm -rf "$out"' EXIT
sdk=("$src"/sdk/src/err.c "$src"/sdk/src/gguf.c "$src"/sdk/src/quant.c)
flags=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wno-missing-field-initializers -I"$src/sdk/include")
mkdir -p "$out/plugins"
for k in "$src"/plugins/*/kernels/*_kernels.c; do
    fam=$(basename "$k" _kernels.c)
    $cc "${flags[@]}" -fPIC -shared -fvisibility=hidden -DARIA_ISA_SCALAR "$k" "${sdk[@]}" -lm \
        -o "$out/plugins/$fam-kernels-scalar.so"
    $cc "${flags[@]}" -fPIC -shared -fvisibility=hidden -DARIA_ISA_NEON -march=armv8-a \
        "$k" "${sdk[@]}" -lm -o "$out/plugins/$fam-kernels-neon.so"
    if grep -q ARIA_ISA_NEONDOT "$k"; then
        $cc "${flags[@]}" -fPIC -shared -fvisibility=hidden -DARIA_ISA_NEONDOT -march=armv8.2-a+dotprod \
            "$k" "${sdk[@]}" -lm -o "$out/plugins/$fam-kernels-neondot.so"
    fi
done
$cc "${flags[@]}" "$src/tests/kernels/test_kernels.c" "${sdk[@]}" -ldl -lm -o "$out/test_kernels"
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 -cpu max "$out/test_kernels" "$out/plugins"
