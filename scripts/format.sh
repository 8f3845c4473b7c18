#!/usr/bin/env bash
# The house style (.clang-format) over every tracked C++ file.
#   scripts/format.sh          rewrites the files in place
#   scripts/format.sh --check  lists what differs and fails (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.hpp')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
