#!/usr/bin/env bash
# A rank that throws ends the whole job quickly with its message (never a
# hang). Usage: fault.sh MPIEXEC-COMMAND... -- PROGRAM
set -uo pipefail
launcher=()
while [ "$1" != "--" ]; do launcher+=("$1"); shift; done
shift
program=$1
for mode in uncaught --caught; do
  args=()
  [ "$mode" = --caught ] && args=(--caught)
  start=$(date +%s)
  output=$(timeout 60 "${launcher[@]}" "$program" "${args[@]}" 2>&1)
  code=$?
  elapsed=$(( $(date +%s) - start ))
  echo "== $mode: exit $code after ${elapsed}s"
  echo "$output" | head -20
  if [ $code -eq 124 ]; then echo "FAIL: the job hung (killed after 60 s)"; exit 1; fi
  if [ $code -eq 0 ]; then echo "FAIL: the job exited 0"; exit 1; fi
  if ! grep -q "xgrad rank 1/2: bad input on rank 1" <<<"$output"; then echo "FAIL: rank 1's message is missing"; exit 1; fi
  if [ $elapsed -gt 20 ]; then echo "FAIL: took ${elapsed}s to end"; exit 1; fi
done
echo "PASS"
