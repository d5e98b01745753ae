#!/usr/bin/env bash
# Creates the mixgcn Conan package from this source tree and builds + runs the consumer
# in consumer/ against it, offline, in a throw-away CONAN_HOME. Exit 77 (ctest: skipped)
# when conan is not installed.
#   run.sh <mixgcn source dir> <work dir> [with_kokkos: 0|1] [cmake generator]
set -euo pipefail
source_dir=$(cd "$1" && pwd)
work=$2
with_kokkos=${3:-0}
generator=${4:-Ninja}
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v conan >/dev/null 2>&1; then
    echo "conan is not installed (pip install conan); skipping the Conan consumer test"
    exit 77
fi
rm -rf "$work"
mkdir -p "$work"
export CONAN_HOME="$work/conan-home"
conan profile detect --force >/dev/null
# No remote is reachable here, and none is needed for the default options: prove it.
conan remote disable "*" >/dev/null
settings=(-s compiler.cppstd=20 -s build_type=Release)
# Keep the source tree clean: no CMakeUserPresets.json beside the consumer.
no_presets=(-c tools.cmake.cmaketoolchain:user_presets=)

conan create "$source_dir" "${settings[@]}"

variant() {
    local name=$1
    shift
    conan install "$here/consumer" --output-folder "$work/$name" "${settings[@]}" "${no_presets[@]}" "$@"
    cmake -S "$here/consumer" -B "$work/$name" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_TOOLCHAIN_FILE="$work/$name/conan_toolchain.cmake"
    cmake --build "$work/$name"
    "$work/$name/consumer"
}
variant default
if [ "$with_kokkos" = 1 ]; then
    variant kokkos -o "mixgcn/*:kokkos=True"
fi
echo "conan consumer: built and ran"
