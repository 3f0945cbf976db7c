#!/usr/bin/env bash
# `sdpo table1` and `sdpo compare` from the command line (paper Table 1, Sec. 4.2; Table 3,
# Sec. 4.3): files and rows written, paper-name matching, and exit codes (0 ok, 1 unreadable
# input, 2 usage) with messages naming the thing at fault. Run by CTest with the binary as $1.
set -u
SDPO=${1:?usage: cli_eval.sh path/to/sdpo}
. tests/cli_lib.sh

mkdir -p "$tmp/e1" "$tmp/e2"
printf '# seed=1\nmethod,epoch,reward,steps,mean,std,sem,n\nbase,0,imagereward,1,0.9,0.1,0.05,4\nsdpo,2,imagereward,1,1.2,0.1,0.05,4\nsdpo,4,imagereward,1,1.4,0.1,0.05,4\n' >"$tmp/e1/summary.csv"
printf 'method,epoch,reward,steps,mean,std,sem,n\nddpo,4,imagereward,1,1.1,0.1,0.05,4\n' >"$tmp/e2/summary.csv"

expect 0 "" "$SDPO" table1 --eval "$tmp/e1" --eval "$tmp/e2" --out "$tmp/t"
want=$'method,reward,steps,score\nbase,imagereward,1,0.9\nddpo,imagereward,1,1.1\nsdpo,imagereward,1,1.4'
[ "$(cat "$tmp/t/table1.csv" 2>/dev/null)" = "$want" ] && ok || bad "table1.csv: $(cat "$tmp/t/table1.csv")"
grep -qF '| sdpo | **1.400** |' "$tmp/t/table1.md" && ok || bad "table1.md lacks bold sdpo"
expect 2 "--out is required" "$SDPO" table1 --eval "$tmp/e1"
expect 2 "--eval" "$SDPO" table1 --out "$tmp/t"
expect 1 "$tmp/missing/summary.csv" "$SDPO" table1 --eval "$tmp/missing" --out "$tmp/t"
printf 'method,epoch,reward,steps\nbase,0,x,1\n' >"$tmp/e2/summary.csv"
expect 1 "mean" "$SDPO" table1 --eval "$tmp/e2" --out "$tmp/t"

expect 0 "" "$SDPO" compare --ours "$tmp/t/table1.csv" --paper paper_tables/table1_unseen_prompts.csv
grep -qF '"base,imagereward,1",score,0.9,0.985,-0.085' "$tmp/out" && ok || bad "compare base row: $(head -3 "$tmp/out")"
printf 'strategy,cosine_similarity,l1_distance,l2_distance\nsim3-adaptive,0.5,9000,100\n' >"$tmp/t3.csv"
expect 0 "" "$SDPO" compare --kind table3 --ours "$tmp/t3.csv" --paper paper_tables/table3_reward_similarity.csv
grep -q '"imagereward,sim3-adaptive",cosine_similarity,0.5,' "$tmp/out" && ok || bad "compare table3: $(head -3 "$tmp/out")"
expect 2 "--kind 'x'" "$SDPO" compare --kind x --ours "$tmp/t3.csv"
expect 2 "--ours is required" "$SDPO" compare
expect 1 "$tmp/nope.csv" "$SDPO" compare --ours "$tmp/nope.csv"

finish
