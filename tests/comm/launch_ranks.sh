#!/usr/bin/env bash
# Starts N copies of a program as Gloo ranks over loopback and fails if any fails.
#   launch_ranks.sh N SECONDS program args...
# Each copy gets MIXGCN_RANK, MIXGCN_WORLD_SIZE and a fresh FileStore directory in
# MIXGCN_GLOO_STORE; each is killed after SECONDS so a hang cannot outlive the test.
# MIXGCN_LAUNCH_STYLE=srun|torchrun gives the ranks the variables that launcher sets
# instead (SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID; RANK/WORLD_SIZE/LOCAL_RANK), as a
# launcher would on one node (comm/launcher.hpp); torchrun's ranks get MASTER_ADDR and a
# random MASTER_PORT and no store folder, so they rendezvous through rank 0's TCP store.
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 N SECONDS program [args...]" >&2
  exit 2
fi
n=$1
limit=$2
shift 2
store=$(mktemp -d "${TMPDIR:-/tmp}/mixgcn-gloo.XXXXXX") || exit 2
trap 'rm -rf "$store"' EXIT
port=$((20000 + RANDOM % 30000))
pids=()
for ((i = 0; i < n; i++)); do
  case "${MIXGCN_LAUNCH_STYLE:-}" in
    srun) vars=(SLURM_PROCID=$i SLURM_NTASKS=$n SLURM_LOCALID=$i) ;;
    torchrun) vars=(RANK=$i WORLD_SIZE=$n LOCAL_RANK=$i MASTER_ADDR=127.0.0.1 MASTER_PORT=$port) ;;
    *) vars=(MIXGCN_RANK=$i MIXGCN_WORLD_SIZE=$n) ;;
  esac
  [ "${MIXGCN_LAUNCH_STYLE:-}" = torchrun ] || vars+=(MIXGCN_GLOO_STORE=$store)
  env -u MIXGCN_LAUNCH_STYLE -u MIXGCN_GLOO_STORE "${vars[@]}" timeout -k 5 "$limit" "$@" &
  pids+=($!)
done
rc=0
skipped=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"
  r=$?
  if [ "$r" -eq 77 ]; then
    skipped=$((skipped + 1))  # the rank found nothing to test on (no GPU, say)
  elif [ "$r" -ne 0 ]; then
    [ "$r" -eq 124 ] && echo "launch_ranks: rank $i killed after ${limit}s" >&2
    echo "launch_ranks: rank $i exited with status $r" >&2
    rc=1
  fi
done
# Every rank skipped: report a skip (ctest's SKIP_RETURN_CODE 77), not a failure.
[ "$rc" -eq 0 ] && [ "$skipped" -eq "$n" ] && exit 77
[ "$skipped" -gt 0 ] && [ "$skipped" -lt "$n" ] && { echo "launch_ranks: $skipped of $n ranks skipped" >&2; rc=1; }
exit $rc
