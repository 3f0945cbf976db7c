#!/usr/bin/env bash
# `sdpo pretrain-micro` from the command line (issue #8): usage errors exit 2 naming the option;
# --init-from a folder without trained weights exits 1 naming the missing file and leaves no
# checkpoint; a one-step continuation of the shipped model with a --mix records both in its log,
# and a resume without the run's --mix is refused naming it; --sample-grid draws a sheet of the
# expected size and fails on a missing prompts file. Run by CTest with the binary as $1.
set -u
SDPO=${1:?usage: cli_pretrain.sh path/to/sdpo}
. tests/cli_lib.sh

expect 2 "--mix" "$SDPO" pretrain-micro --out "$tmp/r" --images 2 --mix single=0.5,birds=1
expect 2 "--mix" "$SDPO" pretrain-micro --out "$tmp/r" --images 2 --mix single=-1
expect 2 "--mix" "$SDPO" pretrain-micro --out "$tmp/r" --images 2 --mix single=0,color=0
expect 2 "--mix" "$SDPO" pretrain-micro --out "$tmp/r" --images 2 --mix single
expect 2 "--mix" "$SDPO" pretrain-micro --out "$tmp/r" --images 2 --mix single=1,single=2
expect 2 "exclude each other" "$SDPO" pretrain-micro --out "$tmp/r" --images 2 --model data/micro/model --init-from data/micro/model
expect 2 "--init-from starts a run" "$SDPO" pretrain-micro --out "$tmp/r" --resume --images 2 --init-from data/micro/model
expect 2 "--export does not train" "$SDPO" pretrain-micro --out "$tmp/r" --export "$tmp/e" --mix single=1
# configs and tokenizer without weights
mkdir -p "$tmp/bare"
cp -r data/micro/model/{model_index.json,scheduler,tokenizer} "$tmp/bare/"
mkdir -p "$tmp/bare/unet" "$tmp/bare/text_encoder"
cp data/micro/model/unet/config.json "$tmp/bare/unet/"
cp data/micro/model/text_encoder/config.json "$tmp/bare/text_encoder/"
expect 1 "$tmp/bare/unet/diffusion_pytorch_model.safetensors" \
  "$SDPO" pretrain-micro --out "$tmp/r" --init-from "$tmp/bare" --images 2 --batch 2 --quiet
check '! ls "$tmp/r/checkpoints"/epoch-* >/dev/null 2>&1' "a failed start left a checkpoint"

# the shipped model was itself continued: a second continuation would drop its first log
expect 1 "data/micro/model/init_pretrain_log.csv" "$SDPO" pretrain-micro --out "$tmp/s" \
  --init-from data/micro/model --images 2 --batch 2 --quiet
# a one-step continuation of a source with a single log (the shipped model without init log)
mkdir -p "$tmp/src" && cp -r data/micro/model/. "$tmp/src/" && rm "$tmp/src/init_pretrain_log.csv"
mix=single=0.8,color=0.05,count=0.05,composition=0.05,location=0.05
expect 0 "" "$SDPO" pretrain-micro --out "$tmp/c" --init-from "$tmp/src" --seed 1 --mix "$mix" \
  --images 2 --batch 2 --threads 1 --quiet
check 'grep -q "^# init: the trained UNet and text-encoder weights of $tmp/src" "$tmp/c/pretrain_log.csv"' \
  "the log lacks the init line"
check 'grep -q "^# mix: single=0.8 color=0.05 count=0.05 composition=0.05 location=0.05$" "$tmp/c/pretrain_log.csv"' \
  "the log lacks the mix line"
check 'cmp -s "$tmp/src/pretrain_log.csv" "$tmp/c/init_pretrain_log.csv"' "the source's log was not kept"
expect 1 "mix" "$SDPO" pretrain-micro --out "$tmp/c" --resume --seed 1 --images 4 --batch 2 --threads 1 --quiet

# --sample-grid: one labelled strip per prompt (training emoji + 3 samples of 32 px, 1 px apart,
# upscaled 2x: 262 px) in a 4 px margin, so two prompts make a sheet 4 + 2 * (262 + 4) wide
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}'; }
printf 'cat\na green colored rabbit\n' > "$tmp/two.txt"
EXPECT_STDOUT=1 expect 0 "at 50 steps: $tmp/sheet.png" "$SDPO" pretrain-micro --out "$tmp/c" --export "$tmp/e" \
  --sample-grid "$tmp/sheet.png" --prompts "$tmp/two.txt" --threads 1
check '[ "$(png_size "$tmp/sheet.png" | cut -dx -f1)" = 536 ]' "sheet.png is $(png_size "$tmp/sheet.png" 2>/dev/null)"
expect 1 "no-such.txt" "$SDPO" pretrain-micro --out "$tmp/c" --export "$tmp/e" \
  --sample-grid "$tmp/sheet2.png" --prompts "$tmp/no-such.txt" --threads 1
check '[ ! -e "$tmp/sheet2.png" ]' "a failed sheet left a file"

finish
