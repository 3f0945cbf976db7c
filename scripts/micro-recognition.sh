#!/usr/bin/env bash
# How recognisable a micro model's animals are (issue #8): samples each of the 45 training
# prompts (data/prompts/simple_animals_45.txt) K times at S steps with `sdpo eval` (deterministic
# DDIM, eta 0, seed 0), scores every sample with the micro CLIP (data/micro/clip) against all 45
# prompts with `sdpo score`, and counts a sample as recognised when its own prompt scores
# highest (top-1 among the 45 names; chance is 1/45 = 2.2%).
#   bash scripts/micro-recognition.sh [MODEL_DIR] [OUT_DIR] [K] [S]
# (defaults: data/micro/model, a temporary directory, 1, 50). Writes OUT_DIR/recognition.csv
# (prompt_index,prompt,image_index,best_prompt,recognised) and prints the top-1 rate; the PNGs
# are under OUT_DIR/eval/images/base/epoch-000000/steps-S/. Run from the repository root.
set -euo pipefail
SDPO=${SDPO:-./build/sdpo}
model=${1:-data/micro/model}
out=${2:-$(mktemp -d)}
K=${3:-1}
S=${4:-50}
prompts=data/prompts/simple_animals_45.txt
mapfile -t names < "$prompts"
"$SDPO" eval --model "$model" --prompts "$prompts" --steps "$S" --images-per-prompt "$K" --eta 0 \
  --rewards micro-clip --save-images all --threads "${OMP_NUM_THREADS:-2}" --quiet --out "$out/eval" >/dev/null
dir="$out/eval/images/base/epoch-000000/steps-$S"
images=()
for ((p = 0; p < ${#names[@]}; p++)); do
  for ((k = 0; k < K; k++)); do images+=("$dir/p${p}_i${k}.png"); done
done
# scores[j] = one line per image: the micro-CLIP score against prompt j
for ((j = 0; j < ${#names[@]}; j++)); do
  "$SDPO" score --reward micro-clip --prompt "${names[j]}" "${images[@]/#/--image=}" | cut -f2 > "$out/score_$j.txt"
done
paste -d, "$out"/score_{0..44}.txt > "$out/scores.csv"
awk -F, -v K="$K" -v names="$(IFS=,; echo "${names[*]}")" '
  BEGIN { split(names, nm, ","); print "prompt_index,prompt,image_index,best_prompt,recognised" }
  { p = int((NR - 1) / K); best = 1
    for (j = 2; j <= NF; j++) if ($j > $best) best = j
    ok = (best == p + 1); hits += ok
    printf "%d,%s,%d,%s,%d\n", p, nm[p + 1], (NR - 1) % K, nm[best], ok }
  END { printf "micro-recognition: %d of %d samples (%.1f%%) named right by the micro CLIP (top-1 of %d)\n", hits, NR, 100 * hits / NR, length(nm) > "/dev/stderr" }
' "$out/scores.csv" > "$out/recognition.csv"
echo "$out/recognition.csv"
