#!/usr/bin/env bash
# The whole chain on the tiny fixture model (issue #6): train SDPO, DDPO, REBEL and D3PO for 2
# epochs (configs/tiny/*.json, T = 4), `sdpo eval` every checkpoint at 1, 2 and 4 steps with two
# rewards, `sdpo record-trajectories` → `sdpo table3`, `sdpo table1`, `sdpo claims`, `sdpo figures`
# and `sdpo grid`; asserts on the files, their key rows and the PNG sizes, that the epoch-0
# checkpoint's rows are bitwise the bare model's (`--model`), and that bad inputs exit 2 (usage)
# or 1 (runtime) with a message naming the thing at fault. Run by CTest with the binary as $1.
set -u
SDPO=${1:?usage: cli_chain.sh path/to/sdpo}
TINY=tests/data/sd_fixtures/tiny_sd
. tests/cli_lib.sh

# width and height of a PNG from its IHDR chunk (bytes 16..23, big-endian)
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}'; }
data_rows() { grep -v '^#' "$1" | tail -n +2; }

# ---- train: 4 methods x 2 epochs, every checkpoint kept (epoch 0 = the base model) -------------
R=$tmp/runs
for m in sdpo ddpo rebel d3po; do
  expect 0 "" "$SDPO" train --config configs/tiny/$m.json --set run.num_epochs=2 \
    --set run.keep_checkpoints=10 --set sample.num_steps=4 --out "$R/$m"
done

# ---- eval: every checkpoint of every run, 1/2/4 steps, 2 rewards, PNGs of prompt 0 ------------
E=$tmp/eval
runs=(--run "$R/sdpo" --run "$R/ddpo" --run "$R/rebel" --run "$R/d3po")
expect 0 "" "$SDPO" eval "${runs[@]}" --checkpoints all --steps 1,2,4 \
  --rewards jpeg-incompressibility,brightness --images-per-prompt 2 --save-images 1 --out "$E"
check "[ \"\$(grep -v '^#' $E/images.csv | head -1)\" = method,epoch,prompt_index,prompt,image_index,steps,reward,score ]" \
  "images.csv header: $(grep -v '^#' "$E/images.csv" | head -1)"
# (base + 4 runs x 2 epochs) x 3 step counts x 4 prompts x 2 images x 2 rewards
check "[ \$(data_rows $E/images.csv | wc -l) -eq 432 ]" "images.csv has $(data_rows "$E/images.csv" | wc -l) rows, want 432"
check "[ \$(data_rows $E/summary.csv | wc -l) -eq 54 ]" "summary.csv has $(data_rows "$E/summary.csv" | wc -l) rows, want 54"
# base once, at epoch 0; every method at epochs 1 and 2
check "[ \"\$(data_rows $E/summary.csv | cut -d, -f1,2 | sort -u | tr '\n' ' ')\" = 'base,0 d3po,1 d3po,2 ddpo,1 ddpo,2 rebel,1 rebel,2 sdpo,1 sdpo,2 ' ]" \
  "summary methods/epochs: $(data_rows "$E/summary.csv" | cut -d, -f1,2 | sort -u | tr '\n' ' ')"
check "grep -q '^base,0,0,\"A green colored rabbit\",1,4,brightness,' $E/images.csv" "no base 4-step brightness row of prompt 0 image 1"
check "grep -q '^sdpo,2,jpeg-incompressibility,4,[0-9.e-]*,[0-9.e-]*,[0-9.e-]*,8$' $E/summary.csv" "no sdpo epoch-2 4-step jpeg summary row with n = 8"
check "grep -q '^# sdpo eval: seed=0 eta=1 final_image=xhat guidance=1 images_per_prompt=2 steps=1,2,4' $E/images.csv" "images.csv metadata"
check "grep -q '^# model base epoch 0: .*/runs/sdpo/checkpoints/epoch-000000' $E/summary.csv" "summary.csv metadata lacks the base checkpoint"
check "[ -s $E/images/sdpo/epoch-000002/steps-4/p0_i1.png ] && [ -s $E/images/base/epoch-000000/steps-1/p0_i0.png ]" "eval PNGs missing"
check "[ \"\$(png_size $E/images/sdpo/epoch-000002/steps-4/p0_i1.png)\" = 16x16 ]" "eval PNG is $(png_size "$E/images/sdpo/epoch-000002/steps-4/p0_i1.png"), want the fixture's 16x16"
check "[ ! -e $E/images/sdpo/epoch-000002/steps-4/p1_i0.png ]" "--save-images 1 saved prompt 1"

# the epoch-0 checkpoint is the base model: --model without an adapter gives the same rows
expect 0 "" "$SDPO" eval --model $TINY --steps 1,2,4 --rewards jpeg-incompressibility,brightness \
  --images-per-prompt 2 --out "$tmp/bare"
check "cmp -s <(grep '^base,' $E/images.csv) <(grep '^base,' $tmp/bare/images.csv)" "epoch-0 rows differ from the bare model's"
# a checkpoint given as --lora is the run's row
expect 0 "" "$SDPO" eval --model $TINY --lora "$R/ddpo/checkpoints/epoch-000002" --method ddpo \
  --steps 2 --rewards brightness --images-per-prompt 2 --out "$tmp/lora"
check "cmp -s <(grep '^ddpo,2,.*,2,brightness,' $E/images.csv | cut -d, -f1-8) <(grep '^ddpo,' $tmp/lora/images.csv | cut -d, -f1-8)" \
  "--lora checkpoint rows differ from the run's"

# several adapters on one model, each named: each one's rows are its run's
expect 0 "" "$SDPO" eval --model $TINY --lora "ddpo=$R/ddpo/checkpoints/epoch-000002" \
  --lora "sdpo=$R/sdpo/checkpoints/epoch-000001" --steps 2 --rewards brightness --images-per-prompt 2 --out "$tmp/loras"
for me in ddpo,2 sdpo,1; do
  check "cmp -s <(grep '^$me,.*,2,brightness,' $E/images.csv | cut -d, -f1-8) <(grep '^$me,' $tmp/loras/images.csv | cut -d, -f1-8)" \
    "--lora $me rows differ from the run's"
done
# --checkpoints EPOCHS: the base and the listed epochs of every run
expect 0 "" "$SDPO" eval --run "$R/sdpo" --run "$R/rebel" --checkpoints 1 --steps 1 --rewards brightness \
  --images-per-prompt 1 --out "$tmp/sel"
check "[ \"\$(data_rows $tmp/sel/summary.csv | cut -d, -f1,2 | tr '\n' ' ')\" = 'base,0 sdpo,1 rebel,1 ' ]" \
  "--checkpoints 1 evaluated: $(data_rows "$tmp/sel/summary.csv" | cut -d, -f1,2 | tr '\n' ' ')"
# a failed evaluation leaves no images.csv, summary.csv or images/ (PNGs of the models before the
# failure were written): the second run's last checkpoint is truncated
cp -r "$R/rebel" "$tmp/broken"
w="$tmp/broken/checkpoints/epoch-000002/weights.safetensors"
head -c 100 "$w" > "$w.cut" && mv "$w.cut" "$w"
expect 1 "epoch-000002" "$SDPO" eval --run "$R/sdpo" --run "broken=$tmp/broken" --checkpoints all --steps 1 \
  --rewards brightness --images-per-prompt 1 --save-images 1 --out "$tmp/failed"
check "[ -z \"\$(ls -A $tmp/failed 2>/dev/null)\" ]" "a failed eval left: $(ls -A "$tmp/failed" 2>/dev/null | tr '\n' ' ')"

# ---- Table 3 from recorded trajectories ----------------------------------------------------
expect 0 "" "$SDPO" record-trajectories --run "$R/sdpo" --steps 4 --n 8 --reward jpeg-incompressibility \
  --out "$tmp/traj.safetensors"
expect 0 "" "$SDPO" table3 --input "$tmp/traj.safetensors" --out "$tmp/table3.csv"
check "grep -q '(8 trajectories x 4 steps)' $tmp/out" "table3 did not read 8 x 4 trajectories: $(cat "$tmp/out")"
check "[ \$(data_rows $tmp/table3.csv | wc -l) -eq 7 ] && grep -q '^full,1,0,0$' $tmp/table3.csv" "table3.csv: $(cat "$tmp/table3.csv")"

# ---- Table 1, claims, figures, grid -------------------------------------------------------
expect 0 "" "$SDPO" table1 --eval "$E" --out "$tmp/t1"
# 5 methods x 2 rewards x 3 steps, each method at its final epoch (base: 0)
check "[ \$(data_rows $tmp/t1/table1.csv | wc -l) -eq 30 ]" "table1.csv rows: $(data_rows "$tmp/t1/table1.csv" | wc -l)"
base4=$(grep '^base,0,brightness,4,' "$E/summary.csv" | cut -d, -f5)
check "grep -q '^base,brightness,4,' $tmp/t1/table1.csv" "table1.csv lacks base brightness 4 (summary mean $base4)"
expect 0 "" "$SDPO" claims --table1 "$tmp/t1/table1.csv" --summary "$E/summary.csv" \
  --table3 "$tmp/table3.csv" --runs "$R" --out "$tmp/claims.csv"
# data present: a verdict; 8/16 steps and the ablations (one SDPO run): not run
check "! grep -E '^Table (1|3)' $tmp/claims.csv | grep -q ',not run$'" "a Table 1/3 claim with data was not run"
check "[ \$(grep -cE 'at (1|2|4) steps? \(final checkpoints\).*,(pass|fail)$' $tmp/claims.csv) -eq 6 ]" "Fig. 4 claims at 1/2/4 steps lack verdicts"
check "[ \$(grep -cE 'at (8|16) steps \(final checkpoints\).*,not run$' $tmp/claims.csv) -eq 4 ]" "8/16-step claims should be 'not run'"
check "[ \$(grep -c '^Fig. [56].*,not run$' $tmp/claims.csv) -eq 5 ]" "ablation claims should be 'not run'"
if command -v gnuplot >/dev/null 2>&1; then
  expect 0 "" "$SDPO" figures --runs "$R" --eval "$E" --out "$tmp/fig"
  for f in fig3:800x600 fig4_jpeg-incompressibility:1800x520 fig4_brightness:1800x520; do
    n=${f%%:*} want=${f#*:}
    check "[ -s $tmp/fig/$n.png ] && [ \"\$(png_size $tmp/fig/$n.png)\" = $want ]" "$n.png: $(png_size "$tmp/fig/$n.png" 2>/dev/null), want $want"
  done
  check "grep -q 'fig7: skipped (no data)' $tmp/out" "fig7 should be skipped: $(cat "$tmp/out")"
else
  echo "cli_chain: gnuplot not installed; figure rendering skipped"
fi
expect 0 "" "$SDPO" grid --eval "$E" --prompt-index 0 --image-index 1 --scale 2 --out "$tmp/grid.png"
# 5 rows (base + 4 methods) of 32-pixel cells under a title and a header row: at least
# 5 x 32 + 4 x 4 gutters high, 3 columns of 32 + a label column wide
check "[ -s $tmp/grid.png ] && png_size $tmp/grid.png | awk -Fx '{exit !(\$1 >= 3*32+4*4 && \$2 >= 5*32+4*5)}'" "grid.png is $(png_size "$tmp/grid.png")"

# ---- bad inputs --------------------------------------------------------------------------
expect 1 "$tmp/nowhere" "$SDPO" eval --run "$tmp/nowhere" --rewards brightness --out "$tmp/x"
expect 2 "'x'" "$SDPO" eval --run "$R/sdpo" --steps 1,x --rewards brightness --out "$tmp/x"
expect 2 "'0'" "$SDPO" eval --run "$R/sdpo" --steps 0,2 --rewards brightness --out "$tmp/x"
expect 2 "listed twice" "$SDPO" eval --run "$R/sdpo" --steps 2,2 --rewards brightness --out "$tmp/x"
expect 2 "unknown reward 'aesthetics'" "$SDPO" eval --run "$R/sdpo" --rewards brightness,aesthetics --out "$tmp/x"
expect 2 "--rewards is required" "$SDPO" eval --run "$R/sdpo" --out "$tmp/x"
expect 2 "needs a name for its rows" "$SDPO" eval --model $TINY --lora "$R/sdpo/checkpoints/epoch-000001" --rewards brightness --out "$tmp/x"
expect 2 "single --lora" "$SDPO" eval --model $TINY --lora "a=$R/sdpo/checkpoints/epoch-000001" --method b --rewards brightness --out "$tmp/x"
expect 2 "'1,x'" "$SDPO" eval --run "$R/sdpo" --checkpoints 1,x --rewards brightness --out "$tmp/x"
expect 1 "no checkpoint of epoch 5 (it has 0,1,2)" "$SDPO" eval --run "$R/sdpo" --checkpoints 5 --rewards brightness --out "$tmp/x"
expect 1 "already used by another run" "$SDPO" eval --run "$R/sdpo" --run "$R/sdpo" --rewards brightness --out "$tmp/x"
expect 1 "needs the toy policy" "$SDPO" eval --run "$R/sdpo" --rewards toy-mode --out "$tmp/x"
expect 1 "images.csv already exists" "$SDPO" eval --run "$R/sdpo" --rewards brightness --steps 1 --out "$E"
check "[ ! -e $tmp/x ]" "a refused eval created its output directory"
expect 2 "unknown reward 'nope'" "$SDPO" record-trajectories --run "$R/sdpo" --reward nope --out "$tmp/t.safetensors"
expect 1 "$tmp/nowhere" "$SDPO" record-trajectories --run "$tmp/nowhere" --reward brightness --out "$tmp/t.safetensors"
expect 1 "no checkpoint of epoch 7" "$SDPO" record-trajectories --run "$R/sdpo" --epoch 7 --reward brightness --out "$tmp/t.safetensors"
expect 0 "" "$SDPO" eval --help
check "grep -q 'eta = 1' $tmp/out" "eval --help does not say which eta"

finish
