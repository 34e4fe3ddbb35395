#!/usr/bin/env bash
# The style check ctest runs as `style`: what changed since the style
# baseline (tools/style-baseline, a commit) must be clang-format clean on the
# changed lines (git clang-format, .clang-format) and pass clang-tidy's error
# checks (.clang-tidy) in the changed .cc files. Uncommitted changes count.
# Moving the baseline forward is a commit of its own.
#
# Usage: tools/check_style.sh <build dir with compile_commands.json>
# Exit: 0 clean, 1 findings (printed), 77 when the baseline commit is not in
# this clone (a shallow clone: nothing to compare with; ctest shows it skipped).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: check_style.sh <build dir>}" && pwd)
cd "$root"
base=$(tr -d '[:space:]' < tools/style-baseline)
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  echo "style: baseline $base is not in this clone's history; nothing to compare"
  exit 77
fi

mapfile -t changed < <(git diff --name-only --diff-filter=ACMR "$base" -- \
  'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'bench/*.h' | sort -u)
echo "style: ${#changed[@]} C++ file(s) changed since $base"
status=0

if ((${#changed[@]} > 0)); then
  format_diff=$(git clang-format --binary clang-format --diff --extensions cc,h "$base" -- "${changed[@]}" 2>&1 || true)
  if [[ -n "$format_diff" && "$format_diff" != *"no modified files to format"* &&
        "$format_diff" != *"did not modify any files"* ]]; then
    echo "style: lines changed since $base are not clang-format clean; apply with"
    echo "  git clang-format $base -- <files>"
    echo "$format_diff"
    status=1
  fi
fi

# A unity build's database names its unity_N_cxx.cxx files: clang-tidy gets
# one with an entry per source.
database="$build/style-compile-db"
python3 "$root/tools/expand_unity_compile_db.py" "$build" "$database"
for file in "${changed[@]}"; do
  [[ "$file" == *.cc ]] || continue
  grep -q "\"file\": \"$root/$file\"" "$database/compile_commands.json" || continue  # not built here
  # clang 14 parses libstdc++'s coroutines but Asio does not detect them
  # under clang: tell it, or every coroutine file fails to parse.
  if ! output=$(clang-tidy --quiet -p "$database" --extra-arg=-DASIO_HAS_CO_AWAIT=1 \
                  --extra-arg=-DASIO_HAS_STD_COROUTINE=1 "$file" 2>&1); then
    echo "style: clang-tidy on $file:"
    echo "$output" | grep -v "warnings generated" || true
    status=1
  fi
done
[[ $status -eq 0 ]] && echo "style: clean"
exit $status
