#!/usr/bin/env bash
# Layer pipeline against data parallelism on the same ranks, and the slow-rank experiment
# with the load balancer off and on (issue #12). Every run is mixgcn-train with --json:
#
#  1. P ranks, one 4-layer model, cluster batches of the same schedule: --strategy data
#     (P batches per step), data --accumulate M (P·M per step), and pipeline with S = 2
#     (P/2 replicas, (P/2)·M per step) and S = 4 (one replica, M per step): median epoch
#     time, every rank's measured bubble beside (S-1)/(M+S-1), peak activations and peak
#     RSS per rank.
#  2. --strategy graph on 2 ranks with rank 1 emulated 3x slower (--debug-slow-rank 1
#     --debug-slow-factor 3), --balance off and on: the max/mean busy ratio per epoch.
#
# Writes DIR/*.json, DIR/pipeline_balance.json (the summary), DIR/pipeline_balance.md (the
# table) and DIR/pipeline_balance.png (bench/pipeline_balance_plot.py, matplotlib).
# On a machine with fewer cores than ranks the ranks share cores: the times are not
# scaling figures (say so when quoting them); the bubble then includes descheduling.
#
# usage: bench/pipeline_balance.sh [--ranks P] [--nodes N] [--features F] [--hidden H]
#                                  [--epochs E] [--micro-batches M] [--train PATH] [--out DIR]
set -euo pipefail

ranks=4 nodes=50000 features=64 hidden=64 epochs=10 micro=4 train="" out="" python="${PYTHON:-python3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
die() { echo "pipeline_balance.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --nodes) nodes="$2"; shift 2 ;;
    --features) features="$2"; shift 2 ;;
    --hidden) hidden="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --micro-batches) micro="$2"; shift 2 ;;
    --train) train="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for v in ranks nodes features hidden epochs micro; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v} must be a positive integer, got '${!v}'"
done
(( ranks % 4 == 0 )) || die "--ranks must be a multiple of 4 (pipelines of 2 and 4 stages), got $ranks"
train="${train:-$root/build/tools/mixgcn-train}"
[[ -x "$train" ]] || die "no mixgcn-train at $train (build first, or --train PATH)"
out="${out:-$root/build/bench-pipeline-balance}"
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1
mpi=(mpirun --oversubscribe --bind-to none)
common=(--nodes "$nodes" --features "$features" --hidden "$hidden" --epochs "$epochs" --quiet --memory-limit off)
batches=(--layers 4 --clusters 64 --clusters-per-batch 2 --partition metis)

run() {  # name, ranks, flags...
  local name="$1" np="$2"; shift 2
  echo "== $name ($np ranks)"
  if ! "${mpi[@]}" -np "$np" "$train" "${common[@]}" "$@" --json "$out/$name.json" > "$out/$name.log" 2>&1; then
    echo "   failed (see $out/$name.log)"; tail -3 "$out/$name.log"
  fi
}
run data "$ranks" --strategy data "${batches[@]}"
run data_accumulate "$ranks" --strategy data --accumulate "$micro" "${batches[@]}"
run pipeline_s2 "$ranks" --strategy pipeline --stages 2 --micro-batches "$micro" "${batches[@]}"
run pipeline_s4 "$ranks" --strategy pipeline --stages 4 --micro-batches "$micro" "${batches[@]}"
for b in off on; do
  run "slow_rank_balance_$b" 2 --strategy graph --partition metis --order none --balance "$b" \
      --debug-slow-rank 1 --debug-slow-factor 3
done
"$python" "$here/pipeline_balance_plot.py" --out "$out/pipeline_balance.png" --table "$out/pipeline_balance.md" \
  --summary "$out/pipeline_balance.json" "$out"
