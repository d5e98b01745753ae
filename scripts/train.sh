#!/usr/bin/env bash
# Sets up, builds mixgcn-train and trains a GCN on the built-in generated graph.
# Extra arguments go to mixgcn-train (e.g. --data ../shared/datasets/cora).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target mixgcn-train -j"$(nproc)"
exec ./build/tools/mixgcn-train "$@"
