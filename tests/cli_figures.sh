#!/usr/bin/env bash
# `sdpo claims`, `sdpo figures` and `sdpo grid` from the command line on the fixtures in
# tests/data/eval_fixtures: exit codes (0 report whatever the verdicts, 1 unreadable input or
# missing gnuplot, 2 usage), claims.csv's header and verdicts, every figure's PNG (when gnuplot
# is installed), "skipped (no data)" lines, and a grid PNG. Run by CTest with the binary.
set -u
SDPO=${1:?usage: cli_figures.sh path/to/sdpo}
FX=tests/data/eval_fixtures
. tests/cli_lib.sh

# --- claims ---
expect 0 "" "$SDPO" claims --help
expect 2 "--out is required" "$SDPO" claims --table1 $FX/table1_pass.csv
expect 2 "unexpected argument" "$SDPO" claims --out "$tmp/c.csv" stray
expect 1 "/nonexistent.csv" "$SDPO" claims --table1 /nonexistent.csv --out "$tmp/c.csv"
expect 1 "'score'" "$SDPO" claims --table1 $FX/summary.csv --out "$tmp/c.csv"
expect 0 "" "$SDPO" claims --table1 $FX/table1_fail.csv --summary $FX/summary.csv \
  --table3 $FX/table3_pass.csv --runs $FX/runs --out "$tmp/c.csv"
if [ "$(head -1 "$tmp/c.csv")" = "claim,evidence,ours,verdict" ]; then ok; else bad "claims.csv header: $(head -1 "$tmp/c.csv")"; fi
if grep -q '^Table 1 HPSv2 16-step: SDPO highest,.*,fail$' "$tmp/c.csv"; then ok; else bad "HPSv2 16-step should fail"; fi
if grep -q 'claims: .* pass, .* fail, 0 not run' "$tmp/out"; then ok; else bad "summary line: $(tail -1 "$tmp/out")"; fi
expect 0 "" "$SDPO" claims --out "$tmp/none.csv"
if [ "$(grep -c ',not run$' "$tmp/none.csv")" -eq 14 ] && ! grep -q ',pass$' "$tmp/none.csv"; then ok
else bad "no inputs: every claim should be 'not run'"; cat "$tmp/none.csv"; fi

# --- figures ---
expect 0 "" "$SDPO" figures --help
expect 2 "--out is required" "$SDPO" figures --runs $FX/runs
expect 2 "give --runs" "$SDPO" figures --out "$tmp/f"
expect 1 "/nonexistent/runs" "$SDPO" figures --runs /nonexistent/runs --out "$tmp/f"
expect 1 "/nonexistent/gnuplot" "$SDPO" figures --runs $FX/runs --out "$tmp/f0" --gnuplot /nonexistent/gnuplot
if command -v gnuplot >/dev/null 2>&1; then
  expect 0 "" "$SDPO" figures --runs $FX/runs --eval $FX --out "$tmp/f"
  for f in fig3 fig4_toy-mode fig5_strategy fig5_gamma fig6_norm fig6_lam fig6_schedule fig7; do
    if [ -s "$tmp/f/$f.png" ] && [ -s "$tmp/f/$f.csv" ]; then ok; else bad "$f.png/.csv missing"; fi
  done
  # only an eval summary: every run figure is skipped, not plotted empty
  expect 0 "" "$SDPO" figures --eval $FX --out "$tmp/g"
  if [ "$(grep -c 'skipped (no data)' "$tmp/out")" -eq 7 ] && [ ! -e "$tmp/g/fig3.png" ]; then ok
  else bad "eval-only figures: $(cat "$tmp/out")"; fi
else
  echo "cli_figures: gnuplot not installed; figure rendering skipped"
fi

# --- grid ---
expect 0 "" "$SDPO" grid --help
expect 2 "required" "$SDPO" grid --eval "$tmp/e" --out "$tmp/grid.png"
expect 2 "--scale" "$SDPO" grid --eval "$tmp/e" --prompt-index 0 --image-index 0 --scale 0 --out "$tmp/grid.png"
expect 1 "$tmp/e/images" "$SDPO" grid --eval "$tmp/e" --prompt-index 0 --image-index 0 --out "$tmp/grid.png"
mkdir -p "$tmp/e/images/base/epoch-000000/steps-1" "$tmp/e/images/sdpo/epoch-000004/steps-1"
cp tests/data/jpeg/smooth.png "$tmp/e/images/base/epoch-000000/steps-1/p0_i0.png"
cp tests/data/jpeg/smooth.png "$tmp/e/images/sdpo/epoch-000004/steps-1/p0_i0.png"
expect 0 "" "$SDPO" grid --eval "$tmp/e" --prompt-index 0 --image-index 0 --scale 2 --out "$tmp/grid.png"
if [ -s "$tmp/grid.png" ]; then ok; else bad "grid.png missing"; fi
expect 1 "epoch-000009" "$SDPO" grid --eval "$tmp/e" --prompt-index 0 --image-index 0 --epoch 9 --out "$tmp/grid.png"

finish
