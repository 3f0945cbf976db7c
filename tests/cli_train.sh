#!/usr/bin/env bash
# `sdpo train` from the command line: every method runs on the toy policy and on the tiny
# fixture UNet (T = 10); --help documents every key a config can
# hold; unknown keys and bad values exit 2 naming the key and its file or --set; same seed →
# byte-identical train.csv apart from the timing columns; a run stopped after epoch k (cleanly,
# or by SIGKILL at an arbitrary point) and resumed gives the uninterrupted run's rows; absurd
# learning rates stop with a message and a loadable checkpoint. Run by CTest with the binary.
set -u
SDPO=${1:?usage: cli_train.sh path/to/sdpo}
. tests/cli_lib.sh

# rows of a train.csv without '#' lines and without the 2 trailing timing columns
rows() { grep -v '^#' "$1/train.csv" | awk -F, 'BEGIN{OFS=","} {NF-=2; print}'; }
same_rows() {
  if cmp -s <(rows "$1") <(rows "$2"); then pass=$((pass + 1)); else bad "$3: rows differ"; diff <(rows "$1") <(rows "$2") | head -5; fi
}
SMALL=(--set sample.batch_size=4 --set sample.num_batches_per_epoch=2 --set train.gradient_accumulation_steps=2)

# ---- help: usage, and every key any resolved config holds is documented ----------------------
expect 0 "" "$SDPO" train --help
grep -q "^usage: sdpo train" "$tmp/out" || bad "train --help prints no usage"
cp "$tmp/out" "$tmp/help"
expect 2 "see 'sdpo train --help'" "$SDPO" train --no-such-option
expect 2 "--config is required" "$SDPO" train --out "$tmp/x"
expect 2 "--out is required" "$SDPO" train --config configs/toy/sdpo.json
for f in configs/toy/*.json configs/tiny/*.json configs/full/*.json; do
  expect 0 "" "$SDPO" train --config "$f" --check
  # every "section": { "key": … } of the resolved config must have its own entry in --help
  python_free_keys=$(awk '/^  "[a-z_0-9]+": \{/{gsub(/[":{ ]/,""); s=$0; next} /^    "/{k=$1; gsub(/[":]/,"",k); print s"."k}' "$tmp/out")
  [ -n "$python_free_keys" ] || bad "$f --check printed no keys"
  for k in $python_free_keys; do grep -qx "  $k" "$tmp/help" || bad "$f: key $k is not documented in --help"; done
done
nkeys=$(grep -cE '^  [a-z0-9_]+\.[a-z0-9_]+$' "$tmp/help")
[ "$nkeys" -ge 50 ] || bad "--help documents only $nkeys keys"

# ---- config errors name the key and the file or --set (exit 2) -------------------------------
printf '{"train": {"lr": 0.1}}' > "$tmp/unknown.json"
expect 2 "$tmp/unknown.json: unknown key 'train.lr'" "$SDPO" train --config "$tmp/unknown.json" --out "$tmp/x"
printf '{"sample": {"num_steps": -3}}' > "$tmp/range.json"
expect 2 "$tmp/range.json: key 'sample.num_steps' = -3 is out of range" "$SDPO" train --config "$tmp/range.json" --out "$tmp/x"
printf '{"train": {"method": "ddpo", "lam": 0.9}}' > "$tmp/unused.json"
expect 2 "$tmp/unused.json: key 'train.lam' is not used by method ddpo" "$SDPO" train --config "$tmp/unused.json" --out "$tmp/x"
expect 2 "--set: unknown key 'train.learnig_rate'" "$SDPO" train --config configs/toy/sdpo.json --set train.learnig_rate=1 --out "$tmp/x"
expect 2 "--set: key 'train.update_schedule' = 'random' is not one of" "$SDPO" train --config configs/toy/sdpo.json --set train.update_schedule=random --out "$tmp/x"
expect 2 "'sample.eta' = 0" "$SDPO" train --config configs/toy/sdpo.json --set sample.eta=0 --out "$tmp/x"
[ ! -e "$tmp/x" ] || bad "a refused config still created its output directory"

# ---- every method runs; no progress bar when stderr is not a terminal ------------------------
for m in sdpo ddpo rebel d3po; do
  expect 0 "3 epochs done" "$SDPO" train --config configs/toy/$m.json "${SMALL[@]}" --set run.num_epochs=3 --out "$tmp/$m"
  grep -q $'\r' "$tmp/err" && bad "$m: progress bar written to a non-terminal"
  [ "$(rows "$tmp/$m" | wc -l)" -eq 4 ] || bad "$m: train.csv has $(rows "$tmp/$m" | wc -l) lines, want header + 3"
  [ -f "$tmp/$m/config.json" ] || bad "$m: no config.json"
  ls "$tmp/$m/checkpoints/epoch-000003/weights.safetensors" >/dev/null 2>&1 || bad "$m: no final checkpoint"
  # same seed, same rows
  expect 0 "" "$SDPO" train --config configs/toy/$m.json "${SMALL[@]}" --set run.num_epochs=3 --out "$tmp/$m-again"
  same_rows "$tmp/$m" "$tmp/$m-again" "$m determinism"
  # stopped after epoch 2, resumed to 3
  expect 0 "" "$SDPO" train --config configs/toy/$m.json "${SMALL[@]}" --set run.num_epochs=2 --out "$tmp/$m-part"
  expect 0 "3 epochs done" "$SDPO" train --resume "$tmp/$m-part" --set run.num_epochs=3
  same_rows "$tmp/$m" "$tmp/$m-part" "$m resume"
done
expect 1 "already holds a run" "$SDPO" train --config configs/toy/sdpo.json --out "$tmp/sdpo"
expect 2 "only run.num_epochs" "$SDPO" train --resume "$tmp/sdpo" --set train.learning_rate=1
expect 2 "--resume DIR takes no --config" "$SDPO" train --resume "$tmp/sdpo" --config configs/toy/sdpo.json
expect 1 "no complete checkpoint" "$SDPO" train --resume "$tmp/nothing-here"

# ---- SIGKILL at an arbitrary point, then resume ---------------------------------------------
E=60
expect 0 "" "$SDPO" train --config configs/toy/sdpo.json --set run.num_epochs=$E --out "$tmp/whole"
"$SDPO" train --config configs/toy/sdpo.json --set run.num_epochs=$E --out "$tmp/killed" 2>/dev/null &
pid=$!
for _ in $(seq 1 400); do
  [ -f "$tmp/killed/train.csv" ] && [ "$(grep -vc '^#' "$tmp/killed/train.csv")" -ge 4 ] && break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
echo "cli_train: killed after $(grep -vc '^#' "$tmp/killed/train.csv") lines of train.csv"
expect 0 "" "$SDPO" train --resume "$tmp/killed"
same_rows "$tmp/whole" "$tmp/killed" "resume after SIGKILL"
ls -a "$tmp/killed/checkpoints" | grep -q '^\.tmp-' && bad "a temporary checkpoint survived the resume"

# ---- non-finite values: exit 1, message, loadable checkpoint --------------------------------
expect 1 "non-finite" "$SDPO" train --config configs/toy/ddpo.json "${SMALL[@]}" --set train.learning_rate=1e30 --out "$tmp/nan"
grep -qF "last good checkpoint is $tmp/nan/checkpoints/epoch-" "$tmp/err" || bad "non-finite: no checkpoint named: $(cat "$tmp/err")"
last=$(sed -n 's/.*checkpoints\/epoch-0*\([0-9][0-9]*\).*/\1/p' "$tmp/err")
expect 0 "" "$SDPO" train --resume "$tmp/nan" --set run.num_epochs="${last:-0}"

# ---- the tiny fixture UNet (T = 10): every method runs, is deterministic, resumes ------------
for m in sdpo ddpo rebel d3po; do
  expect 0 "2 epochs done" "$SDPO" train --config configs/tiny/$m.json --out "$tmp/tiny-$m"
  expect 0 "" "$SDPO" train --config configs/tiny/$m.json --out "$tmp/tiny-$m-again"
  same_rows "$tmp/tiny-$m" "$tmp/tiny-$m-again" "tiny $m determinism"
  [ -f "$tmp/tiny-$m/checkpoints/epoch-000002/pytorch_lora_weights.safetensors" ] || bad "tiny $m: no LoRA file in the checkpoint"
done
for m in sdpo d3po; do
  expect 0 "" "$SDPO" train --config configs/tiny/$m.json --set run.num_epochs=1 --out "$tmp/tiny-$m-part"
  expect 0 "2 epochs done" "$SDPO" train --resume "$tmp/tiny-$m-part" --set run.num_epochs=2
  same_rows "$tmp/tiny-$m" "$tmp/tiny-$m-part" "tiny $m resume"
done

finish
