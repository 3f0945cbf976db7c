/* models/unet.h — the SD-Turbo UNet (diffusers UNet2DConditionModel, SD-2.x family) on the nn
 * engine: config, parameter graph, forward, backward, LoRA adapters and their files.
 *
 * Port of diffusers (0.24 … 0.42) src/diffusers/models/unets/unet_2d_condition.py with the
 * blocks of unet_2d_blocks.py (CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn,
 * CrossAttnUpBlock2D, UpBlock2D), resnet.py (ResnetBlock2D), downsampling.py/upsampling.py,
 * transformers/transformer_2d.py (Transformer2DModel, use_linear_projection=True),
 * attention.py (BasicTransformerBlock, GEGLU FeedForward) and embeddings.py (Timesteps,
 * TimestepEmbedding). shared/spec/architectures.md §1.3, §1.8 and §2.1–2.5 spell out the maths.
 *
 * Lifecycle (nothing large is allocated before step 4, so the real SD-Turbo graph can be built
 * and measured from its config.json alone):
 *   1. sdpo_unet_config_load("…/unet/config.json", &cfg)
 *   2. sdpo_unet_init(&u, &cfg, &opt)       registers every tensor (checkpoint names) + LoRA
 *   3. sdpo_unet_arena_bytes(…)              activation memory of a (mode, B, H, W, L)
 *   4. sdpo_unet_finalize(&u)                allocates the parameter slabs (nn/params.h)
 *   5. sdpo_unet_load_weights(&u, file)      strict, by name; F32/F16/BF16 files
 *      sdpo_unet_lora_init(&u, seed) or sdpo_unet_lora_load(&u, file)
 *   6. sdpo_unet_forward / sdpo_unet_backward, any number of times
 *
 * Shapes: sample [B, C_in, H, W] (NCHW), timestep [B] (float; may differ per sample),
 * encoder_hidden_states [B, L, D] with D = cross_attention_dim, eps [B, C_out, H, W].
 * H and W must be multiples of 2^(levels − 1) (8 for SD-Turbo): diffusers' forward_upsample_size
 * path for other sizes is not ported. */
#ifndef SDPO_MODELS_UNET_H
#define SDPO_MODELS_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "nn/arena.h"
#include "nn/context.h"
#include "nn/params.h"

/* Resolution levels (len(block_out_channels)); SD-Turbo has 4. */
#define SDPO_UNET_MAX_LEVELS 8

/* ---------------------------------------------------------------------------------------------
 * config (unet/config.json) */

typedef struct {
    char path[512];                          /* the config.json it came from (for messages) */
    int in_channels, out_channels;
    int sample_size;                         /* informational: the latent side it was trained at */
    int n_levels;                            /* len(block_out_channels) */
    int block_out_channels[SDPO_UNET_MAX_LEVELS];
    int layers_per_block[SDPO_UNET_MAX_LEVELS];     /* resnets per down block (up: + 1) */
    int heads[SDPO_UNET_MAX_LEVELS];         /* attention heads per down level: diffusers'
                                                num_attention_heads = attention_head_dim (sic) */
    int transformer_layers[SDPO_UNET_MAX_LEVELS];   /* BasicTransformerBlocks per Transformer2D */
    int down_attn[SDPO_UNET_MAX_LEVELS];     /* 1: CrossAttnDownBlock2D, 0: DownBlock2D */
    int up_attn[SDPO_UNET_MAX_LEVELS];       /* 1: CrossAttnUpBlock2D, 0: UpBlock2D */
    int cross_attention_dim;                 /* D of encoder_hidden_states */
    int norm_num_groups;
    float norm_eps;                          /* resnets and conv_norm_out; Transformer2D's
                                                GroupNorm is fixed at 1e-6, its LayerNorms 1e-5 */
    int flip_sin_to_cos;
    float freq_shift;
    int downsample_padding;                  /* 1: conv pad 1; 0: F.pad (0,1,0,1) then pad 0 */
    int time_embed_dim;                      /* 4 · block_out_channels[0] */
} sdpo_unet_config;

/* Parses and validates config.json. Every key that changes the architecture is read; values
 * this port does not implement (class/addition embeddings, non-positional time embeddings,
 * use_linear_projection false, dual or only-cross attention, non-default resnet options, …) are
 * refused with SDPO_ERR_FORMAT naming the file and the key, never ignored. */
sdpo_status sdpo_unet_config_load(const char *path, sdpo_unet_config *cfg);

/* ---------------------------------------------------------------------------------------------
 * model */

typedef struct {
    int lora_rank;       /* LoRA rank on to_q/to_k/to_v/to_out.0 of every attn1/attn2; 0 = none */
    double lora_alpha;   /* scale = alpha / rank; 0 means alpha = rank (scale 1, diffusers 0.17.1) */
    int train_base;      /* 1: every base parameter is trainable (full-parameter training);
                            0: base frozen (RL finetuning trains the LoRA only) */
} sdpo_unet_options;

/* rank 4, alpha 4, base frozen: the SDPO/DDPO setting (sdpo_official_code.md §2.10). */
sdpo_unet_options sdpo_unet_options_default(void);

typedef enum {
    SDPO_UNET_INFER = 0,        /* forward only: nothing is kept for a backward */
    SDPO_UNET_TRAIN,            /* keep every activation the backward needs */
    SDPO_UNET_TRAIN_RECOMPUTE,  /* keep only each resnet/transformer unit's output; the backward
                                   re-runs each unit's forward into a marked arena region */
} sdpo_unet_mode;

typedef struct {
    int B, H, W, L;     /* batch, latent height/width, text tokens */
} sdpo_unet_shape;

struct unet_unit;
struct unet_slot;
struct unet_tensor;
struct unet_time;
struct unet_state;

typedef struct {
    sdpo_unet_config cfg;
    sdpo_unet_options opt;
    float lora_scale;               /* alpha / rank as float32 (nn_lora_scale) */
    nn_params params;               /* every tensor under its checkpoint name; LoRA tensors as
                                       "<module>.lora_A.weight" [r, in] / ".lora_B.weight" [out, r] */
    int n_units;                    /* forward order: conv_in, resnets, transformers, samplers, out */
    struct unet_unit *units;
    int n_slots;                    /* activations passed between units (skips included) */
    struct unet_slot *slots;
    int n_tensors;                  /* bindings of registry entries to unit fields */
    struct unet_tensor **tensors;
    struct unet_time *time;         /* time_embedding.linear_1/linear_2 */
    struct unet_state *state;       /* the forward in flight (arena, shape, pointers) */
} sdpo_unet;

/* Builds the graph of cfg and registers its tensors into u->params (not finalized: no slab is
 * allocated). SDPO_ERR_FORMAT naming the config file and key for channel/group/head counts that
 * do not fit together; SDPO_ERR_ARG for bad options; SDPO_ERR_NOMEM. */
sdpo_status sdpo_unet_init(sdpo_unet *u, const sdpo_unet_config *cfg,
                           const sdpo_unet_options *opt);
void sdpo_unet_free(sdpo_unet *u);

/* Allocates the parameter/gradient/AdamW slabs and binds every tensor. Parameters start at 0. */
sdpo_status sdpo_unet_finalize(sdpo_unet *u);

/* Loads the base weights (everything but the LoRA tensors) from a diffusers safetensors file,
 * strictly (models/weights.h): a missing, extra or wrongly shaped tensor is an error naming the
 * file and the tensor. F16/BF16 files are converted to F32 exactly. */
sdpo_status sdpo_unet_load_weights(sdpo_unet *u, const char *path);

/* Total elements of the registered tensors: all, and the trainable ones. Valid before finalize. */
size_t sdpo_unet_param_count(const sdpo_unet *u);
size_t sdpo_unet_trainable_count(const sdpo_unet *u);

/* Bytes of nn_arena that one sdpo_unet_forward (+ sdpo_unet_backward for the training modes,
 * with every input gradient requested) takes at this shape and ctx->n_threads: the exact high
 * water of a real run, obtained by running the same allocation sequence without computing.
 * Valid before finalize. SDPO_ERR_ARG for a shape the model cannot take.
 * SD-Turbo, 64×64 latents, L = 77, rank-4 LoRA (this function's answer, not a measurement):
 *   B = 1: infer 286 MiB, train 1542 MiB, train with recomputation 422 MiB;
 *   B = 2: infer 540 MiB, train 3052 MiB, train with recomputation 812 MiB
 * (activations only; the parameter slabs are 3.46 GB of weights, and 4 × that for
 * full-parameter training with AdamW). */
sdpo_status sdpo_unet_arena_bytes(sdpo_unet *u, const nn_ctx *ctx, sdpo_unet_mode mode,
                                  const sdpo_unet_shape *s, size_t *bytes);

/* ε = UNet(sample, timestep, encoder_hidden_states). Activations go into `arena` above its
 * current mark (checked up front against sdpo_unet_arena_bytes: SDPO_ERR_NOMEM with the need
 * and the space left). SDPO_UNET_INFER leaves the arena as it found it; the training modes keep
 * their activations there until sdpo_unet_backward, and the backward also reads sample,
 * timestep and encoder_hidden_states, which must stay unchanged until it returns. One forward
 * may be in flight per sdpo_unet. */
sdpo_status sdpo_unet_forward(sdpo_unet *u, nn_ctx *ctx, nn_arena *arena, sdpo_unet_mode mode,
                              const sdpo_unet_shape *s, const float *sample,
                              const float *timestep, const float *encoder_hidden_states,
                              float *eps);

/* Backward of the last training-mode forward from d_eps [B, C_out, H, W]: ACCUMULATES (+=) into
 * the gradients of every trainable tensor (u->params.grads), and into d_sample [B, C_in, H, W]
 * and d_encoder_hidden_states [B, L, D] when they are not NULL. Then releases the forward's
 * arena region. SDPO_ERR_ARG when no training-mode forward is pending. */
sdpo_status sdpo_unet_backward(sdpo_unet *u, nn_ctx *ctx, const float *d_eps, float *d_sample,
                               float *d_encoder_hidden_states);

/* Abandons a pending training-mode forward (e.g. on an error between forward and backward),
 * releasing its arena region. A no-op when none is pending. */
void sdpo_unet_forward_cancel(sdpo_unet *u);

/* ---------------------------------------------------------------------------------------------
 * LoRA (models/unet_lora.c) */

/* lora_A (down) ~ N(0, std 1/rank) and lora_B (up) = 0, as nn_lora_init (diffusers 0.17.1
 * LoRALinearLayer, peft init_lora_weights="gaussian"), in registration order from the Philox
 * stream SDPO_STREAM_PARAM_INIT of `seed`: the initial LoRA model computes exactly the base
 * model. */
void sdpo_unet_lora_init(sdpo_unet *u, uint64_t seed);

/* Writes every LoRA tensor as F32 under the names diffusers' pipe.load_lora_weights reads
 * (StableDiffusionPipeline.save_lora_weights / peft): "unet.<module>.lora_A.weight" [r, in]
 * (down) and "unet.<module>.lora_B.weight" [out, r] (up), with __metadata__ format "pt" and
 * lora_adapter_metadata {"unet.r", "unet.lora_alpha", "unet.target_modules"} (diffusers reads
 * it back as the LoraConfig, so alpha ≠ rank round-trips). Atomic (temp file + rename). */
sdpo_status sdpo_unet_lora_save(const sdpo_unet *u, const char *path);

/* Reads a LoRA file into the model's LoRA tensors. Accepted names: the peft/diffusers ones
 * above, with or without the "unet." prefix, and diffusers 0.17 save_attn_procs names
 * "<attn>.processor.{to_q,to_k,to_v,to_out}_lora.{down,up}.weight" (what SDPO's code writes).
 * Every LoRA tensor of the model must be present exactly once with its shape, and every tensor
 * of the file must be one of them (errors name the file and the tensor). alpha comes from
 * lora_adapter_metadata when present, else alpha = rank (diffusers' rule); it sets u->lora_scale. */
sdpo_status sdpo_unet_lora_load(sdpo_unet *u, const char *path);

/* The rank (rows of the first lora_A/down tensor) and alpha of a LoRA file, so a caller can
 * build the model to match before loading it. */
sdpo_status sdpo_unet_lora_probe(const char *path, int *rank, double *alpha);

#endif
