#!/bin/sh
# xgrad vs PyTorch training steps, alternating runs; see compare_pytorch.py.
#   bench/compare_pytorch.sh [--rounds N] [--steps N] [--shapes sine,sum,...] [--threads 1,2] [--json out.json]
#                            [--baseline OTHER_BUILD/bench/xgrad_bench]   (old vs new, alternating)
# Builds build/bench/xgrad_bench first (Release). Uses Debian's
# /usr/bin/python3, which has torch 1.13 (the python3 on PATH may not).
# OPENBLAS_CORETYPE is passed through unchanged (xgrad runs with it);
# PyTorch also tries SkylakeX on an AVX-512 CPU (--torch-cores, default auto).
set -e
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j2 --target xgrad_bench > /dev/null
exec /usr/bin/python3 bench/compare_pytorch.py --bench build/bench/xgrad_bench "$@"
