/* rewards/pickscore.c — PickScore (yuvalkirstain/PickScore, PickScore_v1): a transformers
 * CLIPModel (ViT-H/14, GELU) fine-tuned from laion/CLIP-ViT-H-14-laion2B-s32B-b79K.
 *
 *   score = exp(logit_scale) · cos(get_image_features(pixels), get_text_features(ids))
 *
 * as the PickScore README computes it (≈ 20-23 on SD-Turbo images); SDPO's PickScore_scorer.py
 * drops exp(logit_scale) and logs the raw cosine (--official-scale). Pixels: CLIPProcessor
 * (shorter side → 224 PIL bicubic, centre crop, CLIP mean/std; SDPO used openai's processor,
 * which preprocesses identically). Text: the CLIP BPE tokenizer, truncated to 77.
 *
 * Model folder: the PickScore_v1 CLIPModel folder (config.json + model.safetensors) with the
 * CLIP tokenizer files (vocab.json, merges.txt, tokenizer_config.json; PickScore_v1 uses
 * laion/CLIP-ViT-H-14-laion2B-s32B-b79K's, copy them in). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/subconfig.h"
#include "models/vit.h"
#include "models/weights.h"
#include "nn/safetensors.h"
#include "rewards/learned.h"

static const sdpo_clip_text_layout clip_model_text = {SDPO_CLIP_TEXT_HF, "text_model.",
                                                        "text_projection.weight"};

static int unused_by_pickscore(const char *name) {
    size_t n = strlen(name);
    return !strcmp(name, "logit_scale") || (n >= 12 && !strcmp(name + n - 12, "position_ids"));
}

/* The scalar logit_scale of the CLIPModel file (rank 0, so not in the registry). */
static sdpo_status read_logit_scale(const char *path, float *out) {
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    if (rc != SDPO_OK) return rc;
    const sdpo_st_tensor *t;
    rc = sdpo_st_expect(&st, "logit_scale", 0, NULL, &t);
    if (rc == SDPO_OK) rc = sdpo_st_read_f32(&st, t, out, 1);
    sdpo_st_close(&st);
    return rc;
}

sdpo_status sdpo_pickscore_create(const char *model_dir, int official_scale, sdpo_reward *r) {
    sdpo_clip_pair *s;
    sdpo_status rc = sdpo_clip_pair_new(r, "pickscore", SDPO_PIXELS_CLIP, &s);
    if (rc != SDPO_OK) return rc;
    char path[4096];
    sdpo_config cfg = {0}, vision = {0}, text = {0};
    sdpo_vit_config vc;
    sdpo_clip_text_config tc;
    int proj;
    float logit_scale = 0;
    const sdpo_weights_filter filter = {NULL, unused_by_pickscore};
    rc = sdpo_reward_path(path, sizeof path, model_dir, "config.json");
    if (rc == SDPO_OK) rc = sdpo_config_load(path, &cfg);
    if (rc == SDPO_OK) rc = sdpo_config_section(&cfg, "vision_config", 1, &vision);
    if (rc == SDPO_OK) rc = sdpo_config_section(&cfg, "text_config", 0, &text);
    if (rc == SDPO_OK) rc = sdpo_config_int_or(&cfg, "projection_dim", 512, &proj);
    if (rc == SDPO_OK) rc = sdpo_vit_config_hf_clip(&vision, proj, &vc);
    if (rc == SDPO_OK) rc = sdpo_clip_text_config_load(&text, &tc);
    /* CLIPModel's text_projection maps to the top-level projection_dim. */
    if (rc == SDPO_OK) tc.projection_dim = proj;
    if (rc == SDPO_OK) rc = sdpo_clip_tokenizer_load(model_dir, &s->text.tok);
    if (rc == SDPO_OK) rc = sdpo_weights_find(model_dir, path, sizeof path);
    if (rc == SDPO_OK) rc = sdpo_vit_register(&vc, &s->params);
    if (rc == SDPO_OK) rc = sdpo_clip_text_register(&s->params, &tc, &clip_model_text);
    if (rc == SDPO_OK) rc = nn_params_finalize(&s->params);
    if (rc == SDPO_OK) rc = sdpo_weights_load(&s->params, path, &filter);
    if (rc == SDPO_OK) rc = read_logit_scale(path, &logit_scale);
    if (rc == SDPO_OK) rc = sdpo_vit_bind(&s->vit, &vc, &s->params);
    if (rc == SDPO_OK) rc = sdpo_clip_text_bind(&s->text.text, &s->params, &tc, &clip_model_text);
    if (text.root) sdpo_config_free(&text);
    if (vision.root) sdpo_config_free(&vision);
    if (cfg.root) sdpo_config_free(&cfg);
    if (rc != SDPO_OK) {
        sdpo_clip_pair_destroy(r);
        return rc;
    }
    s->factor = official_scale ? 1.0f : expf(logit_scale);
    r->scale = official_scale
        ? "PickScore as SDPO's code logs it: the raw cosine of the CLIP-H image and text embeddings "
          "(about 0.2); higher is better"
        : "PickScore = exp(logit_scale) * cos(CLIP-H image, text embeddings), logit_scale from the "
          "checkpoint (about 100): about 20-23 on SD-Turbo images; higher is better";
    r->score = sdpo_clip_pair_score;
    return SDPO_OK;
}
