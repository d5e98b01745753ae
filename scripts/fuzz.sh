#!/usr/bin/env bash
# Bounded fuzzing run (docs/fuzzing.md): builds the libFuzzer targets of tests/fuzz with
# clang in build-fuzz, runs each on a copy of its seed corpus for the given seconds
# (default 20), prints one line per target and fails if any target crashed, leaked, hung
# or over-allocated (the input that did it is kept under build-fuzz/fuzz-artifacts/).
# Needs clang++ and libFuzzer (Debian: clang, libclang-rt-14-dev).
#   scripts/fuzz.sh [seconds-per-target]      JOBS=2 by default; BUILD_DIR=build-fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
jobs=${JOBS:-2}
build=${BUILD_DIR:-build-fuzz}
targets=(edge_list_text npy matrix_market labels partition_file checkpoint cli)

generator=()
command -v ninja >/dev/null && [[ ! -f $build/CMakeCache.txt ]] && generator=(-G Ninja)
# Only the parsers are fuzzed: every optional dependency is off.
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMIXGCN_FUZZ=ON -DMIXGCN_WITH_CUDA=OFF -DMIXGCN_WITH_KOKKOS=OFF -DMIXGCN_WITH_PYTHON=OFF -DMIXGCN_WITH_MPI=OFF \
  -DMIXGCN_WITH_GLOO=OFF -DMIXGCN_WITH_METIS=OFF -DMIXGCN_WITH_OPENMP=OFF -DMIXGCN_BUILD_BENCH=OFF \
  -DMIXGCN_BUILD_EXAMPLES=OFF -DMIXGCN_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target fuzz_targets

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Targets with a path-taking reader write every input to a file: tmpfs is 25x faster.
scratch=$work
[[ -d /dev/shm && -w /dev/shm ]] && scratch=/dev/shm
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  cp tests/fuzz/corpus/"$t"/* "$work/$t"/
  log=$work/$t.log
  rc=0
  start=$SECONDS
  # 2 GB in all and per malloc: a header that makes a reader allocate what it declares
  # is reported as an out-of-memory crash. -timeout catches hangs (s per input).
  TMPDIR=$scratch "$build/tests/fuzz/fuzz_$t" "$work/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
    -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  corpus=$(ls "$work/$t" | wc -l)
  status=ok
  [[ $rc -ne 0 ]] && status="FAILED (exit $rc)" && failed+=("$t")
  printf 'fuzz_%-15s %-16s execs %-9s %-22s corpus %-5s %3ds\n' "$t" "$status" "${execs:-?}" "${cov:-cov: ?}" \
    "$corpus" $((SECONDS - start))
  if [[ $rc -ne 0 ]]; then
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -8 | sed 's/^/    /'
    cp "$log" "$artifacts/$t.log"
  fi
done

if ((${#failed[@]})); then
  echo "fuzzing failed for: ${failed[*]} (inputs and logs in $artifacts)" >&2
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${secs}s each, no failure"
