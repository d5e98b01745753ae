#!/usr/bin/env bash
# mpirun -np 2 mixgcn-train --backend cuda --strategy graph|feature|mixture against
# --backend host --strategy single on the same generated graph, seed and flags: the
# per-epoch losses must agree (compare_runs.py: float, 1e-4). The two ranks may share one
# GPU: each gets its own NCCL host id (NCCL refuses two ranks on one device otherwise)
# and they talk over loopback sockets. Exit 77 (skipped) when the binary finds no GPU.
#   cuda_strategies.sh TRAIN PYTHON OUTDIR MPIEXEC
set -u
train=$1 python=$2 out=$3 mpiexec=$4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$out"
flags=(--nodes 3000 --epochs 12 --precision float --normalization fused --partition random --quiet)
probe=$("$train" --backend cuda --epochs 1 --nodes 200 --quiet 2>&1)
if [[ $? -ne 0 ]]; then
  if grep -q "no CUDA device is visible" <<< "$probe"; then
    echo "cuda_strategies: no CUDA device visible; SKIPPED"
    exit 77
  fi
  echo "$probe" >&2
  exit 1
fi
"$train" --backend host --strategy single "${flags[@]}" --json "$out/host_single.json" || exit 1
for strategy in graph feature mixture; do
  extra=()
  [[ $strategy == mixture ]] && extra=(--chunks 2)
  rank() {  # one MPMD part: rank $1 with its own NCCL host id
    echo -np 1 env NCCL_HOSTID="mixgcn-cli-rank-$1" NCCL_SOCKET_IFNAME=lo "$train" --backend cuda --comm mpi \
      --strategy "$strategy" "${extra[@]}" "${flags[@]}" --json "$out/cuda_$strategy.json"
  }
  # shellcheck disable=SC2046
  "$mpiexec" --oversubscribe $(rank 0) : $(rank 1) || exit 1
  "$python" "$here/compare_runs.py" "$out/host_single.json" "$out/cuda_$strategy.json" 1e-4 || exit 1
  echo "cuda_strategies: $strategy on 2 GPU ranks equals host single"
done
