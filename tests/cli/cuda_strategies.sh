#!/usr/bin/env bash
# mixgcn-train --backend cuda against --backend host on the same graph, seed and flags;
# the per-epoch losses must agree (compare_runs.py: float, 1e-4):
#   graph (--balance on, re-cut every epoch), feature, mixture (--order rcm) on 2 ranks
#                                                       against host single
#   data on 2 ranks, pipeline (2 stages, 2 micro-batches) against host data --accumulate 2
#                                                       in one process (the same steps)
#   data, single (--order degree) on one GPU            against host data, host single
#   graph --load partitioned on 2 ranks                 against host single on the folder
# The two ranks may share one GPU: each gets its own NCCL host id (NCCL refuses two ranks
# on one device otherwise) and they talk over loopback sockets. Exit 77 (skipped) when the binary finds no GPU.
#   cuda_strategies.sh TRAIN PYTHON OUTDIR LAUNCHER
# LAUNCHER: mpiexec (ranks over MPI, started as an MPMD job), or tests/comm/launch_ranks.sh
# (Gloo ranks, for machines without MPI: scripts/gpu-check.sh).
set -u
train=$1 python=$2 out=$3 launcher=$4
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
"$train" --backend host --strategy data "${flags[@]}" --json "$out/host_data.json" || exit 1
"$train" --backend host --strategy data --accumulate 2 "${flags[@]}" --json "$out/host_data_2.json" || exit 1
"$train" --backend cuda --strategy data "${flags[@]}" --json "$out/cuda_data_1.json" || exit 1
"$python" "$here/compare_runs.py" "$out/host_data.json" "$out/cuda_data_1.json" 1e-4 || exit 1
echo "cuda_strategies: data on one GPU equals host data"
# --order: single on one GPU in degree order, rows named by the loaded ids.
"$train" --backend cuda --strategy single --order degree "${flags[@]}" --json "$out/cuda_single_degree.json" || exit 1
"$python" "$here/compare_runs.py" "$out/host_single.json" "$out/cuda_single_degree.json" 1e-4 --order degree || exit 1
echo "cuda_strategies: single in degree order on one GPU equals host single"
# --load partitioned: the same graph exported to a .npy folder, host single on it, and
# the graph strategy on 2 GPU ranks that each read only their rows.
"$train" --precision float --nodes 3000 --epochs 1 --quiet --export-dataset "$out/exported" || exit 1
dflags=(--data "$out/exported" --epochs 12 --precision float --normalization fused --quiet)
"$train" --backend host --strategy single "${dflags[@]}" --json "$out/host_exported.json" || exit 1
for strategy in graph feature mixture data pipeline partitioned; do
  extra=()
  [[ $strategy == mixture ]] && extra=(--chunks 2 --order rcm)
  [[ $strategy == pipeline ]] && extra=(--stages 2 --micro-batches 2)
  [[ $strategy == graph ]] && extra=(--balance on --balance-threshold 1.000001 --balance-patience 1
                                     --debug-slow-rank 1 --debug-slow-factor 1.5)
  run=(--backend cuda --strategy "$strategy" "${extra[@]}" "${flags[@]}" --json "$out/cuda_$strategy.json")
  [[ $strategy == partitioned ]] &&
    run=(--backend cuda --strategy graph --load partitioned "${dflags[@]}" --json "$out/cuda_$strategy.json")
  if [[ $(basename "$launcher") == launch_ranks.sh ]]; then
    # shellcheck disable=SC2016
    "$launcher" 2 240 bash -c 'NCCL_HOSTID="mixgcn-cli-rank-$MIXGCN_RANK" NCCL_SOCKET_IFNAME=lo exec "$@"' _ \
      "$train" --comm gloo "${run[@]}" || exit 1
  else
    rank() {  # one MPMD part: rank $1 with its own NCCL host id
      echo -np 1 env NCCL_HOSTID="mixgcn-cli-rank-$1" NCCL_SOCKET_IFNAME=lo "$train" --comm mpi "${run[@]}"
    }
    # shellcheck disable=SC2046
    "$launcher" --oversubscribe $(rank 0) : $(rank 1) || exit 1
  fi
  reference=host_single compare=()
  [[ $strategy == data || $strategy == pipeline ]] && reference=host_data_2
  [[ $strategy == partitioned ]] && reference=host_exported compare=(--load partitioned)
  [[ $strategy == mixture ]] && compare=(--order rcm)
  [[ $strategy == graph ]] && compare=(--rebalanced yes)
  "$python" "$here/compare_runs.py" "$out/$reference.json" "$out/cuda_$strategy.json" 1e-4 "${compare[@]}" || exit 1
  echo "cuda_strategies: $strategy on 2 GPU ranks equals $reference"
done
