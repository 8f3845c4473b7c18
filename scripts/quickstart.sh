#!/usr/bin/env bash
# The README's first quick-start command: install, build, run the default demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
./build/xgrad demo
