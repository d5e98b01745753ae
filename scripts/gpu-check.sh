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
  cp "$here/tests/comm/launch_ranks.sh" "$here/tests/cli/compare_runs.py" "$out/scripts/"
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
  local bin=$dir/bin launch=$dir/scripts/launch_ranks.sh compare=$dir/scripts/compare_runs.py
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
  # Ranks that share a GPU pose as separate hosts (NCCL refuses two ranks on one device).
  as_own_host() { NCCL_HOSTID="mixgcn-gpu-check-$MIXGCN_RANK" NCCL_SOCKET_IFNAME=lo exec "$@"; }
  export -f as_own_host
  # The CLI checks skip, as the test programs do, where no GPU is visible.
  local probe
  probe=$("$bin/mixgcn-train" --backend cuda --epochs 1 --nodes 200 --quiet 2>&1)
  local no_gpu=0
  grep -q "no CUDA device is visible" <<< "$probe" && no_gpu=1
  cli_single() {
    [ "$no_gpu" -eq 1 ] && return 77
    local flags=(--nodes 3000 --epochs 20 --precision float --normalization fused --quiet)
    "$bin/mixgcn-train" --backend cuda "${flags[@]}" --json "$tmp/cuda.json" || return $?
    "$bin/mixgcn-train" --backend host "${flags[@]}" --json "$tmp/host.json" || return 1
    python3 "$compare" "$tmp/host.json" "$tmp/cuda.json" 1e-5
  }
  cli_strategy() {  # graph | feature | mixture on 2 Gloo ranks against host single
    [ "$no_gpu" -eq 1 ] && return 77
    local flags=(--nodes 3000 --epochs 12 --precision float --normalization fused --partition random --quiet)
    "$bin/mixgcn-train" --backend host --strategy single "${flags[@]}" --json "$tmp/single.json" || return 1
    "$launch" 2 240 bash -c 'as_own_host "$@"' _ "$bin/mixgcn-train" --backend cuda --comm gloo --strategy "$1" \
      "${flags[@]}" --json "$tmp/cuda_$1.json" || return $?
    python3 "$compare" "$tmp/single.json" "$tmp/cuda_$1.json" 1e-4
  }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
  check test_cuda_backend "$bin/test_cuda_backend"
  check nccl_pair_np2 "$launch" 2 120 "$bin/nccl_pair"
  check nccl_pair_np3 "$launch" 3 120 "$bin/nccl_pair"
  check nccl_strategies_np2 "$launch" 2 240 "$bin/nccl_strategies"
  check nccl_strategies_np3 "$launch" 3 240 "$bin/nccl_strategies"
  check nccl_strategies_np3_rank_killed env MIXGCN_TEST_KILL_RANK=1 MIXGCN_NCCL_TIMEOUT=20 MIXGCN_GLOO_TIMEOUT=20 \
    "$launch" 3 120 "$bin/nccl_strategies"
  check cli_cuda_single_vs_host cli_single
  for s in graph feature mixture; do check "cli_cuda_${s}_np2_vs_host_single" cli_strategy "$s"; done
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
