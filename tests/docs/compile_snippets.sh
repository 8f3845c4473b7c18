#!/usr/bin/env bash
# Compiles every ```cpp block of README.md and docs/*.md, so documented code
# always compiles, warning-free under -Wall -Wextra (ctest test "docs"), with
# the flags xgrad::xgrad gives a consumer.
#
#   compile_snippets.sh CXX SOURCE_ROOT OUT_DIR
#
# A block with `int main(` is a whole program: it is compiled as written,
# alone, so its own #include lines must suffice. The other blocks of a
# Markdown file are fragments: they share one translation unit that includes
# <xgrad/xgrad.hpp>, each the body of a function, so they may use statements
# and local classes. Two HTML comments, invisible when rendered,
# on the line right before a block:
#   <!-- snippet-prelude: DECLARATIONS -->  declarations the block assumes
#                                            (e.g. the data it works on)
#   <!-- snippet: skip REASON -->           an excerpt that cannot stand alone
# A fragment's #include lines are moved to the top of the unit.
set -euo pipefail
cxx=$1; root=$2; out=$3
rm -rf "$out"
mkdir -p "$out"
status=0
for md in "$root"/README.md "$root"/docs/*.md; do
  name=$(basename "$md" .md)
  unit="$out/$name.cpp"
  awk -v file="$md" '
    function flush_block(   i, text, is_main, program) {
      text = ""
      is_main = 0
      for (i = 1; i <= nlines; ++i) if (lines[i] ~ /int main\(/) is_main = 1
      ++count
      if (is_main) {
        program = out "/" name "_program_" count ".cpp"
        printf "// %s:%d\n", file, start > program
        for (i = 1; i <= nlines; ++i) print lines[i] > program
        close(program)
        return
      }
      for (i = 1; i <= nlines; ++i) {
        if (lines[i] ~ /^[ \t]*#include/) { includes = includes lines[i] "\n"; continue }
        text = text lines[i] "\n"
      }
      ++fragments
      body = body "// " file ":" start "\nnamespace snippet_" count " {\nusing namespace xgrad;\n"
      body = body "[[maybe_unused]] void snippet() {\n" prelude "\n" text "}\n"
      body = body "}  // namespace snippet_" count "\n\n"
    }
    /^```cpp/ {
      in_block = 1; nlines = 0; start = FNR
      skip = (previous ~ /<!-- snippet: skip/)
      prelude = ""
      if (previous ~ /<!-- snippet-prelude:/) {
        prelude = previous
        sub(/.*<!-- snippet-prelude:[ ]*/, "", prelude)
        sub(/[ ]*-->.*/, "", prelude)
      }
      next
    }
    /^```/ && in_block { in_block = 0; if (!skip) flush_block(); previous = $0; next }
    in_block { lines[++nlines] = $0; next }
    { previous = $0 }
    END {
      if (fragments == 0) exit
      printf "// Generated from %s by tests/docs/compile_snippets.sh: %d fragments.\n", file, fragments
      printf "#include <xgrad/xgrad.hpp>\n%s\n%s", includes, body
    }' out="$out" name="$name" "$md" > "$unit"
  for source in "$unit" "$out/${name}"_program_*.cpp; do
    [ -s "$source" ] || continue
    if "$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -Werror -Wno-unused -I"$root" -include "$root/xgrad/xtensor_config.hpp" "$source" 2> "$source.log"; then
      echo "ok    $md: $(basename "$source")"
    else
      echo "FAIL  $md: a C++ block does not compile ($source):"
      head -40 "$source.log"
      status=1
    fi
  done
done
exit $status
