#!/usr/bin/env bash
# `sdpo world` from the command line (issue #8): the scene grid and the 45-animal row are PNGs of
# the predicted size, the same seed gives the same file, and exit codes are 0 ok, 1 bad emoji
# font (message names the path), 2 usage. Run by CTest with the binary as $1.
set -u
SDPO=${1:?usage: cli_world.sh path/to/sdpo}
. tests/cli_lib.sh
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}'; }

expect 0 "" "$SDPO" world --out "$tmp/a.png" --seed 3 --n 5 --kind count --scale 2
expect 0 "" "$SDPO" world --out "$tmp/b.png" --seed 3 --n 5 --kind count --scale 2
cmp -s "$tmp/a.png" "$tmp/b.png" && ok || bad "same seed gave different PNGs"
expect 0 "" "$SDPO" world --out "$tmp/c.png" --seed 4 --n 5 --kind count --scale 2
cmp -s "$tmp/a.png" "$tmp/c.png" && bad "seeds 3 and 4 gave the same PNG" || ok
# 5 cells of 64 px in one row: each column is max(64, 112) + 8 px gutter wide, plus 8 px.
[ "$(png_size "$tmp/a.png" | cut -dx -f1)" = 608 ] && ok || bad "grid width $(png_size "$tmp/a.png")"
expect 0 "" "$SDPO" world --out "$tmp/animals.png" --animals --scale 4
[ "$(png_size "$tmp/animals.png" | cut -dx -f1)" = $((8 + 45 * (128 + 8))) ] && ok || bad "animals width $(png_size "$tmp/animals.png")"
expect 2 "--out is required" "$SDPO" world --n 3
expect 2 "--kind 'birds'" "$SDPO" world --out "$tmp/x.png" --kind birds
expect 2 "--n '0'" "$SDPO" world --out "$tmp/x.png" --n 0
expect 2 "exclude" "$SDPO" world --out "$tmp/x.png" --animals --kind color
SDPO_EMOJI_FONT="$tmp/none.ttf" expect 1 "$tmp/none.ttf" "$SDPO" world --out "$tmp/x.png"
[ -e "$tmp/x.png" ] && bad "a failed run left $tmp/x.png" || ok

finish
