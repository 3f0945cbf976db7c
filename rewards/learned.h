/* rewards/learned.h — what the learned rewards (aesthetic.c, pickscore.c, hpsv2.c,
 * imagereward.c) share, and their constructors, which reward.c's registry calls.
 *
 * Each constructor loads its model once (fp32, strict by-name loading) and fills r->score,
 * r->destroy, r->state and r->scale; r->name is set by the registry. official_scale selects
 * the scale SDPO's official code logged instead of the published one (see reward.h). */
#ifndef SDPO_REWARDS_LEARNED_H
#define SDPO_REWARDS_LEARNED_H

#include <stddef.h>

#include "core/error.h"
#include "models/clip_text.h"
#include "models/tokenizer_clip.h"
#include "models/vit.h"
#include "nn/params.h"
#include "nn/context.h"
#include "rewards/reward.h"

sdpo_status sdpo_aesthetic_create(const char *model_dir, int official_scale, sdpo_reward *r);
sdpo_status sdpo_pickscore_create(const char *model_dir, int official_scale, sdpo_reward *r);
sdpo_status sdpo_hpsv2_create(const char *model_dir, int official_scale, sdpo_reward *r);
sdpo_status sdpo_imagereward_create(const char *model_dir, int official_scale, sdpo_reward *r);

/* The CPU context rewards run in: OpenMP's thread count (OMP_NUM_THREADS). */
nn_ctx sdpo_reward_ctx(void);

typedef enum { SDPO_PIXELS_CLIP = 0, SDPO_PIXELS_RESIZE_MAX_PAD } sdpo_pixels_mode;

/* images [B, 3, H, W] in [0, 1] → uint8 as torch rounds (rewards/image.h) → preprocessing
 * (rewards/preprocess.h) → *pixels, a malloc'd [B, 3, size, size]. */
sdpo_status sdpo_reward_pixels(int B, int H, int W, const float *images, int size,
                               sdpo_pixels_mode mode, float **pixels);

/* "<dir>/<name>" into buf; SDPO_ERR_ARG when it does not fit. */
sdpo_status sdpo_reward_path(char *buf, size_t n, const char *dir, const char *name);

/* Cosine similarity of rows a[b], t[b] of width n, computed in double (torch normalises each
 * vector by its norm, then takes the dot product; the difference is far below fp32 noise). */
float sdpo_reward_cosine(const float *a, const float *t, int n);

/* A CLIP text tower with its tokenizer: prompts → text_embeds [B, P]. */
typedef struct {
    sdpo_clip_tokenizer tok;
    sdpo_clip_text text;
} sdpo_reward_text;

/* Tokenises the B prompts (the longest sequence sets L: with the causal mask and pooling at
 * eos, padding never changes a pooled feature) and runs the tower. embeds [B, P]. */
sdpo_status sdpo_reward_text_embeds(nn_ctx *ctx, const sdpo_reward_text *t, int B,
                                    const char *const *prompts, float *embeds);

/* PickScore and HPSv2 are the same scorer over different checkpoints: a ViT image tower and a
 * CLIP text tower, score = factor · cos(image, text features). Their constructors fill this
 * state and use the two functions below as r->score and r->destroy. */
typedef struct {
    const char *name;          /* for error messages */
    nn_ctx ctx;
    nn_params params;
    sdpo_vit vit;
    sdpo_reward_text text;
    sdpo_pixels_mode pixels;   /* CLIPProcessor (PickScore) or resize-longer-side-and-pad (HPSv2) */
    float factor;              /* exp(logit_scale) or 100, or 1 with --official-scale */
} sdpo_clip_pair;

/* Allocates a zeroed pair as r->state with r->destroy set, params initialised, ctx set. */
sdpo_status sdpo_clip_pair_new(sdpo_reward *r, const char *name, sdpo_pixels_mode pixels,
                               sdpo_clip_pair **out);
sdpo_status sdpo_clip_pair_score(sdpo_reward *r, int B, int H, int W, const float *images,
                                 const char *const *prompts, float *scores);
void sdpo_clip_pair_destroy(sdpo_reward *r);

#endif
