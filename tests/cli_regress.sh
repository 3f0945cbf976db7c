#!/usr/bin/env bash
# `sdpo regress` (eval/golden.h): the CI regression check must pass on identical CSVs, pass on
# differences within atol + rtol*|golden|, and fail (exit 1, naming file, row and column) on a
# larger difference, a changed text cell, a changed header, a missing row or a missing file.
set -u
SDPO=${1:?usage: cli_regress.sh path/to/sdpo}
EXPECT_STDOUT=1  # sdpo regress reports on stdout
. tests/cli_lib.sh
mkdir -p "$tmp/g/sub" "$tmp/r/sub"
printf '# commit=abc\nmethod,epoch,mean,wall_s\nsdpo,1,0.50000,3.2\nddpo,1,0.25,1.0\n' >"$tmp/g/sub/a.csv"
printf 'x\n1\n' >"$tmp/g/b.csv"
cp "$tmp/g/b.csv" "$tmp/r/b.csv"
run() { printf "$1" >"$tmp/r/sub/a.csv"; }

run '# commit=def\nmethod,epoch,mean,wall_s\nsdpo,1,0.5,9.9\nddpo,1,0.25,7\n'
expect 0 "2 files" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r"
run 'method,epoch,mean,wall_s\nsdpo,1,0.5001,3.2\nddpo,1,0.25,1.0\n'
expect 1 "sub/a.csv row 1 column mean: 0.5001, golden 0.50000" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r"
expect 0 "" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r" --rtol 3e-4
expect 1 "column mean" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r" --rtol 1e-4
expect 0 "" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r" --atol 2e-4
run 'method,epoch,mean,wall_s\nrebel,1,0.5,3.2\nddpo,1,0.25,1.0\n'
expect 1 "column method: 'rebel', golden 'sdpo'" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r" --atol 1
run 'method,epoch,avg,wall_s\nsdpo,1,0.5,3.2\nddpo,1,0.25,1.0\n'
expect 1 "header differs" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r"
run 'method,epoch,mean,wall_s\nsdpo,1,0.5,3.2\n'
expect 1 "1 rows, golden" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r"
run 'method,epoch,mean,wall_s\nsdpo,1,0.5,3.2\nddpo,1,0.25,1.0\n'
rm "$tmp/r/b.csv"
expect 1 "b.csv: missing" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r"
mkdir -p "$tmp/empty"
expect 1 "nothing to compare" "$SDPO" regress --golden "$tmp/empty" --run "$tmp/r"
expect 1 "cannot open golden directory" "$SDPO" regress --golden "$tmp/nope" --run "$tmp/r"
expect 2 "--golden and --run are required" "$SDPO" regress --golden "$tmp/g"
expect 2 "--rtol 'x'" "$SDPO" regress --golden "$tmp/g" --run "$tmp/r" --rtol x
finish
