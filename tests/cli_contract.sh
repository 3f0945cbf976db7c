#!/usr/bin/env bash
# CLI contract: exit codes (0 ok, 1 runtime error, 2 usage), error messages that name the file
# and field, help for every command, and no partial outputs. Run by CTest with the binary path.
set -u
SDPO=${1:?usage: cli_contract.sh path/to/sdpo}
. tests/cli_lib.sh

expect 2 "usage: sdpo" "$SDPO"
expect 0 "" "$SDPO" --help
expect 2 "unknown command 'frobnicate'" "$SDPO" frobnicate
for cmd in schedule toy-trajectories dense-reward table3; do
  expect 0 "" "$SDPO" "$cmd" --help
  grep -q "usage: sdpo $cmd" "$tmp/out" || { echo "FAIL: $cmd --help prints no usage"; fail=$((fail + 1)); }
  expect 2 "see 'sdpo $cmd --help'" "$SDPO" "$cmd" --no-such-option
done

# schedule
expect 0 "" "$SDPO" schedule --steps 4
[ "$(sed -n 2p "$tmp/out")" = "0,999,749,0.00466009509,0.0566234477,0.93262544" ] \
  || { echo "FAIL: schedule row 0: $(sed -n 2p "$tmp/out")"; fail=$((fail + 1)); }
expect 2 "--steps" "$SDPO" schedule --steps 0
expect 2 "--spacing" "$SDPO" schedule --spacing middle

# toy-trajectories: deterministic output, missing --out, unwritable path
expect 2 "--out is required" "$SDPO" toy-trajectories
expect 0 "" "$SDPO" toy-trajectories --n 4 --steps 10 --dim 8 --out "$tmp/a/t.safetensors"
expect 0 "" "$SDPO" toy-trajectories --n 4 --steps 10 --dim 8 --out "$tmp/b.safetensors"
cmp -s "$tmp/a/t.safetensors" "$tmp/b.safetensors" || { echo "FAIL: toy output not reproducible"; fail=$((fail + 1)); }
expect 1 "/dev/null/x.safetensors" "$SDPO" toy-trajectories --n 2 --out /dev/null/x.safetensors

# dense-reward and table3: good input, then corrupt and wrongly shaped inputs
T="$tmp/b.safetensors"
expect 0 "" "$SDPO" dense-reward --input "$T" --strategy sim3-adaptive --out "$tmp/p.csv"
[ "$(head -1 "$tmp/p.csv")" = "traj,step,predicted" ] || { echo "FAIL: dense-reward header"; fail=$((fail + 1)); }
[ "$(wc -l < "$tmp/p.csv")" -eq 41 ] || { echo "FAIL: dense-reward rows: $(wc -l < "$tmp/p.csv")"; fail=$((fail + 1)); }
expect 2 "unknown dense-reward strategy" "$SDPO" dense-reward --input "$T" --strategy sim4 --out "$tmp/p.csv"
expect 0 "" "$SDPO" table3 --input "$T" --out "$tmp/t3.csv"
[ "$(head -1 "$tmp/t3.csv")" = "strategy,cosine_similarity,l1_distance,l2_distance" ] \
  || { echo "FAIL: table3 header: $(head -1 "$tmp/t3.csv")"; fail=$((fail + 1)); }
[ "$(wc -l < "$tmp/t3.csv")" -eq 8 ] || { echo "FAIL: table3 rows"; fail=$((fail + 1)); }
grep -q "^full,1,0,0$" "$tmp/t3.csv" || { echo "FAIL: table3 full row: $(grep ^full "$tmp/t3.csv")"; fail=$((fail + 1)); }

printf 'garbage-not-safetensors' > "$tmp/bad.safetensors"
expect 1 "$tmp/bad.safetensors" "$SDPO" table3 --input "$tmp/bad.safetensors" --out "$tmp/x.csv"
[ ! -e "$tmp/x.csv" ] || { echo "FAIL: output written despite bad input"; fail=$((fail + 1)); }
head -c 100 "$T" > "$tmp/trunc.safetensors"
expect 1 "$tmp/trunc.safetensors" "$SDPO" dense-reward --input "$tmp/trunc.safetensors" --strategy copy --out "$tmp/x.csv"
# mkst FILE HEADER NBYTES: a hand-made safetensors file (header < 256 bytes) with zero data,
# or with the float32 bytes given in $4 (printf escapes).
mkst() {
  local len=${#2}
  { printf "$(printf '\\x%02x' "$len")\0\0\0\0\0\0\0"; printf '%s' "$2"; \
    if [ -n "${4:-}" ]; then printf "$4"; else head -c "$3" /dev/zero; fi; } > "$1"
}
mkst "$tmp/noxhat.safetensors" '{"reward":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]}}' 12
expect 1 "missing tensor 'xhat'" "$SDPO" table3 --input "$tmp/noxhat.safetensors" --out "$tmp/x.csv"
mkst "$tmp/rank.safetensors" '{"xhat":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]},"reward":{"dtype":"F32","shape":[1,3],"data_offsets":[12,24]}}' 24
expect 1 "'xhat' has shape [1, 3], expected [*, *, *]" "$SDPO" table3 --input "$tmp/rank.safetensors" --out "$tmp/x.csv"
mkst "$tmp/mismatch.safetensors" '{"xhat":{"dtype":"F32","shape":[1,3,1],"data_offsets":[0,12]},"reward":{"dtype":"F32","shape":[1,2],"data_offsets":[12,20]}}' 20
expect 1 "'reward' has shape [1, 2], expected [1, 3]" "$SDPO" dense-reward --input "$tmp/mismatch.safetensors" --strategy copy --out "$tmp/x.csv"
mkst "$tmp/nan.safetensors" '{"xhat":{"dtype":"F32","shape":[1,1,1],"data_offsets":[0,4]},"reward":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]}}' 0 '\x00\x00\x80\x3f\x00\x00\xc0\x7f'
expect 1 "'reward' element 0 is NaN" "$SDPO" dense-reward --input "$tmp/nan.safetensors" --strategy copy --out "$tmp/x.csv"
[ ! -e "$tmp/x.csv" ] || { echo "FAIL: output written despite bad input"; fail=$((fail + 1)); }

finish
