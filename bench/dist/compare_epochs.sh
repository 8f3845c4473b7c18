#!/usr/bin/env bash
# Data-parallel vs threads on one machine, side by side in one run: an
# imdb-torch epoch (40000 training reviews, global batch 64, then the 10000
# validation reviews) as
#   2 ranks x 1 thread   (mpirun -np 2, --threads 1)
#   1 rank  x 2 threads  (--threads 2)
#   1 rank  x 1 thread   (--threads 1)
# alternating, ROUNDS times; then the per-step communication figures of
# xgrad_bench_ddp_step. Prints the epoch seconds of each run (history.csv's
# "seconds": training and validation) and the medians.
# Usage: bench/dist/compare_epochs.sh [ROUNDS=2]   (XGRAD_DATA must hold the IMDB archive)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
xgrad=build/xgrad
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --oversubscribe --bind-to none)
work=$(mktemp -d /tmp/xgrad-dist-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

epoch_seconds() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next } { print $c }' "$1/history.csv"; }
declare -A times
for round in $(seq 1 "$rounds"); do
  for config in 2x1 1x2 1x1; do
    out="$work/$config-$round"
    case $config in
      2x1) "${mpirun[@]}" -np 2 "$xgrad" zoo run imdb-torch --epochs 1 --threads 1 --quiet --out "$out" ;;
      1x2) "$xgrad" zoo run imdb-torch --epochs 1 --threads 2 --quiet --out "$out" ;;
      1x1) "$xgrad" zoo run imdb-torch --epochs 1 --threads 1 --quiet --out "$out" ;;
    esac
    s=$(epoch_seconds "$out")
    times[$config]="${times[$config]:-} $s"
    echo "round $round: $config epoch ${s} s"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m21=$(median <<<"${times[2x1]}")
m12=$(median <<<"${times[1x2]}")
m11=$(median <<<"${times[1x1]}")
echo "median epoch: 2 ranks x 1 thread ${m21} s, 1 rank x 2 threads ${m12} s, 1 rank x 1 thread ${m11} s"
awk -v a="$m21" -v b="$m12" -v c="$m11" 'BEGIN { printf "2x1 / 1x2 = %.3f, 2x1 / 1x1 = %.3f\n", a / b, a / c }'
echo
"${mpirun[@]}" -np 2 build/bench/xgrad_bench_ddp_step 64 40 4
"${mpirun[@]}" -np 2 build/bench/xgrad_bench_ddp_step 64 40 0.5
XGRAD_NUM_THREADS=2 build/bench/xgrad_bench_ddp_step 64 40
XGRAD_NUM_THREADS=1 build/bench/xgrad_bench_ddp_step 64 40
