#!/usr/bin/env bash
# Every test: installs the dependencies if missing, then builds a normal tree
# and an ASan+UBSan tree with warnings as errors, and runs ctest in both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
status=0
run_tree() { # dir cmake-args...
    local dir=$1; shift
    echo "== $dir: configure and build" >&2
    cmake -S . -B "$dir" -DARIA_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    echo "== $dir: tests" >&2
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" || status=1
}
run_tree build -DCMAKE_BUILD_TYPE=RelWithDebInfo
# halt_on_error keeps the first report; detect_leaks stays on (LSan).
export ASAN_OPTIONS=abort_on_error=0:halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_tree build-san -DCMAKE_BUILD_TYPE=Debug -DARIA_SANITIZE=ON
# NEON kernels: cross-compiled, run under qemu-aarch64.
tests/neon.sh || status=1
# The GGUF reader under libFuzzer, for a bounded time (ARIA_FUZZ_SECONDS).
tests/fuzz/run.sh "${ARIA_FUZZ_SECONDS:-60}" || status=1
if [ "$status" = 0 ]; then echo "all test trees passed"; else echo "some tests failed"; fi
exit "$status"
