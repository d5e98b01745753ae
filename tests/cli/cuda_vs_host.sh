#!/usr/bin/env bash
# mixgcn-train --backend cuda against --backend host on the same generated graph, seed and
# flags: the per-epoch losses must agree (compare_runs.py). Exit 77 (skipped) when the
# binary finds no GPU, so the test is harmless on machines without one.
#   cuda_vs_host.sh TRAIN PYTHON OUTDIR PRECISION TOLERANCE
set -u
train=$1 python=$2 out=$3 precision=$4 tol=$5
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$out"
flags=(--nodes 3000 --epochs 20 --precision "$precision" --normalization fused --quiet)
log=$("$train" --backend cuda "${flags[@]}" --json "$out/cuda_$precision.json" 2>&1)
rc=$?
if [[ $rc -ne 0 ]]; then
  if grep -q "no CUDA device is visible" <<< "$log"; then
    echo "cuda_vs_host: no CUDA device visible; SKIPPED"
    exit 77
  fi
  echo "$log" >&2
  exit 1
fi
echo "$log"
"$train" --backend host "${flags[@]}" --json "$out/host_$precision.json" || exit 1
"$python" "$here/compare_runs.py" "$out/host_$precision.json" "$out/cuda_$precision.json" "$tol"
