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

static const sdpo_clip_text_layout open_clip_text = {SDPO_CLIP_TEXT_OPEN_CLIP, "", "text_projection"};

static int unused_by_hpsv2(const char *name) { return !strcmp(name, "logit_scale"); }

sdpo_status sdpo_hpsv2_create(const char *model_dir, int official_scale, sdpo_reward *r) {
    sdpo_clip_pair *s;
    sdpo_status rc = sdpo_clip_pair_new(r, "hpsv2", SDPO_PIXELS_RESIZE_MAX_PAD, &s);
    if (rc != SDPO_OK) return rc;
    char path[4096];
    sdpo_config cfg = {0}, vision = {0}, text = {0};
    sdpo_vit_config vc;
    sdpo_clip_text_config tc;
    int embed, quick;
    const sdpo_weights_filter filter = {NULL, unused_by_hpsv2};
    rc = sdpo_reward_path(path, sizeof path, model_dir, "open_clip_config.json");
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
        sdpo_clip_pair_destroy(r);
        return rc;
    }
    s->factor = official_scale ? 1.0f : 100.0f;
    r->scale = official_scale
        ? "HPSv2 as HPSv2 and SDPO's code report it: the raw cosine of the OpenCLIP ViT-H/14 image "
          "and text features (about 0.25-0.3); higher is better"
        : "HPSv2 x 100: 100 * cos(OpenCLIP ViT-H/14 image, text features), as the paper's Table 1 "
          "(about 25-30); higher is better";
    r->score = sdpo_clip_pair_score;
    return SDPO_OK;
}
