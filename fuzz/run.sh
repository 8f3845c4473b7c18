#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs
# each for SECONDS (default 60) from its seed corpus in fuzz/corpus/<target>.
# Exits non-zero on the first crash, leak or sanitizer report; the input
# that caused it is left as build-fuzz/crash-* (turn it into a regression
# test, see fuzz/README.md). Prints the executions each target ran.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DXGRAD_BUILD_FUZZ=ON -DXGRAD_WITH_MPI=OFF -DXGRAD_BUILD_TESTS=OFF -DXGRAD_BUILD_BENCH=OFF -DXGRAD_BUILD_CLI=OFF >/dev/null
cmake --build build-fuzz -j2 --target fuzz_npy fuzz_checkpoint fuzz_csv fuzz_tokenizer_json fuzz_word_index fuzz_imdb_archive
export TMPDIR="${TMPDIR:-/tmp}"
for target in fuzz_npy fuzz_checkpoint fuzz_csv fuzz_tokenizer_json fuzz_word_index fuzz_imdb_archive; do
  work="build-fuzz/corpus/$target"  # grows as the fuzzer finds new paths; the seeds stay untouched
  mkdir -p "$work"
  log="build-fuzz/$target.log"
  echo "fuzz: $target for ${seconds}s"
  if ! (cd build-fuzz && "./fuzz/$target" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 \
        -print_final_stats=1 "corpus/$target" "../fuzz/corpus/$target") >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED (input saved as build-fuzz/crash-* or leak-*)"
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed "s/^/  /"
done
echo "fuzz: all targets clean"
