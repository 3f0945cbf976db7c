#!/usr/bin/env bash
# Regenerates ci/golden/smoke from `sdpo repro --smoke` after an intended change of results
# (new shipped weights, a changed trainer). Review `git diff ci/golden` before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./build/sdpo repro --smoke --out "$tmp/s" --quiet >/dev/null
rm -rf ci/golden/smoke
grep -v '^#' ci/golden-files.txt | while read -r f; do
  [ -n "$f" ] || continue
  mkdir -p "ci/golden/smoke/$(dirname "$f")"
  cp "$tmp/s/$f" "ci/golden/smoke/$f"
done
echo "update-golden: wrote ci/golden/smoke ($(find ci/golden/smoke -name '*.csv' | wc -l) files)"
