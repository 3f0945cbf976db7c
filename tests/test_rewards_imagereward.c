/* tests/test_rewards_imagereward.c — ImageReward against ImageReward 1.5's own BLIP code on a
 * tiny random model (reference/reward_blip.py): the BLIP ViT's image_embeds (all tokens, final
 * norm, LN eps 1e-6, fused qkv with bias, patch conv with bias), the MED BERT's
 * last_hidden_state (post-LN, key-padding mask, cross-attention to the image tokens), and the
 * end-to-end reward through the registry (normalised, and raw with --official-scale). */
#include "models/bert.h"
#include "models/vit.h"
#include "models/weights.h"
#include "nn/safetensors.h"
#include "rewards/image.h"
#include "rewards/reward.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/data/reward_fixtures/"
#define GOLD FIX "golden/imagereward.safetensors"
#define B 3
#define L 35

/* fp32 in both with different summation orders; observed max error ~1e-6 on O(1) values
 * (ViT tokens, BERT states after LayerNorm), 10× margin as in test_vit.c. */
#define ATOL 2e-5
#define RTOL 2e-5

static nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = 2, .stream = NULL};

static float *read_golden(const char *name, size_t n, double **as_double) {
    sdpo_safetensors st;
    ck_assert_msg(sdpo_st_open(GOLD, &st) == SDPO_OK, "%s", sdpo_last_error());
    const sdpo_st_tensor *t = sdpo_st_find(&st, name);
    ck_assert_msg(t && t->numel == n, "%s: %s missing or of %zu values", GOLD, name, t ? t->numel : 0);
    float *f = malloc(n * sizeof *f);
    ck_assert(sdpo_st_read_f32(&st, t, f, 1) == SDPO_OK);
    if (as_double) {
        *as_double = malloc(n * sizeof **as_double);
        for (size_t i = 0; i < n; i++) (*as_double)[i] = f[i];
    }
    sdpo_st_close(&st);
    return f;
}

typedef struct {
    nn_params p;
    sdpo_vit vit;
    sdpo_bert bert;
} towers;

static int not_tower(const char *name) { return !strncmp(name, "mlp.", 4); }

static void load_towers(towers *t) {
    sdpo_config cfg, med;
    sdpo_vit_config vc;
    sdpo_bert_config bc;
    ck_assert(sdpo_config_load(FIX "imagereward/config.json", &cfg) == SDPO_OK);
    ck_assert(sdpo_config_load(FIX "imagereward/med_config.json", &med) == SDPO_OK);
    ck_assert_msg(sdpo_vit_config_blip(&cfg, &vc) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_bert_config_load(&med, "blip.text_encoder.", vc.width, &bc) == SDPO_OK, "%s",
                  sdpo_last_error());
    nn_params_init(&t->p);
    ck_assert(sdpo_vit_register(&vc, &t->p) == SDPO_OK);
    ck_assert(sdpo_bert_register(&bc, &t->p) == SDPO_OK);
    ck_assert(nn_params_finalize(&t->p) == SDPO_OK);
    const sdpo_weights_filter filter = {NULL, not_tower};
    ck_assert_msg(sdpo_weights_load(&t->p, FIX "imagereward/model.safetensors", &filter) == SDPO_OK,
                  "%s", sdpo_last_error());
    ck_assert(sdpo_vit_bind(&t->vit, &vc, &t->p) == SDPO_OK);
    ck_assert(sdpo_bert_bind(&t->bert, &bc, &t->p) == SDPO_OK);
    sdpo_config_free(&cfg);
    sdpo_config_free(&med);
}

static void free_towers(towers *t) {
    sdpo_vit_free(&t->vit);
    sdpo_bert_free(&t->bert);
    nn_params_free(&t->p);
}

START_TEST(blip_vit_image_embeds) {
    towers t;
    load_towers(&t);
    ck_assert_int_eq(t.vit.tokens, 10);
    const size_t n_img = (size_t)B * 10 * 32;
    float *pixels = read_golden("pixel_values", (size_t)B * 3 * 48 * 48, NULL);
    double *want;
    free(read_golden("image_embeds", n_img, &want));
    float *got = malloc(n_img * sizeof *got);
    ck_assert(sdpo_vit_forward(&ctx, &t.vit, B, pixels, got) == SDPO_OK);
    ck_assert_array_close("image_embeds", got, want, n_img, ATOL, RTOL);
    free(got);
    free(want);
    free(pixels);
    free_towers(&t);
}
END_TEST

START_TEST(bert_last_hidden_state) {
    towers t;
    load_towers(&t);
    const size_t n_img = (size_t)B * 10 * 32, n_hid = (size_t)B * L * 24;
    float *img = read_golden("image_embeds", n_img, NULL);
    float *fids = read_golden("input_ids", (size_t)B * L, NULL);
    float *fmask = read_golden("attention_mask", (size_t)B * L, NULL);
    int64_t ids[B * L], mask[B * L];
    for (int i = 0; i < B * L; i++) ids[i] = (int64_t)fids[i], mask[i] = (int64_t)fmask[i];
    double *want;
    free(read_golden("last_hidden_state", n_hid, &want));
    float *got = malloc(n_hid * sizeof *got);
    ck_assert(sdpo_bert_forward(&ctx, &t.bert, B, L, ids, mask, 10, img, got) == SDPO_OK);
    /* Padded positions too: their rows attend to the real tokens only, as in torch. */
    ck_assert_array_close("last_hidden_state", got, want, n_hid, ATOL, RTOL);
    /* An id outside the vocabulary is an error naming it. */
    ids[5] = 100000;
    ck_assert_int_eq(sdpo_bert_forward(&ctx, &t.bert, B, L, ids, mask, 10, img, got), SDPO_ERR_ARG);
    ck_assert(strstr(sdpo_last_error(), "100000") != NULL);
    free(got);
    free(want);
    free(img);
    free(fids);
    free(fmask);
    free_towers(&t);
}
END_TEST

static const char *const prompts[B] = {"cat", "A dog on the moon",
                                       "Four wolves in the park, at night!"};

static void score_fixture_images(sdpo_reward *r, float got[B]) {
    for (int i = 0; i < B; i++) {
        char path[128];
        int H, W;
        uint8_t *rgb;
        snprintf(path, sizeof path, FIX "images/image%d.png", i);
        ck_assert(sdpo_png_read(path, &H, &W, &rgb) == SDPO_OK);
        float *chw = malloc((size_t)3 * H * W * sizeof *chw);
        sdpo_image_from_rgb8(H, W, rgb, chw);
        ck_assert_msg(r->score(r, 1, H, W, chw, &prompts[i], &got[i]) == SDPO_OK, "%s", sdpo_last_error());
        free(chw);
        free(rgb);
    }
}

START_TEST(reward_matches_reference) {
    double *want, *raw;
    free(read_golden("scores", B, &want));
    free(read_golden("raw", B, &raw));
    sdpo_reward *r;
    float got[B];
    ck_assert_msg(sdpo_reward_create("imagereward", FIX "imagereward", &r) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert(strstr(r->scale, "0.16717362830052426") != NULL);
    score_fixture_images(r, got);
    ck_assert_array_close("imagereward", got, want, B, ATOL, RTOL);
    sdpo_reward_free(r);
    sdpo_reward_options opt = {.official_scale = 1};
    ck_assert(sdpo_reward_create_with("imagereward", FIX "imagereward", &opt, &r) == SDPO_OK);
    score_fixture_images(r, got);
    ck_assert_array_close("imagereward raw", got, raw, B, ATOL, RTOL);
    sdpo_reward_free(r);
    free(want);
    free(raw);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("rewards_imagereward");
    TCase *tc = tcase_create("blip");
    tcase_add_test(tc, blip_vit_image_embeds);
    tcase_add_test(tc, bert_last_hidden_state);
    tcase_add_test(tc, reward_matches_reference);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }
