#!/usr/bin/env bash
# clang-tidy's allow-list (.clang-tidy: bug-prone and performance checks,
# each clean today) over the project's own sources, with the flags of
# BUILD_DIR's compile_commands.json. By default only the .cc files that
# changed since BASE (default: ten commits back, about one working
# session's landing, or the first commit) and the .cc files next to
# changed headers, so a CI run costs a minute or less; SLUICE_TIDY_ALL=1
# checks every file of base/ proto/ storage/ broker/ ha/ client/ (~3 min on
# 2 cores). Exit status 1 on any finding.
#
#   ./scripts/clang_tidy.sh [BUILD_DIR [BASE]]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
base=${2:-HEAD~10}
git rev-parse -q --verify "$base^{commit}" > /dev/null || base=$(git rev-list --max-parents=0 HEAD | tail -1)
[ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json: build first" >&2; exit 2; }
dirs=(base proto storage broker ha client)
if [ "${SLUICE_TIDY_ALL:-0}" = 1 ]; then
  mapfile -t files < <(git ls-files "${dirs[@]/%//*.cc}")
else
  mapfile -t changed < <(git diff --name-only "$base" -- "${dirs[@]}" | grep -E '\.(cc|h)$' || true)
  files=()
  for f in "${changed[@]}"; do
    [ -f "$f" ] || continue
    c=${f%.h}
    c=${c%.cc}.cc
    [ -f "$c" ] && files+=("$c")
  done
  mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u | grep . || true)
fi
[ "${#files[@]}" -gt 0 ] || { echo "clang-tidy: no source changed since $base"; exit 0; }
echo "clang-tidy: ${#files[@]} file(s)"
# run-clang-tidy exits 0 on findings treated as errors in some versions:
# decide from its output.
out=$(run-clang-tidy-14 -p "$build" -j 2 -quiet -extra-arg=-Wno-unknown-warning-option \
        "${files[@]}" 2>&1 | sed 's/\x1b\[[0-9;]*m//g') || true
if grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning):' <<< "$out"; then
  echo "clang-tidy FAILED: fix the findings above (or, if a check is wrong here, say why in .clang-tidy)"
  exit 1
fi
echo "clang-tidy: clean"
