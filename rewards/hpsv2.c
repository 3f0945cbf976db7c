/* rewards/hpsv2.c — HPSv2 (tgxs002/HPSv2, HPS_v2_compressed.pt = v2.0, as SDPO's
 * hpsv2_scorer.py loads): an open_clip ViT-H/14 (GELU) fine-tuned on human preferences.
 *
 *   score = 100 · cos(encode_image(pixels), encode_text(ids))
 *
 * HPSv2's img_score.py returns the raw cosine (diag(image_features @ text_features.T), ≈ 0.25-0.3)
 * and so does SDPO's code (--official-scale); the paper's Table 1 reports it ×100.
 * Pixels: img_score.py's preprocess_val, ResizeMaxSize(224) (longer side → 224 PIL bicubic, zero
 * padding centred) then CLIP mean/std; for the square SD-Turbo images this equals the
 * CLIPProcessor path SDPO used. Text: the CLIP BPE tokenizer (open_clip's SimpleTokenizer ids
 * for ordinary prompts; see models/tokenizer_clip.h for the ftfy/HTML differences).
 *
 * Model folder, written by reference/convert_hpsv2.py from the pickle: model.safetensors
 * (open_clip state-dict names), open_clip_config.json, and the tokenizer files. */
#include <stdlib.h>
#include <string.h>

#include "models/subconfig.h"
#include "models/vit.h"
#include "models/weights.h"
#include "rewards/learned.h"

typedef struct {
    nn_ctx ctx;
    nn_params params;
    sdpo_vit vit;
    sdpo_reward_text text;
    float factor;             /* 100, or 1 with --official-scale */
} hpsv2;

static const sdpo_clip_text_layout open_clip_text = {SDPO_CLIP_TEXT_OPEN_CLIP, "", "text_projection"};

static int unused_by_hpsv2(const char *name) { return !strcmp(name, "logit_scale"); }

static void hpsv2_destroy(sdpo_reward *r) {
    hpsv2 *s = r->state;
    if (!s) return;
    sdpo_vit_free(&s->vit);
    sdpo_clip_text_unbind(&s->text.text);
    sdpo_clip_tokenizer_free(&s->text.tok);
    nn_params_free(&s->params);
    free(s);
    r->state = NULL;
}

static sdpo_status hpsv2_score(sdpo_reward *r, int B, int H, int W, const float *images,
                               const char *const *prompts, float *scores) {
    hpsv2 *s = r->state;
    const int E = s->vit.cfg.embed_dim;
    float *pixels = NULL, *img = malloc((size_t)2 * B * E * sizeof *img);
    if (!img) return sdpo_fail(SDPO_ERR_NOMEM, "hpsv2: out of memory");
    float *txt = img + (size_t)B * E;
    sdpo_status rc = sdpo_reward_pixels(B, H, W, images, s->vit.cfg.image_size,
                                        SDPO_PIXELS_RESIZE_MAX_PAD, &pixels);
    if (rc == SDPO_OK) rc = sdpo_vit_forward(&s->ctx, &s->vit, B, pixels, img);
    if (rc == SDPO_OK) rc = sdpo_reward_text_embeds(&s->ctx, &s->text, B, prompts, txt);
    for (int b = 0; b < B && rc == SDPO_OK; b++)
        scores[b] = s->factor * sdpo_reward_cosine(img + (size_t)b * E, txt + (size_t)b * E, E);
    free(pixels);
    free(img);
    return rc;
}

sdpo_status sdpo_hpsv2_create(const char *model_dir, int official_scale, sdpo_reward *r) {
    hpsv2 *s = calloc(1, sizeof *s);
    if (!s) return sdpo_fail(SDPO_ERR_NOMEM, "hpsv2: out of memory");
    r->state = s;
    r->destroy = hpsv2_destroy;
    s->ctx = sdpo_reward_ctx();
    nn_params_init(&s->params);
    char path[4096];
    sdpo_config cfg = {0}, vision = {0}, text = {0};
    sdpo_vit_config vc;
    sdpo_clip_text_config tc;
    int embed, quick;
    const sdpo_weights_filter filter = {NULL, unused_by_hpsv2};
    sdpo_status rc = sdpo_reward_path(path, sizeof path, model_dir, "open_clip_config.json");
    if (rc == SDPO_OK) rc = sdpo_config_load(path, &cfg);
    if (rc == SDPO_OK) rc = sdpo_config_int(&cfg, "embed_dim", &embed);
    if (rc == SDPO_OK) rc = sdpo_config_bool_or(&cfg, "quick_gelu", 0, &quick);
    if (rc == SDPO_OK) rc = sdpo_config_section(&cfg, "vision_cfg", 0, &vision);
    if (rc == SDPO_OK) rc = sdpo_config_section(&cfg, "text_cfg", 0, &text);
    if (rc == SDPO_OK) rc = sdpo_vit_config_open_clip(&vision, embed, quick, &vc);
    if (rc == SDPO_OK) rc = sdpo_clip_tokenizer_load(model_dir, &s->text.tok);
    if (rc == SDPO_OK) rc = sdpo_clip_text_config_open_clip(&text, embed, quick, &tc);
    if (rc == SDPO_OK) rc = sdpo_weights_find(model_dir, path, sizeof path);
    if (rc == SDPO_OK) rc = sdpo_vit_register(&vc, &s->params);
    if (rc == SDPO_OK) rc = sdpo_clip_text_register(&s->params, &tc, &open_clip_text);
    if (rc == SDPO_OK) rc = nn_params_finalize(&s->params);
    if (rc == SDPO_OK) rc = sdpo_weights_load(&s->params, path, &filter);
    if (rc == SDPO_OK) rc = sdpo_vit_bind(&s->vit, &vc, &s->params);
    if (rc == SDPO_OK) rc = sdpo_clip_text_bind(&s->text.text, &s->params, &tc, &open_clip_text);
    if (text.root) sdpo_config_free(&text);
    if (vision.root) sdpo_config_free(&vision);
    if (cfg.root) sdpo_config_free(&cfg);
    if (rc != SDPO_OK) {
        hpsv2_destroy(r);
        return rc;
    }
    s->factor = official_scale ? 1.0f : 100.0f;
    r->scale = official_scale
        ? "HPSv2 as HPSv2 and SDPO's code report it: the raw cosine of the OpenCLIP ViT-H/14 image "
          "and text features (about 0.25-0.3); higher is better"
        : "HPSv2 x 100: 100 * cos(OpenCLIP ViT-H/14 image, text features), as the paper's Table 1 "
          "(about 25-30); higher is better";
    r->score = hpsv2_score;
    return SDPO_OK;
}
