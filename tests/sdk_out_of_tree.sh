#!/usr/bin/env bash
# A vendor's view of the SDK: install it, build the example plugin out of
# tree against the installed headers and pkg-config file, and load it.
# usage: sdk_out_of_tree.sh BUILD_DIR ARIA_CORE SOURCE_DIR [EXTRA_CFLAGS]
set -eu
BUILD=$1 ARIA=$2 FLAGS=${4:-}
T=$(mktemp -d /tmp/aria-sdk-XXXXXX)
trap 'rm -rf "$T"' EXIT
cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log"
test -f "$T/prefix/include/aria/aria.h"
pc=$(find "$T/prefix" -name aria-sdk.pc | head -1)
test -n "$pc"
cp -r "$T/prefix/share/aria/examples/hello-backend" "$T/src"
# Only the installed SDK is visible: no path into the source tree.
cmake -S "$T/src" -B "$T/b" -DCMAKE_PREFIX_PATH="$T/prefix" -DCMAKE_C_FLAGS="$FLAGS" \
    -DCMAKE_MODULE_LINKER_FLAGS="$FLAGS" >"$T/configure.log"
cmake --build "$T/b" >"$T/build.log"
test -f "$T/b/hello-backend.so"
if nm -D --undefined-only "$T/b/hello-backend.so" | grep -q ' ari_'; then
    echo "FAIL: the plugin needs a host symbol"; exit 1
fi
"$ARIA" plugins --plugins "$T/b" >"$T/out"
grep -q "hello-backend .*backend:hello .*$T/b/hello-backend.so" "$T/out" || {
    echo "FAIL: the out-of-tree plugin did not load"; cat "$T/out"; exit 1; }
echo "1 passed, 0 failed"
