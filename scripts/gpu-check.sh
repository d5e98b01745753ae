#!/usr/bin/env bash
# The checks a lent GPU runs, prepared on the build machine (docs/cuda.md, "Running on a
# GPU machine"). Device time is short, so everything is built here and run there in one
# call; the GPU image has the CUDA libraries but no MPI, so the multi-process checks use
# Gloo ranks (tests/comm/launch_ranks.sh), each rank its own NCCL host id when ranks
# share a GPU.
#   scripts/gpu-check.sh pack [BUILD]   copy the GPU programs, the scripts they use and the
#                                       shared libraries a CUDA image lacks (OpenMPI's,
#                                       Gloo, hwloc, ...) into build-gpu/ (git ignores it;
#                                       carry it, under 64 MiB)
#   scripts/gpu-check.sh run [DIR]      on the GPU machine: every check, a table, status 1
#                                       if one failed (a check with no GPU reports "skipped")
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=${1:-}

pack() {
  local build=${1:-$here/build} out=$here/build-gpu
  rm -rf "$out" && mkdir -p "$out/bin" "$out/lib" "$out/scripts" || exit 2
  local programs=("$build/tools/mixgcn-train" "$build/tests/cuda/test_cuda_backend" "$build/tests/cuda/nccl_pair"
                  "$build/tests/cuda/nccl_strategies")
  for p in "${programs[@]}"; do
    [ -x "$p" ] || { echo "gpu-check: $p is missing (build with CUDA and NCCL first)" >&2; exit 2; }
    cp "$p" "$out/bin/"
  done
  cp "$here/tests/comm/launch_ranks.sh" "$here/tests/cli/compare_runs.py" "$here/tests/cli/cuda_vs_host.sh" \
    "$here/tests/cli/cuda_strategies.sh" "$out/scripts/"
  # Every library the programs load but a CUDA image has: not the CUDA ones, not glibc's.
  ldd "${programs[@]}" | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
    case "$lib" in
      /usr/local/cuda*|*/libcuda.so*|*/libcudart.so*|*/libcublas*|*/libnccl.so*) continue ;;
      */libc.so.*|*/libm.so.*|*/libdl.so.*|*/libpthread.so.*|*/librt.so.*|*/ld-linux*) continue ;;
    esac
    cp -L "$lib" "$out/lib/"
  done
  cp "$0" "$out/gpu-check.sh"
  du -sh "$out"
}

run() {
  local dir=${1:-$here/build-gpu}
  export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local bin=$dir/bin launch=$dir/scripts/launch_ranks.sh
  local tmp
  tmp=$(mktemp -d) || exit 2
  local failed=0 rows=()
  check() {  # check NAME command...: runs it, records ok / skipped (77) / FAILED and seconds
    local name=$1 t0=$SECONDS rc
    shift
    echo "== $name"
    "$@"
    rc=$?
    local secs=$((SECONDS - t0))
    case $rc in
      0) rows+=("$name|ok|$secs") ;;
      77) rows+=("$name|skipped|$secs") ;;
      *) rows+=("$name|FAILED ($rc)|$secs"); failed=1 ;;
    esac
  }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
  check test_cuda_backend "$bin/test_cuda_backend"
  check nccl_pair_np2 "$launch" 2 120 "$bin/nccl_pair"
  check nccl_pair_np3 "$launch" 3 120 "$bin/nccl_pair"
  check nccl_strategies_np2 "$launch" 2 240 "$bin/nccl_strategies"
  check nccl_strategies_np3 "$launch" 3 240 "$bin/nccl_strategies"
  check nccl_strategies_np3_rank_killed env MIXGCN_TEST_KILL_RANK=1 MIXGCN_NCCL_TIMEOUT=20 MIXGCN_GLOO_TIMEOUT=20 \
    "$launch" 3 120 "$bin/nccl_strategies"
  # The CLI tests of tests/cli: single and data on one GPU, graph/feature/mixture/data on 2 Gloo ranks.
  check cli_cuda_single_vs_host "$dir/scripts/cuda_vs_host.sh" "$bin/mixgcn-train" python3 "$tmp/single" float 1e-5
  check cli_cuda_strategies_np2_vs_host_single "$dir/scripts/cuda_strategies.sh" "$bin/mixgcn-train" python3 \
    "$tmp/strategies" "$launch"
  echo
  printf '%-40s %-12s %s\n' check result seconds
  for r in "${rows[@]}"; do IFS='|' read -r a b c <<< "$r"; printf '%-40s %-12s %s\n' "$a" "$b" "$c"; done
  rm -rf "$tmp"
  return $failed
}

case "$mode" in
  pack) pack "${2:-}" ;;
  run) run "${2:-}" ;;
  *) echo "usage: $0 pack [BUILD] | run [DIR]" >&2; exit 2 ;;
esac
