#!/usr/bin/env bash
# `sdpo score` contract: exit codes (0 scored, 1 model/image failure, 2 usage), one line per
# image, help that states every reward's scale, errors naming the file at fault. Uses the tiny
# reward fixtures (tests/data/reward_fixtures). Run by CTest with the binary path.
set -u
SDPO=${1:?usage: cli_score.sh path/to/sdpo}
FIX=tests/data/reward_fixtures
. tests/cli_lib.sh

expect 0 "" "$SDPO" score --help
grep -q "usage: sdpo score" "$tmp/out" || { echo "FAIL: no usage line"; fail=$((fail + 1)); }
for s in aesthetic pickscore hpsv2 imagereward jpeg-compressibility jpeg-incompressibility \
         "exp(logit_scale)" "100 \* cos" "0.16717362830052426" "1.0333394966054072" "--official-scale"; do
  grep -q -- "$s" "$tmp/out" || { echo "FAIL: help lacks '$s'"; fail=$((fail + 1)); }
done

I0=$FIX/images/image0.png I1=$FIX/images/image1.png
expect 2 "--reward is required" "$SDPO" score --image "$I0"
expect 2 "at least one --image" "$SDPO" score --reward aesthetic --model "$FIX/aesthetic"
expect 2 "unknown reward 'frobnicate'" "$SDPO" score --reward frobnicate --image "$I0"
expect 2 "see 'sdpo score --help'" "$SDPO" score --bogus
expect 1 "needs a model folder" "$SDPO" score --reward pickscore --image "$I0"
expect 1 "/nonexistent/config.json" "$SDPO" score --reward aesthetic --model /nonexistent --image "$I0"
expect 1 "$tmp/missing.png" "$SDPO" score --reward jpeg-compressibility --image "$tmp/missing.png"

# one line per image, in order, "path<TAB>score"
expect 0 "" "$SDPO" score --reward aesthetic --model "$FIX/aesthetic" --image "$I0" --image "$I1"
check '[ "$(wc -l < "$tmp/out")" -eq 2 ]' "aesthetic prints $(wc -l < "$tmp/out") lines"
check '[ "$(cut -f1 "$tmp/out" | tr "\n" " ")" = "$I0 $I1 " ]' "aesthetic paths: $(cut -f1 "$tmp/out")"
expect 0 "" "$SDPO" score --reward pickscore --model "$FIX/pickscore" --prompt "cat" --image "$I0"
p1=$(cut -f2 "$tmp/out")
expect 0 "" "$SDPO" score --reward pickscore --model "$FIX/pickscore" --prompt "cat" --official-scale --image "$I0"
p2=$(cut -f2 "$tmp/out")
check 'awk -v a="$p1" -v b="$p2" "BEGIN { r = a / b; exit !(r > 99 && r < 100) }"' \
  "pickscore / official = $p1 / $p2, want exp(4.6) = 99.48"
expect 0 "" "$SDPO" score --reward hpsv2 --model "$FIX/hpsv2" --prompt "A dog on the moon" --image "$I1"
expect 0 "" "$SDPO" score --reward imagereward --model "$FIX/imagereward" --prompt "a cat" --image "$I0" --image "$I1"
check '[ "$(wc -l < "$tmp/out")" -eq 2 ]' "imagereward prints $(wc -l < "$tmp/out") lines"
expect 0 "" "$SDPO" score --reward jpeg-incompressibility --image "$I0"

# the micro rewards score with their shipped folders by default (run from the repository root)
for r in micro-clip micro-quality; do
  grep -q -- "$r" <("$SDPO" score --help) || { echo "FAIL: help lacks '$r'"; fail=$((fail + 1)); }
  expect 0 "" "$SDPO" score --reward $r --prompt "a cat" --image "$I0" --image "$I1"
  check 'awk -F"\t" "NF != 2 || \$2 + 0 != \$2 { bad = 1 } END { exit bad || NR != 2 }" "$tmp/out"' \
    "$r prints: $(cat "$tmp/out")"
  expect 1 "$r (the" "$SDPO" score --reward $r --model /nonexistent --prompt "a cat" --image "$I0"
done

finish
