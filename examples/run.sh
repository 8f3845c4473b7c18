#!/usr/bin/env bash
# Builds every example as its own CMake project against an installed xgrad
# (find_package only, the consumer's own flags) and runs each briefly,
# checking its result: the examples' exit codes assert what they show.
#
#   examples/run.sh PREFIX [CXXFLAGS]
#
# PREFIX is where `cmake --install` put xgrad; CXXFLAGS (default "-O2") are
# the consumer's flags, to which -Wall -Wextra -Werror are added: xgrad's
# headers must not warn in user code. The sentiment example needs a trained
# imdb-torch run; it is trained (--quick) when XGRAD_DATA holds the IMDB
# archive and the xgrad program is in build/, else only built.
set -euo pipefail
cd "$(dirname "$0")"
prefix=$(cd "$1" && pwd)
flags=${2:--O2}
work=$(mktemp -d /tmp/xgrad-examples.XXXXXX)
trap 'rm -rf "$work"' EXIT

for ex in custom-op char-lm sequence-classifier sentiment data-parallel; do
  echo "-- $ex: configure and build (CXXFLAGS: $flags -Wall -Wextra -Werror)"
  cmake -S "$ex" -B "$work/$ex" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=None \
        -DCMAKE_CXX_FLAGS="$flags -Wall -Wextra -Werror" > "$work/$ex.configure.log" || { cat "$work/$ex.configure.log"; exit 1; }
  cmake --build "$work/$ex" -j2
done

echo "-- custom-op"
"$work/custom-op/custom_op"
echo "-- char-lm"
"$work/char-lm/char_lm" /usr/share/common-licenses/GPL-3 30
echo "-- sequence-classifier"
(cd "$work" && "$work/sequence-classifier/sequence_classifier" 300 "$work/classifier.npz")
echo "-- data-parallel: one process, then two under mpirun (when installed)"
"$work/data-parallel/data_parallel"
if command -v mpirun > /dev/null; then
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    timeout 300 mpirun --oversubscribe --bind-to none -np 2 "$work/data-parallel/data_parallel"
fi
echo "-- sentiment"
cli=../build/xgrad
if [ -n "${XGRAD_DATA:-}" ] && [ -f "$XGRAD_DATA/imdb/aclImdb_v1_labelled.tar.gz" ] && [ -x "$cli" ]; then
  "$cli" zoo run imdb-torch --quick --epochs 2 --quiet --out "$work/imdb-run" > /dev/null
  "$work/sentiment/sentiment" "$work/imdb-run" "A wonderful film, I loved every minute of it." \
    "Dull and far too long; the worst acting I have seen."
  printf 'great\n\nterrible movie\n' | "$work/sentiment/sentiment" "$work/imdb-run" > "$work/stdin.txt"
  [ "$(wc -l < "$work/stdin.txt")" -eq 2 ] || { echo "sentiment: expected 2 lines from stdin"; exit 1; }
  if "$work/sentiment/sentiment" "$work/no-such-run" "text" 2> "$work/err.txt"; then
    echo "sentiment: a missing run folder must fail"; exit 1
  fi
  grep -q "no metrics.json" "$work/err.txt"
else
  echo "(no IMDB data or no build/xgrad: built, not run)"
fi
echo "-- all examples passed"
