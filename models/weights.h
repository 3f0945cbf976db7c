/* models/weights.h — loading a diffusers/transformers component's weights into an nn_params
 * registry, by name, with exact shape checks.
 *
 * Model code registers every tensor its config implies (names exactly as in the checkpoint,
 * e.g. "down_blocks.0.attentions.0.proj_in.weight"), finalizes, then calls sdpo_weights_load.
 * Loading is strict in both directions, because a silent mismatch would make every later parity
 * number meaningless:
 *   - a registered tensor missing from the file, or with another shape, is an error naming the
 *     file, the tensor and both shapes;
 *   - a tensor in the file that the model did not register is an error ("the config.json
 *     describes another architecture than the weights"), unless `ignore_in_file` says it is a
 *     known extra (e.g. transformers' "text_model.embeddings.position_ids" buffer);
 *   - registered tensors for which `not_in_file` returns 1 (LoRA adapters, initialised by the
 *     caller) are skipped.
 * F32, F16 and BF16 files all load into the F32 slab; NaN/Inf weights are refused. */
#ifndef SDPO_MODELS_WEIGHTS_H
#define SDPO_MODELS_WEIGHTS_H

#include <stddef.h>

#include "core/error.h"
#include "nn/params.h"

/* The weights file of a component folder: the first of "diffusion_pytorch_model.safetensors",
 * "model.safetensors", "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors"
 * that exists (fp32 preferred). When none does, the error lists what was looked for and, if a
 * PyTorch pickle (.bin/.pt/.ckpt) is there, says how to convert it; sharded checkpoints
 * (*.safetensors.index.json) are refused with the same hint. */
sdpo_status sdpo_weights_find(const char *component_dir, char *path, size_t path_len);

typedef struct {
    int (*not_in_file)(const char *name);     /* registered, initialised elsewhere; NULL = none */
    int (*ignore_in_file)(const char *name);  /* in the file, deliberately unused; NULL = none */
} sdpo_weights_filter;

/* Loads every registered tensor of p (finalized) from the safetensors file at path. */
sdpo_status sdpo_weights_load(nn_params *p, const char *path, const sdpo_weights_filter *filter);

#endif
