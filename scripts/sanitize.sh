#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of a subset of the tests (CI; see
# docs/sanitizers.md). Configures $BUILD_DIR (default build-asan) with clang++,
# -fsanitize=address,undefined -fno-sanitize-recover=undefined, -O1, line tables only,
# CUDA, Kokkos, Gloo, Python, benches, examples and tools off; builds only the test
# executables below and runs them through ctest with leak detection on. Any ASan, UBSan
# or LSan report fails the run (the report is in ctest's output).
#
# The subset, chosen for coverage per build minute: compiling under ASan is the cost
# (clang, -O1: ~3x a release build; the two multi-process test programs are ~170 s of
# CPU each, the largest translation units here), and the whole CI must stay under 30
# minutes with the release build and tests taking ~13.
#   test_io, test_hostile_inputs   every file reader, and the inputs fuzzing found
#   test_checkpoint                 binary encode/decode of checkpoints
#   test_storage, test_aggregate,   CSR/COO, every aggregation kernel (fixed and fallback
#   test_host_backend               widths, row ranges, 1/2/3/7 threads), dense and
#                                   elementwise kernels against the reference backend
#   test_nn_gradients, test_training the layer/model backward pass, optimiser, trainer
#   test_partition                  block, random, spectral, METIS, partition files
#   strategies_mpi_np2              two real MPI ranks: graph (halo exchange, ghost
#                                   gradients), feature and mixture strategies against
#                                   single, and the bytes of every collective
# Left out: graph_parallel_mpi_np2 (its graph-strategy paths are in strategies_mpi_np2;
# its program would add ~1.5 min of build), test_accuracy (minutes even unsanitised),
# test_generators and test_dropout_rule (arithmetic the kernels above already use),
# the CLI tests (tools/train.cpp compiles ~3.5x longer than test_strategies, about as
# long as all of the above together), Gloo (its own library and launcher) and
# 1/3/4-rank runs (the same code paths).
# Measured from a clean build-asan on 2 cores shared with 3 other builds (load ~4):
# build 9.7 min wall / 7.7 min CPU, tests 41 s wall; on 2 quiet cores that is about
# 4.5 min build + 0.5 min tests (docs/sanitizers.md).
#
#   scripts/sanitize.sh            JOBS=2 by default; BUILD_DIR=build-asan; CXX_SANITIZE=clang++
# Needs clang++ with compiler-rt and libomp (Debian: clang, libclang-rt-14-dev, libomp-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
build=${BUILD_DIR:-build-asan}
root=$PWD

targets=(test_io test_checkpoint test_storage test_aggregate test_host_backend test_nn_gradients test_training
         test_partition test_strategies)
tests=(test_io test_checkpoint test_storage test_aggregate test_host_backend test_nn_gradients test_training
       test_partition strategies_mpi_np2)
if [[ -f tests/unit/test_hostile_inputs.cpp ]]; then
  targets+=(test_hostile_inputs)
  tests+=(test_hostile_inputs)
fi

generator=()
command -v ninja >/dev/null && [[ ! -f $build/CMakeCache.txt ]] && generator=(-G Ninja)
# Warnings are the release build's business (-Werror there): ASan's instrumentation
# makes clang report loops it can no longer vectorise, which is noise here.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
start=$SECONDS
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="${CXX_SANITIZE:-clang++}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_CXX_FLAGS="$san -Wno-pass-failed" -DMIXGCN_WERROR=OFF \
  -DMIXGCN_WITH_CUDA=OFF -DMIXGCN_WITH_KOKKOS=OFF -DMIXGCN_WITH_GLOO=OFF -DMIXGCN_WITH_PYTHON=OFF \
  -DMIXGCN_BUILD_BENCH=OFF -DMIXGCN_BUILD_EXAMPLES=OFF -DMIXGCN_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"
built=$SECONDS

supp=$root/tests/sanitizers
# halt_on_error: the first report ends the process with a non-zero status.
# fast_unwind_on_malloc=0: full allocation stacks through libomp and Open MPI (built
# without frame pointers), which the third-party leak suppressions need to match; it
# costs little here. detect_stack_use_after_return and check_initialization_order catch
# more than the defaults.
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1:fast_unwind_on_malloc=0:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
export LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp
# libomp loads LLVM's Archer OMPT tool by default when it finds it (libomp-14-dev ships
# it); Archer is for TSan (scripts/tsan.sh) and only leaks a string here.
export OMP_TOOL=disabled
# MPI ranks run as root in CI containers (ctest adds the rest of the MPI environment
# and one OpenMP thread per rank).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

regex="^($(IFS='|'; echo "${tests[*]}"))\$"
rc=0
ctest --test-dir "$build" --output-on-failure -j"$jobs" -R "$regex" || rc=$?
echo "sanitize: build $((built - start)) s, tests $((SECONDS - built)) s (${#tests[@]} tests)"
exit "$rc"
