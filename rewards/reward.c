/* rewards/reward.c — the reward registry and the JPEG rewards (reward.h, jpeg.h); the learned
 * rewards live in aesthetic.c, pickscore.c, hpsv2.c and imagereward.c (learned.h). */
#include "rewards/reward.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/image.h"
#include "rewards/jpeg.h"
#include "rewards/learned.h"

/* DDPO's jpeg_compressibility / jpeg_incompressibility: ∓ size_kB at quality 95. */
static sdpo_status jpeg_score(sdpo_reward *r, int B, int H, int W, const float *images,
                              const char *const *prompts, float *scores) {
    (void)prompts;
    const int sign = r->state ? -1 : 1; /* state != NULL marks compressibility */
    uint8_t *rgb = malloc((size_t)H * (size_t)W * 3);
    if (!rgb) return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", r->name);
    sdpo_status rc = SDPO_OK;
    for (int b = 0; b < B && rc == SDPO_OK; b++) {
        size_t bytes;
        sdpo_image_to_rgb8(H, W, images + (size_t)b * 3 * (size_t)H * (size_t)W, rgb);
        rc = sdpo_jpeg_size(H, W, rgb, 95, &bytes);
        scores[b] = (float)(sign * (double)bytes / 1000.0);
    }
    free(rgb);
    return rc;
}

static const char *const names =
    "aesthetic imagereward hpsv2 pickscore jpeg-compressibility jpeg-incompressibility "
    "micro-clip micro-quality";

/* The micro study's rewards (issue #8), trained by `sdpo train-micro-rewards` on the micro world
 * and shipped in data/micro/: the PickScore scorer on the micro CLIP folder and the aesthetic
 * scorer on the micro quality folder, with their own scale sentences. The scorers' own errors
 * say "pickscore"/"aesthetic": micro_error says which reward was asked for. */
static sdpo_status micro_error(sdpo_status rc, const char *name, const char *scorer) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", sdpo_last_error());
    return sdpo_fail(rc, "%s (the %s scorer on a micro folder): %s", name, scorer, msg);
}

static sdpo_status micro_clip_create(const char *model_dir, int official_scale, sdpo_reward *r) {
    sdpo_status rc = sdpo_pickscore_create(model_dir, official_scale, r);
    if (rc != SDPO_OK) return micro_error(rc, "micro-clip", "PickScore");
    r->scale = official_scale
        ? "micro CLIP (PickScore stand-in) as SDPO's code logs PickScore: the raw cosine of the "
          "micro-CLIP image and text embeddings; higher is better"
        : "micro CLIP (PickScore stand-in): exp(logit_scale) * cos(micro-CLIP image, text "
          "embeddings), logit_scale from the checkpoint (at most 100); higher is better";
    return rc;
}

static sdpo_status micro_quality_create(const char *model_dir, int official_scale,
                                        sdpo_reward *r) {
    sdpo_status rc = sdpo_aesthetic_create(model_dir, official_scale, r);
    if (rc != SDPO_OK) return micro_error(rc, "micro-quality", "aesthetic");
    r->scale = "micro quality predictor (aesthetic stand-in): the aesthetic MLP (64-128-32-16-8-1, "
               "no activations) on the L2-normalised micro-CLIP image embedding; the logit that "
               "the image is a clean render rather than a degraded one (> 0: more likely clean); "
               "higher is better";
    return rc;
}

/* The learned rewards: name, constructor, what their model folder holds, and the folder used
 * when none is given (NULL: a folder is required). */
static const struct {
    const char *name;
    sdpo_status (*create)(const char *model_dir, int official_scale, sdpo_reward *r);
    const char *folder;
    const char *default_dir;
} learned[] = {
    {"aesthetic", sdpo_aesthetic_create,
     "the openai/clip-vit-large-patch14 CLIPModel folder plus aesthetic_head.safetensors", NULL},
    {"pickscore", sdpo_pickscore_create,
     "the PickScore_v1 CLIPModel folder plus the CLIP tokenizer files", NULL},
    {"hpsv2", sdpo_hpsv2_create, "the folder reference/convert_hpsv2.py writes", NULL},
    {"imagereward", sdpo_imagereward_create,
     "the folder reference/convert_imagereward.py writes", NULL},
    {"micro-clip", micro_clip_create, "the micro CLIP folder sdpo train-micro-rewards writes",
     "data/micro/clip"},
    {"micro-quality", micro_quality_create,
     "the micro quality folder sdpo train-micro-rewards writes", "data/micro/quality"},
};

const char *sdpo_reward_names(void) { return names; }

static int compressibility_marker;

sdpo_status sdpo_reward_create(const char *name, const char *model_dir, sdpo_reward **out) {
    return sdpo_reward_create_with(name, model_dir, NULL, out);
}

sdpo_status sdpo_reward_create_with(const char *name, const char *model_dir,
                                    const sdpo_reward_options *opt, sdpo_reward **out) {
    sdpo_reward *r = calloc(1, sizeof *r);
    if (!r) return sdpo_fail(SDPO_ERR_NOMEM, "reward %s: out of memory", name);
    for (size_t i = 0; i < sizeof learned / sizeof learned[0]; i++) {
        if (strcmp(name, learned[i].name)) continue;
        r->name = learned[i].name;
        if (!model_dir) model_dir = learned[i].default_dir;
        sdpo_status rc = model_dir
            ? learned[i].create(model_dir, opt ? opt->official_scale : 0, r)
            : sdpo_fail(SDPO_ERR_ARG, "reward %s needs a model folder (%s)", name,
                        learned[i].folder);
        if (rc != SDPO_OK) {
            free(r);
            return rc;
        }
        *out = r;
        return SDPO_OK;
    }
    if (!strcmp(name, "jpeg-compressibility")) {
        r->name = "jpeg-compressibility";
        r->scale = "minus the JPEG (quality 95) size in kB = bytes/1000; higher is more compressible";
        r->state = &compressibility_marker;
    } else if (!strcmp(name, "jpeg-incompressibility")) {
        r->name = "jpeg-incompressibility";
        r->scale = "the JPEG (quality 95) size in kB = bytes/1000";
    } else {
        free(r);
        return sdpo_fail(SDPO_ERR_ARG, "unknown reward '%s' (known: %s)", name, names);
    }
    r->score = jpeg_score;
    *out = r;
    return SDPO_OK;
}

void sdpo_reward_free(sdpo_reward *r) {
    if (!r) return;
    if (r->destroy) r->destroy(r);
    free(r);
}
