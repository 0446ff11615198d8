#!/usr/bin/env bash
# Fresh machine to running node: installs the dependencies, builds, and starts
# a node in the foreground with conf/aria.ini (stop it with Ctrl-C).
# Extra arguments go to aria-core, e.g. scripts/run-node.sh --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
exec ./build/aria-core --plugins build/plugins --config conf/aria.ini "$@"
