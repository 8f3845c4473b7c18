#!/usr/bin/env bash
# The zoo under mpirun, end to end: `mpirun -np 2 xgrad zoo run sine`
# trains the same run as one process (the global batch split over the
# ranks, gradients averaged), rank 0 alone writes the folder, --resume
# continues under MPI, and a batch that does not divide among the ranks
# ends the job with a message naming it.
# Usage: zoo_mpi.sh XGRAD MPIEXEC-COMMAND... (without the process count)
set -euo pipefail
xgrad=$1
shift
launcher=("$@")
work=$(mktemp -d /tmp/xgrad-zoo-mpi.XXXXXX)
trap 'rm -rf "$work"' EXIT

# train_loss per epoch of a run folder's history.csv.
losses() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_loss") c = i; next } { print $c }' "$1/history.csv"; }
# Fails unless two loss lists agree to 1e-5 relative, row by row.
same_losses() {
  paste <(losses "$1") <(losses "$2") | awk -v what="$3" '
    { n++; d = $1 - $2; if (d < 0) d = -d; s = $2 < 0 ? -$2 : $2;
      if (d > 1e-5 * s + 1e-9) { printf "FAIL: %s: epoch %d loss %s vs %s\n", what, n, $1, $2; bad = 1 } }
    END { if (n == 0) { print "FAIL: " what ": no epochs"; exit 1 } exit bad }'
}

"$xgrad" zoo run sine --epochs 3 --threads 1 --quiet --out "$work/one" >/dev/null
timeout 120 "${launcher[@]}" 2 "$xgrad" zoo run sine --epochs 3 --threads 1 --out "$work/two" >"$work/two.log" 2>&1
same_losses "$work/two" "$work/one" "2 ranks vs 1 process"
grep -q "wrote $work/two" "$work/two.log"
[ "$(grep -c "wrote $work/two" "$work/two.log")" = 1 ] || { echo "FAIL: more than one rank reported"; exit 1; }
ls "$work/two" | sort | tr '\n' ' ' | grep -q "checkpoint.npz history.csv metrics.json plots" ||
  { echo "FAIL: the run folder lacks files: $(ls "$work/two")"; exit 1; }
if ls -a "$work/two" | grep -q "\.tmp"; then echo "FAIL: a temporary file was left"; exit 1; fi

# --resume under MPI continues the run as one process would.
"$xgrad" zoo run sine --epochs 4 --threads 1 --quiet --resume "$work/one" >/dev/null
timeout 120 "${launcher[@]}" 2 "$xgrad" zoo run sine --epochs 4 --threads 1 --quiet --resume "$work/two" >/dev/null 2>&1
[ "$(losses "$work/two" | wc -l)" = 4 ] || { echo "FAIL: the resumed run has $(losses "$work/two" | wc -l) epochs"; exit 1; }
same_losses "$work/two" "$work/one" "resumed on 2 ranks vs 1 process"

# 950 samples in one full batch do not divide among 3 ranks.
set +e
output=$(timeout 60 "${launcher[@]}" 3 "$xgrad" zoo run sine --epochs 1 --threads 1 --out "$work/three" 2>&1)
code=$?
set -e
if [ $code -eq 0 ] || [ $code -eq 124 ]; then echo "FAIL: 3 ranks with an indivisible batch exited $code"; exit 1; fi
grep -q "must divide evenly" <<<"$output" || { echo "FAIL: no message about the batch: $output"; exit 1; }
echo "PASS"
