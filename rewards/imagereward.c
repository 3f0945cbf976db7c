/* rewards/imagereward.c — ImageReward (THUDM/ImageReward, ImageReward.pt + med_config.json):
 * BLIP ViT-L/16 image tokens, BLIP's BERT with cross-attention on the prompt, MLP on [CLS]:
 *
 *   reward = (mlp(text_encoder(ids, mask, image_embeds)[:, 0]) − 0.16717362830052426)
 *            / 1.0333394966054072
 *
 * as ImageReward.score normalises it (mean/std from the folder's config.json). SDPO's
 * ImageReward_scorer.py logs the unnormalised mlp output (--official-scale).
 * Pixels: CLIPProcessor (SDPO's path; ImageReward's own Resize(224, BICUBIC) + CenterCrop on a
 * PIL image gives the same pixels). Text: bert-base-uncased WordPiece + [DEC]/[ENC], padded to
 * max_length 35 (models/tokenizer_wordpiece.h).
 *
 * Model folder, written by reference/convert_imagereward.py: model.safetensors (the blip.* and
 * mlp.* tensors the score uses), med_config.json, vocab.txt and config.json (the ViT-L/16 sizes
 * BLIP hard-codes for vit='large', max_length, reward_mean, reward_std). */
#include <stdlib.h>
#include <string.h>

#include "models/bert.h"
#include "models/tokenizer_wordpiece.h"
#include "models/vit.h"
#include "models/weights.h"
#include "nn/ops.h"
#include "nn/safetensors.h"
#include "rewards/learned.h"
#include "rewards/mlp_head.h"

typedef struct {
    nn_ctx ctx;
    nn_params params;
    sdpo_vit vit;
    sdpo_bert bert;
    sdpo_mlp_head head;
    sdpo_wordpiece tok;
    double mean, std;     /* 0, 1 with --official-scale */
} imagereward;

static int unused_by_imagereward(const char *name) {
    size_t n = strlen(name);
    return n >= 12 && !strcmp(name + n - 12, "position_ids");
}

static void imagereward_destroy(sdpo_reward *r) {
    imagereward *s = r->state;
    if (!s) return;
    sdpo_vit_free(&s->vit);
    sdpo_bert_free(&s->bert);
    sdpo_wordpiece_free(&s->tok);
    nn_params_free(&s->params);
    free(s);
    r->state = NULL;
}

static sdpo_status imagereward_score(sdpo_reward *r, int B, int H, int W, const float *images,
                                     const char *const *prompts, float *scores) {
    imagereward *s = r->state;
    const int L = s->tok.max_length, Li = s->vit.tokens, D = s->bert.cfg.hidden_size;
    const size_t img_n = (size_t)B * sdpo_vit_out_floats(&s->vit);
    float *pixels = NULL;
    float *img = malloc(img_n * sizeof *img), *hid = malloc((size_t)B * L * D * sizeof *hid);
    float *cls = malloc((size_t)B * L * D * sizeof *cls);
    int64_t *ids = malloc((size_t)2 * B * L * sizeof *ids);
    sdpo_status rc = SDPO_OK;
    if (!img || !hid || !cls || !ids) rc = sdpo_fail(SDPO_ERR_NOMEM, "imagereward: out of memory");
    int64_t *mask = ids ? ids + (size_t)B * L : NULL;
    for (int b = 0; b < B && rc == SDPO_OK; b++) {
        if (!prompts || !prompts[b]) rc = sdpo_fail(SDPO_ERR_ARG, "imagereward: image %d has no prompt", b);
        else rc = sdpo_wordpiece_tokenize(&s->tok, prompts[b], ids + (size_t)b * L, mask + (size_t)b * L, NULL);
    }
    if (rc == SDPO_OK)
        rc = sdpo_reward_pixels(B, H, W, images, s->vit.cfg.image_size, SDPO_PIXELS_CLIP, &pixels);
    if (rc == SDPO_OK) rc = sdpo_vit_forward(&s->ctx, &s->vit, B, pixels, img);
    if (rc == SDPO_OK) rc = sdpo_bert_forward(&s->ctx, &s->bert, B, L, ids, mask, Li, img, hid);
    if (rc == SDPO_OK) {
        // [CLS] rows (B, D): the first of each sequence; the rest goes to scratch
        nn_split_channels_forward(&s->ctx, cls, cls + (size_t)B * D, hid, B, 1, L - 1, D);
        rc = sdpo_mlp_head_forward(&s->ctx, &s->head, B, cls, scores);
    }
    for (int b = 0; b < B && rc == SDPO_OK; b++)
        scores[b] = (float)(((double)scores[b] - s->mean) / s->std);
    free(pixels);
    free(img);
    free(hid);
    free(cls);
    free(ids);
    return rc;
}

static sdpo_status head_dims(const char *path, int in_dim, int dims[SDPO_MLP_HEAD_LAYERS + 1]) {
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    if (rc != SDPO_OK) return rc;
    rc = sdpo_mlp_head_dims(&st, "mlp.layers.", in_dim, dims);
    sdpo_st_close(&st);
    return rc;
}

sdpo_status sdpo_imagereward_create(const char *model_dir, int official_scale, sdpo_reward *r) {
    imagereward *s = calloc(1, sizeof *s);
    if (!s) return sdpo_fail(SDPO_ERR_NOMEM, "imagereward: out of memory");
    r->state = s;
    r->destroy = imagereward_destroy;
    s->ctx = sdpo_reward_ctx();
    nn_params_init(&s->params);
    char path[4096], weights[4096];
    sdpo_config cfg = {0}, med = {0};
    sdpo_vit_config vc;
    sdpo_bert_config bc;
    int max_length, dims[SDPO_MLP_HEAD_LAYERS + 1];
    const sdpo_weights_filter filter = {NULL, unused_by_imagereward};
    sdpo_status rc = sdpo_reward_path(path, sizeof path, model_dir, "config.json");
    if (rc == SDPO_OK) rc = sdpo_config_load(path, &cfg);
    if (rc == SDPO_OK) rc = sdpo_vit_config_blip(&cfg, &vc);
    if (rc == SDPO_OK) rc = sdpo_config_int(&cfg, "max_length", &max_length);
    if (rc == SDPO_OK) rc = sdpo_config_double(&cfg, "reward_mean", &s->mean);
    if (rc == SDPO_OK) rc = sdpo_config_double(&cfg, "reward_std", &s->std);
    if (rc == SDPO_OK && !(s->std > 0))
        rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'reward_std' must be > 0", path);
    if (rc == SDPO_OK) rc = sdpo_reward_path(path, sizeof path, model_dir, "med_config.json");
    if (rc == SDPO_OK) rc = sdpo_config_load(path, &med);
    if (rc == SDPO_OK) rc = sdpo_bert_config_load(&med, "blip.text_encoder.", vc.width, &bc);
    if (rc == SDPO_OK) rc = sdpo_reward_path(path, sizeof path, model_dir, "vocab.txt");
    if (rc == SDPO_OK) rc = sdpo_wordpiece_load(path, max_length, &s->tok);
    if (rc == SDPO_OK && s->tok.n_vocab != bc.vocab_size)
        rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: %d tokens with [DEC] and [ENC], but med_config.json "
                       "says vocab_size %d", path, s->tok.n_vocab, bc.vocab_size);
    if (rc == SDPO_OK && max_length > bc.max_positions)
        rc = sdpo_fail(SDPO_ERR_FORMAT, "max_length %d exceeds max_position_embeddings %d",
                       max_length, bc.max_positions);
    if (rc == SDPO_OK) rc = sdpo_weights_find(model_dir, weights, sizeof weights);
    if (rc == SDPO_OK) rc = head_dims(weights, bc.hidden_size, dims);
    if (rc == SDPO_OK) rc = sdpo_vit_register(&vc, &s->params);
    if (rc == SDPO_OK) rc = sdpo_bert_register(&bc, &s->params);
    if (rc == SDPO_OK) rc = sdpo_mlp_head_register(&s->params, "mlp.layers.", dims);
    if (rc == SDPO_OK) rc = nn_params_finalize(&s->params);
    if (rc == SDPO_OK) rc = sdpo_weights_load(&s->params, weights, &filter);
    if (rc == SDPO_OK) rc = sdpo_vit_bind(&s->vit, &vc, &s->params);
    if (rc == SDPO_OK) rc = sdpo_bert_bind(&s->bert, &bc, &s->params);
    if (rc == SDPO_OK) rc = sdpo_mlp_head_bind(&s->head, &s->params, "mlp.layers.", dims);
    if (med.root) sdpo_config_free(&med);
    if (cfg.root) sdpo_config_free(&cfg);
    if (rc != SDPO_OK) {
        imagereward_destroy(r);
        return rc;
    }
    if (official_scale) s->mean = 0.0, s->std = 1.0;
    r->scale = official_scale
        ? "ImageReward as SDPO's code logs it: the unnormalised MLP output on BLIP's [CLS] "
          "feature; higher is better"
        : "ImageReward = (MLP(BLIP [CLS]) - 0.16717362830052426) / 1.0333394966054072, the "
          "published normalisation (about N(0, 1) on ImageReward's test set); higher is better";
    r->score = imagereward_score;
    return SDPO_OK;
}
