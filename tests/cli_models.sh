#!/usr/bin/env bash
# CLI contract of the model commands (inspect-model, run-text-encoder, run-vae-decode): exit codes
# (0 ok, 1 runtime error, 2 usage), messages naming the file at fault, output tensors and shapes.
# Numbers are checked by the Check suites (test_vae runs run-vae-decode against the pipeline
# golden). Run by CTest with the binary path.
set -u
SDPO=${1:?usage: cli_models.sh path/to/sdpo}
TINY=tests/data/sd_fixtures/tiny_sd
GOLDEN=tests/data/sd_fixtures/golden
. tests/cli_lib.sh

# stdout of the last command contains a fixed string
has() {
  grep -qF -- "$1" "$tmp/out" || { echo "FAIL: output lacks '$1':"; cat "$tmp/out"; fail=$((fail + 1)); }
}

# safetensors file $1 holds tensor $2 with dtype $3 and shape $4 ("[1,3,16,16]")
tensor() {
  local n; n=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
  local hdr; hdr=$(head -c $((8 + n)) "$1" | tail -c "$n" | tr -d ' ')
  case "$hdr" in
    *"\"$2\":{\"dtype\":\"$3\",\"shape\":$4"*) pass=$((pass + 1)) ;;
    *) echo "FAIL: $1 lacks $2 $3 $4: $hdr"; fail=$((fail + 1)) ;;
  esac
}

for cmd in inspect-model run-text-encoder run-vae-decode; do
  expect 0 "" "$SDPO" "$cmd" --help
  grep -q "usage: sdpo $cmd" "$tmp/out" || { echo "FAIL: $cmd --help prints no usage"; fail=$((fail + 1)); }
  expect 2 "see 'sdpo $cmd --help'" "$SDPO" "$cmd" --no-such-option
done

# inspect-model: the tiny folder (weights present, fp16 variant listed), the real configs (no
# weights: parameters from the configs), and broken folders
expect 0 "" "$SDPO" inspect-model "$TINY"
has "StableDiffusionPipeline"
has "$TINY/unet/diffusion_pytorch_model.fp16.safetensors"
has "F16 x208; 208 tensors, 203,204 parameters"
has "$TINY/vae/diffusion_pytorch_model.safetensors [loaded]"
has "49,408 tokens, 48,894 merges; max length 77, bos 49406, eos 49407, pad '!' (id 0)"
[ "$(grep -c "matches the config" "$tmp/out")" -eq 4 ] || { echo "FAIL: inspect-model tiny: 4 matching files expected"; fail=$((fail + 1)); }
expect 0 "" "$SDPO" inspect-model configs/sd-turbo
has "865,910,724 in 686 tensors"
has "83,653,863 in 248 tensors"
has "340,387,840 in 372 tensors"
has "weights     missing: configs/sd-turbo/vae: no weights found"
expect 2 "expected exactly one model folder" "$SDPO" inspect-model
expect 1 "$tmp/nowhere/model_index.json: cannot open" "$SDPO" inspect-model "$tmp/nowhere"
mkdir -p "$tmp/broken/vae"
printf '{"_class_name": "StableDiffusionPipeline", "vae": ["diffusers", "AutoencoderKL"], "unet": ["diffusers", "UNet2DConditionModel"]}' > "$tmp/broken/model_index.json"
printf '{"block_out_channels": [32], "down_block_types": ["DownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D"], "act_fn": "relu"}' > "$tmp/broken/vae/config.json"
expect 1 "2 component(s)" "$SDPO" inspect-model "$tmp/broken"
has "$tmp/broken/unet: component folder missing"
has "$tmp/broken/vae/config.json: key 'act_fn': 'relu'"

# run-text-encoder
expect 2 "--model is required" "$SDPO" run-text-encoder --prompt cat --out "$tmp/t.safetensors"
expect 2 "either --prompt" "$SDPO" run-text-encoder --model "$TINY" --out "$tmp/t.safetensors"
expect 2 "either --prompt" "$SDPO" run-text-encoder --model "$TINY" --prompt cat --input-ids "$GOLDEN/text_encoder.safetensors" --out "$tmp/t.safetensors"
expect 2 "--clip-skip" "$SDPO" run-text-encoder --model "$TINY" --prompt cat --clip-skip -1 --out "$tmp/t.safetensors"
expect 0 "" "$SDPO" run-text-encoder --model "$TINY" --input-ids "$GOLDEN/text_encoder.safetensors" --out "$tmp/t.safetensors" --threads 2
tensor "$tmp/t.safetensors" input_ids I64 "[3,77]"
tensor "$tmp/t.safetensors" last_hidden_state F32 "[3,77,32]"
tensor "$tmp/t.safetensors" prompt_embeds F32 "[3,77,32]"
expect 0 "" "$SDPO" run-text-encoder --model "$TINY" --input-ids "$GOLDEN/text_encoder.safetensors" --clip-skip 1 --out "$tmp/t1.safetensors"
cmp -s "$tmp/t.safetensors" "$tmp/t1.safetensors" && { echo "FAIL: --clip-skip changed nothing"; fail=$((fail + 1)); }
expect 1 "--clip-skip 3: the text encoder has only 3 layers" "$SDPO" run-text-encoder --model "$TINY" --input-ids "$GOLDEN/text_encoder.safetensors" --clip-skip 3 --out "$tmp/t.safetensors"
# real CLIP ids (49406…) do not fit the tiny model's 1024-token vocabulary: a clean error, no output
expect 1 "token id 49406 at [0, 0] is outside the vocabulary (vocab_size 1024)" "$SDPO" run-text-encoder --model "$TINY" --prompt "a cat" --out "$tmp/p.safetensors"
[ ! -e "$tmp/p.safetensors" ] || { echo "FAIL: partial output after an error"; fail=$((fail + 1)); }
expect 1 "--prompt 2: prompt is not valid UTF-8 (byte offset 3)" "$SDPO" run-text-encoder --model "$TINY" --prompt ok --prompt $'caf\xc3' --out "$tmp/p.safetensors"
expect 1 "tensor 'input_ids'" "$SDPO" run-text-encoder --model "$TINY" --input-ids "$GOLDEN/vae.safetensors" --out "$tmp/p.safetensors"
expect 1 "configs/sd-turbo/text_encoder: no weights found" "$SDPO" run-text-encoder --model configs/sd-turbo --input-ids "$GOLDEN/text_encoder.safetensors" --out "$tmp/p.safetensors"

# run-vae-decode
expect 2 "--input is required" "$SDPO" run-vae-decode --model "$TINY" --out "$tmp/v.safetensors"
expect 0 "" "$SDPO" run-vae-decode --model "$TINY" --input "$GOLDEN/pipeline_1step.safetensors" --input-name x0 --out "$tmp/v.safetensors"
tensor "$tmp/v.safetensors" sample F32 "[1,3,16,16]"
tensor "$tmp/v.safetensors" images F32 "[1,3,16,16]"
expect 0 "" "$SDPO" run-vae-decode --model "$TINY" --input "$GOLDEN/vae.safetensors" --input-name decode.latents --raw --out "$tmp/v2.safetensors" --threads 1
tensor "$tmp/v2.safetensors" images F32 "[2,3,16,16]"
expect 1 "missing tensor 'latents'" "$SDPO" run-vae-decode --model "$TINY" --input "$GOLDEN/vae.safetensors" --out "$tmp/v.safetensors"
expect 1 "tensor 'decode.image'" "$SDPO" run-vae-decode --model "$TINY" --input "$GOLDEN/vae.safetensors" --input-name decode.image --out "$tmp/v.safetensors"
expect 1 "/dev/null/v.safetensors" "$SDPO" run-vae-decode --model "$TINY" --input "$GOLDEN/pipeline_1step.safetensors" --input-name x0 --out /dev/null/v.safetensors
mkdir -p "$tmp/novae"
printf '{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}' > "$tmp/novae/model_index.json"
expect 1 "$tmp/novae/model_index.json: lists no component 'vae'" "$SDPO" run-vae-decode --model "$tmp/novae" --input "$GOLDEN/pipeline_1step.safetensors" --out "$tmp/v.safetensors"

finish
