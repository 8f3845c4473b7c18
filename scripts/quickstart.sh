#!/usr/bin/env bash
# The README's first quick-start command: install, build, run the default zoo
# experiment (lab L2, sine-wave forecasting; no downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
./build/xgrad zoo run sine
