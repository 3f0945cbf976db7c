/* micro/clip_train.h — the micro CLIP: a tiny transformers CLIPModel trained by this project on
 * the micro world (world/world.h), shipped in data/micro/clip/ and scored by the very code that
 * scores PickScore (rewards/pickscore.c: score = exp(logit_scale) · cos(image, text)). It is the
 * micro study's stand-in for PickScore/HPSv2, not either of them.
 *
 * Architecture (config.json, the HF CLIPModel layout the PickScore loader reads):
 *   vision: ViT, image 32, patch 4 (8×8 grid + CLS = 65 tokens), QuickGELU, pre/post LayerNorm,
 *           visual_projection to projection_dim (micro/vit_train.h);
 *   text:   CLIP text transformer, causal, QuickGELU, pooled at eos (argmax), text_projection
 *           to projection_dim (micro/clip_text_train.h), over SD-Turbo's CLIP BPE pruned to the
 *           words of the world and data/prompts (micro/tokenizer_prune.h: ~2.2k tokens instead
 *           of 49408, which keeps the folder small with every tensor in F32);
 *   logit_scale: a trained scalar, clamped to [0, ln 100] after every step as CLIP does.
 * Both towers are trained from a seeded CLIP initialisation (transformers CLIPPreTrainedModel.
 * _init_weights with initializer_factor 1): unlike the micro diffusion model's frozen random
 * text encoder (micro/model.h), this text tower learns, since matching captions is its job.
 *
 * Objective: CLIP's symmetric InfoNCE over a batch, logits = exp(logit_scale) · cos(i_a, t_b),
 * with one change for a world with few distinct captions: every pair whose scenes have the same
 * description (kind, animals, count, colour, place — so "cat", "a cat" and "a photo of a cat"
 * on two cat images) is a positive, and the cross-entropy target of a row (column) is uniform
 * over its positives (a multi-positive InfoNCE; with all-distinct scenes it is CLIP's loss).
 * Without it, the many same-animal pairs in a batch of 45 animals would be pushed apart.
 *
 * Data: scene `step·batch + b` of the world stream of `seed` (default mix: half single animals,
 * whose captions are "cat" half the time, "a cat", "a photo of a cat"), converted exactly as a
 * reward sees an image: x/2 + 0.5 → uint8 as torch rounds → CLIP preprocessing at 32 px (an
 * identity resize, then the CLIP mean/std). Deterministic given (seed, steps, threads). */
#ifndef SDPO_MICRO_CLIP_TRAIN_H
#define SDPO_MICRO_CLIP_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "micro/clip_text_train.h"
#include "micro/vit_train.h"
#include "models/tokenizer_clip.h"
#include "nn/arena.h"
#include "nn/context.h"
#include "nn/params.h"
#include "world/world.h"

typedef struct {
    /* architecture */
    int patch_size;                                       /* image 32 = SDPO_WORLD_SIZE */
    int vision_width, vision_layers, vision_heads, vision_mlp;
    int text_width, text_layers, text_heads, text_mlp;
    int projection_dim;
    /* training */
    uint64_t seed;          /* init (SDPO_STREAM_PARAM_INIT) and world scenes (stream of seed) */
    int steps;              /* > 0: exactly this many; 0: as many as `minutes` allows */
    double minutes;         /* budget when steps == 0 (timed over the warmup) */
    int batch;
    int warmup;             /* linear warmup steps, then cosine decay to lr·final_lr_frac */
    double lr, final_lr_frac, weight_decay, clip_grad;
    int val_every;          /* log a validation row every this many steps (and at the end) */
    int val_scenes;         /* held-out single-animal scenes for the logged top-1 */
    int threads;
} sdpo_micro_clip_config;

/* The shipped model's settings (data/micro/clip/train_log.csv records them). */
sdpo_micro_clip_config sdpo_micro_clip_defaults(void);

/* Stream seeds that training never draws scenes from: validation during training uses
 * seed + SDPO_MICRO_VAL_SEED_OFFSET, and tests use SDPO_MICRO_TEST_SEED (≠ every training seed
 * the CLI accepts, which are < SDPO_MICRO_TEST_SEED). */
#define SDPO_MICRO_VAL_SEED_OFFSET 1000003u
#define SDPO_MICRO_TEST_SEED 0x7e57000000000000ull

typedef struct {
    sdpo_micro_clip_config cfg;
    sdpo_vit_config vc;
    sdpo_clip_text_config tc;
    nn_params params;              /* every tensor trainable, checkpoint names */
    float *logit_scale;            /* "logit_scale", registered as [1], saved as a scalar */
    sdpo_vit_train vit;
    sdpo_clip_text_train text;
    sdpo_clip_tokenizer tok;
    nn_ctx ctx;
    nn_arena arena;                /* activations of one step (or one evaluation chunk) */
} sdpo_micro_clip;

/* Builds the configs from cfg, registers and initialises the weights (seeded), loads the
 * tokenizer from tokenizer_dir (vocab.json, merges.txt, tokenizer_config.json,
 * special_tokens_map.json). */
sdpo_status sdpo_micro_clip_init(sdpo_micro_clip *m, const sdpo_micro_clip_config *cfg,
                                 const char *tokenizer_dir);
void sdpo_micro_clip_free(sdpo_micro_clip *m);

/* The weight initialisation of CLIPPreTrainedModel._init_weights (factor 1) for every tensor of
 * a CLIPModel registry, from the SDPO_STREAM_PARAM_INIT stream of seed, in registration order:
 * embeddings N(0, 0.02), class_embedding N(0, D^-½), q/k/v and fc2 N(0, D^-½·(2·layers)^-½),
 * out_proj N(0, D^-½), fc1 N(0, (2D)^-½), projections N(0, D^-½), LayerNorm (1, 0), biases 0,
 * logit_scale ln(1/0.07) = 2.6592. SDPO_ERR_ARG naming a tensor it does not know. */
sdpo_status sdpo_micro_clip_init_weights(nn_params *p, const sdpo_vit_config *vc,
                                         const sdpo_clip_text_config *tc, uint64_t seed);

/* The multi-positive symmetric InfoNCE above for B image and text embeddings [B, E]
 * (unnormalised, as the towers output them) with logit_scale (the parameter; the factor is
 * exp of it) and group[b] (equal groups = positives; every sample is its own positive). Returns
 * the loss; dimg, dtxt [B, E] (overwritten) and *dlogit_scale receive its gradients. Computed in
 * double. */
double sdpo_micro_clip_loss(int B, int E, const float *img, const float *txt, float logit_scale,
                            const int *group, float *dimg, float *dtxt, double *dlogit_scale);

/* Progress: fraction in [0, 1] of the stage's work and a short label. */
typedef void (*sdpo_micro_progress_fn)(void *user, double fraction, const char *label);

/* Training result, also written as the log's last comment lines. */
typedef struct {
    int steps;
    double seconds, final_loss, val_top1;
} sdpo_micro_clip_result;

/* Trains m on the world (cfg = m->cfg), writing one CSV row per val_every steps to `log`
 * (columns step,loss,lr,logit_scale,val_top1,elapsed_s; NULL: no log). */
sdpo_status sdpo_micro_clip_train(sdpo_micro_clip *m, const sdpo_world *w, FILE *log,
                                  sdpo_micro_progress_fn progress, void *user,
                                  sdpo_micro_clip_result *res);

/* Scenes [first, first + B) of (seed, mix): scenes[] and images chw [B, 3, 32, 32] in [-1, 1],
 * rendered on `threads` threads (each scene is a pure function of (seed, index)). */
sdpo_status sdpo_micro_world_batch(const sdpo_world *w, uint64_t seed, uint64_t first, int B,
                                   const sdpo_world_mix *mix, int threads, sdpo_scene *scenes,
                                   float *chw);

/* Image embeddings [B, E] of world images chw [B, 3, 32, 32] in [-1, 1] through the reward
 * pixel path (x/2 + 0.5, uint8, CLIP preprocessing) and the current weights. */
sdpo_status sdpo_micro_clip_embed_images(sdpo_micro_clip *m, int B, const float *chw,
                                         float *emb);

/* Top-1 accuracy of naming the animal among the 45 bare names on n single-animal scenes of the
 * stream of `seed` (indices 0..n-1), with the current weights. */
sdpo_status sdpo_micro_clip_top1(sdpo_micro_clip *m, const sdpo_world *w, uint64_t seed, int n,
                                 double *top1);

/* Writes config.json and model.safetensors (F32; metadata: the seed, steps and `command`) into
 * dir/ (created). The tokenizer files the model was trained with are the caller's to put
 * beside them (the CLI prunes them straight into the folder). */
sdpo_status sdpo_micro_clip_save(const sdpo_micro_clip *m, const char *dir, const char *command);

/* Writes m's CLIPModel config.json and, as dir/model.safetensors, the vision tower (every
 * "vision_model." tensor and visual_projection.weight, F32) held by the registry `vision`, with
 * seed, steps and command as metadata: what the aesthetic-style loader of micro-quality reads. */
sdpo_status sdpo_micro_clip_save_vision(const sdpo_micro_clip *m, const nn_params *vision,
                                        uint64_t seed, int steps, const char *dir,
                                        const char *command);

/* ---------------------------------------------------------------------------------------------
 * shipped folders */

/* Creates an empty dir "<parent>/.<name>.tmp.<pid>" (removing a stale one) into tmp. */
sdpo_status sdpo_micro_dir_begin(const char *parent, const char *name, char *tmp, size_t n);
/* Replaces "<parent>/<name>" (a flat folder of files, removed first) by tmp via rename. */
sdpo_status sdpo_micro_dir_commit(const char *tmp, const char *parent, const char *name);
/* Removes a flat folder of files (e.g. tmp after an error); missing is fine. */
void sdpo_micro_dir_remove(const char *dir);

#endif
