#!/usr/bin/env bash
# Installs every system dependency of mixgcn on Debian/Ubuntu with apt-get.
# Idempotent: when everything is present it does nothing (no apt-get update).
set -euo pipefail
packages=(
  build-essential cmake ninja-build git python3 python3-pip
  libeigen3-dev doctest-dev
  zlib1g-dev  # .gz, OGB and deflated .npz input (docs/data-formats.md)
  libopenmpi-dev openmpi-bin
  libgloo-dev libmetis-dev libptscotch-dev libspectra-dev
  libtrilinos-kokkos-dev
  clang libclang-rt-14-dev libomp-dev  # ASan/UBSan and libFuzzer stages of .ci/run
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all system packages present"
fi
# Conan (for the package test) from PyPI, when pip is usable; optional.
if ! command -v conan >/dev/null 2>&1; then
  python3 -m pip install -q "conan>=2,<3" 2>/dev/null || echo "install-deps: conan not installed (the Conan package test will be skipped)"
fi
# The Python package's build and test tools (python/, docs/python.md), when pip is
# usable; optional: without them python/ is skipped and the python_tests ctest skips.
# matplotlib draws mixgcn-plot's pictures (its test is skipped without it).
if ! python3 -c "import nanobind, numpy, pytest, scikit_build_core, matplotlib" >/dev/null 2>&1; then
  python3 -m pip install -q nanobind numpy pytest scikit-build-core matplotlib 2>/dev/null ||
    echo "install-deps: nanobind/numpy/pytest/scikit-build-core/matplotlib not installed (the Python module and its tests will be skipped)"
fi
