/* micro/quality_train.h — the micro quality predictor: the micro study's stand-in for the LAION
 * aesthetic predictor (rewards/aesthetic.c), trained by this project on the micro world and
 * shipped in data/micro/quality/, where the aesthetic loader reads it unchanged:
 *
 *   score = head(e / ‖e‖₂),  e = image embedding of a micro-CLIP image tower
 *
 * with the aesthetic head's shape (rewards/mlp_head.h: five Linear layers, no activations, so an
 * affine function of the normalised embedding; widths dims[]).
 *
 * One departure from LAION's recipe, measured: LAION trained its head on a FROZEN CLIP. On the
 * frozen micro CLIP (trained for captions only) the best such head ranks clean above degraded
 * for only ≈ 85% of held-out pairs (a 300-step CLIP; the head overfits from 88% at its best).
 * The contrastive embedding keeps what names the scene, not how clean it is. So the tower
 * starts as the trained micro CLIP's image tower and is fine-tuned together with the head; the
 * folder ships that fine-tuned tower (config.json + model.safetensors: the CLIPModel config and
 * vision tensors) beside aesthetic_head.safetensors.
 *
 * Training data: pairs (clean, degraded) of the same scene — scene k of the world stream
 * seed + SDPO_MICRO_QUALITY_SEED_OFFSET (default mix; step s uses scenes s·batch … , never
 * repeating) and its sdpo_world_degrade'd copy (blur, noise, wash-out, pixelation, erasure;
 * one or two of them). Loss per pair, mean over a batch:
 *
 *   softplus(−(s_c − s_d))                      Bradley–Terry: P(clean ≻ degraded) = σ(s_c − s_d)
 *   + ½[softplus(−s_c) + softplus(s_d)]        logistic: P(clean | image) = σ(s)
 *
 * so the score is the logit of "this render is clean" (> 0: more likely clean than degraded),
 * and the difference of two scores the log-odds that the first is the cleaner. AdamW on the
 * tower (lr_tower) and the head (lr_head), linear warmup then cosine decay to 5%. */
#ifndef SDPO_MICRO_QUALITY_TRAIN_H
#define SDPO_MICRO_QUALITY_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "micro/clip_train.h"
#include "micro/vit_train.h"
#include "nn/arena.h"
#include "nn/params.h"
#include "rewards/mlp_head.h"
#include "world/world.h"

/* Stream offsets from the run's seed: the CLIP trains on seed itself (and validates on
 * seed + SDPO_MICRO_VAL_SEED_OFFSET), the quality predictor on these. */
#define SDPO_MICRO_QUALITY_SEED_OFFSET 2000003u
#define SDPO_MICRO_QUALITY_VAL_SEED_OFFSET 3000003u

typedef struct {
    int dims[SDPO_MLP_HEAD_LAYERS + 1];   /* dims[0] = the CLIP's projection_dim, last = 1 */
    uint64_t seed;
    int steps, batch;                     /* updates, pairs per update (2·batch images) */
    int warmup;
    double lr_tower, lr_head, weight_decay, clip_grad;
    int val_every, val_pairs;
    int threads;
} sdpo_micro_quality_config;

/* The shipped predictor's settings for a CLIP of projection_dim E. */
sdpo_micro_quality_config sdpo_micro_quality_defaults(int E);

typedef struct {
    sdpo_micro_quality_config cfg;
    sdpo_vit_config vc;
    nn_params tower;                      /* the CLIP's vision tensors, trainable */
    nn_params head_params;                /* "layers.{0,2,4,6,7}.{weight,bias}", trainable */
    sdpo_vit_train vit;
    sdpo_mlp_head head;
    nn_arena arena;
    nn_ctx ctx;
    struct sdpo_micro_quality_work *work;   /* per-step buffers (quality_train.c) */
} sdpo_micro_quality;

typedef struct {
    double seconds, final_loss, val_pair_acc;
} sdpo_micro_quality_result;

/* Copies the image tower `vc` (its tensors by name and current values from src, e.g. the
 * trained micro CLIP's registry) into a trainable registry and initialises the head with
 * PyTorch's default Linear init (U(±1/√fan_in) for weights and biases) from the
 * SDPO_STREAM_PARAM_INIT stream of seed + SDPO_MICRO_QUALITY_SEED_OFFSET. */
sdpo_status sdpo_micro_quality_init(sdpo_micro_quality *q, const sdpo_micro_quality_config *cfg,
                                    const sdpo_vit_config *vc, const nn_params *src);
void sdpo_micro_quality_free(sdpo_micro_quality *q);

/* The loss above for B pairs of scores; ds_c, ds_d [B] receive its gradients. */
double sdpo_micro_quality_loss(int B, const float *s_clean, const float *s_deg, float *ds_clean,
                               float *ds_deg);

/* One batch: pixels [2P, 3, S, S] (preprocessed; rows 2k clean, 2k + 1 its degraded copy,
 * P ≤ batch) → *loss, its gradients ACCUMULATED into q->tower.grads and q->head_params.grads
 * (through the head, the L2 normalisation and the tower). */
sdpo_status sdpo_micro_quality_loss_grad(sdpo_micro_quality *q, int P, const float *pixels,
                                         double *loss);

/* Trains tower and head; CSV rows step,loss,lr_tower,val_pair_acc,elapsed_s every val_every
 * steps and at the end (log may be NULL). */
sdpo_status sdpo_micro_quality_train(sdpo_micro_quality *q, const sdpo_world *w, FILE *log,
                                     sdpo_micro_progress_fn progress, void *user,
                                     sdpo_micro_quality_result *res);

/* Writes dir/: the CLIP's config.json, the fine-tuned tower as model.safetensors and
 * aesthetic_head.safetensors (metadata: seed and command). */
sdpo_status sdpo_micro_quality_save(const sdpo_micro_quality *q, const sdpo_micro_clip *clip,
                                    const char *dir, const char *command);

#endif
