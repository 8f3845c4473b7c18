#!/usr/bin/env bash
# Lines of code of each example beside its PyTorch equivalent: lines that
# are neither blank nor only a comment (// in C++, # in Python), the same
# rule for both. Run from anywhere: bash examples/line_counts.sh
set -euo pipefail
cd "$(dirname "$0")"
count() { awk -v c="$2" '{ sub(/^[ \t]+/, "") } $0 != "" && index($0, c) != 1 { n++ } END { print n + 0 }' "$1"; }
printf '%-22s %6s %8s %6s\n' example xgrad pytorch ratio
for ex in */; do
  ex=${ex%/}
  [ -f "$ex/pytorch_equivalent.py" ] || continue
  cpp=$(count "$ex/main.cpp" "//")
  py=$(count "$ex/pytorch_equivalent.py" "#")
  printf '%-22s %6d %8d %6.2f\n' "$ex" "$cpp" "$py" "$(echo "$cpp / $py" | bc -l)"
done
