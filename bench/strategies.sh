#!/usr/bin/env bash
# The full-graph strategies side by side: runs mixgcn-bench-strategies (graph with METIS
# and random partitions, feature, mixture with 1 and 4 chunks) under mpirun for P = 2 and
# 4, one OpenMP thread per rank, once per graph (SBM, R-MAT; a fresh process per graph so
# each run's peak RSS is its own), collects the JSON and plots bytes per rank per epoch and
# epoch time by strategy (bench/strategies_plot.py, matplotlib; pip-installed if missing).
#
# On a machine with fewer cores than P x threads the ranks share cores: the times are not
# scaling figures; the byte volumes are exact (the compute balance is measured, noisier).
#
# usage: bench/strategies.sh [--ranks "2 4"] [--epochs E] [--nodes N] [--avg-degree D]
#                            [--scale S] [--edge-factor K] [--features F] [--hidden H]
#                            [--bench PATH] [--python PY] [--out DIR]
set -euo pipefail

ranks="2 4" epochs=5 nodes=100000 avg_degree=15 scale=16 edge_factor=16 features=64 hidden=64
bench="" python="${PYTHON:-python3}" out=""
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

die() { echo "strategies.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --nodes) nodes="$2"; shift 2 ;;
    --avg-degree) avg_degree="$2"; shift 2 ;;
    --scale) scale="$2"; shift 2 ;;
    --edge-factor) edge_factor="$2"; shift 2 ;;
    --features) features="$2"; shift 2 ;;
    --hidden) hidden="$2"; shift 2 ;;
    --bench) bench="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for v in epochs nodes scale edge_factor features hidden; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v//_/-} must be a positive integer, got '${!v}'"
done
for P in $ranks; do [[ "$P" =~ ^[1-9][0-9]*$ ]] || die "--ranks takes positive integers, got '$P'"; done

# The benchmark: --bench, then the newest build folder that has one.
if [[ -z "$bench" ]]; then
  bench="$(ls -t "$root"/build*/bench/mixgcn-bench-strategies 2> /dev/null | head -n 1 || true)"
fi
[[ -n "$bench" && -x "$bench" ]] || die "mixgcn-bench-strategies not found; build it (cmake --build BUILD --target mixgcn-bench-strategies) or pass --bench PATH"
command -v mpirun > /dev/null || die "mpirun not found (install openmpi-bin)"
command -v "$python" > /dev/null || die "'$python' not found; it makes the plot (pass --python PY)"

out="${out:-$(mktemp -d "${TMPDIR:-/tmp}/mixgcn-strategies.XXXXXX")}"
mkdir -p "$out"

# One OpenMP thread per rank; OpenMPI as root in a container, no CMA single-copy.
export OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none

cores="$(nproc --all 2> /dev/null || nproc)"
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $cores core(s), ranks: $ranks, output: $out"
start=$SECONDS
files=()
for P in $ranks; do
  [[ $P -gt $cores ]] && echo "   P = $P > $cores cores: oversubscribed, times are not scaling figures"
  for g in sbm rmat; do
    echo "== P = $P, graph $g"
    mpirun --oversubscribe -np "$P" "$bench" --graphs "$g" --nodes "$nodes" --avg-degree "$avg_degree" \
      --scale "$scale" --edge-factor "$edge_factor" --features "$features" --hidden "$hidden" \
      --epochs "$epochs" --threads 1 --json "$out/strategies-P$P-$g.json" | tee "$out/strategies-P$P-$g.log"
    files+=("$out/strategies-P$P-$g.json")
  done
done
echo "== benchmark runs took $((SECONDS - start)) s"

"$python" "$here/strategies_plot.py" --out "$out/strategies.png" --table "$out/strategies.md" "${files[@]}"
