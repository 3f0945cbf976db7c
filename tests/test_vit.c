/* tests/test_vit.c — the ViT image towers against transformers / open_clip on the tiny random
 * models of reference/make_reward_fixtures.py: image_embeds of the HF CLIPModel layout
 * (QuickGELU: the aesthetic model's family; GELU: PickScore's) and of the open_clip layout with
 * fused in_proj (HPSv2), from the same pixel_values the reference used. The BLIP tower is in
 * tests/test_rewards_imagereward.c. */
#include "models/subconfig.h"
#include "models/vit.h"
#include "models/weights.h"
#include "nn/safetensors.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/data/reward_fixtures/"

/* Element tolerance of the embeddings: fp32 in both, with different summation orders (OpenBLAS
 * sgemm blocking vs torch's) through 2 blocks of width 32; values are O(1) and the observed
 * max error is 1.3e-6, so 2e-5 absolute + 2e-5 relative leaves a 10x margin while still failing
 * on any real bug (a wrong eps, bias or head split moves values by > 1e-2). */
#define EMB_ATOL 2e-5
#define EMB_RTOL 2e-5

static nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = 2, .stream = NULL};

/* Reads an F32 tensor of golden/<file> into a malloc'd double array (for ck_assert_array_close)
 * and optionally a float array. */
static double *golden(const char *file, const char *name, size_t want_n, float **as_float) {
    char path[256];
    snprintf(path, sizeof path, FIX "golden/%s", file);
    sdpo_safetensors st;
    ck_assert_msg(sdpo_st_open(path, &st) == SDPO_OK, "%s", sdpo_last_error());
    const sdpo_st_tensor *t = sdpo_st_find(&st, name);
    ck_assert_msg(t != NULL, "%s: no tensor %s", path, name);
    ck_assert_msg(t->numel == want_n, "%s: %s has %zu values, want %zu", path, name, t->numel, want_n);
    float *f = malloc(t->numel * sizeof *f);
    ck_assert(sdpo_st_read_f32(&st, t, f, 1) == SDPO_OK);
    double *d = malloc(t->numel * sizeof *d);
    for (size_t i = 0; i < t->numel; i++) d[i] = f[i];
    sdpo_st_close(&st);
    if (as_float) *as_float = f;
    else free(f);
    return d;
}

/* Builds the tower of `dir` (HF CLIPModel or open_clip), skipping every other tensor. */
static int not_vision(const char *name) {
    return strncmp(name, "vision_model.", 13) && strncmp(name, "visual.", 7) &&
           strcmp(name, "visual_projection.weight");
}

static void load_tower(const char *dir, int open_clip, nn_params *p, sdpo_vit *v) {
    char path[256];
    sdpo_config cfg, sec;
    sdpo_vit_config vc;
    snprintf(path, sizeof path, FIX "%s/%s", dir, open_clip ? "open_clip_config.json" : "config.json");
    ck_assert_msg(sdpo_config_load(path, &cfg) == SDPO_OK, "%s", sdpo_last_error());
    int proj;
    if (open_clip) {
        ck_assert(sdpo_config_int(&cfg, "embed_dim", &proj) == SDPO_OK);
        ck_assert(sdpo_config_section(&cfg, "vision_cfg", 0, &sec) == SDPO_OK);
        ck_assert_msg(sdpo_vit_config_open_clip(&sec, proj, 0, &vc) == SDPO_OK, "%s", sdpo_last_error());
    } else {
        ck_assert(sdpo_config_int(&cfg, "projection_dim", &proj) == SDPO_OK);
        ck_assert(sdpo_config_section(&cfg, "vision_config", 1, &sec) == SDPO_OK);
        ck_assert_msg(sdpo_vit_config_hf_clip(&sec, proj, &vc) == SDPO_OK, "%s", sdpo_last_error());
    }
    sdpo_config_free(&sec);
    sdpo_config_free(&cfg);
    nn_params_init(p);
    ck_assert(sdpo_vit_register(&vc, p) == SDPO_OK);
    ck_assert(nn_params_finalize(p) == SDPO_OK);
    snprintf(path, sizeof path, FIX "%s/model.safetensors", dir);
    const sdpo_weights_filter filter = {NULL, not_vision};
    ck_assert_msg(sdpo_weights_load(p, path, &filter) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_vit_bind(v, &vc, p) == SDPO_OK, "%s", sdpo_last_error());
}

static void check_tower(const char *dir, const char *file, int open_clip, int quick_gelu) {
    nn_params p;
    sdpo_vit v;
    load_tower(dir, open_clip, &p, &v);
    ck_assert_int_eq(v.cfg.quick_gelu, quick_gelu);
    ck_assert_int_eq(v.tokens, 10);   /* 42/14 = 3 → 9 patches + cls: tests the grid order */
    const int B = 3, S = v.cfg.image_size, E = v.cfg.embed_dim;
    float *pixels;
    free(golden(file, "pixel_values", (size_t)B * 3 * S * S, &pixels));
    double *want = golden(file, "image_embeds", (size_t)B * E, NULL);
    float *got = malloc((size_t)B * E * sizeof *got);
    ck_assert(sdpo_vit_forward(&ctx, &v, B, pixels, got) == SDPO_OK);
    ck_assert_array_close(dir, got, want, (size_t)B * E, EMB_ATOL, EMB_RTOL);
    /* Batch composition does not matter: image 2 alone gives the same embedding. */
    float one[64];
    ck_assert(sdpo_vit_forward(&ctx, &v, 1, pixels + (size_t)2 * 3 * S * S, one) == SDPO_OK);
    ck_assert_array_close("single", one, want + 2 * E, (size_t)E, EMB_ATOL, EMB_RTOL);
    free(got);
    free(want);
    free(pixels);
    sdpo_vit_free(&v);
    nn_params_free(&p);
}

START_TEST(hf_clip_quick_gelu) { check_tower("aesthetic", "aesthetic.safetensors", 0, 1); }
END_TEST

START_TEST(hf_clip_gelu) { check_tower("pickscore", "pickscore.safetensors", 0, 0); }
END_TEST

START_TEST(open_clip_fused_in_proj) { check_tower("hpsv2", "hpsv2.safetensors", 1, 0); }
END_TEST

START_TEST(bad_configs_are_errors) {
    sdpo_vit_config c = {.layout = SDPO_VIT_HF_CLIP, .prefix = "vision_model.", .image_size = 42, .patch_size = 14,
                         .width = 30, .layers = 1, .heads = 4, .mlp_dim = 8, .ln_eps = 1e-5f,
                         .embed_dim = 8};
    ck_assert_int_eq(sdpo_vit_config_check(&c), SDPO_ERR_ARG);   /* 30 % 4 */
    ck_assert(strstr(sdpo_last_error(), "multiple of heads") != NULL);
    c.width = 32;
    c.image_size = 40;
    ck_assert_int_eq(sdpo_vit_config_check(&c), SDPO_ERR_ARG);   /* 40 % 14 */
    c.image_size = 42;
    c.embed_dim = 0;
    ck_assert_int_eq(sdpo_vit_config_check(&c), SDPO_ERR_ARG);   /* CLIP needs a projection */
    /* A tensor missing from the registry names it. */
    nn_params p;
    sdpo_vit v;
    c.embed_dim = 8;
    nn_params_init(&p);
    ck_assert(nn_params_add(&p, "unrelated", 1, (const int64_t[]){1}, 0) == SDPO_OK);
    ck_assert(nn_params_finalize(&p) == SDPO_OK);
    ck_assert_int_eq(sdpo_vit_bind(&v, &c, &p), SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "vision_model.embeddings.class_embedding") != NULL,
                  "%s", sdpo_last_error());
    nn_params_free(&p);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("vit");
    TCase *tc = tcase_create("towers");
    tcase_add_test(tc, hf_clip_quick_gelu);
    tcase_add_test(tc, hf_clip_gelu);
    tcase_add_test(tc, open_clip_fused_in_proj);
    tcase_add_test(tc, bad_configs_are_errors);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }
