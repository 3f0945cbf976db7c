#!/usr/bin/env bash
# CI's regression check (issue #8): `sdpo repro --smoke` on the shipped micro model and micro
# rewards, then its CSVs against the committed golden files in ci/golden/smoke with the
# tolerances of ci/tolerance.sh (stated and justified there). Also checks that the study
# directory holds every table, figure and grid. Regenerate the golden files after an intended
# change with scripts/update-golden.sh.
set -u
SDPO=${1:?usage: cli_repro_smoke.sh path/to/sdpo}
. ci/tolerance.sh
. tests/cli_lib.sh
if "$SDPO" repro --smoke --out "$tmp/s" --quiet >"$tmp/out" 2>"$tmp/err"; then ok; else
  bad "sdpo repro --smoke failed: $(tail -5 "$tmp/err")"
fi
for f in table1.csv table1.md table3/micro-clip/table3.csv claims.csv summary.md eval/summary.csv \
         figures/fig3.png figures/fig4_micro-clip.png grids/prompt0.png grids/prompt3.png commands.sh; do
  [ -s "$tmp/s/$f" ] && ok || bad "the smoke study lacks $f"
done
grep -q "^## Claims: " "$tmp/out" && ok || bad "no summary printed"
if "$SDPO" regress --golden ci/golden/smoke --run "$tmp/s" --atol "$SDPO_GOLDEN_ATOL" \
     --rtol "$SDPO_GOLDEN_RTOL" --ignore "$SDPO_GOLDEN_IGNORE"; then ok; else
  bad "the smoke CSVs differ from ci/golden/smoke beyond the tolerances"
fi
finish
