#!/usr/bin/env bash
# Installs xgrad's build and test dependencies from Debian packages.
# Idempotent: when everything is present it prints nothing and exits 0.
# Usage: install-deps.sh [--ci]
set -euo pipefail
packages=(
  build-essential cmake
  libxtensor-dev libxtensor-blas-dev libxsimd-dev   # tensors, BLAS bindings, SIMD
  libopenblas-dev                                   # BLAS/LAPACK
  doctest-dev                                       # unit tests
  libcli11-dev                                      # command-line parsing
  nlohmann-json3-dev                                # metrics.json, checkpoint manifests
  libarchive-dev                                    # reading the IMDB .tar.gz
  zlib1g-dev                                        # checking the .tar.gz's CRC (libarchive does not)
  libbenchmark-dev                                  # bench/
  gnuplot-nox                                       # PNG plots of zoo runs
  libopenmpi-dev openmpi-bin                        # data-parallel training (xgrad/dist); optional
)
# --ci: also what .ci/run needs beyond building and testing.
if [ "${1:-}" = "--ci" ]; then
  packages+=(clang libclang-rt-14-dev)              # fuzz/: libFuzzer with ASan and UBSan
  packages+=(pkg-config)                            # checks the installed xgrad.pc
  packages+=(clang-format)                          # .ci/run checks the house style (.clang-format)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
